/*
 * ngx_http_cc_redis_batch: the requests' script calls, sent in batches.
 *
 * Requests are queued per shard and script, and a posted event sends each
 * queue as one EVALSHA over a batch (ngx_http_cc_batch_t) at the end of
 * the turn of the event loop: Redis then pays its per-call cost once for
 * the batch, and the calls of one turn leave in one write(2).  While a
 * batch is in flight on the shard's connection the queues wait for its
 * reply (unless a full batch is waiting), so under load the batches grow
 * instead of the round trips: fewer, fuller EVALSHAs cost Redis and nginx
 * less per request, and a slow Redis is not sent more work than it
 * answers.
 *
 * A request's entry (ngx_http_cc_cmd_t) is malloc'ed, not taken from the
 * request pool: hiredis may call back after the request is gone.  The
 * request and its entry point at each other until one of them ends:
 *
 *   - reply first:   the batch callback detaches the cleanup, runs the
 *                    handler with the entry's element, frees the entry;
 *   - client gone:   the request cleanup sets cmd->r = NULL; the entry is
 *                    dropped unsent, or freed by the batch callback;
 *   - timeout:       the timer answers the request (reply NULL) and fails
 *                    the shard (ngx_http_cc_redis_conn.c), whose dropped
 *                    connection makes hiredis call back every pending
 *                    batch with a NULL reply.
 *
 * With cc_redis_sentinels, an entry queued while its shard has no
 * confirmed primary waits for one (a "waiter", at most
 * cc_redis_failover_wait N a shard and T each); its timer running out is
 * a fourth end: the timer takes it off the queue, answers 503 and frees
 * it, and the shard is not failed (it has no connection to fail).
 *
 * With cc_redis_wait N T, a batch of a script that writes is followed on
 * the same connection by WAIT N T; the batch keeps a copy of the script's
 * reply and is answered by the last of its callbacks (b->refs), with the
 * copy when N replicas acknowledged, else with NULL (503) for every
 * entry: the writes stay on the primary, and a retry with the same
 * request id replays its answer, or draws afresh where a failover lost
 * it.  Reads (eligibility, award) do not wait.  A retry whose replay
 * writes nothing is covered too: WAIT waits for the connection's last
 * offset, and Redis 7 sets it on every EVALSHA (a may-replicate command)
 * to the primary's current one, so it covers the first answer written on
 * another connection (t/086 checks it through another nginx).
 *
 * A detached entry (ngx_http_cc_redis_detach()) is a call nobody waits
 * for: a gift's gift_done, queued once its answer left.  It has no
 * request, no cleanup and no timer, and is owned by its shard's detached
 * queue, then by its batch (hiredis's until the callback); it is freed by
 * ngx_http_cc_redis_finish() in each of its ends, which counts it:
 *
 *   - answered:      done (its element of the batch's reply);
 *   - dropped:       the shard unusable or NGX_HTTP_CC_DETACHED_HELD held
 *                    already (not queued), the batch failed (a NULL
 *                    reply, an error), the shard failed by a request's
 *                    timer, or the worker exiting (queued or in flight).
 *
 * Dropping one is safe by design: the gift stays in the outbox, and
 * cc-redrive finishes it.  The queue leaves as one EVALSHA when it holds
 * NGX_HTTP_CC_DETACHED_BATCH entries or NGX_HTTP_CC_DETACHED_WAIT ms
 * after its oldest was queued: fewer, fuller calls than the requests'.
 * Its batches are not followed by WAIT (nobody waits for their answer; a
 * gift_done a failover loses leaves the gift to cc-redrive) and do not
 * count in in_flight (the requests' queues do not wait for them).  One
 * that never answers (a Redis hung with no request to time out) holds its
 * entries until the connection drops: NGX_HTTP_CC_DETACHED_HELD bounds
 * them.
 */


#include "ngx_http_cc_redis.h"


#define NGX_HTTP_CC_CMD_STRS_MAX      10   /* gift_out.lua's */
#define NGX_HTTP_CC_BATCH_MAX         CC_LOG_BATCH_MAX   /* cc_event.h */

/* detached entries: a batch's size, its wait (ms), the most a shard holds */
#define NGX_HTTP_CC_DETACHED_BATCH    256
#define NGX_HTTP_CC_DETACHED_WAIT     10
#define NGX_HTTP_CC_DETACHED_HELD     16384


