/*
 * cc_split: how the pool is split among the eligible, in integer cents,
 * reproducibly from the seed, shard by shard.
 *
 * What the shards must agree on is O(shards): every draw process reads the
 * eligible count n[s] of every shard and computes the same plan,
 * cc_split_plan(): each shard's total T[s] (Σ T[s] = pool) and, in equal
 * mode, how many of its users get the extra cent.  Then each shard's work
 * is its own: its users are ordered by (cc_split_rank(seed, uid), uid) and
 * the i-th user in that order gets the i-th amount of cc_split_next().  No
 * global sort of all users; a shard may be drawn on another host.
 *
 * equal:  base = pool / N, r = pool % N.  Which r users get base + 1 is a
 *         uniformly random r-subset drawn from the seed (the number falling
 *         in each shard is drawn exactly, by selection sampling over the
 *         counts); within a shard, the first extra[s] users in rank order.
 * random: the red-packet split.  T[s] is the shard's proportional share
 *         (floor(pool * n[s] / N), the few remaining cents placed on shards
 *         by the seed, never above n[s] * cap); within a shard each user
 *         in rank order draws from [lo, min(hi, 2 * left / users_left)],
 *         where lo and hi are the bounds that keep the rest feasible
 *         (every award in [1, cap]); the last takes what is left.
 *
 * Random numbers: xoshiro256** seeded with SHA-256(seed | 0x00 | stream),
 * where stream names the use ("plan", or "shard:<s>"), so the result is a
 * function of (seed, pool, mode, cap, the eligible uids of each shard) and
 * of nothing else: not of row order, thread timing or a restart.
 *
 * Plain C, no allocation (libcrypto's SHA-256 only).
 */

#ifndef CC_SPLIT_H
#define CC_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "cc_campaign.h"

typedef struct {
    uint64_t  s[4];
} cc_rng_t;

/* seeds a stream of the campaign's seed */
void cc_rng_init(cc_rng_t *g, const char *seed, const char *stream);
uint64_t cc_rng_next(cc_rng_t *g);
/* uniform in [0, n), n >= 1, without modulo bias */
uint64_t cc_rng_below(cc_rng_t *g, uint64_t n);

/* the key of a seed for cc_split_rank: the first 8 bytes of SHA-256 */
uint64_t cc_split_key(const char *seed);

/* a user's place in its shard's order: a keyed 64-bit mix of the uid */
uint64_t cc_split_rank(uint64_t key, uint64_t uid);

typedef struct {
    uint64_t  n;            /* eligible users of the shard */
    uint64_t  total;        /* cents the shard's users get, Σ = pool */
    uint64_t  extra;        /* equal mode: users with base + 1 */
} cc_split_shard_t;

typedef struct {
    cc_split_mode_e  mode;
    uint64_t         pool;
    uint64_t         cap;
    uint64_t         n;     /* Σ n[s] */
    uint64_t         base;  /* equal mode: pool / n */
} cc_split_plan_t;

/*
 * Fills sh[0..nshards) from n[] (shard order as in the MySQL ring).
 * -1 with *why when nothing can be placed: no eligible user, pool < N
 * ("pool smaller than the eligible count"), random with cap * N < pool or
 * cap == 0, a sum that overflows.  Writes nothing on -1.
 */
int cc_split_plan(cc_split_plan_t *p, cc_split_shard_t *sh,
    const uint64_t *n, size_t nshards, cc_split_mode_e mode, uint64_t pool,
    uint64_t cap, const char *seed, const char **why);

/* the amounts of one shard's users, in rank order */
typedef struct {
    cc_split_mode_e  mode;
    uint64_t         base;
    uint64_t         cap;
    uint64_t         users_left;
    uint64_t         cents_left;
    uint64_t         extra_left;
    cc_rng_t         rng;
} cc_split_iter_t;

void cc_split_iter_init(cc_split_iter_t *it, const cc_split_plan_t *p,
    const cc_split_shard_t *sh, size_t shard, const char *seed);

/* the next user's amount; 0 once every user of the shard had theirs */
uint64_t cc_split_next(cc_split_iter_t *it);

#endif /* CC_SPLIT_H */
