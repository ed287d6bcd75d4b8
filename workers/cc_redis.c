/*
 * cc_redis: see cc_redis.h.
 */

#include <stdio.h>
#include <sys/time.h>

#include "cc_redis.h"


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

    return c;
}
