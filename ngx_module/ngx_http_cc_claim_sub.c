/*
 * ngx_http_cc_claim_sub: each worker's cc:credited subscriptions, which
 * wake its waiting claims (ngx_http_cc_claim.c) when cc-payout tells.
 *
 * cc-payout's claims' lane PUBLISHes a claimed uid on CC_CHAN_CREDITED
 * right after award_set.lua wrote its credit, on the same connection, so
 * a subscriber hearing the uid reads w credited.  A waiting group of that
 * uid then re-reads at once (ngx_http_cc_claim_wake) instead of at its
 * next poll, so a claim is answered about when its credit lands rather
 * than at the next step of its doubling schedule.  The schedule stays:
 * a message lost (the connection down, a failover) costs only latency.
 *
 * A worker with a cc_claim location (and cc_claim_wake on) holds one
 * hiredis async connection per shard in subscribe mode, on nginx's loop
 * through ngx_http_cc_redis_adapter.c, opened at worker start: AUTH first
 * as the shard's data connection does (cc_redis_auth), then SUBSCRIBE.
 * With cc_redis_sentinels it connects to the primary the shard's data
 * connection confirmed (ROLE master) and follows it: a confirmation of
 * another address (ngx_http_cc_claim_sub_follow) drops the subscription
 * and opens it there.  A connection lost or refused is opened again after
 * a backoff doubling from 50 ms to 1 s with each failure in a row.
 *
 * Who owns what: the subscribers are this file's static array, allocated
 * from the cycle's pool at worker start; each one's connection (ac)
 * belongs to hiredis, which frees it when it drops, or when the worker
 * exits (ngx_http_cc_claim_sub_exit, from exit_process), and tells us in
 * ngx_http_cc_claim_sub_closed, which forgets it.  The retry timers are
 * cancelable: they never hold an exiting worker.
 */


#include "ngx_http_cc_redis.h"


#define NGX_HTTP_CC_CLAIM_SUB_BACKOFF_MIN  50
#define NGX_HTTP_CC_CLAIM_SUB_BACKOFF_MAX  1000


typedef struct {
    ngx_http_cc_redis_t        redis;     /* first: the adapter's ac->data */
    ngx_http_cc_redis_t       *shard;     /* the data connection followed */
    ngx_event_t                retry;
    ngx_uint_t                 failures;  /* in a row */
    u_char                     addr[NGX_SOCKADDR_STRLEN + 8];
    size_t                     addr_len;  /* connected to, with Sentinel */
    unsigned                   subscribed:1;
    unsigned                   lost:1;    /* was subscribed once */
} ngx_http_cc_claim_sub_t;


