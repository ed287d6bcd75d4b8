/*
 * ngx_http_cc_grant: POST /cc/grant?grant_id=ID&n=K, K more chances for
 * the user, once per grant id.  Meant for an internal location that only
 * the campaign's own systems reach (allow/deny in the example config).
 */


#include "ngx_http_cc_module.h"


static void ngx_http_cc_grant_reply(ngx_http_request_t *r,
    redisReply *reply);


ngx_int_t
ngx_http_cc_grant_handler(ngx_http_request_t *r)
{
    u_char                   *p;
    uint64_t                  uid, n;
    ngx_int_t                 rc;
    ngx_str_t                 gid, keys[2], args[2];

    if (ngx_http_cc_begin(r, NGX_HTTP_POST, NGX_HTTP_CC_WRITE,
                          NGX_HTTP_CC_GRANT_BAD_REQUEST, &uid, &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (ngx_http_cc_get_id_arg(r, "grant_id", sizeof("grant_id") - 1, &gid)
        != NGX_OK)
    {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_GRANT_BAD_REQUEST);
        return ngx_http_cc_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "bad_grant_id");
    }

    if (ngx_http_arg(r, (u_char *) "n", 1, &args[1]) != NGX_OK
        || cc_parse_count((const char *) args[1].data, args[1].len,
                          NGX_HTTP_CC_GRANT_MAX, &n)
           != 0)
    {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_GRANT_BAD_REQUEST);
        return ngx_http_cc_send_error(r, NGX_HTTP_BAD_REQUEST, "bad_n");
    }

    p = ngx_pnalloc(r->pool, 2 * (sizeof("cc:{}:u") + NGX_INT64_LEN));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    keys[0].data = p;
    p = ngx_sprintf(p, "cc:{%uL}:u", uid);
    keys[0].len = p - keys[0].data;

    keys[1].data = p;
    p = ngx_sprintf(p, "cc:{%uL}:g", uid);
    keys[1].len = p - keys[1].data;

    args[0] = gid;

    return ngx_http_cc_call(r, uid, NGX_HTTP_CC_SCRIPT_GRANT, keys, args,
                            ngx_http_cc_grant_reply, NGX_HTTP_CC_GRANT_UNAVAILABLE);
}


static void
ngx_http_cc_grant_reply(ngx_http_request_t *r, redisReply *reply)
{
    u_char  *body, *last;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        if (reply != NULL) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "cc grant: unexpected reply from redis (type %d)",
                          reply->type);
        }

        ngx_http_cc_metric_inc(NGX_HTTP_CC_GRANT_UNAVAILABLE);
        ngx_http_cc_finalize_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "storage_unavailable");
        return;
    }

    body = ngx_pnalloc(r->pool, sizeof("{\"chances\":}") + NGX_INT64_LEN);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_cc_metric_inc(NGX_HTTP_CC_GRANT_OK);

    last = ngx_sprintf(body, "{\"chances\":%L}", reply->integer);

    ngx_http_finalize_request(r, ngx_http_cc_send_json(r, NGX_HTTP_OK, body,
                                                       last - body));
}