/* one request's entry in a batch */
typedef struct {
    ngx_queue_t                queue;        /* in redis->pending[] */
    ngx_http_request_t        *r;            /* NULL once detached */
    ngx_http_cleanup_t        *cln;
    ngx_event_t                timer;
    ngx_http_cc_redis_t       *redis;
    ngx_http_cc_reply_pt       handler;
    ngx_uint_t                 script;       /* its queue */
    unsigned                   waiter:1;     /* waiting for a primary */
    unsigned                   detached:1;   /* no request, ever */
    ngx_str_t                  str[NGX_HTTP_CC_CMD_STRS_MAX];
    /* the keys' and arguments' bytes follow the struct */
} ngx_http_cc_cmd_t;


/* one EVALSHA: the entries it carries and its argv, kept for EVAL */
typedef struct {
    ngx_http_cc_script_t      *script;
    ngx_uint_t                 n;
    unsigned                   retried:1;
    unsigned                   wait:1;       /* WAIT follows the script */
    unsigned                   detached:1;   /* its entries are */
    ngx_uint_t                 refs;         /* callbacks to come */
    redisReply                *reply;        /* with wait: a copy, or NULL */
    long long                  acked;        /* WAIT's answer; -1: none */
    ngx_msec_t                 sent;
    int                        argc;
    const char               **argv;
    size_t                    *argvlen;
    char                       nkeys[NGX_INT_T_LEN + 1];
    ngx_http_cc_cmd_t         *cmd[1];       /* n of them, then argv */
} ngx_http_cc_batch_t;


static ngx_http_cc_cmd_t *ngx_http_cc_redis_cmd(ngx_http_cc_script_t *sc,
    ngx_str_t *keys, ngx_str_t *args, ngx_log_t *log);
static void ngx_http_cc_redis_flush(ngx_event_t *ev);
static void ngx_http_cc_redis_detached_flush(ngx_event_t *ev);
static void ngx_http_cc_redis_detached_send(ngx_http_cc_redis_t *redis,
    ngx_uint_t all);
static void ngx_http_cc_redis_argv(ngx_http_cc_redis_t *redis,
    ngx_http_cc_script_t *script, ngx_http_cc_batch_t *b);
static void ngx_http_cc_redis_send(ngx_http_cc_redis_t *redis,
    ngx_http_cc_script_t *script, ngx_http_cc_pending_t *pending,
    ngx_uint_t n);
static void ngx_http_cc_redis_finish(ngx_http_cc_cmd_t *cmd,
    redisReply *reply);
static void ngx_http_cc_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_cc_redis_timeout(ngx_event_t *ev);
static void ngx_http_cc_redis_request_cleanup(void *data);
static void ngx_http_cc_redis_unwait(ngx_http_cc_cmd_t *cmd);
static void ngx_http_cc_redis_wait_reply(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_cc_redis_done(ngx_http_cc_batch_t *b, redisReply *rr);
static redisReply *ngx_http_cc_reply_copy(redisReply *r);


/* the scripts that write, whose batches cc_redis_wait follows with WAIT */
static ngx_uint_t  ngx_http_cc_script_writes[NGX_HTTP_CC_SCRIPTS] = {
    [NGX_HTTP_CC_SCRIPT_FLIP] = 1,
    [NGX_HTTP_CC_SCRIPT_GRANT] = 1,
    [NGX_HTTP_CC_SCRIPT_COMBINE] = 1,
    [NGX_HTTP_CC_SCRIPT_CLAIM] = 1,
    [NGX_HTTP_CC_SCRIPT_GIFT_OUT] = 1,
    [NGX_HTTP_CC_SCRIPT_GIFT_IN] = 1,
    [NGX_HTTP_CC_SCRIPT_GIFT_DONE] = 1,
    [NGX_HTTP_CC_SCRIPT_ASK_OUT] = 1,
    [NGX_HTTP_CC_SCRIPT_ASK_IN] = 1,
};


/* the scripts that may be detached: their counters (entries done and
 * dropped, batches sent) */
static ngx_uint_t  ngx_http_cc_script_detached[NGX_HTTP_CC_SCRIPTS][3] = {
    [NGX_HTTP_CC_SCRIPT_GIFT_DONE] = { NGX_HTTP_CC_METRIC_GIFT_DONE_DONE,
                                       NGX_HTTP_CC_METRIC_GIFT_DONE_DROPPED,
                                       NGX_HTTP_CC_METRIC_GIFT_DONE_BATCHES },
};


void
ngx_http_cc_redis_batch_init(ngx_http_cc_redis_t *redis, ngx_log_t *log)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_CC_SCRIPTS; i++) {
        ngx_queue_init(&redis->pending[i].queue);
        ngx_queue_init(&redis->detached[i].queue);
    }

    redis->flush.handler = ngx_http_cc_redis_flush;
    redis->flush.data = redis;
    redis->flush.log = log;

    redis->detached_timer.handler = ngx_http_cc_redis_detached_flush;
    redis->detached_timer.data = redis;
    redis->detached_timer.log = log;
    redis->detached_timer.cancelable = 1;
}


