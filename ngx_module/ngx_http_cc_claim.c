/*
 * ngx_http_cc_claim: POST /cc/claim, the user's pending award credited
 * now rather than in cc-payout's bulk order.
 *
 * The claim script (ngx_module/lua/claim.lua) queues a pending award's
 * uid once on the shard's cc:claims, which cc-payout serves first, and
 * answers the field w.  A credited award answers 200 at once, no award
 * 404.  A pending one waits for cc-payout, which writes "c:..." into w
 * only after its MySQL commit, and answers 200 once w says credited, or
 * 202 pending once cc_claim_wait has passed since the request started
 * (the credit still happens, later).
 *
 * The claims of one uid waiting in a worker form a group, which re-reads
 * w (award.lua) for all of them: cc_claim_poll after the first one came,
 * then at an interval doubling up to cc_claim_poll_max, on an nginx timer,
 * never blocking the worker.  Each read answers every claim of the group
 * once it says credited, so 200 claims of one uid cost the reads of one.
 * A worker keeps at most cc_claim_waiters claims waiting; beyond that a
 * pending claim answers 202 at once.
 *
 * cc-payout publishes a claimed uid on cc:credited once its credit is
 * written (ngx_http_cc_claim_sub.c): the uid's group then re-reads now,
 * its poll timer moved to 0 (ngx_http_cc_claim_wake), rather than at the
 * next step of the schedule, which stays as the fallback.
 *
 * Who owns what:
 *
 *   - a group is malloc'ed, indexed by uid in the worker's tree, and lives
 *     while it has waiters: the last one to leave frees it, and its poll
 *     timer (cancelable: it never holds an exiting worker);
 *   - a waiter (the request's ctx) is in its group from its first pending
 *     read until it is answered or its request goes away (the cleanup),
 *     whichever is first; its deadline timer is not cancelable, so a
 *     quitting worker answers it (202 at the group's next poll) before it
 *     exits, rather than leave its socket open;
 *   - the read in flight is carried by one waiter's request (the reader,
 *     taken in turn), whose Redis entry detaches itself if that request
 *     goes away (ngx_http_cc_redis_batch.c): the group then forgets the
 *     read and polls again.
 *
 * Between the reads nothing holds a request but its deadline timer, so its
 * count is as the content phase left it.
 */


#include "ngx_http_cc_module.h"


typedef struct ngx_http_cc_claim_group_s  ngx_http_cc_claim_group_t;


typedef struct {
    ngx_http_request_t         *r;
    uint64_t                    uid;
    ngx_str_t                   key;          /* the user hash */
    ngx_http_cc_claim_group_t  *group;        /* NULL: not waiting */
    ngx_queue_t                 queue;        /* in group->waiters */
    ngx_event_t                 deadline;     /* cc_claim_wait */
} ngx_http_cc_claim_ctx_t;


/* the claims of one uid waiting in this worker */
struct ngx_http_cc_claim_group_s {
    ngx_rbtree_node_t           node;         /* first: the tree's */
    uint64_t                    uid;
    ngx_queue_t                 waiters;      /* ngx_http_cc_claim_ctx_t */
    ngx_event_t                 poll;
    ngx_msec_t                  interval;     /* to the next read */
    ngx_http_cc_claim_ctx_t    *reader;       /* NULL: no read in flight */
    unsigned                    woken:1;      /* the next read: a wake-up */
    unsigned                    rewake:1;     /* woken while reading */
    ngx_str_t                   key;
    ngx_http_cc_award_t         award;        /* the newest read */
    u_char                      id[64];       /* its id, copied */
    u_char                      key_data[CC_KEY_MAX];
};


static void ngx_http_cc_claim_reply(ngx_http_request_t *r,
    redisReply *reply);
static void ngx_http_cc_claim_wait(ngx_http_request_t *r,
    ngx_http_cc_claim_ctx_t *ctx, ngx_http_cc_award_t *aw);
