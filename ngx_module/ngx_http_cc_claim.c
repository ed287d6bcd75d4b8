/*
 * ngx_http_cc_claim: POST /cc/claim, the user's pending award credited
 * now rather than in cc-payout's bulk order.
 *
 * The claim script (ngx_module/lua/claim.lua) queues a pending award's
 * uid once on the shard's cc:claims, which cc-payout serves first, and
 * answers the field w.  A credited award answers 200 at once, no award
 * 404.  A pending one waits for cc-payout, which writes "c:..." into w
 * only after its MySQL commit: the request re-reads w (award.lua) every
 * cc_claim_poll on an nginx timer, never blocking the worker, and answers
 * 200 once it says credited, or 202 pending once cc_claim_wait has passed
 * since the request started (the credit still happens, later).
 *
 * The request owns its timer: a cleanup deletes it when the request goes
 * away (the client hung up), and a re-read in flight is detached by the
 * Redis entry's own cleanup (ngx_http_cc_redis_batch.c).  Between the
 * re-reads nothing holds the request but the timer, so its count is as
 * the content phase left it.
 */


#include "ngx_http_cc_module.h"


typedef struct {
    ngx_http_request_t       *r;
    uint64_t                  uid;
    ngx_str_t                 key;          /* the user hash */
    ngx_event_t               poll;
    ngx_http_cc_award_t       award;        /* the last one read */
    u_char                    id[64];       /* its id, copied */
} ngx_http_cc_claim_ctx_t;


static void ngx_http_cc_claim_reply(ngx_http_request_t *r,
    redisReply *reply);
static void ngx_http_cc_claim_poll_reply(ngx_http_request_t *r,
    redisReply *reply);
static void ngx_http_cc_claim_pending(ngx_http_request_t *r,
    ngx_http_cc_claim_ctx_t *ctx, ngx_http_cc_award_t *aw);
static void ngx_http_cc_claim_answer(ngx_http_request_t *r,
    ngx_uint_t outcome, ngx_http_cc_award_t *aw);
static void ngx_http_cc_claim_poll(ngx_event_t *ev);
static void ngx_http_cc_claim_cleanup(void *data);


static ngx_http_cc_endpoint_t  ngx_http_cc_claim = {
    NGX_HTTP_POST,
    NGX_HTTP_CC_ACCESS_READ,              /* any time: it follows the end */
    NGX_HTTP_CC_SCRIPT_CLAIM,
    ngx_http_cc_claim_reply,
    NGX_HTTP_CC_HIST_CLAIM,
    NULL,
    NULL,
    {
        [NGX_HTTP_CC_OUTCOME_CREDITED] = NGX_HTTP_CC_METRIC_CLAIM_CREDITED,
        [NGX_HTTP_CC_OUTCOME_ACCEPTED] = NGX_HTTP_CC_METRIC_CLAIM_PENDING,
        [NGX_HTTP_CC_OUTCOME_NO_AWARD] = NGX_HTTP_CC_METRIC_CLAIM_NO_AWARD,
        [NGX_HTTP_CC_OUTCOME_BAD_UID] = NGX_HTTP_CC_METRIC_CLAIM_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAUTHORIZED] =
            NGX_HTTP_CC_METRIC_CLAIM_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_METHOD] = NGX_HTTP_CC_METRIC_CLAIM_METHOD,
        [NGX_HTTP_CC_OUTCOME_UNAVAILABLE] =
            NGX_HTTP_CC_METRIC_CLAIM_UNAVAILABLE,
    }
};


ngx_int_t
ngx_http_cc_claim_handler(ngx_http_request_t *r)
{
    uint64_t                  uid;
    ngx_int_t                 rc;
    ngx_str_t                 dec;
    ngx_http_cc_claim_ctx_t  *ctx;

    if (ngx_http_cc_begin(r, &ngx_http_cc_claim, &uid, &rc) != NGX_OK) {
        return rc;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cc_claim_ctx_t));

    if (ctx == NULL
        || ngx_http_cc_user_keys(r, uid, &ctx->key, NULL, &dec) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->r = r;
    ctx->uid = uid;
    ngx_http_set_ctx(r, ctx, ngx_http_cc_module);

    return ngx_http_cc_call(r, &ngx_http_cc_claim, uid, &ctx->key, &dec);
}


/* the claim script's answer: the field w, after the claim was queued */
static void
ngx_http_cc_claim_reply(ngx_http_request_t *r, redisReply *reply)
{
    ngx_int_t                 rc;
    ngx_http_cc_award_t       aw;
    ngx_http_cc_claim_ctx_t  *ctx;

    if (reply == NULL) {
        ngx_http_cc_claim_answer(r, NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL);
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_cc_module);

    rc = ngx_http_cc_award_read(r, ctx->uid, reply, &aw);

    if (rc == NGX_DECLINED) {
        ngx_http_cc_claim_answer(r, NGX_HTTP_CC_OUTCOME_NO_AWARD, NULL);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_cc_claim_answer(r, NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL);
        return;
    }

    ngx_http_cc_claim_pending(r, ctx, &aw);
}