/*
 * At worker exit the requests are gone: what is left is freed unsent, the
 * detached entries too (dropped: cc-redrive's).
 */
void
ngx_http_cc_redis_batch_exit(ngx_http_cc_redis_t *redis)
{
    ngx_uint_t          i;
    ngx_queue_t        *q;
    ngx_http_cc_cmd_t  *cmd;

    if (redis->flush.posted) {
        ngx_delete_posted_event(&redis->flush);
    }

    if (redis->detached_timer.timer_set) {
        ngx_del_timer(&redis->detached_timer);
    }

    for (i = 0; i < NGX_HTTP_CC_SCRIPTS; i++) {
        while (!ngx_queue_empty(&redis->pending[i].queue)) {
            q = ngx_queue_head(&redis->pending[i].queue);
            ngx_queue_remove(q);
            cmd = ngx_queue_data(q, ngx_http_cc_cmd_t, queue);
            ngx_http_cc_redis_finish(cmd, NULL);
        }

        while (!ngx_queue_empty(&redis->detached[i].queue)) {
            q = ngx_queue_head(&redis->detached[i].queue);
            ngx_queue_remove(q);
            redis->detached[i].n--;
            cmd = ngx_queue_data(q, ngx_http_cc_cmd_t, queue);
            ngx_http_cc_redis_finish(cmd, NULL);
        }
    }
}


/*
 * Queues the request's entry (nkeys keys and nargs arguments of the
 * script) for the uid's shard; the batch leaves at the end of this turn of
 * the event loop.  NGX_OK: the handler will be called, and the request's
 * count was raised for it.  NGX_DECLINED: the shard is unavailable now.
 */
ngx_int_t
ngx_http_cc_redis_eval(ngx_http_request_t *r, uint64_t uid,
    ngx_uint_t script, ngx_str_t *keys, ngx_str_t *args,
    ngx_http_cc_reply_pt handler)
{
    ngx_http_cc_cmd_t        *cmd;
    ngx_http_cleanup_t       *cln;
    ngx_http_cc_redis_t      *redis;
    ngx_http_cc_script_t     *sc;
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);
    sc = &cmcf->scripts[script];

    if (sc->nkeys + sc->nargs > NGX_HTTP_CC_CMD_STRS_MAX) {
        return NGX_ERROR;
    }

    redis = ngx_http_cc_redis_shard(cmcf, uid);

    if (!ngx_http_cc_redis_usable(redis)
        && (cmcf->sentinels == NULL
            || redis->waiting >= (ngx_uint_t) cmcf->failover_waiters))
    {
        if (cmcf->sentinels) {
            ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_REDIS_PRIMARY_REFUSED);
        }

        return NGX_DECLINED;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cmd = ngx_http_cc_redis_cmd(sc, keys, args, r->connection->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->r = r;
    cmd->cln = cln;
    cmd->redis = redis;
    cmd->handler = handler;

    ngx_queue_insert_tail(&redis->pending[script].queue, &cmd->queue);
    redis->pending[script].n++;

    if (!redis->flush.posted) {
        ngx_post_event(&redis->flush, &ngx_posted_events);
    }

    cln->handler = ngx_http_cc_redis_request_cleanup;
    cln->data = cmd;

    cmd->timer.handler = ngx_http_cc_redis_timeout;
    cmd->timer.data = cmd;
    cmd->timer.log = ngx_cycle->log;

    if (!ngx_http_cc_redis_usable(redis)) {
        /* a shard between primaries (Sentinel): wait for one, bounded */
        cmd->waiter = 1;
        redis->waiting++;
        ngx_http_cc_metric_add(NGX_HTTP_CC_METRIC_REDIS_PRIMARY_WAITING, 1);
        ngx_add_timer(&cmd->timer, cmcf->failover_wait);
        ngx_http_cc_sentinel_discover(redis);

    } else {
        ngx_add_timer(&cmd->timer, cmcf->redis_timeout + cmcf->wait_timeout);
    }

    r->main->count++;

    return NGX_OK;
}


