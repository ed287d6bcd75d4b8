/*
 * fuzz_split: the pool split (common/cc_split.h) over fuzzed shard
 * counts, pool, cap, mode and seed.
 *
 * Input: a mode byte, a shard count byte (0..64), per shard a flag byte
 * and 4 bytes of count (the flag makes the count huge, near 2^64 / the
 * shards, so sums overflow or N is enormous), the pool and the cap (8
 * bytes each), the rest the seed.  The contract:
 *
 *   - refused: the plan and the shards untouched, a reason given; and
 *     refused exactly when the header says (no shard, no user, a sum
 *     that overflows, pool < N, random with cap 0 or cap * N < pool);
 *   - accepted: Σ T[s] = pool; in equal mode base = pool / N, Σ extra =
 *     pool % N and extra[s] <= n[s]; in random mode n[s] <= T[s] <=
 *     n[s] * cap; the same inputs give the same plan;
 *   - every shard's amounts (all of them while N is at most 2^18, else
 *     the first 1000 of each) are base or base + 1 with exactly extra[s]
 *     of base + 1 (equal) or in [1, cap] (random), never more than the
 *     cents left, summing to T[s] when all are drawn, then 0.
 *
 * Equal mode draws min(r, N - r) numbers for r = pool % N (the
 * hypergeometric placement of the extra cents), so that is kept below
 * 2^16 by lowering r: a pool of the same base with fewer extra cents.
 */

#include "fuzz.h"
#include "cc_split.h"


#define FUZZ_SHARDS_MAX      64
#define FUZZ_ALL_USERS_MAX   (1u << 18)
#define FUZZ_FIRST_USERS     1000
#define FUZZ_EXTRA_MAX       (1u << 16)


