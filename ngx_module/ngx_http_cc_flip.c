/*
 * ngx_http_cc_flip: POST /cc/flip?request_id=ID, one card for one chance.
 *
 * The whole flip is one script call on the user's shard (see
 * ngx_module/lua/flip.lua); the handler checks the input, draws the kind by
 * the weights (the script keeps it unless the kind's stock is spent) and
 * renders the answer.
 */


#include "ngx_http_cc_module.h"


static void ngx_http_cc_flip_reply(ngx_http_request_t *r, redisReply *reply);


static ngx_http_cc_endpoint_t  ngx_http_cc_flip = {
    NGX_HTTP_POST,
    NGX_HTTP_CC_ACCESS_WRITE,
    NGX_HTTP_CC_SCRIPT_FLIP,
    ngx_http_cc_flip_reply,
    NGX_HTTP_CC_HIST_FLIP,
    "bad_request_id",
    "no_chances",
    {
        [NGX_HTTP_CC_OUTCOME_OK] = NGX_HTTP_CC_METRIC_FLIP_OK,
        [NGX_HTTP_CC_OUTCOME_REPLAYED] = NGX_HTTP_CC_METRIC_FLIP_REPLAYED,
        [NGX_HTTP_CC_OUTCOME_REFUSED] = NGX_HTTP_CC_METRIC_FLIP_NO_CHANCES,
        [NGX_HTTP_CC_OUTCOME_BAD_UID] = NGX_HTTP_CC_METRIC_FLIP_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAUTHORIZED] =
            NGX_HTTP_CC_METRIC_FLIP_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_BAD_ID] = NGX_HTTP_CC_METRIC_FLIP_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_METHOD] = NGX_HTTP_CC_METRIC_FLIP_METHOD,
        [NGX_HTTP_CC_OUTCOME_BODY] = NGX_HTTP_CC_METRIC_FLIP_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_CLOSED] = NGX_HTTP_CC_METRIC_CLOSED,
        [NGX_HTTP_CC_OUTCOME_UNAVAILABLE] = NGX_HTTP_CC_METRIC_FLIP_UNAVAILABLE,
    }
};


ngx_int_t
ngx_http_cc_flip_handler(ngx_http_request_t *r)
{
    u_char                   *p;
    uint64_t                  uid, draw;
    ngx_int_t                 rc;
    ngx_str_t                 keys[1], args[5];
    ngx_http_cc_ctx_t        *ctx;
    ngx_http_cc_main_conf_t  *cmcf;

    if (ngx_http_cc_begin(r, &ngx_http_cc_flip, &uid, &rc) != NGX_OK
        || ngx_http_cc_write_ctx(r, &ngx_http_cc_flip, uid, &ctx, &rc)
           != NGX_OK)
    {
        return rc;
    }

    p = ngx_pnalloc(r->pool, sizeof(":") + ctx->rid.len + 3 * NGX_INT64_LEN);

    if (p == NULL
        || ngx_http_cc_user_keys(r, uid, &keys[0], NULL, &args[1]) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);

    /*
     * The kind, drawn here by the weights from 64 bits of the worker's
     * CSPRNG (ngx_http_cc_random(): a bias below total / 2^64); args[1]
     * is the uid.
     */

    if (ngx_http_cc_random(r->connection->log, &draw) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[0].data = p;
    p = ngx_sprintf(p, "%ui",
                    (ngx_uint_t) cc_cards_pick(&cmcf->cards, draw));
    args[0].len = p - args[0].data;

    args[2].data = p;                        /* the field of the result */
    p = ngx_sprintf(p, ":%V", &ctx->rid);
    args[2].len = p - args[2].data;

    args[3].data = p;
    p = ngx_sprintf(p, "%L", ctx->ts_ms);
    args[3].len = p - args[3].data;

    if (ngx_http_cc_stock_flip_arg(r, cmcf, p, &args[4]) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cc_call(r, &ngx_http_cc_flip, uid, keys, args);
}


static void
ngx_http_cc_flip_reply(ngx_http_request_t *r, redisReply *reply)
{
    u_char                  *p, *last, *body, *f[3];
    cc_draw_t                d;
    ngx_int_t                v[3];
    ngx_uint_t               i, replayed;
    ngx_http_cc_ctx_t       *ctx;

    if (reply == NULL) {
        goto unavailable;
    }

    if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 0) {
        ngx_http_cc_finalize(r, &ngx_http_cc_flip,
                             NGX_HTTP_CC_OUTCOME_REFUSED, NULL, 0);
        return;
    }

    if (reply->type != REDIS_REPLY_STRING || reply->len == 0) {
        goto invalid;
    }

    /* "seq:card:left:period", or "=seq:card:left:period" for a retry */

    p = (u_char *) reply->str;
    last = p + reply->len;

    replayed = (*p == '=');
    p += replayed;

    for (i = 0; i < 3; i++) {
        f[i] = p;

        while (p < last && *p != ':') {
            p++;
        }

        v[i] = ngx_atoi(f[i], p - f[i]);

        if (v[i] == NGX_ERROR || (i < 2 && p == last)) {
            goto invalid;
        }

        p++;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_cc_module);

    if (!replayed) {
        d.uid = ctx->uid;
        d.seq = (uint32_t) v[0];
        d.card = (uint32_t) v[1];
        d.ts_ms = ctx->ts_ms;
        ngx_memcpy(d.request_id, ctx->rid.data, ctx->rid.len);
        d.request_id[ctx->rid.len] = '\0';

        ngx_http_cc_kafka_publish(&d);
    }

    body = ngx_pnalloc(r->pool, sizeof("{\"draw_id\":\":\",\"card\":"
                                       ",\"chances_left\":}")
                                + 4 * NGX_INT64_LEN);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    last = ngx_sprintf(body,
                       "{\"draw_id\":\"%uL:%i\",\"card\":%i,"
                       "\"chances_left\":%i}",
                       ctx->uid, v[0], v[1], v[2]);

    ngx_http_cc_finalize(r, &ngx_http_cc_flip,
                         replayed ? NGX_HTTP_CC_OUTCOME_REPLAYED
                                  : NGX_HTTP_CC_OUTCOME_OK,
                         body, last - body);
    return;

invalid:

    ngx_http_cc_finalize_invalid(r, &ngx_http_cc_flip, reply);
    return;

unavailable:

    ngx_http_cc_finalize(r, &ngx_http_cc_flip,
                         NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL, 0);
}