/*
 * Queues a detached entry of the script for the uid's shard: a call whose
 * answer nobody waits for (see the head comment).  NGX_OK: queued, now
 * the shard's.  NGX_DECLINED: dropped at once (counted): the shard is
 * unusable, or holds NGX_HTTP_CC_DETACHED_HELD of them already.
 */
ngx_int_t
ngx_http_cc_redis_detach(ngx_http_cc_main_conf_t *cmcf, uint64_t uid,
    ngx_uint_t script, ngx_str_t *keys, ngx_str_t *args)
{
    ngx_http_cc_cmd_t     *cmd;
    ngx_http_cc_redis_t   *redis;
    ngx_http_cc_script_t  *sc;

    sc = &cmcf->scripts[script];

    if (sc->nkeys + sc->nargs > NGX_HTTP_CC_CMD_STRS_MAX
        || ngx_http_cc_script_detached[script][0] == 0)
    {
        return NGX_ERROR;
    }

    redis = ngx_http_cc_redis_shard(cmcf, uid);

    cmd = NULL;

    if (ngx_http_cc_redis_usable(redis)
        && redis->detached_held < NGX_HTTP_CC_DETACHED_HELD)
    {
        cmd = ngx_http_cc_redis_cmd(sc, keys, args, ngx_cycle->log);
    }

    if (cmd == NULL) {
        ngx_http_cc_metric_inc(ngx_http_cc_script_detached[script][1]);
        return NGX_DECLINED;
    }

    cmd->redis = redis;
    cmd->detached = 1;

    ngx_queue_insert_tail(&redis->detached[script].queue, &cmd->queue);
    redis->detached[script].n++;
    redis->detached_held++;

    if (redis->detached[script].n >= NGX_HTTP_CC_DETACHED_BATCH) {
        if (!redis->flush.posted) {
            ngx_post_event(&redis->flush, &ngx_posted_events);
        }

    } else if (!redis->detached_timer.timer_set) {
        ngx_add_timer(&redis->detached_timer, NGX_HTTP_CC_DETACHED_WAIT);
    }

    return NGX_OK;
}


/* an entry of the script, its keys' and arguments' bytes copied; malloc'ed */
static ngx_http_cc_cmd_t *
ngx_http_cc_redis_cmd(ngx_http_cc_script_t *sc, ngx_str_t *keys,
    ngx_str_t *args, ngx_log_t *log)
{
    u_char             *p;
    size_t              size;
    ngx_str_t          *a;
    ngx_uint_t          i, n;
    ngx_http_cc_cmd_t  *cmd;

    n = sc->nkeys + sc->nargs;
    size = sizeof(ngx_http_cc_cmd_t);

    for (i = 0; i < n; i++) {
        size += (i < sc->nkeys) ? keys[i].len : args[i - sc->nkeys].len;
    }

    cmd = ngx_alloc(size, log);
    if (cmd == NULL) {
        return NULL;
    }

    ngx_memzero(cmd, sizeof(ngx_http_cc_cmd_t));

    cmd->script = sc->index;

    p = (u_char *) cmd + sizeof(ngx_http_cc_cmd_t);

    for (i = 0; i < n; i++) {
        a = (i < sc->nkeys) ? &keys[i] : &args[i - sc->nkeys];

        cmd->str[i].data = p;
        cmd->str[i].len = a->len;
        p = ngx_cpymem(p, a->data, a->len);
    }

    return cmd;
}


/*
 * The end of a turn of the event loop, or a batch answered: the shard's
 * queues leave if no batch is in flight; full batches leave at once, the
 * detached entries' too.
 */
static void
ngx_http_cc_redis_flush(ngx_event_t *ev)
{
    ngx_http_cc_redis_t  *redis = ev->data;

    ngx_uint_t                i;
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cc_module);

    if (cmcf->sentinels && !redis->up) {
        return;             /* they wait for a primary, detached ones not */
    }

    for (i = 0; i < NGX_HTTP_CC_SCRIPTS; i++) {
        while (redis->pending[i].n >= NGX_HTTP_CC_BATCH_MAX
               || (redis->pending[i].n > 0 && redis->in_flight == 0))
        {
            ngx_http_cc_redis_send(redis, &cmcf->scripts[i],
                                   &redis->pending[i],
                                   ngx_min(redis->pending[i].n,
                                           NGX_HTTP_CC_BATCH_MAX));
        }
    }

    ngx_http_cc_redis_detached_send(redis, 0);
}


