/*
 * cc_money_redis.h: the Redis side of the money checks
 * (cc_money_redis.c).  The flushes empty m->look; 0, or -1
 * when a store could not be read.
 */

#ifndef CC_MONEY_REDIS_H
#define CC_MONEY_REDIS_H

#include "cc_money_run.h"

/* the waiting awards' field w against the status MySQL says */
int cc_money_flush_awards(cc_money_t *m);

/* the waiting eligible users' field e */
int cc_money_flush_eligible(cc_money_t *m);

/* the SCAN pass over Redis shard r: users with e or w that MySQL lacks */
int cc_money_scan(cc_money_t *m, size_t r);

#endif /* CC_MONEY_REDIS_H */
