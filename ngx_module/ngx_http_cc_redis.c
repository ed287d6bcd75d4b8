/*
 * ngx_http_cc_redis: hiredis async on nginx's event loop.
 *
 * Each worker keeps one connection per Redis shard.  Requests are queued
 * per shard and script, and a posted event sends each queue as one EVALSHA
 * over a batch (ngx_http_cc_batch_t) at the end of the turn of the event
 * loop: Redis then pays its per-call cost once for the batch, and the
 * calls of one turn leave in one write(2).  While a batch is in flight on
 * the shard's connection the queues wait for its reply (unless a full batch
 * is waiting), so under load the batches grow instead of the round trips:
 * fewer, fuller EVALSHAs cost Redis and nginx less per request, and a slow
 * Redis is not sent more work than it answers.  hiredis owns
 * the socket; nginx gets an ngx_connection_t wrapping the fd only to
 * receive its events (level-triggered, so a reply larger than hiredis's
 * 16 KB read is never stranded).
 *
 * A request's entry (ngx_http_cc_cmd_t) is malloc'ed, not taken from the
 * request pool: hiredis may call back after the request is gone.  The
 * request and its entry point at each other until one of them ends:
 *
 *   - reply first:   the batch callback detaches the cleanup, runs the
 *                    handler with the entry's element, frees the entry;
 *   - client gone:   the request cleanup sets cmd->r = NULL; the entry is
 *                    dropped unsent, or freed by the batch callback;
 *   - timeout:       the timer answers the request (reply NULL) and drops
 *                    the connection, which makes hiredis call back every
 *                    pending batch with a NULL reply.
 *
 * A lost connection is reopened on demand by the next request, after a
 * backoff that doubles on each failed attempt; requests arriving during the
 * backoff are answered at once as unavailable.
 */


#include "ngx_http_cc_module.h"

#include <hiredis/async.h>


#define NGX_HTTP_CC_CMD_STRS_MAX      8
#define NGX_HTTP_CC_BATCH_MAX         CC_LOG_BATCH_MAX   /* cc_event.h */
#define NGX_HTTP_CC_BACKOFF_MIN       50
#define NGX_HTTP_CC_BACKOFF_MAX       1000


typedef struct {
    ngx_queue_t                queue;
    ngx_uint_t                 n;
} ngx_http_cc_pending_t;


typedef struct {
    ngx_http_cc_shard_conf_t  *conf;
    redisAsyncContext         *ac;
    ngx_uint_t                 failures;
    ngx_msec_t                 retry_at;
    ngx_http_cc_pending_t      pending[NGX_HTTP_CC_SCRIPTS];
    ngx_str_t                 *shared_args[NGX_HTTP_CC_SCRIPTS];
    ngx_event_t                flush;        /* posted: send the batches */
    ngx_uint_t                 in_flight;    /* batches sent, not answered */
    unsigned                   down_logged:1;
    unsigned                   writing:1;
} ngx_http_cc_redis_t;


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


static redisAsyncContext *ngx_http_cc_redis_get(ngx_http_cc_redis_t *redis,
    ngx_log_t *log);
static ngx_int_t ngx_http_cc_redis_shared_args(ngx_cycle_t *cycle,
    ngx_http_cc_main_conf_t *cmcf, ngx_uint_t shard);
static ngx_int_t ngx_http_cc_redis_attach(redisAsyncContext *ac);
static void ngx_http_cc_redis_load(redisAsyncContext *ac,
    ngx_http_cc_script_t *script);
static void ngx_http_cc_redis_add_read(void *data);
static void ngx_http_cc_redis_del_read(void *data);
static void ngx_http_cc_redis_add_write(void *data);
static void ngx_http_cc_redis_del_write(void *data);
static void ngx_http_cc_redis_cleanup(void *data);
static void ngx_http_cc_redis_read_handler(ngx_event_t *ev);
static void ngx_http_cc_redis_write_handler(ngx_event_t *ev);
static void ngx_http_cc_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_cc_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_cc_redis_flush(ngx_event_t *ev);
static void ngx_http_cc_redis_send(ngx_http_cc_redis_t *redis,
    ngx_http_cc_script_t *script, ngx_uint_t n);
static void ngx_http_cc_redis_finish(ngx_http_cc_cmd_t *cmd,
    redisReply *reply);
static void ngx_http_cc_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_cc_redis_timeout(ngx_event_t *ev);
static void ngx_http_cc_redis_request_cleanup(void *data);
static void ngx_http_cc_redis_drop(ngx_http_cc_redis_t *redis);


