/*
 * cc_drain: one Redis shard's draw log (cc:draws, see cc_keys.h) into
 * sharded MySQL, then trimmed: the pass cc-reconcile runs every few
 * minutes, and cc-draw runs with grace 0 before it splits the pool (so
 * that every combine taken before the cutoff is in MySQL's eligibility
 * table).
 *
 * Entries older than grace_ms by the Redis clock (0: every entry) are
 * written with the idempotent cc_store_write (draws, combines) and
 * cc_store_write_gifts (gift halves), batch entries at a time, and
 * the log is trimmed only up to what was written.  A bad line is logged,
 * counted and skipped, never written.
 */

#ifndef CC_DRAIN_H
#define CC_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cc_store.h"

typedef struct {
    unsigned long long  entries;     /* log entries read */
    unsigned long long  read;        /* draws, combines, gift halves */
    unsigned long long  inserted;    /* rows MySQL lacked */
    unsigned long long  bad;         /* unreadable lines or entries */
} cc_drain_stats_t;

/*
 * 0 once every entry older than the grace is in MySQL and trimmed; -1 with
 * err filled when Redis or MySQL failed (what was written stays written;
 * a new pass completes the rest).
 */
int cc_drain_shard(redisContext *rc, cc_store_t *st, int64_t grace_ms,
    size_t batch, cc_drain_stats_t *stats, char *err, size_t errlen);

#endif /* CC_DRAIN_H */
