/*
 * ngx_http_cc_redis_sentinel: a shard's primary found and followed through
 * Redis Sentinel (cc_redis_sentinels), as the Sentinel client spec says,
 * all on nginx's event loop with hiredis async.
 *
 * With cc_redis_sentinels, cc_redis_shards names each shard by its
 * Sentinel master name, which is also its key on the ring: a failover
 * moves no user.  A shard's connection (ngx_http_cc_redis_t) is in one of
 * three states:
 *
 *   ASKING      no connection (ac NULL): Sentinels are asked in turn,
 *               "SENTINEL get-master-addr-by-name NAME" on a short-lived
 *               connection (sac), each within cc_redis_timeout; a round
 *               where none answered waits the backoff, then starts again.
 *   CONNECTING  ac open to the address a Sentinel gave: AUTH (with
 *               cc_redis_auth), ROLE, the SCRIPT LOADs pipelined.  ROLE
 *               "master" makes it UP; anything else drops it: ASKING.
 *   UP          ac open, up set: batches leave (ngx_http_cc_redis_batch.c).
 *               A lost connection, a timeout, a -READONLY or -LOADING
 *               answer (ngx_http_cc_redis_moved) or a +switch-master for
 *               the shard drop it: ASKING.
 *
 * Every connection is preceded by asking (never the last address again
 * without asking).  While a shard is not UP its requests wait in the
 * queues, at most cc_redis_failover_wait N of them, each at most T, then
 * answer 503 storage_unavailable (ngx_http_cc_redis_batch.c).
 *
 * Each worker also holds one pub/sub connection to a Sentinel (the next
 * one on loss, re-made after a second), subscribed to +switch-master: a
 * shard whose primary moved drops its connection at once rather than
 * waiting for its timeouts.
 *
 * Sentinel addresses are IP addresses, resolved by the master process at
 * configuration time; a Sentinel answering a host name (resolve-hostnames)
 * is refused: no name is resolved in a worker.
 */


#include "ngx_http_cc_redis.h"


static void ngx_http_cc_sentinel_ask(ngx_http_cc_redis_t *redis);
static void ngx_http_cc_sentinel_next(ngx_http_cc_redis_t *redis);
static void ngx_http_cc_sentinel_tick(ngx_event_t *ev);
static void ngx_http_cc_sentinel_answer(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_cc_sentinel_role_reply(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_cc_sentinel_sub_connect(ngx_event_t *ev);
static void ngx_http_cc_sentinel_message(redisAsyncContext *ac, void *reply,
    void *privdata);
static ngx_uint_t ngx_http_cc_sentinel_ip(u_char *p, size_t len);


static ngx_http_cc_redis_t   ngx_http_cc_sentinel_sub;   /* its ac, its ev */
static ngx_event_t           ngx_http_cc_sentinel_sub_ev;
static ngx_uint_t            ngx_http_cc_sentinel_sub_next;
static ngx_uint_t            ngx_http_cc_sentinel_exiting;


/* configuration */

/*
 * cc_redis_sentinels HOST:PORT ...: a host name is resolved here, in the
 * master process, to its first address; workers connect to addresses.
 */
char *
ngx_http_cc_redis_sentinels(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cc_main_conf_t *cmcf = conf;

    u_char                       *p;
    ngx_str_t                    *value;
    ngx_url_t                     u;
    ngx_uint_t                    i;
    ngx_http_cc_sentinel_conf_t  *s;

    if (cmcf->sentinels != NULL) {
        return "is duplicate";
    }

    cmcf->sentinels = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                       sizeof(ngx_http_cc_sentinel_conf_t));
    if (cmcf->sentinels == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        ngx_memzero(&u, sizeof(ngx_url_t));
        u.url = value[i];
        u.no_resolve = 0;

        if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0
            || u.no_port || u.port == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid sentinel \"%V\", expected "
                               "\"host:port\"%s%s", &value[i],
                               u.err ? ": " : "", u.err ? u.err : "");
            return NGX_CONF_ERROR;
        }

        s = ngx_array_push(cmcf->sentinels);
        p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (s == NULL || p == NULL) {
            return NGX_CONF_ERROR;
        }

        s->host.data = p;
        s->host.len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                                    p, NGX_SOCKADDR_STRLEN, 0);
        p[s->host.len] = '\0';
        s->port = u.port;
    }

    return NGX_CONF_OK;
}


