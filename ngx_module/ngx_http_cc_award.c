/*
 * ngx_http_cc_award: GET /cc/award, the user's award of the split as
 * cc-draw and cc-payout wrote it in the field w of the user hash
 * (ngx_module/lua/award.lua), read by cc_award_parse(); and the award's
 * body, which the claim (ngx_http_cc_claim.c) answers too.
 */


#include "ngx_http_cc_module.h"


static void ngx_http_cc_award_reply(ngx_http_request_t *r,
    redisReply *reply);


static ngx_http_cc_endpoint_t  ngx_http_cc_award = {
    NGX_HTTP_GET,
    NGX_HTTP_CC_ACCESS_READ,
    NGX_HTTP_CC_SCRIPT_AWARD,
    ngx_http_cc_award_reply,
    NGX_HTTP_CC_HIST_NONE,
    NULL,
    NULL,
    {
        [NGX_HTTP_CC_OUTCOME_NONE] = NGX_HTTP_CC_METRIC_AWARD_NONE,
        [NGX_HTTP_CC_OUTCOME_PENDING] = NGX_HTTP_CC_METRIC_AWARD_PENDING,
        [NGX_HTTP_CC_OUTCOME_CREDITED] = NGX_HTTP_CC_METRIC_AWARD_CREDITED,
        [NGX_HTTP_CC_OUTCOME_BAD_UID] = NGX_HTTP_CC_METRIC_AWARD_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAUTHORIZED] =
            NGX_HTTP_CC_METRIC_AWARD_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_METHOD] = NGX_HTTP_CC_METRIC_AWARD_METHOD,
        [NGX_HTTP_CC_OUTCOME_BODY] = NGX_HTTP_CC_METRIC_AWARD_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAVAILABLE] =
            NGX_HTTP_CC_METRIC_AWARD_UNAVAILABLE,
    }
};


static u_char  ngx_http_cc_award_none[] = "{\"status\":\"none\"}";


ngx_int_t
ngx_http_cc_award_handler(ngx_http_request_t *r)
{
    uint64_t            uid;
    ngx_int_t           rc;
    ngx_str_t           key;
    ngx_http_cc_ctx_t  *ctx;

    if (ngx_http_cc_begin(r, &ngx_http_cc_award, &uid, &rc) != NGX_OK) {
        return rc;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cc_ctx_t));

    if (ctx == NULL
        || ngx_http_cc_user_keys(r, uid, &key, NULL, NULL) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->uid = uid;
    ngx_http_set_ctx(r, ctx, ngx_http_cc_module);

    return ngx_http_cc_call(r, &ngx_http_cc_award, uid, &key, NULL);
}


static void
ngx_http_cc_award_reply(ngx_http_request_t *r, redisReply *reply)
{
    ngx_int_t             rc;
    ngx_str_t             body;
    ngx_http_cc_ctx_t    *ctx;
    ngx_http_cc_award_t   aw;

    if (reply == NULL) {
        ngx_http_cc_finalize(r, &ngx_http_cc_award,
                             NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL, 0);
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_cc_module);

    rc = ngx_http_cc_award_read(r, ctx->uid, reply, &aw);

    if (rc == NGX_DECLINED) {
        ngx_http_cc_finalize(r, &ngx_http_cc_award, NGX_HTTP_CC_OUTCOME_NONE,
                             ngx_http_cc_award_none,
                             sizeof(ngx_http_cc_award_none) - 1);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_cc_finalize(r, &ngx_http_cc_award,
                             NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL, 0);
        return;
    }

    if (ngx_http_cc_award_body(r, &aw, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_cc_finalize(r, &ngx_http_cc_award,
                         aw.credited ? NGX_HTTP_CC_OUTCOME_CREDITED
                                     : NGX_HTTP_CC_OUTCOME_PENDING,
                         body.data, body.len);
}


/*
 * The field w of the uid's hash, in a reply element of the award or the
 * claim script, read by cc_award_parse() (common/cc_award.h).  NGX_OK: *aw
 * is the award; its id points into the reply.  NGX_DECLINED: no award
 * (nil).  NGX_ERROR: anything else, logged: the workers never write it, so
 * the storage is not what it should be.
 */
ngx_int_t
ngx_http_cc_award_read(ngx_http_request_t *r, uint64_t uid,
    redisReply *reply, ngx_http_cc_award_t *aw)
{
    cc_award_t  a;

    if (reply->type == REDIS_REPLY_NIL) {
        return NGX_DECLINED;
    }

    if (reply->type != REDIS_REPLY_STRING) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cc: unexpected reply from redis (type %d) for the "
                      "award of user %uL", reply->type, uid);
        return NGX_ERROR;
    }

    if (cc_award_parse(reply->str, reply->len, &a) != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cc: malformed award \"%*s\" of user %uL in redis",
                      ngx_min(reply->len, 160), reply->str, uid);
        return NGX_ERROR;
    }

    aw->credited = a.credited;
    aw->amount = a.amount;
    aw->id.data = (u_char *) a.id;
    aw->id.len = a.id_len;

    return NGX_OK;
}


/* {"status":"pending"|"credited","amount_cents":N,"award_id":"..."} */
ngx_int_t
ngx_http_cc_award_body(ngx_http_request_t *r, ngx_http_cc_award_t *aw,
    ngx_str_t *body)
{
    u_char  *p;

    body->data = ngx_pnalloc(r->pool,
                             sizeof("{\"status\":\"credited\","
                                    "\"amount_cents\":,\"award_id\":\"\"}")
                             + NGX_INT64_LEN + aw->id.len);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(body->data,
                    "{\"status\":\"%s\",\"amount_cents\":%uL,"
                    "\"award_id\":\"%V\"}",
                    aw->credited ? "credited" : "pending", aw->amount,
                    &aw->id);

    body->len = p - body->data;

    return NGX_OK;
}
