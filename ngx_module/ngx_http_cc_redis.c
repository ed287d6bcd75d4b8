/*
 * ngx_http_cc_redis: hiredis async on nginx's event loop.
 *
 * Each worker keeps one connection per Redis shard and pipelines every
 * request's script call on it, so Redis reads many calls per read(2).
 * hiredis owns the socket; nginx gets an ngx_connection_t wrapping the fd
 * only to receive its events (level-triggered, so a reply larger than
 * hiredis's 16 KB read is never stranded).
 *
 * A command's context (ngx_http_cc_cmd_t) is malloc'ed, not taken from the
 * request pool: hiredis may call back after the request is gone.  The
 * request and the command point at each other until one of them ends:
 *
 *   - reply first:   the callback detaches the cleanup, runs the handler,
 *                    frees the command;
 *   - client gone:   the request cleanup sets cmd->r = NULL, the callback
 *                    later frees the command;
 *   - timeout:       the timer answers the request (reply NULL) and drops
 *                    the connection, which makes hiredis call back every
 *                    pending command with a NULL reply.
 *
 * A lost connection is reopened on demand by the next request, after a
 * backoff that doubles on each failed attempt; requests arriving during the
 * backoff are answered at once as unavailable.
 */


#include "ngx_http_cc_module.h"

#include <hiredis/async.h>


#define NGX_HTTP_CC_CMD_ARGS_MAX      8
#define NGX_HTTP_CC_BACKOFF_MIN       50
#define NGX_HTTP_CC_BACKOFF_MAX       1000


typedef struct {
    ngx_http_cc_shard_conf_t  *conf;
    redisAsyncContext         *ac;
    ngx_uint_t                 failures;
    ngx_msec_t                 retry_at;
    unsigned                   down_logged:1;
    unsigned                   writing:1;
} ngx_http_cc_redis_t;


typedef struct {
    ngx_http_request_t        *r;          /* NULL once detached */
    ngx_http_cleanup_t        *cln;
    ngx_event_t                timer;
    ngx_http_cc_redis_t       *redis;
    ngx_http_cc_script_t      *script;
    ngx_http_cc_reply_pt       handler;
    unsigned                   retried:1;

    int                        argc;
    const char                *argv[NGX_HTTP_CC_CMD_ARGS_MAX + 3];
    size_t                     argvlen[NGX_HTTP_CC_CMD_ARGS_MAX + 3];
    char                       nkeys[4];
    /* the arguments' bytes follow the struct */
} ngx_http_cc_cmd_t;


static redisAsyncContext *ngx_http_cc_redis_get(ngx_http_cc_redis_t *redis,
    ngx_log_t *log);
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
    ngx_uint_t                 i;
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

        /* connect now, so the first requests find the connection open */
        (void) ngx_http_cc_redis_get(&ngx_http_cc_redis[i], cycle->log);
    }

    return NGX_OK;
}


void
ngx_http_cc_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_http_cc_redis_n; i++) {
        if (ngx_http_cc_redis[i].ac != NULL) {
            redisAsyncFree(ngx_http_cc_redis[i].ac);
        }
    }

    ngx_http_cc_redis_n = 0;
}


/*
 * Sends EVALSHA of the script with the keys and arguments to the uid's
 * shard.  NGX_OK: the handler will be called, and the request's count was
 * raised for it.  NGX_DECLINED: the shard is unavailable right now.
 */
