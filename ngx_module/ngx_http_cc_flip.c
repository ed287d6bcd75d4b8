/*
 * ngx_http_cc_flip: POST /cc/flip?request_id=ID, one card for one chance.
 *
 * The whole flip is one script call on the user's shard (see
 * ngx_http_cc_script.c); the handler checks the input, draws the kind by
 * the weights (the script keeps it unless the kind's stock is spent) and
 * renders the answer.
 */


#include "ngx_http_cc_module.h"


typedef struct {
    uint64_t                  uid;
    int64_t                   ts_ms;
    ngx_str_t                 rid;
} ngx_http_cc_flip_ctx_t;



static void ngx_http_cc_flip_reply(ngx_http_request_t *r, redisReply *reply);


ngx_int_t
ngx_http_cc_flip_handler(ngx_http_request_t *r)
{
    u_char                   *p;
    uint64_t                  uid;
    ngx_int_t                 rc;
    ngx_str_t                 rid, keys[1], args[5];
    ngx_time_t               *tp;
    ngx_http_cc_flip_ctx_t   *ctx;
    ngx_http_cc_main_conf_t  *cmcf;

    if (ngx_http_cc_begin(r, NGX_HTTP_POST, NGX_HTTP_CC_WRITE,
                          NGX_HTTP_CC_FLIP_BAD_REQUEST, &uid, &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (ngx_http_cc_get_id_arg(r, "request_id", sizeof("request_id") - 1,
                               &rid)
        != NGX_OK)
    {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_FLIP_BAD_REQUEST);
        return ngx_http_cc_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "bad_request_id");
    }

    ctx = ngx_palloc(r->pool, sizeof(ngx_http_cc_flip_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);
    tp = ngx_timeofday();

    ctx->uid = uid;
    ctx->rid = rid;
    ctx->ts_ms = (int64_t) tp->sec * 1000 + tp->msec;
    ngx_http_set_ctx(r, ctx, ngx_http_cc_module);

    p = ngx_pnalloc(r->pool, sizeof("cc:{}:u") + sizeof(":") + rid.len
                             + 4 * NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    keys[0].data = p;
    p = ngx_sprintf(p, "cc:{%uL}:u", uid);
    keys[0].len = p - keys[0].data;

    /*
     * The kind, drawn here by the weights from 31 random bits (a bias
     * below total / 2^31, 5e-6 for the default weights); with stocked
     * kinds, 31 more for the script to draw again if the kind is spent.
     */

    args[0].data = p;
    p = ngx_sprintf(p, "%ui",
                    (ngx_uint_t) cc_cards_pick(&cmcf->cards,
                                               (uint64_t) ngx_random()));
    args[0].len = p - args[0].data;

    args[1].data = keys[0].data + sizeof("cc:{") - 1;      /* the uid */
    args[1].len = keys[0].len - sizeof("cc:{}:u") + 1;

    args[2].data = p;                        /* the field of the result */
    p = ngx_sprintf(p, ":%V", &rid);
    args[2].len = p - args[2].data;

    args[3].data = p;
    p = ngx_sprintf(p, "%L", ctx->ts_ms);
    args[3].len = p - args[3].data;

    if (cmcf->stock && cmcf->stock->nelts) {
        args[4].data = p;
        p = ngx_sprintf(p, "%l", ngx_random());
        args[4].len = p - args[4].data;
    }

    return ngx_http_cc_call(r, uid, NGX_HTTP_CC_SCRIPT_FLIP, keys, args,
                            ngx_http_cc_flip_reply, NGX_HTTP_CC_FLIP_UNAVAILABLE);
}


static void
ngx_http_cc_flip_reply(ngx_http_request_t *r, redisReply *reply)
{
    u_char                  *p, *last, *body, *f[3];
    cc_draw_t                d;
    ngx_int_t                v[3];
    ngx_uint_t               i, replayed;
    ngx_http_cc_flip_ctx_t  *ctx;

    if (reply == NULL) {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_FLIP_UNAVAILABLE);
        ngx_http_cc_finalize_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "storage_unavailable");
        return;
    }

    if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 0) {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_FLIP_NO_CHANCES);
        ngx_http_cc_finalize_error(r, NGX_HTTP_CONFLICT, "no_chances");
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

    if (replayed) {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_FLIP_REPLAYED);

    } else {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_FLIP_OK);

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

    ngx_http_finalize_request(r, ngx_http_cc_send_json(r, NGX_HTTP_OK, body,
                                                       last - body));
    return;

invalid:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "cc flip: unexpected reply from redis (type %d)",
                  reply->type);

    ngx_http_cc_metric_inc(NGX_HTTP_CC_FLIP_UNAVAILABLE);

    ngx_http_cc_finalize_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "storage_unavailable");
}
