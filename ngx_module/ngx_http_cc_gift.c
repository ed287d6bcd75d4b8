/*
 * ngx_http_cc_gift: POST /cc/gift?to=UID&kind=K&request_id=ID and
 * POST /cc/gift?ask_id=ID&request_id=ID, one card of the caller's given
 * to another user (送福), across shards, exactly once (issue 19).
 *
 * A gift is three script calls, each idempotent, in this order:
 *
 *   gift_out.lua   the giver's shard: the card taken, the gift in the
 *                  shard's outbox (idempotent by the gift id
 *                  "giver:request_id"); its answer is the request's
 *   gift_in.lua    the receiver's shard: the card added (idempotent by the
 *                  gift id in cc:{uid}:gi)
 *   gift_done.lua  the giver's shard: the gift out of the outbox (its
 *                  member "giver:request_id:to:kind"), which makes a
 *                  replay's answer "delivered"
 *
 * gift_in sent after gift_out's reply, on nginx's loop like every call.
 * The answer is "delivered" once gift_in answered, "sent" when it did not
 * within cc_redis_timeout or its shard is down: the outbox keeps the gift
 * and cc-redrive (workers/redrive) delivers it after its grace period.
 * gift_done is off the request's path: once gift_in answered, the answer
 * leaves and the gift's gift_done is handed to the giver shard's detached
 * queue (ngx_http_cc_redis_detach()), which sends it in a batch of many
 * gifts' within NGX_HTTP_CC_DETACHED_WAIT ms; nobody waits for it, and
 * one dropped (the shard down, the queue full, the worker exiting) leaves
 * the gift in the outbox, for cc-redrive, which finds it applied.  So a
 * gift answered "delivered" may be in the outbox ("sent" in GET
 * /cc/gifts) for those ms, or until the redrive.  A retry replays the
 * first answer; one that replays "sent" sends gift_in (and gift_done)
 * again, and answers "delivered" when gift_in answers.  A worker killed
 * between the calls leaves the gift in the outbox: the redrive delivers
 * it, once.
 */


#include "ngx_http_cc_module.h"


typedef struct {
    ngx_http_cc_ctx_t         base;         /* first: what util.c reads */
    uint64_t                  to;
    ngx_str_t                 to_dec;
    ngx_str_t                 kind_dec;
    ngx_str_t                 ask;          /* empty: a plain gift */
    ngx_str_t                 gid;          /* "giver:request_id" */
    unsigned                  replay:1;     /* gift_out answered before */
} ngx_http_cc_gift_ctx_t;


static ngx_int_t ngx_http_cc_gift_args(ngx_http_request_t *r,
    ngx_http_cc_gift_ctx_t *ctx, ngx_int_t *rc);
static ngx_uint_t ngx_http_cc_gift_has_ask(ngx_http_request_t *r);
static void ngx_http_cc_gift_out_reply(ngx_http_request_t *r,
    redisReply *reply);
static void ngx_http_cc_gift_deliver(ngx_http_request_t *r,
    ngx_http_cc_gift_ctx_t *ctx);
static void ngx_http_cc_gift_in_reply(ngx_http_request_t *r,
    redisReply *reply);
static void ngx_http_cc_gift_done(ngx_http_request_t *r,
    ngx_http_cc_gift_ctx_t *ctx);
static void ngx_http_cc_gift_answer(ngx_http_request_t *r,
    ngx_http_cc_gift_ctx_t *ctx, ngx_uint_t delivered);
static void ngx_http_cc_gift_publish(ngx_http_cc_gift_ctx_t *ctx,
    ngx_uint_t in);


