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
 */


#include "ngx_http_cc_redis.h"


#define NGX_HTTP_CC_CMD_STRS_MAX      8
#define NGX_HTTP_CC_BATCH_MAX         CC_LOG_BATCH_MAX   /* cc_event.h */


/* one request's entry in a batch */
typedef struct {
    ngx_queue_t                queue;        /* in redis->pending[] */
    ngx_http_request_t        *r;            /* NULL once detached */
    ngx_http_cleanup_t        *cln;
    ngx_event_t                timer;
    ngx_http_cc_redis_t       *redis;
    ngx_http_cc_reply_pt       handler;
    ngx_str_t                  str[NGX_HTTP_CC_CMD_STRS_MAX];
    /* the keys' and arguments' bytes follow the struct */
} ngx_http_cc_cmd_t;


/* one EVALSHA: the entries it carries and its argv, kept for EVAL */
typedef struct {
    ngx_http_cc_script_t      *script;
    ngx_uint_t                 n;
    unsigned                   retried:1;
    int                        argc;
    const char               **argv;
    size_t                    *argvlen;
    char                       nkeys[NGX_INT_T_LEN + 1];
    ngx_http_cc_cmd_t         *cmd[1];       /* n of them, then argv */
} ngx_http_cc_batch_t;


static void ngx_http_cc_redis_flush(ngx_event_t *ev);
static void ngx_http_cc_redis_send(ngx_http_cc_redis_t *redis,
    ngx_http_cc_script_t *script, ngx_uint_t n);
static void ngx_http_cc_redis_finish(ngx_http_cc_cmd_t *cmd,
    redisReply *reply);
static void ngx_http_cc_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_cc_redis_timeout(ngx_event_t *ev);
static void ngx_http_cc_redis_request_cleanup(void *data);


void
ngx_http_cc_redis_batch_init(ngx_http_cc_redis_t *redis, ngx_log_t *log)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_CC_SCRIPTS; i++) {
        ngx_queue_init(&redis->pending[i].queue);
    }

    redis->flush.handler = ngx_http_cc_redis_flush;
    redis->flush.data = redis;
    redis->flush.log = log;
}


