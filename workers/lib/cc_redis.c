/*
 * cc_redis: see cc_redis.h.
 */

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


int
cc_redis_opt_addr(const char *s, cc_addr_t *a)
{
    const char  *why;

    if (cc_addr_parse(s, strlen(s), a, &why) != 0) {
        fprintf(stderr, "%s: bad --redis \"%s\", expected host:port (%s)\n",
                cc_worker_name, s, why);
        return -1;
    }

    return 0;
}


redisContext *
cc_redis_connect(const cc_addr_t *a, const char *name, int timeout_ms,
    char *err, size_t errlen)
{
    redisContext    *c;
    struct timeval   tv;

    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;

    c = redisConnectWithTimeout(a->host, (int) a->port, tv);

    if (c == NULL || c->err) {
        snprintf(err, errlen, "redis %s: %s", name,
                 c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }

    /* setsockopt on the socket just connected: fails only on a bad fd */
    (void) redisSetTimeout(c, tv);

    if (cc_redis_auth(c, name, err, errlen) != 0) {
        redisFree(c);
        return NULL;
    }

    return c;
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