/* the oldest detached entry waited NGX_HTTP_CC_DETACHED_WAIT: all leave */
static void
ngx_http_cc_redis_detached_flush(ngx_event_t *ev)
{
    ngx_http_cc_redis_detached_send(ev->data, 1);
}


/*
 * The full batches of detached entries, or all of them: sent, or dropped
 * when the shard is unusable (down, in backoff, between primaries).
 */
static void
ngx_http_cc_redis_detached_send(ngx_http_cc_redis_t *redis, ngx_uint_t all)
{
    ngx_uint_t                i, n;
    ngx_queue_t              *q;
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cc_module);

    for (i = 0; i < NGX_HTTP_CC_SCRIPTS; i++) {
        while (redis->detached[i].n >= NGX_HTTP_CC_DETACHED_BATCH
               || (all && redis->detached[i].n > 0))
        {
            n = ngx_min(redis->detached[i].n, NGX_HTTP_CC_DETACHED_BATCH);

            if (ngx_http_cc_redis_usable(redis)) {
                ngx_http_cc_redis_send(redis, &cmcf->scripts[i],
                                       &redis->detached[i], n);
                continue;
            }

            while (n--) {
                q = ngx_queue_head(&redis->detached[i].queue);
                ngx_queue_remove(q);
                redis->detached[i].n--;
                ngx_http_cc_redis_finish(ngx_queue_data(q, ngx_http_cc_cmd_t,
                                                        queue),
                                         NULL);
            }
        }
    }
}


/*
 * The batch's EVALSHA argv, into b->argv and b->argvlen: the script's
 * shared keys, then all the entries' keys, then the shard's arguments,
 * then all the entries' arguments.
 */
static void
ngx_http_cc_redis_argv(ngx_http_cc_redis_t *redis,
    ngx_http_cc_script_t *script, ngx_http_cc_batch_t *b)
{
    int          k;
    ngx_uint_t   i, j;
    ngx_str_t   *shard_args;

    (void) ngx_snprintf((u_char *) b->nkeys, sizeof(b->nkeys), "%ui%Z",
                        script->nshared + b->n * script->nkeys);

    k = 0;
    b->argv[k] = "EVALSHA";
    b->argvlen[k++] = sizeof("EVALSHA") - 1;
    b->argv[k] = (const char *) script->sha;
    b->argvlen[k++] = 40;
    b->argv[k] = b->nkeys;
    b->argvlen[k++] = ngx_strlen(b->nkeys);

    for (j = 0; j < script->nshared; j++) {
        b->argv[k] = (const char *) script->shared[j].data;
        b->argvlen[k++] = script->shared[j].len;
    }

    /* all the entries' keys first, then all their arguments */

    for (i = 0; i < b->n; i++) {
        for (j = 0; j < script->nkeys; j++) {
            b->argv[k] = (const char *) b->cmd[i]->str[j].data;
            b->argvlen[k++] = b->cmd[i]->str[j].len;
        }
    }

    shard_args = script->shard_args + redis->index * script->nshard_args;

    for (j = 0; j < script->nshard_args; j++) {
        b->argv[k] = (const char *) shard_args[j].data;
        b->argvlen[k++] = shard_args[j].len;
    }

    for (i = 0; i < b->n; i++) {
        for (j = script->nkeys; j < script->nkeys + script->nargs; j++) {
            b->argv[k] = (const char *) b->cmd[i]->str[j].data;
            b->argvlen[k++] = b->cmd[i]->str[j].len;
        }
    }

    b->argc = k;
}


/*
 * Takes n entries off the queue and sends them as one EVALSHA:
 * KEYS = the script's shared keys, then each entry's keys; ARGV = the
 * shard's arguments, then each entry's arguments.  Entries whose request
 * is gone are dropped unsent; detached ones are sent.
 */