static ngx_http_cc_endpoint_t  ngx_http_cc_gift = {
    NGX_HTTP_POST,
    NGX_HTTP_CC_ACCESS_WRITE,
    NGX_HTTP_CC_SCRIPT_GIFT_OUT,
    ngx_http_cc_gift_out_reply,
    0,
    "bad_request_id",
    "no_card",
    {
        [NGX_HTTP_CC_OUTCOME_OK] = NGX_HTTP_CC_METRIC_GIFT_DELIVERED,
        [NGX_HTTP_CC_OUTCOME_SENT] = NGX_HTTP_CC_METRIC_GIFT_SENT,
        [NGX_HTTP_CC_OUTCOME_REPLAYED] = NGX_HTTP_CC_METRIC_GIFT_REPLAYED,
        [NGX_HTTP_CC_OUTCOME_REFUSED] = NGX_HTTP_CC_METRIC_GIFT_NO_CARD,
        [NGX_HTTP_CC_OUTCOME_GIFT_LIMIT] = NGX_HTTP_CC_METRIC_GIFT_LIMIT,
        [NGX_HTTP_CC_OUTCOME_ASK_NOT_FOUND] =
            NGX_HTTP_CC_METRIC_GIFT_ASK_NOT_FOUND,
        [NGX_HTTP_CC_OUTCOME_ASK_ANSWERED] =
            NGX_HTTP_CC_METRIC_GIFT_ASK_ANSWERED,
        [NGX_HTTP_CC_OUTCOME_ASK_EXPIRED] =
            NGX_HTTP_CC_METRIC_GIFT_ASK_EXPIRED,
        [NGX_HTTP_CC_OUTCOME_BAD_UID] = NGX_HTTP_CC_METRIC_GIFT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAUTHORIZED] =
            NGX_HTTP_CC_METRIC_GIFT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_BAD_ID] = NGX_HTTP_CC_METRIC_GIFT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_BAD_TO] = NGX_HTTP_CC_METRIC_GIFT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_BAD_KIND] = NGX_HTTP_CC_METRIC_GIFT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_SELF] = NGX_HTTP_CC_METRIC_GIFT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_NOT_GIVABLE] =
            NGX_HTTP_CC_METRIC_GIFT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_BAD_ASK] = NGX_HTTP_CC_METRIC_GIFT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_METHOD] = NGX_HTTP_CC_METRIC_GIFT_METHOD,
        [NGX_HTTP_CC_OUTCOME_BODY] = NGX_HTTP_CC_METRIC_GIFT_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_CLOSED] = NGX_HTTP_CC_METRIC_CLOSED,
        [NGX_HTTP_CC_OUTCOME_UNAVAILABLE] =
            NGX_HTTP_CC_METRIC_GIFT_UNAVAILABLE,
    }
};


/* the refusals of gift_out.lua by its status: {0}, {4} .. {8} */
static ngx_uint_t  ngx_http_cc_gift_refused[] = {
    NGX_HTTP_CC_OUTCOME_REFUSED,         /* 0: no card */
    NGX_HTTP_CC_OUTCOMES,                /* 1: given before */
    NGX_HTTP_CC_OUTCOMES,                /* 2: given now */
    NGX_HTTP_CC_OUTCOME_CLOSED,          /* 3 */
    NGX_HTTP_CC_OUTCOME_GIFT_LIMIT,      /* 4 */
    NGX_HTTP_CC_OUTCOME_ASK_NOT_FOUND,   /* 5 */
    NGX_HTTP_CC_OUTCOME_ASK_ANSWERED,    /* 6 */
    NGX_HTTP_CC_OUTCOME_ASK_EXPIRED,     /* 7 */
    NGX_HTTP_CC_OUTCOME_NOT_GIVABLE,     /* 8 */
};


