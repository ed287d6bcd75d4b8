/*
 * cc_redis: see cc_redis.h.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cc_redis.h"
#include "cc_secret.h"
#include "cc_worker.h"


/* AUTH [user] password, when the worker was given a password: 0 or -1 */
static int
cc_redis_auth(redisContext *c, const char *name, char *err, size_t errlen)
{
    int          ok;
    const char  *user, *password;
    redisReply  *r;

    password = cc_secret_redis_password();

    if (password == NULL) {
        return 0;
    }

    user = cc_secret_redis_user();

    r = user ? redisCommand(c, "AUTH %s %s", user, password)
             : redisCommand(c, "AUTH %s", password);

    ok = r != NULL && r->type == REDIS_REPLY_STATUS;

    if (!ok) {
        snprintf(err, errlen, "redis %s: AUTH%s%s: %s", name,
                 user ? " as " : "", user ? user : "",
                 r == NULL ? (c->err ? c->errstr : "no reply")
                 : r->type == REDIS_REPLY_ERROR ? r->str
                 : "unexpected reply");
    }

    freeReplyObject(r);

    return ok ? 0 : -1;
}


/*
 * The --sentinel list, set while parsing the options; its order (the one
 * that answered last first) changes under the lock, as cc-payout's
 * threads connect their own shards.
 */
static cc_addr_t        cc_redis_sentinel[CC_REDIS_SENTINELS_MAX];
static size_t           cc_redis_nsentinel;
static pthread_mutex_t  cc_redis_sentinel_mu = PTHREAD_MUTEX_INITIALIZER;


int
cc_redis_opt_sentinel(const char *s)
{
    const char  *why;

    if (cc_redis_nsentinel == CC_REDIS_SENTINELS_MAX) {
        fprintf(stderr, "%s: more than %d --sentinel\n", cc_worker_name,
                CC_REDIS_SENTINELS_MAX);
        return -1;
    }

    if (cc_addr_parse(s, strlen(s), &cc_redis_sentinel[cc_redis_nsentinel],
                      &why)
        != 0)
    {
        fprintf(stderr, "%s: bad --sentinel \"%s\", expected host:port "
                "(%s)\n", cc_worker_name, s, why);
        return -1;
    }

    cc_redis_nsentinel++;

    return 0;
}


size_t
cc_redis_sentinels(void)
{
    return cc_redis_nsentinel;
}