static ngx_http_cc_claim_group_t *ngx_http_cc_claim_group(
    ngx_http_cc_claim_ctx_t *ctx, ngx_log_t *log);
static ngx_http_cc_claim_group_t *ngx_http_cc_claim_find(uint64_t uid);
static void ngx_http_cc_claim_poll(ngx_event_t *ev);
static void ngx_http_cc_claim_poll_reply(ngx_http_request_t *r,
    redisReply *reply);
static void ngx_http_cc_claim_deadline(ngx_event_t *ev);
static void ngx_http_cc_claim_leave(ngx_http_cc_claim_ctx_t *ctx);
static void ngx_http_cc_claim_end(ngx_http_cc_claim_group_t *g,
    ngx_uint_t outcome, ngx_http_cc_award_t *aw);
static void ngx_http_cc_claim_answer(ngx_http_request_t *r,
    ngx_uint_t outcome, ngx_http_cc_award_t *aw);
static void ngx_http_cc_claim_cleanup(void *data);
static void ngx_http_cc_claim_copy(ngx_http_cc_award_t *to, u_char *id,
    ngx_http_cc_award_t *from);
static void ngx_http_cc_claim_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


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
        [NGX_HTTP_CC_OUTCOME_BODY] = NGX_HTTP_CC_METRIC_CLAIM_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAVAILABLE] =
            NGX_HTTP_CC_METRIC_CLAIM_UNAVAILABLE,
    }
};


/* this worker's groups by uid, and how many claims wait in them */
static ngx_rbtree_t        ngx_http_cc_claim_groups;
static ngx_rbtree_node_t   ngx_http_cc_claim_sentinel;
static ngx_uint_t          ngx_http_cc_claim_nwaiters;


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

    if (aw.credited) {
        ngx_http_cc_claim_answer(r, NGX_HTTP_CC_OUTCOME_CREDITED, &aw);
        return;
    }

    ngx_http_cc_claim_wait(r, ctx, &aw);
}


/*
 * A pending award: the claim joins its uid's group until its deadline,
 * cc_claim_wait after the request's start.  It answers 202 at once when
 * that has passed already, when the worker has cc_claim_waiters claims
 * waiting, or when it is quitting.
 */
static void
ngx_http_cc_claim_wait(ngx_http_request_t *r, ngx_http_cc_claim_ctx_t *ctx,
    ngx_http_cc_award_t *aw)
{
    ngx_msec_t                  elapsed;
    ngx_time_t                 *tp;
    ngx_msec_int_t              ms;
    ngx_http_cleanup_t         *cln;
    ngx_http_cc_main_conf_t    *cmcf;
    ngx_http_cc_claim_group_t  *g;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    elapsed = ms > 0 ? (ngx_msec_t) ms : 0;

    if (elapsed >= cmcf->claim_wait || ngx_exiting) {
        ngx_http_cc_claim_answer(r, NGX_HTTP_CC_OUTCOME_ACCEPTED, aw);
        return;
    }

    if (ngx_http_cc_claim_nwaiters >= (ngx_uint_t) cmcf->claim_waiters) {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_CLAIM_WAITERS_FULL);
        ngx_http_cc_claim_answer(r, NGX_HTTP_CC_OUTCOME_ACCEPTED, aw);
        return;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cln->handler = ngx_http_cc_claim_cleanup;
    cln->data = ctx;

    g = ngx_http_cc_claim_group(ctx, r->connection->log);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the id points into the reply, freed after this handler */

    ngx_http_cc_claim_copy(&g->award, g->id, aw);

    ngx_queue_insert_tail(&g->waiters, &ctx->queue);
    ctx->group = g;
    ngx_http_cc_claim_nwaiters++;
    ngx_http_cc_metric_add(NGX_HTTP_CC_METRIC_CLAIM_WAITING, 1);

    ctx->deadline.handler = ngx_http_cc_claim_deadline;
    ctx->deadline.data = ctx;
    ctx->deadline.log = r->connection->log;
    ngx_add_timer(&ctx->deadline, cmcf->claim_wait - elapsed);
}