ngx_int_t
ngx_http_cc_gift_handler(ngx_http_request_t *r)
{
    u_char                  *p;
    uint64_t                 uid;
    ngx_int_t                rc;
    ngx_str_t                keys[3], args[6];
    ngx_http_cc_ctx_t       *base;
    ngx_http_cc_gift_ctx_t  *ctx;

    if (ngx_http_cc_begin(r, &ngx_http_cc_gift, &uid, &rc) != NGX_OK
        || ngx_http_cc_write_ctx(r, &ngx_http_cc_gift, uid, &base, &rc)
           != NGX_OK)
    {
        return rc;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cc_gift_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->base = *base;
    ngx_http_set_ctx(r, ctx, ngx_http_cc_module);

    if (ngx_http_cc_gift_args(r, ctx, &rc) != NGX_OK) {
        return rc;
    }

    p = ngx_pnalloc(r->pool, 4 * CC_KEY_MAX + 3 * NGX_INT64_LEN
                             + CC_GIFT_ID_MAX + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    keys[0].data = p;
    keys[0].len = cc_key_user((char *) p, uid);
    p += keys[0].len;

    /* the old layout's answers: gift_out.lua moves them into the user's */
    keys[1].data = p;
    keys[1].len = cc_key_user_sub((char *) p, uid, "ga");
    p += keys[1].len;

    keys[2].data = p;
    keys[2].len = cc_key_user_sub((char *) p, uid, "ak");
    p += keys[2].len;

    args[0].data = p;
    p = ngx_sprintf(p, "%uL", uid);
    args[0].len = p - args[0].data;

    ctx->gid.data = p;
    p = ngx_sprintf(p, "%V:%V", &args[0], &ctx->base.rid);
    ctx->gid.len = p - ctx->gid.data;

    args[1] = ctx->base.rid;
    args[2] = ctx->to_dec;
    args[3] = ctx->kind_dec;
    args[4] = ctx->ask;

    args[5].data = p;
    args[5].len = ngx_sprintf(p, "%L", ctx->base.ts_ms) - p;

    return ngx_http_cc_call(r, &ngx_http_cc_gift, uid, keys, args);
}


/*
 * to and kind, or ask_id (an ask says both): each given once and well
 * formed, never both forms.  NGX_OK, or NGX_DONE with the 400 in *rc.
 */
static ngx_int_t
ngx_http_cc_gift_args(ngx_http_request_t *r, ngx_http_cc_gift_ctx_t *ctx,
    ngx_int_t *rc)
{
    char                      rid[CC_REQUEST_ID_MAX + 1];
    uint64_t                  asker;
    ngx_int_t                 kind;
    ngx_str_t                 v;
    ngx_uint_t                outcome;
    ngx_http_cc_main_conf_t  *cmcf;

    static u_char  bad_to[] = "{\"error\":\"bad_to\"}";
    static u_char  self[] = "{\"error\":\"gift_to_self\"}";

    /* any ask_id, even repeated or bare, makes it the answer of an ask */

    if (ngx_http_cc_gift_has_ask(r)) {
        if (ngx_http_cc_get_arg(r, "ask_id", sizeof("ask_id") - 1, &ctx->ask)
            != NGX_OK
            || cc_gift_id_parse((const char *) ctx->ask.data, ctx->ask.len,
                                &asker, rid)
               != 0
            || ngx_http_cc_get_arg(r, "to", 2, &v) == NGX_OK
            || ngx_http_cc_get_arg(r, "kind", 4, &v) == NGX_OK)
        {
            *rc = ngx_http_cc_answer(r, &ngx_http_cc_gift,
                                     NGX_HTTP_CC_OUTCOME_BAD_ASK, NULL, 0);
            return NGX_DONE;
        }

        /* empty, not NULL: the batch copies every argument's bytes */
        ngx_str_set(&ctx->to_dec, "");
        ngx_str_set(&ctx->kind_dec, "");
        return NGX_OK;
    }

    ngx_str_set(&ctx->ask, "");

    if (ngx_http_cc_get_arg(r, "to", 2, &ctx->to_dec) != NGX_OK
        || cc_parse_uid((const char *) ctx->to_dec.data, ctx->to_dec.len,
                        &ctx->to)
           != 0)
    {
        *rc = ngx_http_cc_answer(r, &ngx_http_cc_gift,
                                 NGX_HTTP_CC_OUTCOME_BAD_TO, bad_to,
                                 sizeof(bad_to) - 1);
        return NGX_DONE;
    }

    if (ctx->to == ctx->base.uid) {
        *rc = ngx_http_cc_answer(r, &ngx_http_cc_gift,
                                 NGX_HTTP_CC_OUTCOME_SELF, self,
                                 sizeof(self) - 1);
        return NGX_DONE;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);

    kind = NGX_ERROR;

    if (ngx_http_cc_get_arg(r, "kind", 4, &ctx->kind_dec) == NGX_OK
        && ctx->kind_dec.len <= 3)
    {
        kind = ngx_atoi(ctx->kind_dec.data, ctx->kind_dec.len);
    }

    outcome = (kind == NGX_ERROR || (ngx_uint_t) kind >= cmcf->cards.nkinds
               || (ctx->kind_dec.len > 1 && ctx->kind_dec.data[0] == '0'))
              ? NGX_HTTP_CC_OUTCOME_BAD_KIND
              : !ngx_http_cc_givable(cmcf, kind)
              ? NGX_HTTP_CC_OUTCOME_NOT_GIVABLE
              : NGX_HTTP_CC_OUTCOME_OK;

    if (outcome != NGX_HTTP_CC_OUTCOME_OK) {
        *rc = ngx_http_cc_answer(r, &ngx_http_cc_gift, outcome, NULL, 0);
        return NGX_DONE;
    }

    return NGX_OK;
}


/* an argument named ask_id (any case), with a value or bare, at least once */
static ngx_uint_t
ngx_http_cc_gift_has_ask(ngx_http_request_t *r)
{
    u_char  *p, *last, *end;

    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        if (end - p >= 6 && ngx_strncasecmp(p, (u_char *) "ask_id", 6) == 0
            && (end - p == 6 || p[6] == '='))
        {
            return 1;
        }

        p = end + 1;
    }

    return 0;
}


/*
 * gift_out.lua's reply: {2, to, kind} given now, {1, to, kind, s|d}
 * before, {status} a refusal; {3} closed.
 */
static void
ngx_http_cc_gift_out_reply(ngx_http_request_t *r, redisReply *reply)
{
    redisReply              **e;
    long long                 status;
    ngx_http_cc_gift_ctx_t   *ctx;

    if (reply == NULL) {
        ngx_http_cc_finalize(r, &ngx_http_cc_gift,
                             NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL, 0);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1
        || reply->element[0]->type != REDIS_REPLY_INTEGER
        || reply->element[0]->integer < 0
        || reply->element[0]->integer > 8)
    {
        goto invalid;
    }

    e = reply->element;
    status = e[0]->integer;

    if (status != 1 && status != 2) {
        ngx_http_cc_finalize(r, &ngx_http_cc_gift,
                             ngx_http_cc_gift_refused[status], NULL, 0);
        return;
    }

    if (reply->elements != (size_t) (status == 2 ? 3 : 4)
        || e[1]->type != REDIS_REPLY_STRING
        || e[2]->type != REDIS_REPLY_STRING
        || (status == 1 && (e[3]->type != REDIS_REPLY_STRING
                            || e[3]->len != 1)))
    {
        goto invalid;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_cc_module);

    /* to and kind from the script: an ask's, or a retry's first ones */

    ctx->to_dec.data = ngx_pnalloc(r->pool, e[1]->len + e[2]->len);

    if (ctx->to_dec.data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->to_dec.len = e[1]->len;
    ngx_memcpy(ctx->to_dec.data, e[1]->str, e[1]->len);
    ctx->kind_dec.data = ctx->to_dec.data + e[1]->len;
    ctx->kind_dec.len = e[2]->len;
    ngx_memcpy(ctx->kind_dec.data, e[2]->str, e[2]->len);

    if (cc_parse_uid(e[1]->str, e[1]->len, &ctx->to) != 0
        || ngx_atoi(ctx->kind_dec.data, ctx->kind_dec.len) == NGX_ERROR)
    {
        goto invalid;
    }

    if (status == 2) {
        ngx_http_cc_gift_publish(ctx, 0);

    } else {
        ctx->replay = 1;

        if (e[3]->str[0] == 'd') {
            ngx_http_cc_gift_answer(r, ctx, 1);
            return;
        }
    }

    ngx_http_cc_gift_deliver(r, ctx);
    return;

invalid:

    ngx_http_cc_finalize_invalid(r, &ngx_http_cc_gift, reply);
}


/* the receiver's half on the receiver's shard; "sent" if it cannot go */
static void
ngx_http_cc_gift_deliver(ngx_http_request_t *r, ngx_http_cc_gift_ctx_t *ctx)
{
    u_char      *p;
    ngx_int_t    rc;
    ngx_str_t    keys[3], args[5];
    ngx_time_t  *tp;

    p = ngx_pnalloc(r->pool, 3 * CC_KEY_MAX + 2 * NGX_INT64_LEN);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    keys[0].data = p;
    keys[0].len = cc_key_user((char *) p, ctx->to);
    p += keys[0].len;

    keys[1].data = p;
    keys[1].len = cc_key_user_sub((char *) p, ctx->to, "gi");
    p += keys[1].len;

    keys[2].data = p;
    keys[2].len = cc_key_user_sub((char *) p, ctx->to, "gr");
    p += keys[2].len;

    args[0] = ctx->to_dec;
    args[1] = ctx->gid;

    args[2].data = p;
    p = ngx_sprintf(p, "%uL", ctx->base.uid);
    args[2].len = p - args[2].data;

    args[3] = ctx->kind_dec;

    /* the time of this half: the replayed gift's is now too */

    tp = ngx_timeofday();
    ctx->base.ts_ms = (int64_t) tp->sec * 1000 + tp->msec;

    args[4].data = p;
    args[4].len = ngx_sprintf(p, "%L", ctx->base.ts_ms) - p;

    rc = ngx_http_cc_redis_eval(r, ctx->to, NGX_HTTP_CC_SCRIPT_GIFT_IN, keys,
                                args, ngx_http_cc_gift_in_reply);

    if (rc != NGX_OK) {
        /* the shard is down (or no memory): the redrive delivers it */
        ngx_http_cc_gift_answer(r, ctx, 0);
        return;
    }

    /* as after the content phase: the one count left is the reply's */
    ngx_http_finalize_request(r, NGX_DONE);
}


/* gift_in.lua's element: 2 applied now, 1 before; NULL: not known */
static void
ngx_http_cc_gift_in_reply(ngx_http_request_t *r, redisReply *reply)
{
    ngx_http_cc_gift_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cc_module);

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER
        || (reply->integer != 1 && reply->integer != 2))
    {
        if (reply != NULL) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "cc: unexpected reply from redis (type %d) to "
                          "gift_in.lua", reply->type);
        }

        ngx_http_cc_gift_answer(r, ctx, 0);
        return;
    }

    if (reply->integer == 2) {
        ngx_http_cc_gift_publish(ctx, 1);

        if (ctx->replay) {
            ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_GIFT_REDELIVERED);
        }
    }

    ngx_http_cc_gift_done(r, ctx);
    ngx_http_cc_gift_answer(r, ctx, 1);
}