int
cc_redis_opt_addr(const char *s, cc_addr_t *a)
{
    size_t       len;
    const char  *why;

    if (cc_redis_nsentinel > 0) {
        memset(a, 0, sizeof(*a));
        len = strlen(s);

        if (len == 0 || len > CC_REDIS_NAME_MAX
            || strspn(s, "abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len)
        {
            fprintf(stderr, "%s: bad --redis \"%s\", expected a Sentinel "
                    "master name ([A-Za-z0-9._-], 1..%d)\n", cc_worker_name,
                    s, CC_REDIS_NAME_MAX);
            return -1;
        }

        return 0;
    }

    if (cc_addr_parse(s, strlen(s), a, &why) != 0) {
        fprintf(stderr, "%s: bad --redis \"%s\", expected host:port (%s)\n",
                cc_worker_name, s, why);
        return -1;
    }

    return 0;
}


static redisContext *
cc_redis_dial(const char *host, unsigned port, int timeout_ms,
    const char **why)
{
    redisContext    *c;
    struct timeval   tv;

    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;

    c = redisConnectWithTimeout(host, (int) port, tv);

    if (c == NULL || c->err) {
        *why = c ? c->errstr : "out of memory";
        return c;
    }

    /* setsockopt on the socket just connected: fails only on a bad fd */
    (void) redisSetTimeout(c, tv);

    return c;
}


/* ROLE's first element is "master": 1, else 0 with *why */
static int
cc_redis_is_master(redisContext *c, char *why, size_t whylen)
{
    int          ok;
    redisReply  *r;

    r = redisCommand(c, "ROLE");

    ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0
         && r->element[0]->type == REDIS_REPLY_STRING
         && strcmp(r->element[0]->str, "master") == 0;

    if (!ok) {
        snprintf(why, whylen, "ROLE: %s",
                 r == NULL ? (c->err ? c->errstr : "no reply")
                 : r->type == REDIS_REPLY_ERROR ? r->str
                 : r->type == REDIS_REPLY_ARRAY && r->elements > 0
                   && r->element[0]->type == REDIS_REPLY_STRING
                 ? r->element[0]->str : "unexpected reply");
    }

    freeReplyObject(r);

    return ok;
}


/*
 * Sentinel i's answer for master name: 0 with *a, or -1 with why ("no
 * such master" for a nil reply: this Sentinel does not know the name).
 */
static int
cc_redis_ask_sentinel(const cc_addr_t *sentinel, const char *name,
    int timeout_ms, cc_addr_t *a, char *why, size_t whylen)
{
    int            rc;
    long           port;
    const char    *dial;
    redisReply    *r;
    redisContext  *c;

    dial = NULL;
    c = cc_redis_dial(sentinel->host, sentinel->port, timeout_ms, &dial);

    if (dial != NULL) {
        snprintf(why, whylen, "%s", dial);
        redisFree(c);
        return -1;
    }

    r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", name);

    rc = -1;

    if (r == NULL) {
        snprintf(why, whylen, "%s", c->err ? c->errstr : "no reply");

    } else if (r->type == REDIS_REPLY_NIL) {
        snprintf(why, whylen, "no such master");

    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, whylen, "%s", r->str);

    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
               || r->element[0]->type != REDIS_REPLY_STRING
               || r->element[1]->type != REDIS_REPLY_STRING
               || r->element[0]->len > CC_ADDR_HOST_MAX
               || (port = strtol(r->element[1]->str, NULL, 10)) <= 0
               || port > 65535)
    {
        snprintf(why, whylen, "unexpected reply");

    } else {
        snprintf(a->host, sizeof(a->host), "%s", r->element[0]->str);
        a->port = (unsigned) port;
        rc = 0;
    }

    freeReplyObject(r);
    redisFree(c);

    return rc;
}


/*
 * The master named name, by the Sentinel client spec: each Sentinel in
 * turn, the first that names a master that says ROLE master wins and moves
 * to the front; an unreachable Sentinel, an unknown name or a server that
 * is not (yet) master sends us to the next.  err: the last reason when
 * none is found, empty when one is.
 */
static redisContext *
cc_redis_connect_sentinel(const char *name, int timeout_ms, char *err,
    size_t errlen)
{
    char           why[256];
    size_t         i, j, n;
    cc_addr_t      a, first, list[CC_REDIS_SENTINELS_MAX];
    const char    *dial;
    redisContext  *c;

    pthread_mutex_lock(&cc_redis_sentinel_mu);
    n = cc_redis_nsentinel;
    memcpy(list, cc_redis_sentinel, n * sizeof(cc_addr_t));
    pthread_mutex_unlock(&cc_redis_sentinel_mu);

    /* on success err is empty, whatever a Sentinel tried first said:
     * callers such as cc-draw's pipelines take a non-empty err for a
     * failure */
    if (n == 0) {
        snprintf(err, errlen, "redis %s: no Sentinel given", name);
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (cc_redis_ask_sentinel(&list[i], name, timeout_ms, &a, why,
                                  sizeof(why))
            != 0)
        {
            snprintf(err, errlen, "redis %s: sentinel %s:%u: %s", name,
                     list[i].host, list[i].port, why);
            continue;
        }

        dial = NULL;
        c = cc_redis_dial(a.host, a.port, timeout_ms, &dial);

        if (dial != NULL) {
            snprintf(err, errlen, "redis %s: master %s:%u (from sentinel "
                     "%s:%u): %s", name, a.host, a.port, list[i].host,
                     list[i].port, dial);
            redisFree(c);
            continue;
        }

        if (cc_redis_auth(c, name, err, errlen) != 0) {
            redisFree(c);
            return NULL;
        }

        if (!cc_redis_is_master(c, why, sizeof(why))) {
            snprintf(err, errlen, "redis %s: %s:%u (from sentinel %s:%u) is "
                     "not master: %s", name, a.host, a.port, list[i].host,
                     list[i].port, why);
            redisFree(c);
            continue;
        }

        /* the Sentinel that answered goes first (another thread may
         * have moved the list meanwhile: found again by its address) */
        pthread_mutex_lock(&cc_redis_sentinel_mu);

        for (j = 1; j < cc_redis_nsentinel; j++) {
            if (cc_redis_sentinel[j].port == list[i].port
                && strcmp(cc_redis_sentinel[j].host, list[i].host) == 0)
            {
                first = cc_redis_sentinel[0];
                cc_redis_sentinel[0] = cc_redis_sentinel[j];
                cc_redis_sentinel[j] = first;
                break;
            }
        }

        pthread_mutex_unlock(&cc_redis_sentinel_mu);

        err[0] = '\0';
        return c;
    }

    return NULL;
}


redisContext *
cc_redis_connect(const cc_addr_t *a, const char *name, int timeout_ms,
    char *err, size_t errlen)
{
    const char    *dial;
    redisContext  *c;

    if (cc_redis_nsentinel > 0) {
        return cc_redis_connect_sentinel(name, timeout_ms, err, errlen);
    }

    dial = NULL;
    c = cc_redis_dial(a->host, a->port, timeout_ms, &dial);

    if (dial != NULL) {
        snprintf(err, errlen, "redis %s: %s", name, dial);
        redisFree(c);
        return NULL;
    }

    if (cc_redis_auth(c, name, err, errlen) != 0) {
        redisFree(c);
        return NULL;
    }

    return c;
}


int
cc_redis_reply_failover(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR
           && (strncmp(r->str, "READONLY", 8) == 0
               || strncmp(r->str, "LOADING", 7) == 0);
}


int
cc_redis_time_ms(redisContext *c, const char *name, int64_t *ms, char *err,
    size_t errlen)
{
    redisReply  *t;

    t = redisCommand(c, "TIME");

    if (t == NULL || t->type != REDIS_REPLY_ARRAY || t->elements != 2
        || t->element[0]->type != REDIS_REPLY_STRING
        || t->element[1]->type != REDIS_REPLY_STRING)
    {
        snprintf(err, errlen, "redis %s: TIME: %s", name,
                 t == NULL ? (c->err ? c->errstr : "no reply")
                 : t->type == REDIS_REPLY_ERROR ? t->str
                 : "unexpected reply");
        freeReplyObject(t);
        return -1;
    }

    /* seconds, microseconds */
    *ms = (int64_t) strtoll(t->element[0]->str, NULL, 10) * 1000
          + strtoll(t->element[1]->str, NULL, 10) / 1000;

    freeReplyObject(t);

    return 0;
}