static void
ngx_http_cc_redis_send(ngx_http_cc_redis_t *redis,
    ngx_http_cc_script_t *script, ngx_http_cc_pending_t *pending,
    ngx_uint_t n)
{
    ngx_uint_t            i, m, argc;
    ngx_queue_t          *q;
    redisAsyncContext    *ac;
    ngx_http_cc_cmd_t    *cmd;
    ngx_http_cc_batch_t  *b;
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cc_module);

    argc = 3 + script->nshared + script->nshard_args
           + n * (script->nkeys + script->nargs);

    b = ngx_alloc(sizeof(ngx_http_cc_batch_t)
                  + n * sizeof(ngx_http_cc_cmd_t *)
                  + argc * (sizeof(char *) + sizeof(size_t)),
                  ngx_cycle->log);

    m = 0;

    for (i = 0; i < n; i++) {
        q = ngx_queue_head(&pending->queue);
        ngx_queue_remove(q);
        pending->n--;

        cmd = ngx_queue_data(q, ngx_http_cc_cmd_t, queue);

        /*
         * A waiter's timer ran for the primary; with WAIT, a queued entry
         * waited behind the last batch's WAIT: either way the reply's
         * time runs from now.
         */
        if ((cmd->waiter || cmcf->wait_replicas > 0) && cmd->r != NULL) {
            ngx_del_timer(&cmd->timer);
            ngx_add_timer(&cmd->timer, cmcf->redis_timeout
                                       + cmcf->wait_timeout);
        }

        ngx_http_cc_redis_unwait(cmd);

        if ((cmd->r == NULL && !cmd->detached) || b == NULL) {
            ngx_http_cc_redis_finish(cmd, NULL);
            continue;
        }

        b->cmd[m++] = cmd;
    }

    if (b == NULL) {
        return;
    }

    if (m == 0) {
        ngx_free(b);
        return;
    }

    b->script = script;
    b->n = m;
    b->retried = 0;
    b->detached = b->cmd[0]->detached;
    b->wait = cmcf->wait_replicas > 0 && !b->detached
              && ngx_http_cc_script_writes[script->index];
    b->refs = 1;
    b->reply = NULL;
    b->acked = -1;
    b->sent = ngx_current_msec;
    b->argv = (const char **) ((u_char *) b + sizeof(ngx_http_cc_batch_t)
                               + n * sizeof(ngx_http_cc_cmd_t *));
    b->argvlen = (size_t *) (b->argv + argc);

    ngx_http_cc_redis_argv(redis, script, b);

    ac = ngx_http_cc_redis_get(redis, ngx_cycle->log);

    if (ac == NULL
        || redisAsyncCommandArgv(ac, ngx_http_cc_redis_reply, b, b->argc,
                                 b->argv, b->argvlen)
           != REDIS_OK)
    {
        for (i = 0; i < m; i++) {
            ngx_http_cc_redis_finish(b->cmd[i], NULL);
        }

        ngx_free(b);
        return;
    }

    /* from here the batch belongs to hiredis until its callback(s) */

    if (b->detached) {
        ngx_http_cc_metric_inc(ngx_http_cc_script_detached[script->index][2]);
        return;
    }

    redis->in_flight++;

    /* not queued (a connection going): acked stays -1, the batch 503s */
    if (b->wait
        && redisAsyncCommand(ac, ngx_http_cc_redis_wait_reply, b,
                             "WAIT %d %d", (int) cmcf->wait_replicas,
                             (int) cmcf->wait_timeout)
           == REDIS_OK)
    {
        b->refs++;
    }
}


/*
 * Answers the entry's request, if it is still there, or counts a detached
 * entry done (its element) or dropped (NULL); frees the entry.
 */
static void
ngx_http_cc_redis_finish(ngx_http_cc_cmd_t *cmd, redisReply *reply)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    if (cmd->detached) {
        cmd->redis->detached_held--;
        ngx_http_cc_metric_inc(
            ngx_http_cc_script_detached[cmd->script][reply == NULL]);
        ngx_free(cmd);
        return;
    }

    r = cmd->r;

    ngx_http_cc_redis_unwait(cmd);

    if (r != NULL) {
        cmd->r = NULL;
        cmd->cln->handler = NULL;

        if (cmd->timer.timer_set) {
            ngx_del_timer(&cmd->timer);
        }

        /* the handler may free r: nginx keeps c, marked destroyed */
        c = r->connection;
        cmd->handler(r, reply);
        ngx_http_run_posted_requests(c);
    }

    ngx_free(cmd);
}