/* the uid's group, made (polling in cc_claim_poll) if it has none */
static ngx_http_cc_claim_group_t *
ngx_http_cc_claim_group(ngx_http_cc_claim_ctx_t *ctx, ngx_log_t *log)
{
    ngx_http_cc_main_conf_t    *cmcf;
    ngx_http_cc_claim_group_t  *g;

    g = ngx_http_cc_claim_find(ctx->uid);
    if (g != NULL) {
        return g;
    }

    g = ngx_alloc(sizeof(ngx_http_cc_claim_group_t), log);
    if (g == NULL) {
        return NULL;
    }

    ngx_memzero(g, sizeof(ngx_http_cc_claim_group_t));

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cc_module);

    g->uid = ctx->uid;
    g->node.key = (ngx_rbtree_key_t) ctx->uid;
    ngx_queue_init(&g->waiters);
    g->key.data = g->key_data;
    g->key.len = ngx_min(ctx->key.len, CC_KEY_MAX);
    ngx_memcpy(g->key_data, ctx->key.data, g->key.len);

    g->interval = cmcf->claim_poll;
    g->poll.handler = ngx_http_cc_claim_poll;
    g->poll.data = g;
    g->poll.log = ngx_cycle->log;
    g->poll.cancelable = 1;

    ngx_rbtree_insert(&ngx_http_cc_claim_groups, &g->node);
    ngx_add_timer(&g->poll, g->interval);

    return g;
}


/* the uid's group in this worker, or NULL */
static ngx_http_cc_claim_group_t *
ngx_http_cc_claim_find(uint64_t uid)
{
    ngx_rbtree_node_t          *node, *sentinel;
    ngx_http_cc_claim_group_t  *g;

    if (ngx_http_cc_claim_groups.root == NULL) {
        ngx_rbtree_init(&ngx_http_cc_claim_groups,
                        &ngx_http_cc_claim_sentinel,
                        ngx_http_cc_claim_rbtree_insert);
    }

    node = ngx_http_cc_claim_groups.root;
    sentinel = ngx_http_cc_claim_groups.sentinel;

    while (node != sentinel) {
        g = (ngx_http_cc_claim_group_t *) node;

        if (uid == g->uid) {
            return g;
        }

        node = (uid < g->uid) ? node->left : node->right;
    }

    return NULL;
}


/*
 * cc-payout told the uid's credit (a cc:credited message): its group, if
 * it waits here between reads, re-reads now, its poll timer moved to 0
 * (run after this event, never inside the subscriber's hiredis callback).
 * A read in flight sends nothing more; but Redis may have run it before
 * the credit (its reply and the message can come in one epoll batch, the
 * message first), so should it say pending the group reads again at once
 * rather than a doubled interval later.  1 when the uid waits here.
 */
ngx_uint_t
ngx_http_cc_claim_wake(uint64_t uid)
{
    ngx_http_cc_claim_group_t  *g;

    g = ngx_http_cc_claim_find(uid);

    if (g == NULL) {
        return 0;
    }

    if (g->reader != NULL || !g->poll.timer_set) {
        g->rewake = 1;
        return 1;
    }

    ngx_del_timer(&g->poll);
    ngx_add_timer(&g->poll, 0);
    g->woken = 1;

    return 1;
}


/*
 * The group's timer: one read of w for all its waiters, carried by the
 * request of one of them (taken in turn, so no one request gathers the
 * reads' cleanups).  The shard down now, or the worker quitting, answers
 * them all 202: the claim is queued and will be paid.
 */