ngx_int_t
ngx_http_cc_redis_eval(ngx_http_request_t *r, uint64_t uid,
    ngx_http_cc_script_t *script, ngx_str_t *keys, ngx_uint_t nkeys,
    ngx_str_t *args, ngx_uint_t nargs, ngx_http_cc_reply_pt handler)
{
    u_char                   *p;
    size_t                    size;
    ngx_uint_t                i, n;
    ngx_str_t                *a;
    redisAsyncContext        *ac;
    ngx_http_cc_cmd_t        *cmd;
    ngx_http_cleanup_t       *cln;
    ngx_http_cc_redis_t      *redis;
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);

    if (nkeys + nargs > NGX_HTTP_CC_CMD_ARGS_MAX) {
        return NGX_ERROR;
    }

    redis = &ngx_http_cc_redis[cc_ring_shard(&cmcf->ring, uid)];

    ac = ngx_http_cc_redis_get(redis, r->connection->log);
    if (ac == NULL) {
        return NGX_DECLINED;
    }

    size = sizeof(ngx_http_cc_cmd_t);

    for (i = 0; i < nkeys + nargs; i++) {
        size += (i < nkeys) ? keys[i].len : args[i - nkeys].len;
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
    cmd->script = script;
    cmd->handler = handler;

    (void) ngx_snprintf((u_char *) cmd->nkeys, sizeof(cmd->nkeys), "%ui%Z",
                        nkeys);

    cmd->argv[0] = "EVALSHA";
    cmd->argvlen[0] = sizeof("EVALSHA") - 1;
    cmd->argv[1] = (const char *) script->sha;
    cmd->argvlen[1] = 40;
    cmd->argv[2] = cmd->nkeys;
    cmd->argvlen[2] = ngx_strlen(cmd->nkeys);

    p = (u_char *) cmd + sizeof(ngx_http_cc_cmd_t);
    n = 3;

    for (i = 0; i < nkeys + nargs; i++) {
        a = (i < nkeys) ? &keys[i] : &args[i - nkeys];

        cmd->argv[n] = (const char *) p;
        cmd->argvlen[n] = a->len;
        p = ngx_cpymem(p, a->data, a->len);
        n++;
    }

    cmd->argc = (int) n;

    if (redisAsyncCommandArgv(ac, ngx_http_cc_redis_reply, cmd, cmd->argc,
                              cmd->argv, cmd->argvlen)
        != REDIS_OK)
    {
        ngx_free(cmd);
        return NGX_DECLINED;
    }

    /* from here the command belongs to hiredis until its callback */

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
 * The shard's connection, opened now if there is none and the backoff
 * after the last failure has passed.  A connection still connecting is
 * returned as well: hiredis buffers commands until it is up.
 */
static redisAsyncContext *
ngx_http_cc_redis_get(ngx_http_cc_redis_t *redis, ngx_log_t *log)
{
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

    ngx_http_cc_redis_load(ac, &ngx_http_cc_redis_conf->flip_script);
    ngx_http_cc_redis_load(ac, &ngx_http_cc_redis_conf->grant_script);

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
    ngx_http_cc_cmd_t  *cmd = privdata;

    redisReply          *rr = reply;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = cmd->r;

    if (r != NULL && rr != NULL && rr->type == REDIS_REPLY_ERROR
        && !cmd->retried && ngx_strncmp(rr->str, "NOSCRIPT", 8) == 0)
    {
        /* Redis lost its script cache (restart, SCRIPT FLUSH): send it */

        cmd->retried = 1;
        cmd->argv[0] = "EVAL";
        cmd->argvlen[0] = sizeof("EVAL") - 1;
        cmd->argv[1] = (const char *) cmd->script->text.data;
        cmd->argvlen[1] = cmd->script->text.len;

        if (redisAsyncCommandArgv(ac, ngx_http_cc_redis_reply, cmd,
                                  cmd->argc, cmd->argv, cmd->argvlen)
            == REDIS_OK)
        {
            return;
        }

        rr = NULL;
    }

    if (r != NULL) {
        cmd->r = NULL;
        cmd->cln->handler = NULL;

        if (cmd->timer.timer_set) {
            ngx_del_timer(&cmd->timer);
        }

        if (rr != NULL && rr->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "redis shard %V: %s",
                          &cmd->redis->conf->name, rr->str);
            rr = NULL;
        }

        /* the handler may free r: nginx keeps c, marked destroyed */
        c = r->connection;
        cmd->handler(r, rr);
        ngx_http_run_posted_requests(c);
    }

    ngx_free(cmd);
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

    /* the request is going away: hiredis's callback will free cmd */

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