/* per worker process: one entry per configured shard */
static ngx_http_cc_redis_t      *ngx_http_cc_redis;
static ngx_uint_t                ngx_http_cc_redis_n;
static ngx_http_cc_main_conf_t  *ngx_http_cc_redis_conf;


ngx_int_t
ngx_http_cc_redis_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                 i, j;
    ngx_http_cc_main_conf_t   *cmcf;
    ngx_http_cc_shard_conf_t  *shard;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_cc_module);

    ngx_http_cc_redis_conf = cmcf;
    ngx_http_cc_redis_n = cmcf->shards->nelts;
    ngx_http_cc_redis = ngx_pcalloc(cycle->pool,
                                    ngx_http_cc_redis_n
                                    * sizeof(ngx_http_cc_redis_t));
    if (ngx_http_cc_redis == NULL) {
        return NGX_ERROR;
    }

    shard = cmcf->shards->elts;

    for (i = 0; i < ngx_http_cc_redis_n; i++) {
        ngx_http_cc_redis[i].conf = &shard[i];

        for (j = 0; j < NGX_HTTP_CC_SCRIPTS; j++) {
            ngx_queue_init(&ngx_http_cc_redis[i].pending[j].queue);
        }

        if (ngx_http_cc_redis_shared_args(cycle, cmcf, i) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_cc_redis[i].flush.handler = ngx_http_cc_redis_flush;
        ngx_http_cc_redis[i].flush.data = &ngx_http_cc_redis[i];
        ngx_http_cc_redis[i].flush.log = cycle->log;

        /* connect now, so the first requests find the connection open */
        (void) ngx_http_cc_redis_get(&ngx_http_cc_redis[i], cycle->log);
    }

    return NGX_OK;
}


/*
 * The arguments a script takes from the shard rather than the request:
 * for the flip, this shard's quota of each stocked kind, the kind's total
 * split evenly over the shards (the first total mod n shards one more), so
 * the quotas add up to the total exactly.
 */
static ngx_int_t
ngx_http_cc_redis_shared_args(ngx_cycle_t *cycle,
    ngx_http_cc_main_conf_t *cmcf, ngx_uint_t shard)
{
    u_char                *p;
    ngx_uint_t             i, n, quota;
    ngx_str_t             *args;
    ngx_http_cc_stock_t   *stock;
    ngx_http_cc_script_t  *sc;

    sc = &cmcf->scripts[NGX_HTTP_CC_SCRIPT_FLIP];

    if (sc->nshared_args == 0) {
        return NGX_OK;
    }

    args = ngx_palloc(cycle->pool, sc->nshared_args * sizeof(ngx_str_t));
    p = ngx_pnalloc(cycle->pool, sc->nshared_args * NGX_INT_T_LEN);

    if (args == NULL || p == NULL) {
        return NGX_ERROR;
    }

    stock = cmcf->stock->elts;
    n = ngx_http_cc_redis_n;

    for (i = 0; i < sc->nshared_args; i++) {
        quota = stock[i].total / n + (shard < stock[i].total % n ? 1 : 0);

        args[i].data = p;
        p = ngx_sprintf(p, "%ui", quota);
        args[i].len = p - args[i].data;
    }

    ngx_http_cc_redis[shard].shared_args[NGX_HTTP_CC_SCRIPT_FLIP] = args;

    return NGX_OK;
}