static void
ngx_http_cc_claim_poll(ngx_event_t *ev)
{
    ngx_http_cc_claim_group_t *g = ev->data;

    ngx_int_t                 rc;
    ngx_queue_t              *q;
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_cc_claim_ctx_t  *ctx;

    if (ngx_exiting) {
        ngx_http_cc_claim_end(g, NGX_HTTP_CC_OUTCOME_ACCEPTED, &g->award);
        return;
    }

    q = ngx_queue_head(&g->waiters);
    ngx_queue_remove(q);
    ngx_queue_insert_tail(&g->waiters, q);

    ctx = ngx_queue_data(q, ngx_http_cc_claim_ctx_t, queue);
    r = ctx->r;
    c = r->connection;

    rc = ngx_http_cc_redis_eval(r, g->uid, NGX_HTTP_CC_SCRIPT_AWARD,
                                &g->key, NULL, ngx_http_cc_claim_poll_reply);

    if (rc == NGX_OK) {
        g->reader = ctx;

        /* a woken read is counted as a wake-up, not as a re-read */
        if (!g->woken) {
            ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_CLAIM_POLLS);
        }

        g->woken = 0;

        /* as after the content phase: the one count left is the reply's */
        ngx_http_finalize_request(r, NGX_DONE);
        ngx_http_run_posted_requests(c);
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_cc_claim_end(g, NGX_HTTP_CC_OUTCOME_ACCEPTED, &g->award);
        return;
    }

    /* no memory for the read: the waiters wait for their deadlines */

    g->woken = 0;
    ngx_add_timer(&g->poll, g->interval);
}


/*
 * The group's read, in its reader's request: credited answers every
 * waiter 200; pending waits for the next read, the interval doubled up to
 * cc_claim_poll_max.  Redis failing now (reply NULL) answers 202: the
 * claim is queued and will be credited, only its end cannot be watched.
 * w gone or malformed is a broken store: 503.  A reader already answered
 * (its deadline came while it read) left the group: nothing to do.
 */
static void
ngx_http_cc_claim_poll_reply(ngx_http_request_t *r, redisReply *reply)
{
    ngx_int_t                   rc;
    ngx_http_cc_award_t         aw;
    ngx_http_cc_main_conf_t    *cmcf;
    ngx_http_cc_claim_ctx_t    *ctx;
    ngx_http_cc_claim_group_t  *g;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cc_module);
    g = ctx->group;

    if (g == NULL || g->reader != ctx) {
        return;
    }

    g->reader = NULL;

    if (reply == NULL) {
        ngx_http_cc_claim_end(g, NGX_HTTP_CC_OUTCOME_ACCEPTED, &g->award);
        return;
    }

    rc = ngx_http_cc_award_read(r, g->uid, reply, &aw);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cc: the award of user %uL is gone while its claim "
                      "waited", g->uid);
    }

    if (rc != NGX_OK) {
        ngx_http_cc_claim_end(g, NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL);
        return;
    }

    if (aw.credited) {
        ngx_http_cc_claim_end(g, NGX_HTTP_CC_OUTCOME_CREDITED, &aw);
        return;
    }

    ngx_http_cc_claim_copy(&g->award, g->id, &aw);

    if (ngx_exiting) {
        ngx_http_cc_claim_end(g, NGX_HTTP_CC_OUTCOME_ACCEPTED, &g->award);
        return;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);

    g->interval = ngx_min(2 * g->interval, cmcf->claim_poll_max);

    if (g->rewake) {
        /* told credited while this read was in Redis: read again now */
        g->rewake = 0;
        g->woken = 1;
        ngx_add_timer(&g->poll, 0);
        return;
    }

    ngx_add_timer(&g->poll, g->interval);
}


/* cc_claim_wait has passed: 202 with the newest read of the award */
static void
ngx_http_cc_claim_deadline(ngx_event_t *ev)
{
    ngx_http_cc_claim_ctx_t *ctx = ev->data;

    u_char               id[64];
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_http_cc_award_t  aw;

    r = ctx->r;
    c = r->connection;

    ngx_http_cc_claim_copy(&aw, id, &ctx->group->award);
    ngx_http_cc_claim_leave(ctx);

    ngx_http_cc_claim_answer(r, NGX_HTTP_CC_OUTCOME_ACCEPTED, &aw);
    ngx_http_run_posted_requests(c);
}