/* cc_redis_failover_wait N TIME; cc_redis_wait N TIMEOUT */
char *
ngx_http_cc_redis_failover_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_int_t   *n;
    ngx_msec_t  *t;
    ngx_str_t   *value;

    n = (ngx_int_t *) (p + cmd->offset);
    t = (ngx_msec_t *) (n + 1);

    if (*n != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    *n = ngx_atoi(value[1].data, value[1].len);
    *t = ngx_parse_time(&value[2], 0);

    if (*n == NGX_ERROR || *t == (ngx_msec_t) NGX_ERROR || *n > 100000) {
        return "takes a count and a time, e.g. \"1 500ms\"";
    }

    return NGX_CONF_OK;
}


char *
ngx_http_cc_redis_failover_check(ngx_conf_t *cf,
    ngx_http_cc_main_conf_t *cmcf)
{
    ngx_uint_t                 i;
    ngx_http_cc_shard_conf_t  *shard;

    ngx_conf_init_value(cmcf->failover_waiters, 1000);
    ngx_conf_init_msec_value(cmcf->failover_wait, 2000);
    ngx_conf_init_value(cmcf->wait_replicas, 0);
    ngx_conf_init_msec_value(cmcf->wait_timeout, 0);

    shard = cmcf->shards->elts;

    for (i = 0; i < cmcf->shards->nelts; i++) {
        if (cmcf->sentinels == NULL && shard[i].why != NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "invalid redis shard \"%V\", expected "
                          "\"host:port\" (%s), or a master name with "
                          "\"cc_redis_sentinels\"", &shard[i].name,
                          shard[i].why);
            return NGX_CONF_ERROR;
        }
    }

    if (cmcf->wait_replicas > 0 && cmcf->wait_timeout == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"cc_redis_wait\" needs a timeout above 0");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a worker's shard */

void
ngx_http_cc_sentinel_init(ngx_http_cc_redis_t *redis, ngx_log_t *log)
{
    redis->discover.handler = ngx_http_cc_sentinel_tick;
    redis->discover.data = redis;
    redis->discover.log = log;
    redis->discover.cancelable = 1;
}


void
ngx_http_cc_sentinel_exit(ngx_http_cc_redis_t *redis)
{
    redisAsyncContext  *sac;

    ngx_http_cc_sentinel_exiting = 1;

    if (redis->discover.timer_set) {
        ngx_del_timer(&redis->discover);
    }

    sac = redis->sac;

    if (sac != NULL) {
        redis->sac = NULL;
        redisAsyncFree(sac);
    }
}


/*
 * The shard has no connection: ask the Sentinels (after the backoff when
 * the last connections failed).  Nothing to do while asking already.
 */
void
ngx_http_cc_sentinel_discover(ngx_http_cc_redis_t *redis)
{
    ngx_msec_int_t  delay;

    if (ngx_http_cc_sentinel_exiting || redis->ac != NULL
        || redis->sac != NULL || redis->discover.timer_set)
    {
        return;
    }

    delay = redis->failures
            ? (ngx_msec_int_t) (redis->retry_at - ngx_current_msec) : 0;

    /* a timer, even of 1 ms: never from inside a hiredis callback */
    ngx_add_timer(&redis->discover, delay > 0 ? (ngx_msec_t) delay : 1);
}


static void
ngx_http_cc_sentinel_tick(ngx_event_t *ev)
{
    ngx_http_cc_redis_t  *redis = ev->data;

    redisAsyncContext  *sac;

    sac = redis->sac;

    if (sac != NULL) {
        /* the Sentinel did not answer in time */
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "redis shard %V: sentinel %ui did not answer in time",
                      &redis->conf->name, redis->sentinel);
        redis->sac = NULL;
        redisAsyncFree(sac);
        ngx_http_cc_sentinel_next(redis);
        return;
    }

    if (redis->ac != NULL && !redis->up) {
        /* CONNECTING: no ROLE within cc_redis_timeout (a hung primary) */
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "redis shard %V: %s:%d did not answer ROLE in time",
                      &redis->conf->name, redis->host, (int) redis->port);
        redis->rediscover = 1;
        ngx_http_cc_redis_fail(redis);
        return;
    }

    if (redis->ac == NULL) {
        ngx_http_cc_sentinel_ask(redis);
    }
}


