/*
 * cc_redis: the workers' one way to open a blocking hiredis connection
 * to a Redis shard: connect within timeout_ms, then the same timeout on
 * every command, so a Redis that stops answering fails the call instead
 * of hanging the worker.  And the one reader of a shard's clock (TIME).
 */

#ifndef CC_REDIS_H
#define CC_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cc_addr.h"

/*
 * A --redis option's address: 0, or -1 after "cc-NAME: bad --redis
 * \"s\", expected host:port (why)" on stderr, so that every worker
 * refuses a bad address at start, before it opens anything, alike.
 */
int cc_redis_opt_addr(const char *s, cc_addr_t *a);

/*
 * A connection to a, or NULL with err set to "redis NAME: why" (name is
 * the shard as the user wrote it, for the message).  Authenticated (AUTH)
 * when cc_secret_load() found a Redis password: a refused AUTH is a
 * failed connect.
 */
redisContext *cc_redis_connect(const cc_addr_t *a, const char *name,
    int timeout_ms, char *err, size_t errlen);

/*
 * The shard's clock, TIME, in unix ms: 0, or -1 with err set to "redis
 * NAME: TIME: why" (no reply, an error reply, or not two strings).
 */
int cc_redis_time_ms(redisContext *c, const char *name, int64_t *ms,
    char *err, size_t errlen);

#endif /* CC_REDIS_H */
