/*
 * ngx_http_cc_ask: POST /cc/ask?from=UID&kind=K&request_id=ID, the caller
 * asks UID for one card of K (要福), and GET /cc/gifts, the caller's gifts
 * received and sent and the asks addressed to it (issue 19).
 *
 * An ask is two script calls, each idempotent by the ask id
 * "asker:request_id": ask_out.lua on the asker's shard (at most
 * cc_ask_limit open, each for cc_ask_ttl), then ask_in.lua on the asked
 * user's shard, where POST /cc/gift?ask_id=ID answers it
 * (ngx_http_cc_gift.c).  The answer is 200 once both are done, 503 when
 * the second is not: a retry with the same request id stores it then.
 */


#include "ngx_http_cc_module.h"


typedef struct {
    ngx_http_cc_ctx_t         base;         /* first: what util.c reads */
    ngx_str_t                 ask;          /* "asker:request_id" */
    unsigned                  replay:1;
} ngx_http_cc_ask_ctx_t;


static ngx_int_t ngx_http_cc_ask_args(ngx_http_request_t *r,
    ngx_http_cc_ask_ctx_t *ctx, ngx_str_t *from, ngx_str_t *kind,
    ngx_int_t *rc);
static void ngx_http_cc_ask_out_reply(ngx_http_request_t *r,
    redisReply *reply);
static void ngx_http_cc_ask_in_reply(ngx_http_request_t *r,
    redisReply *reply);
static void ngx_http_cc_gifts_reply(ngx_http_request_t *r,
    redisReply *reply);


static ngx_http_cc_endpoint_t  ngx_http_cc_ask = {
    NGX_HTTP_POST,
    NGX_HTTP_CC_ACCESS_WRITE,
    NGX_HTTP_CC_SCRIPT_ASK_OUT,
    ngx_http_cc_ask_out_reply,
    0,
    "bad_request_id",
    NULL,
    {
        [NGX_HTTP_CC_OUTCOME_OK] = NGX_HTTP_CC_METRIC_ASK_OK,
        [NGX_HTTP_CC_OUTCOME_REPLAYED] = NGX_HTTP_CC_METRIC_ASK_REPLAYED,
        [NGX_HTTP_CC_OUTCOME_ASK_LIMIT] = NGX_HTTP_CC_METRIC_ASK_LIMIT,
        [NGX_HTTP_CC_OUTCOME_BAD_UID] = NGX_HTTP_CC_METRIC_ASK_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAUTHORIZED] =
            NGX_HTTP_CC_METRIC_ASK_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_BAD_ID] = NGX_HTTP_CC_METRIC_ASK_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_BAD_TO] = NGX_HTTP_CC_METRIC_ASK_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_BAD_KIND] = NGX_HTTP_CC_METRIC_ASK_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_SELF] = NGX_HTTP_CC_METRIC_ASK_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_NOT_GIVABLE] = NGX_HTTP_CC_METRIC_ASK_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_METHOD] = NGX_HTTP_CC_METRIC_ASK_METHOD,
        [NGX_HTTP_CC_OUTCOME_BODY] = NGX_HTTP_CC_METRIC_ASK_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_CLOSED] = NGX_HTTP_CC_METRIC_CLOSED,
        [NGX_HTTP_CC_OUTCOME_UNAVAILABLE] = NGX_HTTP_CC_METRIC_ASK_UNAVAILABLE,
    }
};


static ngx_http_cc_endpoint_t  ngx_http_cc_gifts = {
    NGX_HTTP_GET,
    NGX_HTTP_CC_ACCESS_READ,
    NGX_HTTP_CC_SCRIPT_GIFTS,
    ngx_http_cc_gifts_reply,
    0,
    NULL,
    NULL,
    {
        [NGX_HTTP_CC_OUTCOME_OK] = NGX_HTTP_CC_METRIC_GIFTS_OK,
        [NGX_HTTP_CC_OUTCOME_BAD_UID] = NGX_HTTP_CC_METRIC_GIFTS_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAUTHORIZED] =
            NGX_HTTP_CC_METRIC_GIFTS_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_METHOD] = NGX_HTTP_CC_METRIC_GIFTS_METHOD,
        [NGX_HTTP_CC_OUTCOME_BODY] = NGX_HTTP_CC_METRIC_GIFTS_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAVAILABLE] =
            NGX_HTTP_CC_METRIC_GIFTS_UNAVAILABLE,
    }
};