void
ngx_http_cc_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t          i, j;
    ngx_queue_t        *q;
    ngx_http_cc_cmd_t  *cmd;

    /* the requests are gone by now: what is left is freed unsent */

    for (i = 0; i < ngx_http_cc_redis_n; i++) {
        if (ngx_http_cc_redis[i].flush.posted) {
            ngx_delete_posted_event(&ngx_http_cc_redis[i].flush);
        }

        for (j = 0; j < NGX_HTTP_CC_SCRIPTS; j++) {
            while (!ngx_queue_empty(&ngx_http_cc_redis[i].pending[j].queue)) {
                q = ngx_queue_head(&ngx_http_cc_redis[i].pending[j].queue);
                ngx_queue_remove(q);
                cmd = ngx_queue_data(q, ngx_http_cc_cmd_t, queue);
                ngx_http_cc_redis_finish(cmd, NULL);
            }
        }

        if (ngx_http_cc_redis[i].ac != NULL) {
            redisAsyncFree(ngx_http_cc_redis[i].ac);
        }
    }

    ngx_http_cc_redis_n = 0;
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

    redis = &ngx_http_cc_redis[cc_ring_shard(&cmcf->ring, uid)];

    /* fail at once while the shard is known to be down */
    if (redis->ac == NULL && redis->failures
        && (ngx_msec_int_t) (ngx_current_msec - redis->retry_at) < 0)
    {
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

    cmcf = ngx_http_cc_redis_conf;

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
 * KEYS = the script's shared keys, then each entry's keys; ARGV = each
 * entry's arguments.  Entries whose request is gone are dropped unsent.
 */
static void
ngx_http_cc_redis_send(ngx_http_cc_redis_t *redis,
    ngx_http_cc_script_t *script, ngx_uint_t n)
{
    int                   k;
    ngx_uint_t            i, j, m, argc;
    ngx_queue_t          *q;
    redisAsyncContext    *ac;
    ngx_http_cc_cmd_t    *cmd;
    ngx_http_cc_batch_t  *b;

    argc = 3 + script->nshared + script->nshared_args
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

    for (j = 0; j < script->nshared_args; j++) {
        b->argv[k] = (const char *) redis->shared_args[script->index][j].data;
        b->argvlen[k++] = redis->shared_args[script->index][j].len;
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


/*
 * The shard's connection, opened now if there is none and the backoff
 * after the last failure has passed.  A connection still connecting is
 * returned as well: hiredis buffers commands until it is up.
 */
static redisAsyncContext *
ngx_http_cc_redis_get(ngx_http_cc_redis_t *redis, ngx_log_t *log)
{
    ngx_uint_t          i;
    redisAsyncContext  *ac;

    if (redis->ac != NULL) {
        return redis->ac;
    }

    if (redis->failures && (ngx_msec_int_t) (ngx_current_msec
                                             - redis->retry_at) < 0)
    {
        return NULL;
    }

    ac = redisAsyncConnect((char *) redis->conf->host.data,
                           redis->conf->port);
    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "redis shard %V: out of memory",
                      &redis->conf->name);
        return NULL;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "redis shard %V: connect: %s",
                      &redis->conf->name, ac->errstr);
        redisAsyncFree(ac);
        goto failed;
    }

    ac->data = redis;

    if (ngx_http_cc_redis_attach(ac) != NGX_OK) {
        redisAsyncFree(ac);
        goto failed;
    }

    redis->ac = ac;

    redisAsyncSetConnectCallback(ac, ngx_http_cc_redis_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_cc_redis_disconnected);

    /*
     * Load the scripts ahead of the first EVALSHA on this connection, so
     * that a fresh or restarted Redis does not answer a burst of NOSCRIPT.
     * NOSCRIPT is still handled (SCRIPT FLUSH can come at any time).
     */

    for (i = 0; i < NGX_HTTP_CC_SCRIPTS; i++) {
        ngx_http_cc_redis_load(ac, &ngx_http_cc_redis_conf->scripts[i]);
    }

    return ac;

failed:

    redis->failures++;
    redis->retry_at = ngx_current_msec
                      + ngx_min(NGX_HTTP_CC_BACKOFF_MAX,
                                NGX_HTTP_CC_BACKOFF_MIN
                                << ngx_min(redis->failures - 1, 5));
    return NULL;
}


static void
ngx_http_cc_redis_load(redisAsyncContext *ac, ngx_http_cc_script_t *script)
{
    const char  *argv[3];
    size_t       argvlen[3];

    argv[0] = "SCRIPT";
    argvlen[0] = sizeof("SCRIPT") - 1;
    argv[1] = "LOAD";
    argvlen[1] = sizeof("LOAD") - 1;
    argv[2] = (const char *) script->text.data;
    argvlen[2] = script->text.len;

    /* no callback: the reply is the sha the module computed already */
    (void) redisAsyncCommandArgv(ac, NULL, NULL, 3, argv, argvlen);
}


static ngx_int_t
ngx_http_cc_redis_attach(redisAsyncContext *ac)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, ngx_cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->read->handler = ngx_http_cc_redis_read_handler;
    c->write->handler = ngx_http_cc_redis_write_handler;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_cc_redis_add_read;
    ac->ev.delRead = ngx_http_cc_redis_del_read;
    ac->ev.addWrite = ngx_http_cc_redis_add_write;
    ac->ev.delWrite = ngx_http_cc_redis_del_write;
    ac->ev.cleanup = ngx_http_cc_redis_cleanup;

    return NGX_OK;
}


/* hiredis calls these again and again: each must be idempotent */

