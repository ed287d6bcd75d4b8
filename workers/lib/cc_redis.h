/*
 * cc_redis: the workers' one way to open a blocking hiredis connection
 * to a Redis shard: connect within timeout_ms, then the same timeout on
 * every command, so a Redis that stops answering fails the call instead
 * of hanging the worker.  And the one reader of a shard's clock (TIME).
 *
 * A shard is named one of two ways, the same for every --redis of a run:
 *
 *   host:port     without --sentinel: that server, as before
 *   MASTER-NAME   with --sentinel host:port (repeated): the master that
 *                 Sentinel names, found on every connect
 *
 * The ring is keyed by the name as written, never by an address, so a
 * failover moves no user.  Discovery follows the Sentinel client spec:
 * each Sentinel in turn is asked SENTINEL get-master-addr-by-name (the
 * first that answers moves to the front of the list), the address it
 * gives is connected (and AUTHed), and ROLE must say "master" there, else
 * the next Sentinel is asked.  Nothing is cached between connects: every
 * reconnect asks again, and a worker that reads -READONLY or -LOADING
 * (cc_redis_reply_failover) drops its connection so that it does.
 * Sentinels are asked without AUTH.
 */

#ifndef CC_REDIS_H
#define CC_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cc_addr.h"

#define CC_REDIS_SENTINELS_MAX  8
#define CC_REDIS_NAME_MAX       64      /* a Sentinel master name */

/* --sentinel, the same in every worker that reaches Redis */
#define CC_REDIS_OPT_SENTINEL  0x5201

#define CC_REDIS_SENTINEL_OPTION                                             \
    { "sentinel", required_argument, NULL, CC_REDIS_OPT_SENTINEL }

#define CC_REDIS_SENTINEL_HELP                                               \
"  --sentinel ADDR  a Redis Sentinel, host:port, repeat for each (up to 8):\n"\
"                   then each --redis is a Sentinel master name, its\n"      \
"                   master asked for on every connect\n"

/*
 * A --sentinel option: 0, or -1 after "cc-NAME: bad --sentinel \"s\",
 * expected host:port (why)" or "cc-NAME: more than 8 --sentinel".
 */
int cc_redis_opt_sentinel(const char *s);

/* the number of --sentinel given: 0 when shards are addresses */
size_t cc_redis_sentinels(void);

/*
 * A --redis option, read after every --sentinel: without Sentinels an
 * address, 0 or -1 after "cc-NAME: bad --redis \"s\", expected
 * host:port (why)"; with them a master name ([A-Za-z0-9._-], 1..64
 * characters), *a zeroed, 0 or -1 after "cc-NAME: bad --redis \"s\",
 * expected a Sentinel master name ([A-Za-z0-9._-], 1..64)".  So every
 * worker refuses a bad shard at start, before it opens anything, alike.
 */
int cc_redis_opt_addr(const char *s, cc_addr_t *a);

/*
 * A connection to a (with Sentinels: to the master that they name name),
 * or NULL with err set to "redis NAME: why" (name is the shard as the user
 * wrote it).  Authenticated (AUTH) when cc_secret_load() found a Redis
 * password: a refused AUTH is a failed connect.  With Sentinels, a server
 * whose ROLE is not master is a failed connect too.
 */
redisContext *cc_redis_connect(const cc_addr_t *a, const char *name,
    int timeout_ms, char *err, size_t errlen);

/*
 * 1 when r is an error that says the server is not (or not yet) a usable
 * master, -READONLY (a replica: a failover happened) or -LOADING (still
 * loading its data): the caller drops the connection, and its reconnect
 * asks Sentinel again.  0 otherwise, r NULL included.
 */
int cc_redis_reply_failover(const redisReply *r);

/*
 * The shard's clock, TIME, in unix ms: 0, or -1 with err set to "redis
 * NAME: TIME: why" (no reply, an error reply, or not two strings).
 */
int cc_redis_time_ms(redisContext *c, const char *name, int64_t *ms,
    char *err, size_t errlen);

#endif /* CC_REDIS_H */