static void
ngx_http_cc_sentinel_ask(ngx_http_cc_redis_t *redis)
{
    redisAsyncContext             *sac;
    ngx_http_cc_main_conf_t       *cmcf;
    ngx_http_cc_sentinel_conf_t   *s;

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cc_module);
    s = cmcf->sentinels->elts;
    s = &s[redis->sentinel % cmcf->sentinels->nelts];

    sac = redisAsyncConnect((char *) s->host.data, s->port);

    if (sac == NULL || sac->err) {
        if (sac) {
            redisAsyncFree(sac);
        }

        ngx_http_cc_sentinel_next(redis);
        return;
    }

    sac->data = redis;

    if (ngx_http_cc_redis_attach(sac) != NGX_OK) {
        redisAsyncFree(sac);
        ngx_http_cc_sentinel_next(redis);
        return;
    }

    redis->sac = sac;

    (void) redisAsyncCommand(sac, ngx_http_cc_sentinel_answer, redis,
                             "SENTINEL get-master-addr-by-name %b",
                             redis->conf->name.data,
                             (size_t) redis->conf->name.len);

    ngx_add_timer(&redis->discover, cmcf->redis_timeout);
}


/* this Sentinel did not say: the next one, or after a round the backoff */
static void
ngx_http_cc_sentinel_next(ngx_http_cc_redis_t *redis)
{
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cc_module);

    ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_REDIS_SENTINEL_FAIL);

    if (redis->discover.timer_set) {
        ngx_del_timer(&redis->discover);
    }

    redis->sentinel = (redis->sentinel + 1) % cmcf->sentinels->nelts;

    if (++redis->asked < cmcf->sentinels->nelts) {
        ngx_add_timer(&redis->discover, 1);
        return;
    }

    if (!redis->down_logged) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "redis shard %V: no sentinel names its primary",
                      &redis->conf->name);
        redis->down_logged = 1;
    }

    redis->asked = 0;
    ngx_http_cc_redis_fail(redis);      /* no ac: counts, sets the backoff */
    ngx_http_cc_sentinel_discover(redis);
}


static void
ngx_http_cc_sentinel_answer(redisAsyncContext *sac, void *reply,
    void *privdata)
{
    ngx_http_cc_redis_t  *redis = privdata;

    ngx_int_t                 port;
    redisReply               *r = reply, *h, *p;
    ngx_http_cc_main_conf_t  *cmcf;

    if (redis->sac != sac) {
        return;                          /* timed out, or exiting */
    }

    redis->sac = NULL;
    redisAsyncFree(sac);                 /* after this callback */

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_STRING)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "redis shard %V: sentinel %ui: %s",
                      &redis->conf->name, redis->sentinel,
                      r == NULL ? "connection failed"
                      : r->type == REDIS_REPLY_ERROR ? r->str
                      : r->type == REDIS_REPLY_NIL ? "unknown master name"
                      : "unexpected answer");
        ngx_http_cc_sentinel_next(redis);
        return;
    }

    h = r->element[0];
    p = r->element[1];
    port = ngx_atoi((u_char *) p->str, p->len);

    if (port < 1 || port > 65535 || h->len > NGX_SOCKADDR_STRLEN
        || !ngx_http_cc_sentinel_ip((u_char *) h->str, h->len))
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "redis shard %V: sentinel %ui names \"%*s:%*s\", "
                      "not an IP address and port", &redis->conf->name,
                      redis->sentinel, (size_t) h->len, h->str,
                      (size_t) p->len, p->str);
        ngx_http_cc_sentinel_next(redis);
        return;
    }

    if (redis->discover.timer_set) {
        ngx_del_timer(&redis->discover);
    }

    redis->asked = 0;
    ngx_memcpy(redis->host, h->str, h->len);
    redis->host[h->len] = '\0';
    redis->port = (in_port_t) port;

    /* CONNECTING: the ROLE callback says whether it is the primary */
    (void) ngx_http_cc_redis_get(redis, ngx_cycle->log);

    if (redis->ac == NULL) {
        ngx_http_cc_sentinel_discover(redis);
        return;
    }

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cc_module);
    ngx_add_timer(&redis->discover, cmcf->redis_timeout);
}


