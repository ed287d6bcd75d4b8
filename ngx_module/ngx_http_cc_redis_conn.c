/*
 * ngx_http_cc_redis_conn: each worker's connection to each Redis shard.
 *
 * A worker keeps one connection per shard, opened at worker start and
 * reopened on demand by the next request once lost.  A connection that
 * failed to open, or was dropped for not answering in time, is a failure:
 * the next attempt waits a backoff that doubles with each failure in a
 * row (ngx_http_cc_redis_backoff()), and while it runs the shard is not
 * usable: requests are answered at once as unavailable
 * (ngx_http_cc_redis_usable()).  A connection that opened resets the
 * count; one lost after it was up is reopened without waiting.
 *
 * With cc_redis_auth, AUTH is the first command of every connection,
 * pipelined ahead of the scripts and the batches (Redis answers in order):
 * the connection counts as open only once AUTH succeeds, and a refused
 * AUTH is a failed connect, dropped and retried after the backoff.
 *
 * With cc_redis_sentinels the address comes from Sentinel, ROLE follows
 * AUTH, and the shard is usable only once ROLE says master: the states
 * and their transitions are in ngx_http_cc_redis_sentinel.c.
 */


#include "ngx_http_cc_redis.h"


#define NGX_HTTP_CC_BACKOFF_MIN       50
#define NGX_HTTP_CC_BACKOFF_MAX       1000


static void ngx_http_cc_redis_backoff(ngx_http_cc_redis_t *redis,
    ngx_uint_t failed);
static void ngx_http_cc_redis_load(redisAsyncContext *ac,
    ngx_http_cc_script_t *script);
static void ngx_http_cc_redis_auth(redisAsyncContext *ac);
static void ngx_http_cc_redis_authed(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_cc_redis_up(ngx_http_cc_redis_t *redis);
static void ngx_http_cc_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_cc_redis_disconnected(const redisAsyncContext *ac,
    int status);


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
        ngx_http_cc_redis[i].index = i;

        ngx_http_cc_redis_batch_init(&ngx_http_cc_redis[i], cycle->log);

        if (cmcf->sentinels) {
            ngx_http_cc_sentinel_init(&ngx_http_cc_redis[i], cycle->log);
            ngx_http_cc_sentinel_discover(&ngx_http_cc_redis[i]);
            continue;
        }

        /* connect now, so the first requests find the connection open */
        (void) ngx_http_cc_redis_get(&ngx_http_cc_redis[i], cycle->log);
    }

    if (cmcf->sentinels) {
        ngx_http_cc_sentinel_sub_start(cycle);
    }

    if (cmcf->claims && cmcf->claim_wake) {
        ngx_http_cc_claim_sub_start(cycle, ngx_http_cc_redis,
                                    ngx_http_cc_redis_n);
    }

    return NGX_OK;
}


void
ngx_http_cc_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t  i;

    ngx_http_cc_claim_sub_exit();

    if (ngx_http_cc_redis_sentinel_mode()) {
        ngx_http_cc_sentinel_sub_exit();
    }

    for (i = 0; i < ngx_http_cc_redis_n; i++) {
        if (ngx_http_cc_redis_sentinel_mode()) {
            ngx_http_cc_sentinel_exit(&ngx_http_cc_redis[i]);
        }

        ngx_http_cc_redis_batch_exit(&ngx_http_cc_redis[i]);

        if (ngx_http_cc_redis[i].ac != NULL) {
            redisAsyncFree(ngx_http_cc_redis[i].ac);
        }
    }

    ngx_http_cc_redis_n = 0;
}


/* the uid's shard, by the ring */
ngx_http_cc_redis_t *
ngx_http_cc_redis_shard(ngx_http_cc_main_conf_t *cmcf, uint64_t uid)
{
    return &ngx_http_cc_redis[cc_ring_shard(&cmcf->ring, uid)];
}


ngx_uint_t
ngx_http_cc_redis_sentinel_mode(void)
{
    return ngx_http_cc_redis_conf != NULL
           && ngx_http_cc_redis_conf->sentinels != NULL;
}


/* the shard of a Sentinel master name */
ngx_http_cc_redis_t *
ngx_http_cc_redis_by_name(u_char *name, size_t len)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_http_cc_redis_n; i++) {
        if (ngx_http_cc_redis[i].conf->name.len == len
            && ngx_strncmp(ngx_http_cc_redis[i].conf->name.data, name, len)
               == 0)
        {
            return &ngx_http_cc_redis[i];
        }
    }

    return NULL;
}


/*
 * Whether a request may use the shard now: not while a backoff runs; with
 * Sentinel, only while a primary is confirmed (else it may wait for one).
 */
ngx_uint_t
ngx_http_cc_redis_usable(ngx_http_cc_redis_t *redis)
{
    if (ngx_http_cc_redis_sentinel_mode()) {
        return redis->up;
    }

    return redis->ac != NULL || redis->failures == 0
           || (ngx_msec_int_t) (ngx_current_msec - redis->retry_at) >= 0;
}


/*
 * The connection is gone or never came: failed, it counts as one more
 * failure; when may the next one be tried.
 */
static void
ngx_http_cc_redis_backoff(ngx_http_cc_redis_t *redis, ngx_uint_t failed)
{
    if (failed) {
        redis->failures++;
    }

    redis->retry_at = ngx_current_msec
                      + (redis->failures == 0 ? 0
                         : ngx_min(NGX_HTTP_CC_BACKOFF_MAX,
                                   NGX_HTTP_CC_BACKOFF_MIN
                                   << ngx_min(redis->failures - 1, 5)));
}