static void
ngx_http_cc_redis_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    ngx_http_cc_batch_t  *b = privdata;

    ngx_uint_t                i, alive;
    redisReply               *rr = reply;
    ngx_http_cc_redis_t      *redis;
    ngx_http_cc_main_conf_t  *cmcf;

    b->refs--;
    alive = 0;

    for (i = 0; i < b->n; i++) {
        alive += (b->cmd[i]->r != NULL || b->cmd[i]->detached);
    }

    if (alive && rr != NULL && rr->type == REDIS_REPLY_ERROR
        && !b->retried && ngx_strncmp(rr->str, "NOSCRIPT", 8) == 0)
    {
        /* Redis lost its script cache (restart, SCRIPT FLUSH): send it */

        b->retried = 1;
        b->argv[0] = "EVAL";
        b->argvlen[0] = sizeof("EVAL") - 1;
        b->argv[1] = (const char *) b->script->text.data;
        b->argvlen[1] = b->script->text.len;

        if (redisAsyncCommandArgv(ac, ngx_http_cc_redis_reply, b, b->argc,
                                  b->argv, b->argvlen)
            == REDIS_OK)
        {
            b->refs++;

            if (b->wait) {
                /* the WAIT queued after the EVALSHA covers nothing: one
                 * more after the EVAL (the EVAL's reply resets acked) */
                cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                           ngx_http_cc_module);
                if (redisAsyncCommand(ac, ngx_http_cc_redis_wait_reply, b,
                                      "WAIT %d %d",
                                      (int) cmcf->wait_replicas,
                                      (int) cmcf->wait_timeout)
                    == REDIS_OK)
                {
                    b->refs++;
                }
            }

            return;
        }

        rr = NULL;
    }

    redis = b->cmd[0]->redis;        /* a batch holds one entry at least */

    if (rr != NULL && (rr->type != REDIS_REPLY_ARRAY || rr->elements != b->n))
    {
        if (alive) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "redis shard %V: %s", &redis->conf->name,
                          rr->type == REDIS_REPLY_ERROR
                          ? rr->str : "unexpected reply to a batch");
        }

        /* -READONLY, -LOADING: not the primary (any more): ask again */
        (void) ngx_http_cc_redis_moved(redis, rr);

        rr = NULL;
    }

    if (!b->wait) {
        ngx_http_cc_redis_done(b, rr);
        return;
    }

    /* WAIT's answer comes next: keep the script's reply until then */

    b->acked = -1;

    if (b->reply != NULL) {
        freeReplyObject(b->reply);
    }

    b->reply = (rr != NULL) ? ngx_http_cc_reply_copy(rr) : NULL;

    if (b->refs == 0) {
        ngx_http_cc_redis_done(b, b->reply);
    }
}


static void
ngx_http_cc_redis_wait_reply(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    ngx_http_cc_batch_t  *b = privdata;

    redisReply  *r = reply;

    b->refs--;
    b->acked = (r != NULL && r->type == REDIS_REPLY_INTEGER) ? r->integer
                                                            : -1;

    if (b->refs == 0) {
        ngx_http_cc_redis_done(b, b->reply);
    }
}


/*
 * The batch's last callback: each entry answered with its element of rr,
 * or NULL (503) when rr is NULL or, with WAIT, fewer replicas than
 * cc_redis_wait's N acknowledged the batch's writes.
 */
static void
ngx_http_cc_redis_done(ngx_http_cc_batch_t *b, redisReply *rr)
{
    ngx_uint_t                i;
    redisReply               *el;
    ngx_http_cc_redis_t      *redis;
    ngx_http_cc_main_conf_t  *cmcf;

    redis = b->cmd[0]->redis;

    if (b->wait) {
        cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                   ngx_http_cc_module);

        if (b->acked >= 0) {
            ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_REDIS_WAIT);
            ngx_http_cc_latency_observe(NGX_HTTP_CC_HIST_WAIT,
                                        ngx_current_msec - b->sent);
        }

        if (rr != NULL && b->acked < cmcf->wait_replicas) {
            ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_REDIS_WAIT_SHORT);

            if (ngx_current_msec - redis->wait_logged >= 1000) {
                redis->wait_logged = ngx_current_msec;
                ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                              "redis shard %V: WAIT: %L of %i replicas hold "
                              "a batch of %ui: answering 503 (logged once "
                              "a second)", &redis->conf->name,
                              (int64_t) b->acked, cmcf->wait_replicas, b->n);
            }

            rr = NULL;
        }
    }

    for (i = 0; i < b->n; i++) {
        el = rr ? rr->element[i] : NULL;

        if (el != NULL && el->type == REDIS_REPLY_ERROR) {
            if (b->cmd[i]->r) {
                ngx_log_error(NGX_LOG_ERR, b->cmd[i]->r->connection->log, 0,
                              "redis shard %V: %s", &redis->conf->name,
                              el->str);
            }

            (void) ngx_http_cc_redis_moved(redis, el);

            el = NULL;
        }

        ngx_http_cc_redis_finish(b->cmd[i], el);
    }

    if (b->reply != NULL) {
        freeReplyObject(b->reply);
    }

    if (b->detached) {
        ngx_free(b);                     /* not in in_flight */
        return;
    }

    ngx_free(b);

    /* the queues that waited for this batch leave now */

    redis->in_flight--;

    if (!redis->flush.posted) {
        ngx_post_event(&redis->flush, &ngx_posted_events);
    }
}