static void
fuzz_shard(const cc_split_plan_t *p, const cc_split_shard_t *sh, size_t s,
    const char *seed, int all)
{
    uint64_t         i, a, sum, plus, left, users;
    cc_split_iter_t  it;

    cc_split_iter_init(&it, p, sh, s, seed);

    users = all || sh->n < FUZZ_FIRST_USERS ? sh->n : FUZZ_FIRST_USERS;
    sum = 0;
    plus = 0;
    left = sh->total;

    for (i = 0; i < users; i++) {
        a = cc_split_next(&it);

        FUZZ_ASSERT(a <= left);

        if (p->mode == CC_SPLIT_EQUAL) {
            FUZZ_ASSERT(a == p->base || a == p->base + 1);
            /* the extra cents go first in rank order */
            FUZZ_ASSERT((a == p->base + 1) == (i < sh->extra));
            plus += a == p->base + 1;

        } else {
            FUZZ_ASSERT(a >= 1 && a <= p->cap);
        }

        left -= a;
        sum += a;
    }

    if (users == sh->n) {
        FUZZ_ASSERT(sum == sh->total && left == 0);
        FUZZ_ASSERT(p->mode != CC_SPLIT_EQUAL || plus == sh->extra);
        FUZZ_ASSERT(cc_split_next(&it) == 0 && cc_split_next(&it) == 0);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 rc, overflow, ok;
    char                seed[CC_CAMPAIGN_SEED_MAX + 1];
    size_t              i, nshards, slen;
    uint64_t            n[FUZZ_SHARDS_MAX], pool, cap, total, r, extra;
    uint64_t            flag;
    fuzz_in_t           in;
    const char         *why;
    cc_split_mode_e     mode;
    cc_split_plan_t     plan, plan2, blank_plan;
    cc_split_shard_t    sh[FUZZ_SHARDS_MAX], sh2[FUZZ_SHARDS_MAX];
    cc_split_shard_t    blank_sh[FUZZ_SHARDS_MAX];
    unsigned __int128   sum, lo, hi;

    in.p = data;
    in.left = size;

    mode = fuzz_take(&in, 1) & 1 ? CC_SPLIT_RANDOM : CC_SPLIT_EQUAL;
    nshards = (size_t) fuzz_take(&in, 1) % (FUZZ_SHARDS_MAX + 1);

    total = 0;
    overflow = 0;

    for (i = 0; i < nshards; i++) {
        flag = fuzz_take(&in, 1);
        n[i] = fuzz_take(&in, 4);

        if (flag & 0x80) {
            n[i] = UINT64_MAX / (flag & 0x40 ? 1 : nshards) - n[i];

        } else if (flag & 0x40) {
            n[i] &= 0xff;
        }

        overflow |= n[i] > UINT64_MAX - total;
        total += n[i];
    }

    pool = fuzz_take(&in, 8);
    cap = fuzz_take(&in, 8);

    /* the seed: the rest, up to 128 bytes, a NUL ends it */
    slen = in.left < CC_CAMPAIGN_SEED_MAX ? in.left : CC_CAMPAIGN_SEED_MAX;
    memcpy(seed, in.p, slen);
    seed[slen] = '\0';

    /* small pools and caps, and pools just above N, are the edges */
    if ((pool >> 62) == 1) {
        pool &= 0xffff;

    } else if ((pool >> 62) == 2 && !overflow) {
        pool = total + (pool & 0xffff);
    }

    if ((cap >> 62) != 3) {
        cap &= 0xffffff;
    }

    if (mode == CC_SPLIT_EQUAL && !overflow && total > 0 && pool >= total) {
        r = pool % total;

        if (r > FUZZ_EXTRA_MAX && total - r > FUZZ_EXTRA_MAX) {
            pool -= r - r % FUZZ_EXTRA_MAX;
        }
    }

    /* refused exactly when the header says */
    ok = nshards > 0 && !overflow && total > 0 && pool >= total
         && (mode == CC_SPLIT_EQUAL
             || (cap > 0
                 && (unsigned __int128) cap * total >= pool));

    memset(&plan, 0xa5, sizeof(plan));
    memset(sh, 0xa5, sizeof(sh));
    memset(&blank_plan, 0xa5, sizeof(blank_plan));
    memset(blank_sh, 0xa5, sizeof(blank_sh));
    why = NULL;

    rc = cc_split_plan(&plan, sh, n, nshards, mode, pool, cap, seed, &why);

    if (rc != 0) {
        FUZZ_ASSERT(!ok);
        FUZZ_ASSERT(why != NULL && why[0] != '\0');
        FUZZ_ASSERT(memcmp(&plan, &blank_plan, sizeof(plan)) == 0);
        FUZZ_ASSERT(memcmp(sh, blank_sh, sizeof(sh)) == 0);
        return 0;
    }

    FUZZ_ASSERT(ok);
    FUZZ_ASSERT(plan.mode == mode && plan.pool == pool && plan.n == total);
    FUZZ_ASSERT(plan.base == pool / total);
    FUZZ_ASSERT(mode == CC_SPLIT_EQUAL ? plan.cap == 0 : plan.cap == cap);

    /* nothing past nshards written */
    FUZZ_ASSERT(memcmp(sh + nshards, blank_sh + nshards,
                       (FUZZ_SHARDS_MAX - nshards) * sizeof(sh[0])) == 0);

    sum = 0;
    extra = 0;

    for (i = 0; i < nshards; i++) {
        FUZZ_ASSERT(sh[i].n == n[i]);
        sum += sh[i].total;

        if (mode == CC_SPLIT_EQUAL) {
            FUZZ_ASSERT(sh[i].extra <= n[i]);
            FUZZ_ASSERT((unsigned __int128) sh[i].total
                        == (unsigned __int128) plan.base * n[i]
                           + sh[i].extra);
            extra += sh[i].extra;

        } else {
            lo = n[i];
            hi = (unsigned __int128) n[i] * cap;
            FUZZ_ASSERT(sh[i].extra == 0);
            FUZZ_ASSERT(sh[i].total >= lo && sh[i].total <= hi);
        }
    }

    FUZZ_ASSERT(sum == pool);
    FUZZ_ASSERT(mode != CC_SPLIT_EQUAL || extra == pool % total);

    /* a function of its inputs */
    FUZZ_ASSERT(cc_split_plan(&plan2, sh2, n, nshards, mode, pool, cap, seed,
                              &why) == 0);
    FUZZ_ASSERT(plan.mode == plan2.mode && plan.pool == plan2.pool
                && plan.cap == plan2.cap && plan.n == plan2.n
                && plan.base == plan2.base);
    FUZZ_ASSERT(memcmp(sh, sh2, nshards * sizeof(sh[0])) == 0);

    for (i = 0; i < nshards; i++) {
        fuzz_shard(&plan, &sh[i], i, seed, total <= FUZZ_ALL_USERS_MAX);
    }

    return 0;
}