ngx_int_t
ngx_http_cc_ask_handler(ngx_http_request_t *r)
{
    u_char                 *p;
    uint64_t                uid;
    ngx_int_t               rc;
    ngx_str_t               key, args[4];
    ngx_http_cc_ctx_t      *base;
    ngx_http_cc_ask_ctx_t  *ctx;

    if (ngx_http_cc_begin(r, &ngx_http_cc_ask, &uid, &rc) != NGX_OK
        || ngx_http_cc_write_ctx(r, &ngx_http_cc_ask, uid, &base, &rc)
           != NGX_OK)
    {
        return rc;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cc_ask_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->base = *base;
    ngx_http_set_ctx(r, ctx, ngx_http_cc_module);

    if (ngx_http_cc_ask_args(r, ctx, &args[1], &args[2], &rc) != NGX_OK) {
        return rc;
    }

    p = ngx_pnalloc(r->pool, CC_KEY_MAX + CC_GIFT_ID_MAX + NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    key.data = p;
    key.len = cc_key_user_sub((char *) p, uid, "ao");
    p += key.len;

    ctx->ask.data = p;
    p = ngx_sprintf(p, "%uL:%V", uid, &ctx->base.rid);
    ctx->ask.len = p - ctx->ask.data;

    args[0] = ctx->ask;

    args[3].data = p;
    args[3].len = ngx_sprintf(p, "%L", ctx->base.ts_ms) - p;

    return ngx_http_cc_call(r, &ngx_http_cc_ask, uid, &key, args);
}


/* from (a uid, not the caller's) and kind (givable): NGX_OK, or NGX_DONE */
static ngx_int_t
ngx_http_cc_ask_args(ngx_http_request_t *r, ngx_http_cc_ask_ctx_t *ctx,
    ngx_str_t *from, ngx_str_t *kind, ngx_int_t *rc)
{
    uint64_t                  uid;
    ngx_int_t                 k;
    ngx_uint_t                outcome;
    ngx_http_cc_main_conf_t  *cmcf;

    static u_char  bad_from[] = "{\"error\":\"bad_from\"}";
    static u_char  self[] = "{\"error\":\"ask_from_self\"}";

    if (ngx_http_cc_get_arg(r, "from", 4, from) != NGX_OK
        || cc_parse_uid((const char *) from->data, from->len, &uid) != 0)
    {
        *rc = ngx_http_cc_answer(r, &ngx_http_cc_ask,
                                 NGX_HTTP_CC_OUTCOME_BAD_TO, bad_from,
                                 sizeof(bad_from) - 1);
        return NGX_DONE;
    }

    if (uid == ctx->base.uid) {
        *rc = ngx_http_cc_answer(r, &ngx_http_cc_ask,
                                 NGX_HTTP_CC_OUTCOME_SELF, self,
                                 sizeof(self) - 1);
        return NGX_DONE;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);

    k = NGX_ERROR;

    if (ngx_http_cc_get_arg(r, "kind", 4, kind) == NGX_OK && kind->len <= 3
        && !(kind->len > 1 && kind->data[0] == '0'))
    {
        k = ngx_atoi(kind->data, kind->len);
    }

    outcome = (k == NGX_ERROR || (ngx_uint_t) k >= cmcf->cards.nkinds)
              ? NGX_HTTP_CC_OUTCOME_BAD_KIND
              : !ngx_http_cc_givable(cmcf, k)
              ? NGX_HTTP_CC_OUTCOME_NOT_GIVABLE
              : NGX_HTTP_CC_OUTCOME_OK;

    if (outcome != NGX_HTTP_CC_OUTCOME_OK) {
        *rc = ngx_http_cc_answer(r, &ngx_http_cc_ask, outcome, NULL, 0);
        return NGX_DONE;
    }

    return NGX_OK;
}


/*
 * ask_out.lua's element: {2|1, from, kind, exp} asked now or before, {4}
 * the limit; then the ask goes to the asked user's shard.
 */
static void
ngx_http_cc_ask_out_reply(ngx_http_request_t *r, redisReply *reply)
{
    u_char                 *p;
    uint64_t                from;
    ngx_int_t               rc;
    ngx_str_t               keys[2], args[4];
    redisReply            **e;
    ngx_http_cc_ask_ctx_t  *ctx;

    if (reply == NULL) {
        ngx_http_cc_finalize(r, &ngx_http_cc_ask,
                             NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL, 0);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1
        || reply->element[0]->type != REDIS_REPLY_INTEGER)
    {
        goto invalid;
    }

    e = reply->element;

    if (reply->elements == 1 && e[0]->integer == 4) {
        ngx_http_cc_finalize(r, &ngx_http_cc_ask,
                             NGX_HTTP_CC_OUTCOME_ASK_LIMIT, NULL, 0);
        return;
    }

    if (reply->elements != 4 || (e[0]->integer != 1 && e[0]->integer != 2)
        || e[1]->type != REDIS_REPLY_STRING
        || e[2]->type != REDIS_REPLY_STRING
        || (e[3]->type != REDIS_REPLY_INTEGER
            && e[3]->type != REDIS_REPLY_STRING)
        || cc_parse_uid(e[1]->str, e[1]->len, &from) != 0)
    {
        goto invalid;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_cc_module);
    ctx->replay = (e[0]->integer == 1);

    p = ngx_pnalloc(r->pool, 2 * CC_KEY_MAX + 3 * NGX_INT64_LEN
                             + e[2]->len + e[3]->len);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    keys[0].data = p;
    keys[0].len = cc_key_user_sub((char *) p, from, "ak");
    p += keys[0].len;

    keys[1].data = p;
    keys[1].len = cc_key_user_sub((char *) p, from, "al");
    p += keys[1].len;

    args[0] = ctx->ask;

    args[1].data = p;
    p = ngx_sprintf(p, "%uL", ctx->base.uid);
    args[1].len = p - args[1].data;

    args[2].data = p;
    p = ngx_cpymem(p, e[2]->str, e[2]->len);
    args[2].len = e[2]->len;

    args[3].data = p;
    if (e[3]->type == REDIS_REPLY_INTEGER) {
        p = ngx_sprintf(p, "%L", (int64_t) e[3]->integer);
    } else {
        p = ngx_cpymem(p, e[3]->str, e[3]->len);
    }
    args[3].len = p - args[3].data;

    rc = ngx_http_cc_redis_eval(r, from, NGX_HTTP_CC_SCRIPT_ASK_IN, keys,
                                args, ngx_http_cc_ask_in_reply);

    if (rc != NGX_OK) {
        ngx_http_cc_finalize(r, &ngx_http_cc_ask,
                             NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL, 0);
        return;
    }

    /* as after the content phase: the one count left is the reply's */
    ngx_http_finalize_request(r, NGX_DONE);
    return;

invalid:

    ngx_http_cc_finalize_invalid(r, &ngx_http_cc_ask, reply);
}


/* ask_in.lua's element: 2 stored now, 1 before; {"ask_id":"7:abc"} */
static void
ngx_http_cc_ask_in_reply(ngx_http_request_t *r, redisReply *reply)
{
    u_char                 *body, *last;
    ngx_http_cc_ask_ctx_t  *ctx;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER
        || (reply->integer != 1 && reply->integer != 2))
    {
        ngx_http_cc_finalize(r, &ngx_http_cc_ask,
                             NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL, 0);
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_cc_module);

    body = ngx_pnalloc(r->pool, sizeof("{\"ask_id\":\"\"}") + ctx->ask.len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    last = ngx_sprintf(body, "{\"ask_id\":\"%V\"}", &ctx->ask);

    ngx_http_cc_finalize(r, &ngx_http_cc_ask,
                         ctx->replay ? NGX_HTTP_CC_OUTCOME_REPLAYED
                                     : NGX_HTTP_CC_OUTCOME_OK,
                         body, last - body);
}


ngx_int_t
ngx_http_cc_gifts_handler(ngx_http_request_t *r)
{
    u_char      *p;
    uint64_t     uid;
    ngx_int_t    rc;
    ngx_str_t    keys[5], args[2];
    ngx_uint_t   i;
    ngx_time_t  *tp;

    /* the gifts sent: the giver's answers in the user hash (NULL), or
       the old layout's sent list gs (gifts.lua) */
    static char  *sub[] = { "gr", NULL, "gs", "ak", "al" };

    if (ngx_http_cc_begin(r, &ngx_http_cc_gifts, &uid, &rc) != NGX_OK) {
        return rc;
    }

    p = ngx_pnalloc(r->pool, 5 * CC_KEY_MAX + 2 * NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < 5; i++) {
        keys[i].data = p;
        keys[i].len = sub[i] ? cc_key_user_sub((char *) p, uid, sub[i])
                             : cc_key_user((char *) p, uid);
        p += keys[i].len;
    }

    tp = ngx_timeofday();

    args[0].data = p;
    p = ngx_sprintf(p, "%uL", uid);
    args[0].len = p - args[0].data;

    args[1].data = p;
    args[1].len = ngx_sprintf(p, "%L", (int64_t) tp->sec * 1000 + tp->msec)
                  - p;

    return ngx_http_cc_call(r, &ngx_http_cc_gifts, uid, keys, args);
}


/* gifts.lua's element: the body, made by the script */
static void
ngx_http_cc_gifts_reply(ngx_http_request_t *r, redisReply *reply)
{
    u_char  *body;

    if (reply == NULL) {
        ngx_http_cc_finalize(r, &ngx_http_cc_gifts,
                             NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL, 0);
        return;
    }

    if (reply->type != REDIS_REPLY_STRING || reply->len < 2
        || reply->str[0] != '{')
    {
        ngx_http_cc_finalize_invalid(r, &ngx_http_cc_gifts, reply);
        return;
    }

    /* the reply is hiredis's, freed after this call: the body is copied */

    body = ngx_pnalloc(r->pool, reply->len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(body, reply->str, reply->len);

    ngx_http_cc_finalize(r, &ngx_http_cc_gifts, NGX_HTTP_CC_OUTCOME_OK,
                         body, reply->len);
}