/* at worker exit the requests are gone: what is left is freed unsent */
void
ngx_http_cc_redis_batch_exit(ngx_http_cc_redis_t *redis)
{
    ngx_uint_t          i;
    ngx_queue_t        *q;
    ngx_http_cc_cmd_t  *cmd;

    if (redis->flush.posted) {
        ngx_delete_posted_event(&redis->flush);
    }

    for (i = 0; i < NGX_HTTP_CC_SCRIPTS; i++) {
        while (!ngx_queue_empty(&redis->pending[i].queue)) {
            q = ngx_queue_head(&redis->pending[i].queue);
            ngx_queue_remove(q);
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
    u_char                   *p;
    size_t                    size;
    ngx_uint_t                i, n;
    ngx_str_t                *a;
    ngx_http_cc_cmd_t        *cmd;
    ngx_http_cleanup_t       *cln;
    ngx_http_cc_redis_t      *redis;
    ngx_http_cc_script_t     *sc;
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);
    sc = &cmcf->scripts[script];
    n = sc->nkeys + sc->nargs;

    if (n > NGX_HTTP_CC_CMD_STRS_MAX) {
        return NGX_ERROR;
    }

    redis = ngx_http_cc_redis_shard(cmcf, uid);

    if (!ngx_http_cc_redis_usable(redis)) {
        return NGX_DECLINED;
    }

    size = sizeof(ngx_http_cc_cmd_t);

    for (i = 0; i < n; i++) {
        size += (i < sc->nkeys) ? keys[i].len : args[i - sc->nkeys].len;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cmd = ngx_alloc(size, r->connection->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(cmd, sizeof(ngx_http_cc_cmd_t));

    cmd->r = r;
    cmd->cln = cln;
    cmd->redis = redis;
    cmd->handler = handler;

    p = (u_char *) cmd + sizeof(ngx_http_cc_cmd_t);

    for (i = 0; i < n; i++) {
        a = (i < sc->nkeys) ? &keys[i] : &args[i - sc->nkeys];

        cmd->str[i].data = p;
        cmd->str[i].len = a->len;
        p = ngx_cpymem(p, a->data, a->len);
    }

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
    ngx_add_timer(&cmd->timer, cmcf->redis_timeout);

    r->main->count++;

    return NGX_OK;
}


/*
 * The end of a turn of the event loop, or a batch answered: the shard's
 * queues leave if no batch is in flight; full batches leave at once.
 */
static void
ngx_http_cc_redis_flush(ngx_event_t *ev)
{
    ngx_http_cc_redis_t  *redis = ev->data;

    ngx_uint_t                i;
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cc_module);

    for (i = 0; i < NGX_HTTP_CC_SCRIPTS; i++) {
        while (redis->pending[i].n >= NGX_HTTP_CC_BATCH_MAX
               || (redis->pending[i].n > 0 && redis->in_flight == 0))
        {
            ngx_http_cc_redis_send(redis, &cmcf->scripts[i],
                                   ngx_min(redis->pending[i].n,
                                           NGX_HTTP_CC_BATCH_MAX));
        }
    }
}


/*
 * Takes n entries off the queue and sends them as one EVALSHA:
 * KEYS = the script's shared keys, then each entry's keys; ARGV = the
 * shard's arguments, then each entry's arguments.  Entries whose request
 * is gone are dropped unsent.
 */
static void
ngx_http_cc_redis_send(ngx_http_cc_redis_t *redis,
    ngx_http_cc_script_t *script, ngx_uint_t n)
{
    int                   k;
    ngx_uint_t            i, j, m, argc;
    ngx_str_t            *shard_args;
    ngx_queue_t          *q;
    redisAsyncContext    *ac;
    ngx_http_cc_cmd_t    *cmd;
    ngx_http_cc_batch_t  *b;

    argc = 3 + script->nshared + script->nshard_args
           + n * (script->nkeys + script->nargs);

    b = ngx_alloc(sizeof(ngx_http_cc_batch_t)
                  + n * sizeof(ngx_http_cc_cmd_t *)
                  + argc * (sizeof(char *) + sizeof(size_t)),
                  ngx_cycle->log);

    m = 0;

    for (i = 0; i < n; i++) {
        q = ngx_queue_head(&redis->pending[script->index].queue);
        ngx_queue_remove(q);
        redis->pending[script->index].n--;

        cmd = ngx_queue_data(q, ngx_http_cc_cmd_t, queue);

        if (cmd->r == NULL || b == NULL) {
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
    b->argv = (const char **) ((u_char *) b + sizeof(ngx_http_cc_batch_t)
                               + n * sizeof(ngx_http_cc_cmd_t *));
    b->argvlen = (size_t *) (b->argv + argc);

    (void) ngx_snprintf((u_char *) b->nkeys, sizeof(b->nkeys), "%ui%Z",
                        script->nshared + m * script->nkeys);

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

    for (i = 0; i < m; i++) {
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

    for (i = 0; i < m; i++) {
        for (j = script->nkeys; j < script->nkeys + script->nargs; j++) {
            b->argv[k] = (const char *) b->cmd[i]->str[j].data;
            b->argvlen[k++] = b->cmd[i]->str[j].len;
        }
    }

    b->argc = k;

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

    /* from here the batch belongs to hiredis until its callback */

    redis->in_flight++;
}


/* answers the entry's request, if it is still there, and frees the entry */
static void
ngx_http_cc_redis_finish(ngx_http_cc_cmd_t *cmd, redisReply *reply)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = cmd->r;

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

    ngx_uint_t            i, alive;
    redisReply           *rr = reply, *el;
    ngx_http_cc_redis_t  *redis;

    alive = 0;

    for (i = 0; i < b->n; i++) {
        alive += (b->cmd[i]->r != NULL);
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

        rr = NULL;
    }

    for (i = 0; i < b->n; i++) {
        el = rr ? rr->element[i] : NULL;

        if (el != NULL && el->type == REDIS_REPLY_ERROR) {
            if (b->cmd[i]->r) {
                ngx_log_error(NGX_LOG_ERR, b->cmd[i]->r->connection->log, 0,
                              "redis shard %V: %s", &redis->conf->name,
                              el->str);
            }

            el = NULL;
        }

        ngx_http_cc_redis_finish(b->cmd[i], el);
    }

    ngx_free(b);

    /* the queues that waited for this batch leave now */

    redis->in_flight--;

    if (!redis->flush.posted) {
        ngx_post_event(&redis->flush, &ngx_posted_events);
    }
}


static void
ngx_http_cc_redis_timeout(ngx_event_t *ev)
{
    ngx_http_cc_cmd_t  *cmd = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = cmd->r;
    c = r->connection;

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