/* a copy hiredis's freeReplyObject() frees (malloc, as hiredis 0.14) */
static redisReply *
ngx_http_cc_reply_copy(redisReply *r)
{
    size_t       i;
    redisReply  *c;

    c = calloc(1, sizeof(redisReply));
    if (c == NULL) {
        return NULL;
    }

    c->type = r->type;
    c->integer = r->integer;

    switch (r->type) {

    case REDIS_REPLY_ARRAY:
        if (r->elements == 0) {
            break;
        }

        c->element = calloc(r->elements, sizeof(redisReply *));
        if (c->element == NULL) {
            free(c);
            return NULL;
        }

        c->elements = r->elements;

        for (i = 0; i < r->elements; i++) {
            c->element[i] = ngx_http_cc_reply_copy(r->element[i]);
            if (c->element[i] == NULL) {
                freeReplyObject(c);
                return NULL;
            }
        }

        break;

    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        c->str = malloc(r->len + 1);
        if (c->str == NULL) {
            free(c);
            return NULL;
        }

        ngx_memcpy(c->str, r->str, r->len);
        c->str[r->len] = '\0';
        c->len = r->len;
        break;

    default:
        break;
    }

    return c;
}


static void
ngx_http_cc_redis_timeout(ngx_event_t *ev)
{
    ngx_http_cc_cmd_t  *cmd = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = cmd->r;
    c = r->connection;

    if (cmd->waiter) {
        /* no primary within cc_redis_failover_wait: 503, the shard kept */
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "redis shard %V: no primary in time",
                      &cmd->redis->conf->name);
        ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_REDIS_PRIMARY_REFUSED);

        ngx_queue_remove(&cmd->queue);
        cmd->redis->pending[cmd->script].n--;
        ngx_http_cc_redis_finish(cmd, NULL);
        ngx_http_run_posted_requests(c);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, c->log, 0,
                  "redis shard %V: no reply in time, dropping connection",
                  &cmd->redis->conf->name);

    ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_REDIS_TIMEOUT);

    cmd->r = NULL;
    cmd->cln->handler = NULL;

    cmd->handler(r, NULL);

    /*
     * A Redis that does not answer in time is treated as down: the pending
     * commands all fail now (and this one is freed by its callback) rather
     * than each waiting out its own timer on a dead socket.
     */

    ngx_http_cc_redis_fail(cmd->redis);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_cc_redis_request_cleanup(void *data)
{
    ngx_http_cc_cmd_t  *cmd = data;

    /* the request is going away: the flush or the batch callback frees cmd */

    cmd->r = NULL;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }
}


/* a waiter no longer waits: sent, answered, or freed */
static void
ngx_http_cc_redis_unwait(ngx_http_cc_cmd_t *cmd)
{
    if (!cmd->waiter) {
        return;
    }

    cmd->waiter = 0;
    cmd->redis->waiting--;
    ngx_http_cc_metric_add(NGX_HTTP_CC_METRIC_REDIS_PRIMARY_WAITING, -1);
}


/*
 * The shard lost its primary (Sentinel): the entries still queued wait
 * for the next one, each up to cc_redis_failover_wait's time.
 */
void
ngx_http_cc_redis_batch_wait(ngx_http_cc_redis_t *redis)
{
    ngx_uint_t                i;
    ngx_queue_t              *q;
    ngx_http_cc_cmd_t        *cmd;
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cc_module);

    for (i = 0; i < NGX_HTTP_CC_SCRIPTS; i++) {
        for (q = ngx_queue_head(&redis->pending[i].queue);
             q != ngx_queue_sentinel(&redis->pending[i].queue);
             q = ngx_queue_next(q))
        {
            cmd = ngx_queue_data(q, ngx_http_cc_cmd_t, queue);

            if (cmd->waiter || cmd->r == NULL) {
                continue;
            }

            cmd->waiter = 1;
            redis->waiting++;
            ngx_http_cc_metric_add(NGX_HTTP_CC_METRIC_REDIS_PRIMARY_WAITING,
                                   1);
            ngx_del_timer(&cmd->timer);
            ngx_add_timer(&cmd->timer, cmcf->failover_wait);
        }
    }
}
