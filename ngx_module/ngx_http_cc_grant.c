/*
 * ngx_http_cc_grant: POST /cc/grant?grant_id=ID&n=K, K more chances for
 * the user, once per grant id (ngx_module/lua/grant.lua).  Meant for an
 * internal location that only the campaign's own systems reach
 * (allow/deny in the example config).
 */


#include "ngx_http_cc_module.h"


static void ngx_http_cc_grant_reply(ngx_http_request_t *r,
    redisReply *reply);


static ngx_http_cc_endpoint_t  ngx_http_cc_grant = {
    NGX_HTTP_POST,
    NGX_HTTP_CC_ACCESS_WRITE,
    NGX_HTTP_CC_SCRIPT_GRANT,
    ngx_http_cc_grant_reply,
    0,
    "bad_grant_id",
    NULL,
    {
        [NGX_HTTP_CC_OUTCOME_OK] = NGX_HTTP_CC_METRIC_GRANT_OK,
        [NGX_HTTP_CC_OUTCOME_REPLAYED] = NGX_HTTP_CC_METRIC_GRANT_REPLAYED,
        [NGX_HTTP_CC_OUTCOME_BAD_UID] = NGX_HTTP_CC_METRIC_GRANT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAUTHORIZED] =
            NGX_HTTP_CC_METRIC_GRANT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_BAD_ID] = NGX_HTTP_CC_METRIC_GRANT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_BAD_N] = NGX_HTTP_CC_METRIC_GRANT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_METHOD] = NGX_HTTP_CC_METRIC_GRANT_METHOD,
        [NGX_HTTP_CC_OUTCOME_BODY] = NGX_HTTP_CC_METRIC_GRANT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_CLOSED] = NGX_HTTP_CC_METRIC_CLOSED,
        [NGX_HTTP_CC_OUTCOME_UNAVAILABLE] =
            NGX_HTTP_CC_METRIC_GRANT_UNAVAILABLE,
    }
};


ngx_int_t
ngx_http_cc_grant_handler(ngx_http_request_t *r)
{
    uint64_t   uid, n;
    ngx_int_t  rc;
    ngx_str_t  keys[2], args[2];

    if (ngx_http_cc_begin(r, &ngx_http_cc_grant, &uid, &rc) != NGX_OK) {
        return rc;
    }

    if (ngx_http_cc_get_id_arg(r, "grant_id", sizeof("grant_id") - 1,
                               &args[0])
        != NGX_OK)
    {
        return ngx_http_cc_answer(r, &ngx_http_cc_grant,
                                  NGX_HTTP_CC_OUTCOME_BAD_ID, NULL, 0);
    }

    if (ngx_http_cc_get_arg(r, "n", 1, &args[1]) != NGX_OK
        || cc_parse_count((const char *) args[1].data, args[1].len,
                          NGX_HTTP_CC_GRANT_MAX, &n)
           != 0)
    {
        return ngx_http_cc_answer(r, &ngx_http_cc_grant,
                                  NGX_HTTP_CC_OUTCOME_BAD_N, NULL, 0);
    }

    if (ngx_http_cc_user_keys(r, uid, &keys[0], &keys[1], NULL) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cc_call(r, &ngx_http_cc_grant, uid, keys, args);
}


/* the chances after the grant: N, or "=N" for a grant id applied before */
static void
ngx_http_cc_grant_reply(ngx_http_request_t *r, redisReply *reply)
{
    u_char      *body, *last;
    long long    chances;
    ngx_uint_t   replayed;

    if (reply == NULL) {
        goto unavailable;
    }

    if (reply->type == REDIS_REPLY_INTEGER) {
        replayed = 0;
        chances = reply->integer;

    } else if (reply->type == REDIS_REPLY_STRING && reply->len > 1
               && reply->str[0] == '=')
    {
        replayed = 1;
        chances = ngx_atoi((u_char *) reply->str + 1, reply->len - 1);

        if (chances == NGX_ERROR) {
            goto invalid;
        }

    } else {
        goto invalid;
    }

    body = ngx_pnalloc(r->pool, sizeof("{\"chances\":}") + NGX_INT64_LEN);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    last = ngx_sprintf(body, "{\"chances\":%L}", (int64_t) chances);

    ngx_http_cc_finalize(r, &ngx_http_cc_grant,
                         replayed ? NGX_HTTP_CC_OUTCOME_REPLAYED
                                  : NGX_HTTP_CC_OUTCOME_OK,
                         body, last - body);
    return;

invalid:

    ngx_http_cc_finalize_invalid(r, &ngx_http_cc_grant, reply);
    return;

unavailable:

    ngx_http_cc_finalize(r, &ngx_http_cc_grant,
                         NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL, 0);
}
