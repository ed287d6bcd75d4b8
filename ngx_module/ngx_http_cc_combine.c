/*
 * ngx_http_cc_combine: GET /cc/eligibility, what a user holds and whether
 * the user is eligible for the split; POST /cc/combine?request_id=ID, one
 * card of every kind for eligibility (合成), once per user.
 */


#include "ngx_http_cc_module.h"


typedef struct {
    uint64_t                  uid;
    int64_t                   ts_ms;
    ngx_str_t                 rid;
} ngx_http_cc_combine_ctx_t;


static void ngx_http_cc_eligibility_reply(ngx_http_request_t *r,
    redisReply *reply);
static void ngx_http_cc_combine_reply(ngx_http_request_t *r,
    redisReply *reply);


ngx_int_t
ngx_http_cc_eligibility_handler(ngx_http_request_t *r)
{
    u_char      *p;
    uint64_t     uid;
    ngx_int_t    rc;
    ngx_str_t    key;

    if (ngx_http_cc_begin(r, NGX_HTTP_GET, NGX_HTTP_CC_READ,
                          NGX_HTTP_CC_METRIC_N, &uid, &rc)
        != NGX_OK)
    {
        return rc;
    }

    p = ngx_pnalloc(r->pool, sizeof("cc:{}:u") + NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    key.data = p;
    key.len = ngx_sprintf(p, "cc:{%uL}:u", uid) - p;

    return ngx_http_cc_call(r, uid, NGX_HTTP_CC_SCRIPT_ELIG, &key, NULL,
                            ngx_http_cc_eligibility_reply, NGX_HTTP_CC_METRIC_N);
}


static void
ngx_http_cc_eligibility_reply(ngx_http_request_t *r, redisReply *reply)
{
    if (reply == NULL) {
        ngx_http_cc_finalize_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "storage_unavailable");
        return;
    }

    ngx_http_cc_finalize_cards(r, reply,
                               reply->type == REDIS_REPLY_ARRAY
                               && reply->elements > 0
                               && reply->element[0]->type
                                  == REDIS_REPLY_INTEGER
                               && reply->element[0]->integer == 1);
}


ngx_int_t
ngx_http_cc_combine_handler(ngx_http_request_t *r)
{
    u_char                     *p;
    uint64_t                    uid;
    ngx_int_t                   rc;
    ngx_str_t                   rid, key, args[3];
    ngx_time_t                 *tp;
    ngx_http_cc_combine_ctx_t  *ctx;

    if (ngx_http_cc_begin(r, NGX_HTTP_POST, NGX_HTTP_CC_COMBINE,
                          NGX_HTTP_CC_METRIC_N, &uid, &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (ngx_http_cc_get_id_arg(r, "request_id", sizeof("request_id") - 1,
                               &rid)
        != NGX_OK)
    {
        return ngx_http_cc_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "bad_request_id");
    }

    ctx = ngx_palloc(r->pool, sizeof(ngx_http_cc_combine_ctx_t));
    p = ngx_pnalloc(r->pool, sizeof("cc:{}:u") + 3 * NGX_INT64_LEN);

    if (ctx == NULL || p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tp = ngx_timeofday();

    ctx->uid = uid;
    ctx->rid = rid;
    ctx->ts_ms = (int64_t) tp->sec * 1000 + tp->msec;
    ngx_http_set_ctx(r, ctx, ngx_http_cc_module);

    key.data = p;
    p = ngx_sprintf(p, "cc:{%uL}:u", uid);
    key.len = p - key.data;

    args[0].data = key.data + sizeof("cc:{") - 1;            /* the uid */
    args[0].len = key.len - sizeof("cc:{}:u") + 1;

    args[1] = rid;

    args[2].data = p;
    p = ngx_sprintf(p, "%L", ctx->ts_ms);
    args[2].len = p - args[2].data;

    return ngx_http_cc_call(r, uid, NGX_HTTP_CC_SCRIPT_COMBINE, &key, args,
                            ngx_http_cc_combine_reply,
                            NGX_HTTP_CC_COMBINE_UNAVAILABLE);
}


static void
ngx_http_cc_combine_reply(ngx_http_request_t *r, redisReply *reply)
{
    long long                   status;
    cc_combine_t                c;
    ngx_http_cc_combine_ctx_t  *ctx;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements < 1
        || reply->element[0]->type != REDIS_REPLY_INTEGER)
    {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_COMBINE_UNAVAILABLE);
        ngx_http_cc_finalize_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "storage_unavailable");
        return;
    }

    status = reply->element[0]->integer;

    if (status == 0) {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_COMBINE_MISSING);
        ngx_http_cc_finalize_error(r, NGX_HTTP_CONFLICT, "missing_cards");
        return;
    }

    if (status == 2) {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_COMBINE_OK);

        ctx = ngx_http_get_module_ctx(r, ngx_http_cc_module);

        c.uid = ctx->uid;
        c.ts_ms = ctx->ts_ms;
        ngx_memcpy(c.request_id, ctx->rid.data, ctx->rid.len);
        c.request_id[ctx->rid.len] = '\0';

        ngx_http_cc_kafka_publish_combine(&c);

    } else {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_COMBINE_REPLAYED);
    }

    ngx_http_cc_finalize_cards(r, reply, 1);
}