/*
 * The gift out of the giver's outbox, detached from the request: its
 * answer is "delivered" whatever becomes of it (a gift left in the outbox
 * is the redrive's, which finds it applied).  The entry is the gift's
 * outbox member, "giver:request_id:to:kind" (gift_out.lua).
 */
static void
ngx_http_cc_gift_done(ngx_http_request_t *r, ngx_http_cc_gift_ctx_t *ctx)
{
    ngx_str_t                 m;
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);

    m.data = ngx_pnalloc(r->pool, ctx->gid.len + ctx->to_dec.len
                                  + ctx->kind_dec.len + 2);
    if (m.data == NULL) {
        /* the gift stays in the outbox: the redrive's */
        return;
    }

    m.len = ngx_sprintf(m.data, "%V:%V:%V", &ctx->gid, &ctx->to_dec,
                        &ctx->kind_dec)
            - m.data;

    /* the member copied: the entry is the shard's from here */
    (void) ngx_http_cc_redis_detach(cmcf, ctx->base.uid,
                                    NGX_HTTP_CC_SCRIPT_GIFT_DONE, NULL, &m);
}


/* {"gift_id":"7:abc","to":"9","kind":2,"status":"sent"|"delivered"} */
static void
ngx_http_cc_gift_answer(ngx_http_request_t *r, ngx_http_cc_gift_ctx_t *ctx,
    ngx_uint_t delivered)
{
    u_char      *body, *last;
    ngx_uint_t   outcome;

    body = ngx_pnalloc(r->pool, sizeof("{\"gift_id\":\"\",\"to\":\"\","
                                       "\"kind\":,\"status\":\"delivered\"}")
                                + ctx->gid.len + ctx->to_dec.len
                                + ctx->kind_dec.len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    last = ngx_sprintf(body, "{\"gift_id\":\"%V\",\"to\":\"%V\",\"kind\":%V,"
                       "\"status\":\"%s\"}", &ctx->gid, &ctx->to_dec,
                       &ctx->kind_dec, delivered ? "delivered" : "sent");

    outcome = ctx->replay ? NGX_HTTP_CC_OUTCOME_REPLAYED
              : delivered ? NGX_HTTP_CC_OUTCOME_OK
              : NGX_HTTP_CC_OUTCOME_SENT;

    ngx_http_cc_finalize(r, &ngx_http_cc_gift, outcome, body, last - body);
}


/* a half to Kafka, keyed by its user (cc_event.h's gift_out, gift_in) */
static void
ngx_http_cc_gift_publish(ngx_http_cc_gift_ctx_t *ctx, ngx_uint_t in)
{
    cc_gift_t  g;

    g.uid = in ? ctx->to : ctx->base.uid;
    g.peer = in ? ctx->base.uid : ctx->to;
    g.card = (uint32_t) ngx_atoi(ctx->kind_dec.data, ctx->kind_dec.len);
    g.in = in;
    g.ts_ms = ctx->base.ts_ms;
    ngx_memcpy(g.request_id, ctx->base.rid.data, ctx->base.rid.len);
    g.request_id[ctx->base.rid.len] = '\0';

    ngx_http_cc_kafka_publish_gift(&g);
}