static void ngx_http_cc_claim_sub_connect(ngx_event_t *ev);
static void ngx_http_cc_claim_sub_later(ngx_http_cc_claim_sub_t *sub);
static void ngx_http_cc_claim_sub_authed(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_cc_claim_sub_message(redisAsyncContext *ac,
    void *reply, void *privdata);
static ngx_int_t ngx_http_cc_claim_sub_uid(redisReply *m, uint64_t *uid);


static ngx_http_cc_claim_sub_t  *ngx_http_cc_claim_subs;
static ngx_uint_t                ngx_http_cc_claim_subs_n;
static ngx_uint_t                ngx_http_cc_claim_sub_exiting;


void
ngx_http_cc_claim_sub_start(ngx_cycle_t *cycle, ngx_http_cc_redis_t *shards,
    ngx_uint_t n)
{
    ngx_uint_t                i;
    ngx_http_cc_claim_sub_t  *sub;

    ngx_http_cc_claim_sub_exiting = 0;

    ngx_http_cc_claim_subs = ngx_pcalloc(cycle->pool,
                                         n * sizeof(ngx_http_cc_claim_sub_t));
    if (ngx_http_cc_claim_subs == NULL) {
        /* no wake-ups: the claims are answered by their re-reads */
        return;
    }

    ngx_http_cc_claim_subs_n = n;

    for (i = 0; i < n; i++) {
        sub = &ngx_http_cc_claim_subs[i];

        sub->redis.conf = shards[i].conf;
        sub->redis.index = NGX_HTTP_CC_REDIS_CLAIM_SUB;
        sub->shard = &shards[i];

        sub->retry.handler = ngx_http_cc_claim_sub_connect;
        sub->retry.data = sub;
        sub->retry.log = cycle->log;
        sub->retry.cancelable = 1;

        /* with Sentinel, once the shard's primary is confirmed (follow) */
        if (!ngx_http_cc_redis_sentinel_mode()) {
            ngx_http_cc_claim_sub_connect(&sub->retry);
        }
    }
}


void
ngx_http_cc_claim_sub_exit(void)
{
    ngx_uint_t                i;
    ngx_http_cc_claim_sub_t  *sub;

    ngx_http_cc_claim_sub_exiting = 1;

    for (i = 0; i < ngx_http_cc_claim_subs_n; i++) {
        sub = &ngx_http_cc_claim_subs[i];

        if (sub->retry.timer_set) {
            ngx_del_timer(&sub->retry);
        }

        if (sub->redis.ac != NULL) {
            redisAsyncFree(sub->redis.ac);   /* closed() forgets it */
        }
    }

    ngx_http_cc_claim_subs_n = 0;
}


/*
 * The shard's data connection confirmed its primary (Sentinel's ROLE):
 * the subscriber goes there, now, unless it is there already.
 */
void
ngx_http_cc_claim_sub_follow(ngx_http_cc_redis_t *redis)
{
    ngx_http_cc_claim_sub_t  *sub;

    if (ngx_http_cc_claim_sub_exiting
        || redis->index >= ngx_http_cc_claim_subs_n)
    {
        return;
    }

    sub = &ngx_http_cc_claim_subs[redis->index];

    if (sub->redis.ac != NULL) {
        if (sub->addr_len == redis->followed_len
            && ngx_memcmp(sub->addr, redis->followed, sub->addr_len) == 0)
        {
            return;
        }

        /* subscribed to the old primary: closed() reconnects at once */
        sub->failures = 0;
        redisAsyncFree(sub->redis.ac);
        return;
    }

    if (sub->retry.timer_set) {
        ngx_del_timer(&sub->retry);
    }

    /* a timer, even of 1 ms: never connect from inside a hiredis callback */
    ngx_add_timer(&sub->retry, 1);
}


static void
ngx_http_cc_claim_sub_connect(ngx_event_t *ev)
{
    ngx_http_cc_claim_sub_t *sub = ev->data;

    char                     *host;
    in_port_t                 port;
    const char               *argv[3];
    size_t                    argvlen[3];
    redisAsyncContext        *ac;
    ngx_http_cc_redis_t      *shard;
    ngx_http_cc_main_conf_t  *cmcf;

    shard = sub->shard;

    if (ngx_http_cc_redis_sentinel_mode()) {
        if (!shard->up) {
            return;                      /* follow() calls again */
        }

        host = (char *) shard->host;
        port = shard->port;
        ngx_memcpy(sub->addr, shard->followed, shard->followed_len);
        sub->addr_len = shard->followed_len;

    } else {
        host = (char *) shard->conf->host.data;
        port = shard->conf->port;
    }

    ac = redisAsyncConnect(host, port);

    if (ac == NULL || ac->err) {
        if (ac != NULL) {
            redisAsyncFree(ac);          /* not attached: no closed() */
        }

        ngx_http_cc_claim_sub_later(sub);
        return;
    }

    ac->data = &sub->redis;

    if (ngx_http_cc_redis_attach(ac) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_http_cc_claim_sub_later(sub);
        return;
    }

    sub->redis.ac = ac;                  /* now hiredis's, until closed() */

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cc_module);

    if (cmcf->redis_user.len) {
        argv[0] = "AUTH";
        argvlen[0] = sizeof("AUTH") - 1;
        argv[1] = (const char *) cmcf->redis_user.data;
        argvlen[1] = cmcf->redis_user.len;
        argv[2] = (const char *) cmcf->redis_password.data;
        argvlen[2] = cmcf->redis_password.len;

        (void) redisAsyncCommandArgv(ac, ngx_http_cc_claim_sub_authed, sub,
                                     3, argv, argvlen);
    }

    (void) redisAsyncCommand(ac, ngx_http_cc_claim_sub_message, sub,
                             "SUBSCRIBE " CC_CHAN_CREDITED);
}


/* the next try after the backoff, which a failure in a row doubles */
static void
ngx_http_cc_claim_sub_later(ngx_http_cc_claim_sub_t *sub)
{
    ngx_msec_t  delay;

    if (ngx_http_cc_claim_sub_exiting || sub->retry.timer_set) {
        return;
    }

    delay = ngx_min(NGX_HTTP_CC_CLAIM_SUB_BACKOFF_MAX,
                    NGX_HTTP_CC_CLAIM_SUB_BACKOFF_MIN
                    << ngx_min(sub->failures, 5));
    sub->failures++;

    ngx_add_timer(&sub->retry, delay);
}


