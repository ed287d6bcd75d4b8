/*
 * cc_restore: the flips and combines that a Redis shard lost and MySQL
 * holds, found and put back (cc-reconcile --lost, --restore).
 *
 * With the module's cc_redis_wait off, a failover can promote a replica
 * that lacks flips already answered 200: their draws reached MySQL through
 * Kafka (or the draw log), the shard's hash of the user did not keep them.
 * MySQL is the record.  Each MySQL shard's users are read in uid order,
 * a page at a time (their highest seq, their eligibility row), and
 * compared with their Redis shard's hash (s, e): a draw past s, or an
 * eligibility row with no e, is lost.  With restore, each page's lost
 * users of a Redis shard are mended by ONE call of
 * workers/lib/lua/restore.lua (what it does, and why a second run changes
 * nothing, is said there).
 */

#ifndef CC_RESTORE_H
#define CC_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cc_ring.h"
#include "cc_store.h"

#define CC_RESTORE_PAGE    500      /* users a page, a script call at most */
#define CC_RESTORE_SAMPLE  8        /* lost draw ids shown */

typedef struct {
    uint64_t  users;                /* users compared */
    uint64_t  lost_draws;           /* draws past their shard's s */
    uint64_t  lost_combines;        /* eligibility rows with no e */
    uint64_t  restored;             /* draws put back */
    uint64_t  combines;             /* combines put back */
    uint64_t  overissued;           /* chances the users no longer had */
    uint64_t  short_cards;          /* cards a restored combine lacked */
    uint64_t  gaps;                 /* draws left past a gap in seq */
    size_t    nsample;
    char      sample[CC_RESTORE_SAMPLE * 24];   /* "uid:seq uid:seq ..." */
} cc_restore_stats_t;

typedef struct {
    cc_store_t          *st;        /* connected */
    redisContext *const *redis;     /* each Redis shard's, connected */
    char *const         *names;     /* as given, for messages */
    size_t               nredis;
    const cc_ring_t     *ring;      /* over the names: the module's */
    int                  restore;   /* 0: only count */
    long long            ttl_s;     /* cc_request_ttl */
    cc_restore_stats_t   stats;
    char                 err[512];
} cc_restore_t;

/* Every MySQL shard compared (and mended): 0, or -1 with rs->err. */
int cc_restore_run(cc_restore_t *rs);

#endif /* CC_RESTORE_H */