/*
 * A re-read of w while the claim waits.  Redis failing now (reply NULL)
 * answers 202: the claim is queued and will be credited, only its end
 * cannot be watched.  w gone or malformed is a broken store: 503.
 */
static void
ngx_http_cc_claim_poll_reply(ngx_http_request_t *r, redisReply *reply)
{
    ngx_int_t                 rc;
    ngx_http_cc_award_t       aw;
    ngx_http_cc_claim_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cc_module);

    if (reply == NULL) {
        ngx_http_cc_claim_answer(r, NGX_HTTP_CC_OUTCOME_ACCEPTED,
                                 &ctx->award);
        return;
    }

    rc = ngx_http_cc_award_read(r, ctx->uid, reply, &aw);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cc: the award of user %uL is gone while its claim "
                      "waited", ctx->uid);
    }

    if (rc != NGX_OK) {
        ngx_http_cc_claim_answer(r, NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL);
        return;
    }

    ngx_http_cc_claim_pending(r, ctx, &aw);
}


/*
 * The award as read: credited answers 200; pending answers 202 once
 * cc_claim_wait has passed since the request started, or else waits for
 * the next re-read, cc_claim_poll from now (at the deadline at the
 * latest).
 */
static void
ngx_http_cc_claim_pending(ngx_http_request_t *r, ngx_http_cc_claim_ctx_t *ctx,
    ngx_http_cc_award_t *aw)
{
    ngx_msec_t                elapsed;
    ngx_time_t               *tp;
    ngx_msec_int_t            ms;
    ngx_http_cleanup_t       *cln;
    ngx_http_cc_main_conf_t  *cmcf;

    if (aw->credited) {
        ngx_http_cc_claim_answer(r, NGX_HTTP_CC_OUTCOME_CREDITED, aw);
        return;
    }

    /* the id points into the reply, freed after this handler */

    ctx->award = *aw;
    ctx->award.id.data = ngx_cpymem(ctx->id, aw->id.data, aw->id.len)
                         - aw->id.len;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    elapsed = ms > 0 ? (ngx_msec_t) ms : 0;

    if (elapsed >= cmcf->claim_wait) {
        ngx_http_cc_claim_answer(r, NGX_HTTP_CC_OUTCOME_ACCEPTED,
                                 &ctx->award);
        return;
    }

    if (ctx->poll.handler == NULL) {
        cln = ngx_http_cleanup_add(r, 0);
        if (cln == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        cln->handler = ngx_http_cc_claim_cleanup;
        cln->data = ctx;

        ctx->poll.handler = ngx_http_cc_claim_poll;
        ctx->poll.data = ctx;
        ctx->poll.log = r->connection->log;
    }

    ngx_add_timer(&ctx->poll,
                  ngx_min(cmcf->claim_poll, cmcf->claim_wait - elapsed));
}


/* an answer of the claim: the outcome, with the award's body for 200/202 */
static void
ngx_http_cc_claim_answer(ngx_http_request_t *r, ngx_uint_t outcome,
    ngx_http_cc_award_t *aw)
{
    ngx_str_t  body;

    if (aw == NULL) {
        ngx_http_cc_finalize(r, &ngx_http_cc_claim, outcome, NULL, 0);
        return;
    }

    if (ngx_http_cc_award_body(r, aw, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_cc_finalize(r, &ngx_http_cc_claim, outcome, body.data,
                         body.len);
}


/* the timer: re-read w; the shard down now answers 202 as above */
static void
ngx_http_cc_claim_poll(ngx_event_t *ev)
{
    ngx_http_cc_claim_ctx_t  *ctx = ev->data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->r;
    c = r->connection;

    rc = ngx_http_cc_redis_eval(r, ctx->uid, NGX_HTTP_CC_SCRIPT_AWARD,
                                &ctx->key, NULL,
                                ngx_http_cc_claim_poll_reply);

    if (rc == NGX_OK) {
        /* as after the content phase: the one count left is the reply's */
        ngx_http_finalize_request(r, NGX_DONE);

    } else if (rc == NGX_DECLINED) {
        ngx_http_cc_claim_answer(r, NGX_HTTP_CC_OUTCOME_ACCEPTED,
                                 &ctx->award);

    } else {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_cc_claim_cleanup(void *data)
{
    ngx_http_cc_claim_ctx_t  *ctx = data;

    /* the request is going away mid-wait: no re-read after it */

    if (ctx->poll.timer_set) {
        ngx_del_timer(&ctx->poll);
    }
}