static void
ngx_http_cc_redis_add_read(void *data)
{
    ngx_connection_t  *c = data;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_cc_redis_del_read(void *data)
{
    ngx_connection_t  *c = data;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


/*
 * Writes are batched: once connected, a command's write is a posted event,
 * run after the current epoll batch, so every command the batch produced
 * leaves in one write(2) and no epoll_ctl(2) is made.  Only while
 * connecting, or when a write could not finish (the socket is full), is
 * the write event registered with the kernel.
 */
static void
ngx_http_cc_redis_add_write(void *data)
{
    ngx_connection_t  *c = data;

    redisAsyncContext    *ac;
    ngx_http_cc_redis_t  *redis;

    ac = c->data;
    redis = ac->data;

    if ((ac->c.flags & REDIS_CONNECTED) && !redis->writing
        && !c->write->active)
    {
        if (!c->write->posted) {
            ngx_post_event(c->write, &ngx_posted_events);
        }

        return;
    }

    if (!c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_cc_redis_del_write(void *data)
{
    ngx_connection_t  *c = data;

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


/*
 * hiredis is freeing the context and will close the fd itself: give the
 * ngx_connection_t back without closing it (closing twice could close a
 * descriptor nginx has meanwhile reused).
 */
static void
ngx_http_cc_redis_cleanup(void *data)
{
    ngx_connection_t  *c = data;

    redisAsyncContext    *ac;
    ngx_http_cc_redis_t  *redis;

    ac = c->data;
    redis = ac->data;

    ngx_http_cc_redis_del_read(c);
    ngx_http_cc_redis_del_write(c);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    ac->ev.data = NULL;

    if (redis->ac == ac) {
        redis->ac = NULL;

        if (!(ac->c.flags & REDIS_CONNECTED)) {
            redis->failures++;
        }

        redis->retry_at = ngx_current_msec
                          + (redis->failures == 0 ? 0
                             : ngx_min(NGX_HTTP_CC_BACKOFF_MAX,
                                       NGX_HTTP_CC_BACKOFF_MIN
                                       << ngx_min(redis->failures - 1, 5)));
    }
}


static void
ngx_http_cc_redis_read_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    redisAsyncHandleRead(c->data);
}


static void
ngx_http_cc_redis_write_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    redisAsyncContext    *ac;
    ngx_http_cc_redis_t  *redis;

    ac = c->data;
    redis = ac->data;

    /*
     * hiredis asking for another write from inside this one means the
     * socket is full: that one goes to the kernel (see add_write).  redis
     * outlives the call, c and ac may not.
     */

    redis->writing = 1;
    redisAsyncHandleWrite(ac);
    redis->writing = 0;
}


static void
ngx_http_cc_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_cc_redis_t  *redis = ac->data;

    if (status != REDIS_OK) {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_REDIS_CONNECT_FAIL);

        if (!redis->down_logged) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "redis shard %V: connect failed: %s",
                          &redis->conf->name, ac->errstr);
            redis->down_logged = 1;
        }

        return;
    }

    if (redis->down_logged) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "redis shard %V: connected again", &redis->conf->name);
        redis->down_logged = 0;
    }

    redis->failures = 0;
}


static void
ngx_http_cc_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_cc_redis_t  *redis = ac->data;

    if (status != REDIS_OK && !redis->down_logged) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "redis shard %V: connection lost: %s",
                      &redis->conf->name, ac->errstr);
        redis->down_logged = 1;
    }
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

    if (rr != NULL && (rr->type != REDIS_REPLY_ARRAY || rr->elements != b->n))
    {
        if (alive) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "redis shard %V: %s",
                          &b->cmd[0]->redis->conf->name,
                          rr->type == REDIS_REPLY_ERROR
                          ? rr->str : "unexpected reply to a batch");
        }

        rr = NULL;
    }

    redis = b->cmd[0]->redis;              /* a batch holds one entry at least */

    for (i = 0; i < b->n; i++) {
        el = rr ? rr->element[i] : NULL;

        if (el != NULL && el->type == REDIS_REPLY_ERROR) {
            if (b->cmd[i]->r) {
                ngx_log_error(NGX_LOG_ERR, b->cmd[i]->r->connection->log, 0,
                              "redis shard %V: %s",
                              &b->cmd[i]->redis->conf->name, el->str);
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

    ngx_http_cc_metric_inc(NGX_HTTP_CC_REDIS_TIMEOUT);

    cmd->r = NULL;
    cmd->cln->handler = NULL;

    cmd->handler(r, NULL);

    /*
     * A Redis that does not answer in time is treated as down: the pending
     * commands all fail now (and this one is freed by its callback) rather
     * than each waiting out its own timer on a dead socket.
     */

    cmd->redis->failures++;
    ngx_http_cc_redis_drop(cmd->redis);

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


static void
ngx_http_cc_redis_drop(ngx_http_cc_redis_t *redis)
{
    redisAsyncContext  *ac;

    ac = redis->ac;

    if (ac != NULL) {
        redisAsyncFree(ac);
    }
}
