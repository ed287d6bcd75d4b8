/*
 * cc_cardcheck: the cards invariant of issue 19, checked (cc-reconcile
 * --cards).  Gifts only move cards: no card created, none lost, none
 * delivered twice.  Read-only: it reports, it never repairs.
 *
 * What is authoritative for what:
 *
 *   held       the Redis user hash (k0..kN): the scripts move the cards
 *              there atomically; MySQL only follows.
 *   drawn      MySQL's draws (user_cards), once the draw logs are drained:
 *              the hash keeps only a user's count of draws (s), not their
 *              kinds, and the log is trimmed once written.  So the check
 *              runs after a drain pass (cc-reconcile --grace 0 drains
 *              everything first), and each user's s is compared with
 *              MySQL's draws of the user: a difference is a draw not
 *              drained or lost.
 *   combined   MySQL's eligibility, by cc_cardcheck_consumed(), the one
 *              place that says which cards a combine took
 *              (cc_cardcheck_rules.c); each user's e (Redis) is compared
 *              with its row.
 *   in transit the outboxes' gifts (cc:outbox on the giver's shard, and
 *              cc:outbox:g there for an old gift) whose gift id is not
 *              in the receiver's applied set (cc:{uid}:gi on the
 *              receiver's shard).
 *
 * It checks, for every kind k:
 *
 *   (a) over all Redis shards: held + in transit = drawn - combined; and
 *       MySQL's given - received (the halves whose other half is not in
 *       MySQL) = in transit;
 *   (b) per user, in MySQL: held = drawn + received - given - combined,
 *       equal to the Redis hash's count.  A gift in transit has its
 *       giver's half in MySQL (drained) and no receiver's half anywhere,
 *       so both its users agree with Redis: (b) needs no outbox.
 *
 * When a kind's MySQL gifts disagree with the transit, every gift's two
 * halves are paired (cc_cardcheck_gifts.c) and the ones that do not pair
 * are named by gift id: given and in no outbox (lost), received and never
 * given (created), given and received as two kinds.
 *
 * Every difference is logged with its uid and kind, and each kind gets a
 * summary line.  Users in MySQL that no Redis shard has are counted (the
 * check walks the Redis hashes; cc-reconcile --lost names them).
 */

#ifndef CC_CARDCHECK_H
#define CC_CARDCHECK_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cc_cards.h"
#include "cc_ring.h"
#include "cc_store.h"

#define CC_CARDCHECK_BATCH  500     /* user hashes a round, a MySQL IN list */

typedef struct {
    uint64_t  users;                /* Redis user hashes compared */
    uint64_t  user_diffs;           /* (uid, kind), draws, combines differing */
    uint64_t  kind_diffs;           /* kinds whose totals do not add up */
    uint64_t  gift_kinds;           /* kinds whose MySQL gifts are not the
                                       transit: step 4 runs */
    uint64_t  gift_diffs;           /* gifts whose halves do not pair up */
    uint64_t  mysql_only;           /* MySQL users no Redis shard has */
    uint64_t  outbox_bad;           /* outbox entries that do not read */
    uint64_t  transit;              /* gifts in transit */
    unsigned  nkinds;               /* 1 + the highest kind drawn */

    /* per kind, over every shard */
    int64_t   held[CC_KINDS_MAX];           /* Redis */
    int64_t   in_transit[CC_KINDS_MAX];     /* Redis */
    int64_t   drawn[CC_KINDS_MAX];          /* MySQL */
    int64_t   combined[CC_KINDS_MAX];       /* MySQL */
    int64_t   given[CC_KINDS_MAX];          /* MySQL */
    int64_t   received[CC_KINDS_MAX];       /* MySQL */
} cc_cardcheck_stats_t;

typedef struct {
    cc_store_t          *st;        /* connected */
    redisContext *const *redis;     /* each Redis shard's, connected */
    char *const         *names;     /* as given, for messages */
    size_t               nredis;
    const cc_ring_t     *ring;      /* over the names: the module's */
    cc_cardcheck_stats_t stats;
    char                 err[512];
} cc_cardcheck_t;

/*
 * The whole check: 0 when it ran (the differences are in the stats; their
 * sum is what failed), -1 with cc->err when a server failed.
 */
int cc_cardcheck_run(cc_cardcheck_t *cc);

/* the differences found: per user and kind, per kind, MySQL-only users */
#define cc_cardcheck_differences(s)                                          \
    ((s)->user_diffs + (s)->kind_diffs + (s)->mysql_only + (s)->outbox_bad  \
     + (s)->gift_diffs)

/* step 4, for cc_cardcheck.c (cc_cardcheck_gifts.c): 0, or -1 with err */
int cc_cardcheck_gifts(cc_cardcheck_t *cc);

#endif /* CC_CARDCHECK_H */
