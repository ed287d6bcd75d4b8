/*
 * ngx_http_cc_combine: POST /cc/combine?request_id=ID, one card of every
 * kind for eligibility (合成), once per user (ngx_module/lua/combine.lua).
 */


#include "ngx_http_cc_module.h"


static void ngx_http_cc_combine_reply(ngx_http_request_t *r,
    redisReply *reply);


static ngx_http_cc_endpoint_t  ngx_http_cc_combine = {
    NGX_HTTP_POST,
    NGX_HTTP_CC_ACCESS_COMBINE,
    NGX_HTTP_CC_SCRIPT_COMBINE,
    ngx_http_cc_combine_reply,
    0,
    "bad_request_id",
    "missing_cards",
    {
        [NGX_HTTP_CC_OUTCOME_OK] = NGX_HTTP_CC_METRIC_COMBINE_OK,
        [NGX_HTTP_CC_OUTCOME_REPLAYED] = NGX_HTTP_CC_METRIC_COMBINE_REPLAYED,
        [NGX_HTTP_CC_OUTCOME_REFUSED] = NGX_HTTP_CC_METRIC_COMBINE_MISSING,
        [NGX_HTTP_CC_OUTCOME_BAD_UID] = NGX_HTTP_CC_METRIC_COMBINE_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAUTHORIZED] =
            NGX_HTTP_CC_METRIC_COMBINE_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_BAD_ID] = NGX_HTTP_CC_METRIC_COMBINE_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_METHOD] = NGX_HTTP_CC_METRIC_COMBINE_METHOD,
        [NGX_HTTP_CC_OUTCOME_BODY] = NGX_HTTP_CC_METRIC_COMBINE_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_CLOSED] = NGX_HTTP_CC_METRIC_CLOSED,
        [NGX_HTTP_CC_OUTCOME_UNAVAILABLE] =
            NGX_HTTP_CC_METRIC_COMBINE_UNAVAILABLE,
    }
};


ngx_int_t
ngx_http_cc_combine_handler(ngx_http_request_t *r)
{
    u_char             *p;
    uint64_t            uid;
    ngx_int_t           rc;
    ngx_str_t           key, args[3];
    ngx_http_cc_ctx_t  *ctx;

    if (ngx_http_cc_begin(r, &ngx_http_cc_combine, &uid, &rc) != NGX_OK
        || ngx_http_cc_write_ctx(r, &ngx_http_cc_combine, uid, &ctx, &rc)
           != NGX_OK)
    {
        return rc;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);

    if (p == NULL
        || ngx_http_cc_user_keys(r, uid, &key, NULL, &args[0]) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[1] = ctx->rid;

    args[2].data = p;
    args[2].len = ngx_sprintf(p, "%L", ctx->ts_ms) - p;

    return ngx_http_cc_call(r, &ngx_http_cc_combine, uid, &key, args);
}


/*
 * {status, n0, n1, ...}: 2 combined now, 1 before, 0 a kind missing; or
 * {3}, closed.  With a wildcard, the mask of the kinds it replaced last.
 */
static void
ngx_http_cc_combine_reply(ngx_http_request_t *r, redisReply *reply)
{
    uint32_t                    bits;
    ngx_int_t                   rc;
    ngx_str_t                   body;
    long long                   status;
    cc_combine_t                c;
    ngx_http_cc_ctx_t          *ctx;
    ngx_http_cc_main_conf_t    *cmcf;

    if (reply == NULL) {
        ngx_http_cc_finalize(r, &ngx_http_cc_combine,
                             NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL, 0);
        return;
    }

    /* {3}: the cutoff has come by Redis's clock (combine.lua) */

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1
        && reply->element[0]->type == REDIS_REPLY_INTEGER
        && reply->element[0]->integer == 3)
    {
        ngx_http_cc_finalize(r, &ngx_http_cc_combine,
                             NGX_HTTP_CC_OUTCOME_CLOSED, NULL, 0);
        return;
    }

    rc = ngx_http_cc_cards_body(r, reply, 1, 1, &body);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_cc_finalize_invalid(r, &ngx_http_cc_combine, reply);
        return;
    }

    status = reply->element[0]->integer;

    if (status == 0) {
        ngx_http_cc_finalize(r, &ngx_http_cc_combine,
                             NGX_HTTP_CC_OUTCOME_REFUSED, NULL, 0);
        return;
    }

    if (status == 2) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_cc_module);
        cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);

        ngx_memzero(&c, sizeof(cc_combine_t));
        c.uid = ctx->uid;
        c.ts_ms = ctx->ts_ms;
        ngx_memcpy(c.request_id, ctx->rid.data, ctx->rid.len);
        c.request_id[ctx->rid.len] = '\0';

        /* the cards body checked the mask: what the log entry says */

        if (cmcf->wildcard != NGX_CONF_UNSET
            && ngx_http_cc_wildcard_replaced(cmcf, reply, &c.replaced)
               == NGX_OK)
        {
            c.wildcard = (uint32_t) cmcf->wildcard + 1;

            for (bits = c.replaced; bits; bits &= bits - 1) {
                c.wild++;
            }
        }

        ngx_http_cc_kafka_publish_combine(&c);
    }

    ngx_http_cc_finalize(r, &ngx_http_cc_combine,
                         status == 2 ? NGX_HTTP_CC_OUTCOME_OK
                                     : NGX_HTTP_CC_OUTCOME_REPLAYED,
                         body.data, body.len);
}