/* pipelined after AUTH, ahead of the scripts */
void
ngx_http_cc_sentinel_role(redisAsyncContext *ac)
{
    (void) redisAsyncCommand(ac, ngx_http_cc_sentinel_role_reply, NULL,
                             "ROLE");
}


static void
ngx_http_cc_sentinel_role_reply(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply           *r = reply;
    ngx_http_cc_redis_t  *redis = ac->data;

    u_char                addr[NGX_SOCKADDR_STRLEN + 8];
    size_t                len;

    if (r == NULL || redis->ac != ac) {
        return;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0
        || r->element[0]->type != REDIS_REPLY_STRING
        || ngx_strcmp(r->element[0]->str, "master") != 0)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "redis shard %V: %s:%d is not the primary (ROLE %s), "
                      "asking the sentinels again", &redis->conf->name,
                      redis->host, (int) redis->port,
                      r->type == REDIS_REPLY_ARRAY && r->elements
                      && r->element[0]->type == REDIS_REPLY_STRING
                      ? r->element[0]->str
                      : r->type == REDIS_REPLY_ERROR ? r->str : "?");
        redis->rediscover = 1;
        redis->failed = 1;               /* the backoff: no busy loop */
        redisAsyncFree(ac);              /* after this callback */
        return;
    }

    len = ngx_sprintf(addr, "%s:%d", redis->host, (int) redis->port) - addr;

    if (redis->followed_len
        && (redis->followed_len != len
            || ngx_memcmp(redis->followed, addr, len) != 0))
    {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_REDIS_FAILOVERS);
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "redis shard %V: primary moved from %*s to %*s",
                      &redis->conf->name, redis->followed_len,
                      redis->followed, len, addr);
    }

    if (redis->discover.timer_set) {
        ngx_del_timer(&redis->discover);
    }

    ngx_memcpy(redis->followed, addr, len);
    redis->followed_len = len;
    ngx_http_cc_metric_primary(redis->index, addr, len);

    redis->up = 1;

    /* its cc:credited subscriber follows it there */
    ngx_http_cc_claim_sub_follow(redis);

    /* the requests that waited for a primary leave */
    if (!redis->flush.posted) {
        ngx_post_event(&redis->flush, &ngx_posted_events);
    }
}


/*
 * An answer that says this is no longer (or not yet) a usable primary:
 * -READONLY (demoted to a replica), -LOADING (restarting).  The connection
 * is dropped and the Sentinels asked again.  1 when it is so.
 */
ngx_uint_t
ngx_http_cc_redis_moved(ngx_http_cc_redis_t *redis, redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ERROR
        || (ngx_strncmp(r->str, "READONLY", 8) != 0
            && ngx_strncmp(r->str, "LOADING", 7) != 0))
    {
        return 0;
    }

    if (!ngx_http_cc_redis_sentinel_mode() || redis->ac == NULL
        || redis->rediscover)
    {
        return 1;
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "redis shard %V: %s:%d answered \"%*s\", asking the "
                  "sentinels again", &redis->conf->name, redis->host,
                  (int) redis->port, ngx_min(r->len, 40), r->str);

    redis->rediscover = 1;
    redis->failed = 1;
    redisAsyncFree(redis->ac);           /* after the callback */

    return 1;
}


/* the shard's connection is gone (ngx_http_cc_redis_closed) */
void
ngx_http_cc_sentinel_closed(redisAsyncContext *ac)
{
    ngx_http_cc_redis_t  *redis = ac->data;

    if (redis->index == NGX_HTTP_CC_REDIS_SUB) {
        ngx_http_cc_sentinel_sub.ac = NULL;

        if (!ngx_http_cc_sentinel_exiting
            && !ngx_http_cc_sentinel_sub_ev.timer_set)
        {
            ngx_add_timer(&ngx_http_cc_sentinel_sub_ev, 1000);
        }

        return;
    }

    redis->up = 0;

    if (redis->discover.timer_set) {
        ngx_del_timer(&redis->discover);   /* CONNECTING's ROLE timer */
    }

    if (redis->rediscover) {
        redis->rediscover = 0;
        redis->port = 0;
    }

    /* its queued requests now wait for a primary */
    ngx_http_cc_redis_batch_wait(redis);

    ngx_http_cc_sentinel_discover(redis);
}


/* the worker's +switch-master subscription */