/* a refused AUTH: dropped (closed() then waits the backoff) */
static void
ngx_http_cc_claim_sub_authed(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply               *r = reply;
    ngx_http_cc_claim_sub_t  *sub = privdata;

    if (r == NULL || r->type != REDIS_REPLY_ERROR || sub->redis.ac != ac) {
        return;
    }

    /* once until it subscribes again, as the data connection logs */
    if (!sub->redis.down_logged) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "redis shard %V: cc:credited subscriber's AUTH "
                      "failed: %*s", &sub->redis.conf->name,
                      (size_t) r->len, r->str);
        sub->redis.down_logged = 1;
    }

    redisAsyncFree(ac);                  /* after this callback */
}


/* hiredis is freeing the subscriber's connection (the adapter's word) */
void
ngx_http_cc_claim_sub_closed(redisAsyncContext *ac)
{
    ngx_http_cc_claim_sub_t  *sub;

    sub = (ngx_http_cc_claim_sub_t *) ac->data;

    if (sub->redis.ac != ac) {
        return;
    }

    sub->redis.ac = NULL;

    /* refused (an ACL without the channel, NOAUTH) or never up: said once */
    if (!sub->subscribed && !sub->redis.down_logged
        && !ngx_http_cc_claim_sub_exiting)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "redis shard %V: not subscribed to " CC_CHAN_CREDITED
                      ": %s; claims are answered by their re-reads",
                      &sub->redis.conf->name,
                      ac->err ? ac->errstr : "connection closed");
        sub->redis.down_logged = 1;
    }

    if (sub->subscribed) {
        sub->subscribed = 0;
        sub->lost = 1;
        sub->failures = 0;               /* was up: again at once */
        ngx_http_cc_metric_add(NGX_HTTP_CC_METRIC_CLAIM_WAKE_SUBSCRIBED, -1);
    }

    if (ngx_http_cc_claim_sub_exiting) {
        return;
    }

    if (sub->failures == 0) {
        sub->failures++;
        ngx_add_timer(&sub->retry, 1);
        return;
    }

    ngx_http_cc_claim_sub_later(sub);
}


/*
 * ["subscribe", channel, n]: subscribed; ["message", channel, uid]: the
 * uid's waiting claims re-read now.  Anything else is ignored, counted
 * when it was a message.
 */
static void
ngx_http_cc_claim_sub_message(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    uint64_t                  uid;
    redisReply               *r = reply, *kind;
    ngx_http_cc_claim_sub_t  *sub = privdata;

    if (r == NULL || sub->redis.ac != ac || r->type != REDIS_REPLY_ARRAY
        || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING)
    {
        return;                          /* going, or not a push */
    }

    kind = r->element[0];

    if (kind->len == sizeof("subscribe") - 1
        && ngx_strncmp(kind->str, "subscribe", kind->len) == 0)
    {
        if (!sub->subscribed) {
            sub->subscribed = 1;
            sub->failures = 0;
            sub->redis.down_logged = 0;
            ngx_http_cc_metric_add(NGX_HTTP_CC_METRIC_CLAIM_WAKE_SUBSCRIBED,
                                   1);

            if (sub->lost) {
                ngx_http_cc_metric_inc(
                    NGX_HTTP_CC_METRIC_CLAIM_WAKE_RECONNECTS);
            }
        }

        return;
    }

    if (kind->len != sizeof("message") - 1
        || ngx_strncmp(kind->str, "message", kind->len) != 0)
    {
        return;
    }

    if (ngx_http_cc_claim_sub_uid(r->element[2], &uid) != NGX_OK) {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_CLAIM_WAKE_MALFORMED);
        return;
    }

    ngx_http_cc_metric_inc(ngx_http_cc_claim_wake(uid)
                           ? NGX_HTTP_CC_METRIC_CLAIM_WAKEUPS
                           : NGX_HTTP_CC_METRIC_CLAIM_WAKE_UNMATCHED);
}


/* a message's uid: a positive 64-bit decimal, as the requests' */
static ngx_int_t
ngx_http_cc_claim_sub_uid(redisReply *m, uint64_t *uid)
{
    if (m->type != REDIS_REPLY_STRING || m->len == 0 || m->len > CC_UID_MAX_DIGITS
        || cc_parse_uid(m->str, m->len, uid) != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