/*
 * The shard's connection, opened now if there is none and the shard is
 * usable.  A connection still connecting is returned as well: hiredis
 * buffers commands until it is up.
 */
redisAsyncContext *
ngx_http_cc_redis_get(ngx_http_cc_redis_t *redis, ngx_log_t *log)
{
    ngx_uint_t          i;
    redisAsyncContext  *ac;

    if (redis->ac != NULL) {
        return redis->ac;
    }

    if (ngx_http_cc_redis_sentinel_mode()) {
        /* only with an address a Sentinel gave just now */
        if (redis->port == 0 || redis->sac != NULL) {
            ngx_http_cc_sentinel_discover(redis);
            return NULL;
        }

        ac = redisAsyncConnect((char *) redis->host, redis->port);

    } else if (!ngx_http_cc_redis_usable(redis)) {
        return NULL;

    } else {
        ac = redisAsyncConnect((char *) redis->conf->host.data,
                               redis->conf->port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "redis shard %V: out of memory",
                      &redis->conf->name);
        return NULL;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "redis shard %V: connect: %s",
                      &redis->conf->name, ac->errstr);
        goto failed;
    }

    ac->data = redis;

    if (ngx_http_cc_redis_attach(ac) != NGX_OK) {
        goto failed;
    }

    redis->ac = ac;

    redisAsyncSetConnectCallback(ac, ngx_http_cc_redis_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_cc_redis_disconnected);

    if (ngx_http_cc_redis_conf->redis_user.len) {
        ngx_http_cc_redis_auth(ac);
    }

    if (ngx_http_cc_redis_sentinel_mode()) {
        ngx_http_cc_sentinel_role(ac);
    }

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

    /* not attached: hiredis frees it without calling the adapter */
    redisAsyncFree(ac);
    ngx_http_cc_redis_backoff(redis, 1);

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


static void
ngx_http_cc_redis_auth(redisAsyncContext *ac)
{
    const char  *argv[3];
    size_t       argvlen[3];

    argv[0] = "AUTH";
    argvlen[0] = sizeof("AUTH") - 1;
    argv[1] = (const char *) ngx_http_cc_redis_conf->redis_user.data;
    argvlen[1] = ngx_http_cc_redis_conf->redis_user.len;
    argv[2] = (const char *) ngx_http_cc_redis_conf->redis_password.data;
    argvlen[2] = ngx_http_cc_redis_conf->redis_password.len;

    /* queued before any script: hiredis sends it once connected */
    (void) redisAsyncCommandArgv(ac, ngx_http_cc_redis_authed, NULL, 3, argv,
                                 argvlen);
}


static void
ngx_http_cc_redis_authed(redisAsyncContext *ac, void *reply, void *privdata)
{
    redisReply           *r = reply;
    ngx_http_cc_redis_t  *redis = ac->data;

    /* NULL: the connection is going; its loss is handled there */
    if (r == NULL || redis->ac != ac) {
        return;
    }

    if (r->type != REDIS_REPLY_ERROR) {
        ngx_http_cc_redis_up(redis);
        return;
    }

    ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_REDIS_CONNECT_FAIL);

    if (!redis->down_logged) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "redis shard %V: AUTH as \"%V\" failed: %*s",
                      &redis->conf->name,
                      &ngx_http_cc_redis_conf->redis_user,
                      (size_t) r->len, r->str);
        redis->down_logged = 1;
    }

    /* a failed connect: freed after this callback, then the backoff */
    ngx_http_cc_redis_fail(redis);
}


/*
 * The shard did not answer in time: a failure.  Dropping the connection
 * makes hiredis call back every pending batch with a NULL reply, then the
 * adapter calls ngx_http_cc_redis_closed().
 */
void
ngx_http_cc_redis_fail(ngx_http_cc_redis_t *redis)
{
    if (redis->ac == NULL) {
        ngx_http_cc_redis_backoff(redis, 1);
        return;
    }

    redis->failed = 1;
    redisAsyncFree(redis->ac);
}


/* the adapter's word that hiredis is freeing ac */
void
ngx_http_cc_redis_closed(redisAsyncContext *ac)
{
    ngx_http_cc_redis_t  *redis = ac->data;

    if (redis->index == NGX_HTTP_CC_REDIS_SUB) {
        ngx_http_cc_sentinel_closed(ac);
        return;
    }

    if (redis->index == NGX_HTTP_CC_REDIS_CLAIM_SUB) {
        ngx_http_cc_claim_sub_closed(ac);
        return;
    }

    if (redis->ac != ac) {
        return;                          /* a Sentinel asked (sac) */
    }

    redis->ac = NULL;

    ngx_http_cc_redis_backoff(redis, redis->failed
                                     || !(ac->c.flags & REDIS_CONNECTED));
    redis->failed = 0;

    if (ngx_http_cc_redis_sentinel_mode()) {
        ngx_http_cc_sentinel_closed(ac);
    }
}


static void
ngx_http_cc_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_cc_redis_t  *redis = ac->data;

    if (status != REDIS_OK) {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_REDIS_CONNECT_FAIL);

        if (!redis->down_logged) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "redis shard %V: connect failed: %s",
                          &redis->conf->name, ac->errstr);
            redis->down_logged = 1;
        }

        return;
    }

    /* with AUTH, open once it is accepted (ngx_http_cc_redis_authed) */
    if (ngx_http_cc_redis_conf->redis_user.len == 0) {
        ngx_http_cc_redis_up(redis);
    }
}


static void
ngx_http_cc_redis_up(ngx_http_cc_redis_t *redis)
{
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