void
ngx_http_cc_sentinel_sub_start(ngx_cycle_t *cycle)
{
    ngx_http_cc_sentinel_exiting = 0;
    ngx_http_cc_sentinel_sub.index = NGX_HTTP_CC_REDIS_SUB;
    ngx_http_cc_sentinel_sub_ev.handler = ngx_http_cc_sentinel_sub_connect;
    /* never NULL: nginx's debug log reads a timer's data as a connection */
    ngx_http_cc_sentinel_sub_ev.data = &ngx_http_cc_sentinel_sub;
    ngx_http_cc_sentinel_sub_ev.log = cycle->log;
    ngx_http_cc_sentinel_sub_ev.cancelable = 1;
    ngx_http_cc_sentinel_sub_next = ngx_pid;    /* spread the workers */

    ngx_http_cc_sentinel_sub_connect(&ngx_http_cc_sentinel_sub_ev);
}


void
ngx_http_cc_sentinel_sub_exit(void)
{
    ngx_http_cc_sentinel_exiting = 1;

    if (ngx_http_cc_sentinel_sub_ev.timer_set) {
        ngx_del_timer(&ngx_http_cc_sentinel_sub_ev);
    }

    if (ngx_http_cc_sentinel_sub.ac != NULL) {
        redisAsyncFree(ngx_http_cc_sentinel_sub.ac);
    }
}


static void
ngx_http_cc_sentinel_sub_connect(ngx_event_t *ev)
{
    redisAsyncContext            *ac;
    ngx_http_cc_main_conf_t      *cmcf;
    ngx_http_cc_sentinel_conf_t  *s;

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cc_module);
    s = cmcf->sentinels->elts;
    s = &s[ngx_http_cc_sentinel_sub_next++ % cmcf->sentinels->nelts];

    ac = redisAsyncConnect((char *) s->host.data, s->port);

    if (ac == NULL || ac->err) {
        if (ac) {
            redisAsyncFree(ac);
        }

        ngx_add_timer(ev, 1000);
        return;
    }

    ac->data = &ngx_http_cc_sentinel_sub;

    if (ngx_http_cc_redis_attach(ac) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_add_timer(ev, 1000);
        return;
    }

    ngx_http_cc_sentinel_sub.ac = ac;

    (void) redisAsyncCommand(ac, ngx_http_cc_sentinel_message, NULL,
                             "SUBSCRIBE +switch-master");
}


/* "+switch-master NAME OLD_IP OLD_PORT NEW_IP NEW_PORT" */
static void
ngx_http_cc_sentinel_message(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    u_char               *p, *last, *name;
    size_t                len;
    redisReply           *r = reply, *m;
    ngx_http_cc_redis_t  *redis;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3
        || r->element[0]->type != REDIS_REPLY_STRING
        || ngx_strcmp(r->element[0]->str, "message") != 0
        || r->element[2]->type != REDIS_REPLY_STRING)
    {
        return;                          /* the subscription's confirmation */
    }

    m = r->element[2];
    name = (u_char *) m->str;
    last = name + m->len;

    p = ngx_strlchr(name, last, ' ');
    if (p == NULL) {
        return;
    }

    len = p - name;

    redis = ngx_http_cc_redis_by_name(name, len);
    if (redis == NULL) {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "redis shard %V: sentinel says +switch-master %*s",
                  &redis->conf->name, (size_t) (last - p - 1), p + 1);

    if (redis->ac != NULL && !redis->rediscover) {
        /* the batches in flight answer 503 now; the retries find the new */
        redis->rediscover = 1;
        redisAsyncFree(redis->ac);

    } else if (redis->ac == NULL && redis->sac == NULL
               && redis->discover.timer_set)
    {
        /* waiting out a backoff: ask now */
        ngx_del_timer(&redis->discover);
        redis->failures = 0;
        ngx_http_cc_sentinel_discover(redis);
    }
}


/* an IPv4 or IPv6 address, not a name (never resolved in a worker) */
static ngx_uint_t
ngx_http_cc_sentinel_ip(u_char *p, size_t len)
{
#if (NGX_HAVE_INET6)
    u_char  buf[16];

    if (ngx_inet6_addr(p, len, buf) == NGX_OK) {
        return 1;
    }
#endif

    return ngx_inet_addr(p, len) != INADDR_NONE;
}