/*
 * The waiter leaves its group, answered or gone.  The last one frees the
 * group; a reader leaving while its read is in flight takes the read with
 * it (its Redis entry is detached or answers nobody), so the group reads
 * again, cc_claim_poll_max from now at most.
 */
static void
ngx_http_cc_claim_leave(ngx_http_cc_claim_ctx_t *ctx)
{
    ngx_http_cc_claim_group_t  *g;

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    g = ctx->group;

    if (g == NULL) {
        return;
    }

    ngx_queue_remove(&ctx->queue);
    ctx->group = NULL;
    ngx_http_cc_claim_nwaiters--;
    ngx_http_cc_metric_add(NGX_HTTP_CC_METRIC_CLAIM_WAITING, -1);

    if (ngx_queue_empty(&g->waiters)) {
        if (g->poll.timer_set) {
            ngx_del_timer(&g->poll);
        }

        ngx_rbtree_delete(&ngx_http_cc_claim_groups, &g->node);
        ngx_free(g);
        return;
    }

    if (g->reader == ctx) {
        g->reader = NULL;
        g->woken = g->rewake;
        g->rewake = 0;
        ngx_add_timer(&g->poll, g->woken ? 0 : g->interval);
    }
}


/*
 * Every waiter of the group answered with one outcome (aw: the award's
 * body, NULL for an error); the group ends with the last of them.  The
 * waiters leave first, then are answered: an answer may free its request
 * and run its cleanup, which finds it out of the group.
 */
static void
ngx_http_cc_claim_end(ngx_http_cc_claim_group_t *g, ngx_uint_t outcome,
    ngx_http_cc_award_t *aw)
{
    u_char                    id[64];
    ngx_uint_t                last;
    ngx_queue_t               done, *q;
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_cc_award_t       copy;
    ngx_http_cc_claim_ctx_t  *ctx;

    if (aw != NULL) {
        ngx_http_cc_claim_copy(&copy, id, aw);
        aw = &copy;
    }

    ngx_queue_init(&done);

    do {
        q = ngx_queue_head(&g->waiters);
        ctx = ngx_queue_data(q, ngx_http_cc_claim_ctx_t, queue);
        last = (ngx_queue_next(q) == ngx_queue_sentinel(&g->waiters));

        ngx_http_cc_claim_leave(ctx);        /* the last one frees g */

        ngx_queue_insert_tail(&done, &ctx->queue);

    } while (!last);

    while (!ngx_queue_empty(&done)) {
        q = ngx_queue_head(&done);
        ngx_queue_remove(q);

        ctx = ngx_queue_data(q, ngx_http_cc_claim_ctx_t, queue);
        r = ctx->r;
        c = r->connection;

        ngx_http_cc_claim_answer(r, outcome, aw);
        ngx_http_run_posted_requests(c);
    }
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


static void
ngx_http_cc_claim_cleanup(void *data)
{
    ngx_http_cc_claim_ctx_t  *ctx = data;

    /* the request is going away, mid-wait or answered */

    ngx_http_cc_claim_leave(ctx);
}


/* an award and its id, copied into id (64 bytes) */
static void
ngx_http_cc_claim_copy(ngx_http_cc_award_t *to, u_char *id,
    ngx_http_cc_award_t *from)
{
    *to = *from;
    to->id.len = ngx_min(from->id.len, 64);
    to->id.data = id;
    ngx_memmove(id, from->id.data, to->id.len);
}


/* the groups ordered by uid, the whole 64 bits whatever the key's size */
static void
ngx_http_cc_claim_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t          **p;
    ngx_http_cc_claim_group_t   *g, *t;

    g = (ngx_http_cc_claim_group_t *) node;

    for ( ;; ) {
        t = (ngx_http_cc_claim_group_t *) temp;
        p = (g->uid < t->uid) ? &temp->left : &temp->right;

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}
