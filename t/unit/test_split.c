/*
 * Unit tests of common/cc_split.c: a million random splits checked for
 * the sum, the bounds and reproducibility; the refusals; the edges; the
 * law of the extra cents; the cost per user.
 *
 * The random cases come from CC_TEST_SEED (default: the time); every
 * failure message names it, so `CC_TEST_SEED=N build/unit/test_split`
 * replays the run.
 */

#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cc_split.h"
#include "cc_check.h"


#define CASES      1000000
#define SHARDS_MAX 8

static uint64_t  test_seed;


/*
 * Check writes a record for every ck_assert (a pipe write in fork mode):
 * in the loops of a million cases only a failure may reach Check.
 */
#define T_CHECK(cond, ...)                                                    \
    do {                                                                      \
        if (!(cond)) {                                                        \
            ck_abort_msg(__VA_ARGS__);                                        \
        }                                                                     \
    } while (0)


/* the test's own generator (SplitMix64), apart from the one under test */
static uint64_t
t_next(uint64_t *x)
{
    uint64_t  z;

    z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


static uint64_t
t_range(uint64_t *x, uint64_t lo, uint64_t hi)
{
    return lo + t_next(x) % (hi - lo + 1);
}


/* FNV-1a over the amounts: "same result byte for byte" in one word */
static uint64_t
t_fnv(uint64_t h, uint64_t v)
{
    int  i;

    for (i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 0x100000001b3ULL;
    }

    return h;
}


/*
 * Draws every shard of a plan and checks each award and each shard's
 * total; returns the hash of all amounts in order.
 */
static uint64_t
t_draw_all(const cc_split_plan_t *p, const cc_split_shard_t *sh,
    size_t nshards, const char *seed, const char *what)
{
    size_t           s;
    uint64_t         i, a, sum, all, extras, h;
    cc_split_iter_t  it;

    all = 0;
    extras = 0;
    h = 0xcbf29ce484222325ULL;

    for (s = 0; s < nshards; s++) {
        cc_split_iter_init(&it, p, &sh[s], s, seed);
        sum = 0;

        for (i = 0; i < sh[s].n; i++) {
            a = cc_split_next(&it);
            h = t_fnv(h, a);
            sum += a;

            if (p->mode == CC_SPLIT_EQUAL) {
                T_CHECK(a == p->base || a == p->base + 1,
                              "%s: award %" PRIu64 " not base %" PRIu64
                              " or +1 (CC_TEST_SEED=%" PRIu64 ")", what, a,
                              p->base, test_seed);
                extras += a == p->base + 1;

            } else {
                T_CHECK(a >= 1 && a <= p->cap,
                              "%s: award %" PRIu64 " outside 1..%" PRIu64
                              " (CC_TEST_SEED=%" PRIu64 ")", what, a, p->cap,
                              test_seed);
            }
        }

        T_CHECK(cc_split_next(&it) == 0, "%s: an award past the "
                      "shard's users (CC_TEST_SEED=%" PRIu64 ")", what,
                      test_seed);
        T_CHECK(sum == sh[s].total, "%s: shard %zu sums %" PRIu64
                      ", its plan %" PRIu64 " (CC_TEST_SEED=%" PRIu64 ")",
                      what, s, sum, sh[s].total, test_seed);
        all += sum;
    }

    T_CHECK(all == p->pool, "%s: sum %" PRIu64 " != pool %" PRIu64
                  " (CC_TEST_SEED=%" PRIu64 ")", what, all, p->pool,
                  test_seed);

    if (p->mode == CC_SPLIT_EQUAL) {
        T_CHECK(extras == p->pool % p->n, "%s: %" PRIu64 " extra "
                      "cents, want %" PRIu64 " (CC_TEST_SEED=%" PRIu64 ")",
                      what, extras, p->pool % p->n, test_seed);
    }

    return h;
}


START_TEST(test_random_cases)
{
    int               refuse, rc, ok;
    char              seed[32], what[256];
    size_t            s, k;
    uint64_t          x, n[SHARDS_MAX], total, pool, cap, h1, h2, i;
    const char       *why;
    cc_split_mode_e   mode;
    cc_split_plan_t   p, p2;
    cc_split_shard_t  sh[SHARDS_MAX], sh2[SHARDS_MAX];

    x = test_seed;
    ok = 0;

    for (i = 0; i < CASES; i++) {
        k = (size_t) t_range(&x, 1, SHARDS_MAX);
        total = 0;

        for (s = 0; s < k; s++) {
            /* mostly small shards, some empty, now and then a big one */
            n[s] = t_next(&x) % 512 == 0 ? t_range(&x, 0, 2000)
                                        : t_range(&x, 0, 12);
            total += n[s];
        }

        if (total == 0) {
            n[k - 1] = 1;
            total = 1;
        }

        mode = t_next(&x) & 1 ? CC_SPLIT_RANDOM : CC_SPLIT_EQUAL;
        refuse = t_next(&x) % 50 == 0;
        cap = 0;

        switch (t_next(&x) % 8) {
        case 0:                                 /* near the largest pool */
            cap = mode == CC_SPLIT_RANDOM ? CC_CAMPAIGN_POOL_MAX : 0;
            pool = CC_CAMPAIGN_POOL_MAX - t_range(&x, 0, 1000);
            break;
        case 1:                                 /* tight: pool = N */
            cap = mode == CC_SPLIT_RANDOM ? t_range(&x, 1, 5) : 0;
            pool = total;
            break;
        case 2:                                 /* tight: pool = N cap */
            cap = t_range(&x, 1, 1000);
            pool = total * cap;
            cap = mode == CC_SPLIT_RANDOM ? cap : 0;
            break;
        default:
            cap = mode == CC_SPLIT_RANDOM ? t_range(&x, 1, 5000) : 0;
            pool = mode == CC_SPLIT_RANDOM ? t_range(&x, total, total * cap)
                                           : t_range(&x, total, total * 500);
        }

        if (refuse) {
            if (mode == CC_SPLIT_RANDOM && t_next(&x) & 1 && cap > 1
                && cap < CC_CAMPAIGN_POOL_MAX)
            {
                cap = cap - 1;                  /* cap * N < pool */
                pool = total * cap + t_range(&x, 1, total);

            } else {
                pool = t_range(&x, 0, total - 1);   /* pool < N */
            }
        }

        snprintf(seed, sizeof(seed), "s%" PRIu64, t_next(&x) % 100000);
        snprintf(what, sizeof(what), "case %" PRIu64 ": %s pool %" PRIu64
                 " N %" PRIu64 " shards %zu cap %" PRIu64 " seed %s", i,
                 cc_split_mode_name(mode), pool, total, k, cap, seed);

        memset(sh, 0x77, sizeof(sh));
        why = NULL;
        rc = cc_split_plan(&p, sh, n, k, mode, pool, cap, seed, &why);

        if (refuse) {
            T_CHECK(rc == -1 && why != NULL, "%s: not refused "
                          "(CC_TEST_SEED=%" PRIu64 ")", what, test_seed);
            T_CHECK(sh[0].n == 0x7777777777777777ULL,
                          "%s: refused but wrote (CC_TEST_SEED=%" PRIu64
                          ")", what, test_seed);
            continue;
        }

        T_CHECK(rc == 0, "%s: refused: %s (CC_TEST_SEED=%" PRIu64 ")",
                      what, why, test_seed);
        T_CHECK(p.n == total && p.pool == pool, "%s: plan header",
                      what);

        h1 = t_draw_all(&p, sh, k, seed, what);
        ok++;

        /* every 8th case: drawn again from the same seed, same amounts */
        if (i % 8 == 0) {
            T_CHECK(cc_split_plan(&p2, sh2, n, k, mode, pool, cap, seed, &why)
                    == 0, "%s: refused the second time", what);
            T_CHECK(memcmp(sh, sh2, k * sizeof(sh[0])) == 0,
                          "%s: another plan from the same seed "
                          "(CC_TEST_SEED=%" PRIu64 ")", what, test_seed);
            h2 = t_draw_all(&p2, sh2, k, seed, what);
            T_CHECK(h1 == h2, "%s: other amounts from the same seed "
                          "(CC_TEST_SEED=%" PRIu64 ")", what, test_seed);
        }
    }

    ck_assert_int_gt(ok, CASES * 9 / 10);
}
END_TEST


START_TEST(test_refusals)
{
    uint64_t          n[3] = { 4, 0, 6 };
    uint64_t          big[2] = { UINT64_MAX, 1 };
    uint64_t          zero[2] = { 0, 0 };
    const char       *why;
    cc_split_plan_t   p;
    cc_split_shard_t  sh[3];

    memset(sh, 0x11, sizeof(sh));

    why = NULL;
    ck_assert_int_eq(cc_split_plan(&p, sh, n, 3, CC_SPLIT_EQUAL, 9, 0, "s",
                                   &why), -1);
    ck_assert_str_eq(why, "pool smaller than the eligible count");

    ck_assert_int_eq(cc_split_plan(&p, sh, n, 3, CC_SPLIT_RANDOM, 9, 5, "s",
                                   &why), -1);
    ck_assert_str_eq(why, "pool smaller than the eligible count");

    ck_assert_int_eq(cc_split_plan(&p, sh, n, 3, CC_SPLIT_RANDOM, 51, 5,
                                   "s", &why), -1);
    ck_assert_str_eq(why,
                     "cap_cents times the eligible count is below the pool");

    ck_assert_int_eq(cc_split_plan(&p, sh, n, 3, CC_SPLIT_RANDOM, 10, 0,
                                   "s", &why), -1);
    ck_assert_str_eq(why, "cap_cents is 0");

    ck_assert_int_eq(cc_split_plan(&p, sh, zero, 2, CC_SPLIT_EQUAL, 10, 0,
                                   "s", &why), -1);
    ck_assert_str_eq(why, "no eligible user");

    ck_assert_int_eq(cc_split_plan(&p, sh, n, 0, CC_SPLIT_EQUAL, 10, 0,
                                   "s", &why), -1);
    ck_assert_str_eq(why, "no shard");

    ck_assert_int_eq(cc_split_plan(&p, sh, big, 2, CC_SPLIT_EQUAL, 10, 0,
                                   "s", &why), -1);
    ck_assert_str_eq(why, "the eligible count overflows");

    ck_assert_uint_eq(sh[0].n, 0x1111111111111111ULL);   /* wrote nothing */
    ck_assert_uint_eq(sh[2].total, 0x1111111111111111ULL);

    /* the limits themselves are accepted */
    ck_assert_int_eq(cc_split_plan(&p, sh, n, 3, CC_SPLIT_EQUAL, 10, 0, "s",
                                   &why), 0);
    ck_assert_int_eq(cc_split_plan(&p, sh, n, 3, CC_SPLIT_RANDOM, 50, 5,
                                   "s", &why), 0);
}
END_TEST


START_TEST(test_edges)
{
    size_t            s;
    uint64_t          n[4] = { 3, 0, 5, 2 }, one[1] = { 1 }, two[2] = { 2, 1 };
    uint64_t          a;
    const char       *why;
    cc_split_iter_t   it;
    cc_split_plan_t   p;
    cc_split_shard_t  sh[4];

    /* pool = N: one cent each, both modes */
    ck_assert_int_eq(cc_split_plan(&p, sh, n, 4, CC_SPLIT_EQUAL, 10, 0, "e",
                                   &why), 0);
    ck_assert_uint_eq(p.base, 1);
    t_draw_all(&p, sh, 4, "e", "equal pool = N");

    ck_assert_int_eq(cc_split_plan(&p, sh, n, 4, CC_SPLIT_RANDOM, 10, 7,
                                   "e", &why), 0);

    for (s = 0; s < 4; s++) {
        cc_split_iter_init(&it, &p, &sh[s], s, "e");
        while ((a = cc_split_next(&it)) != 0) {
            ck_assert_uint_eq(a, 1);
        }
    }

    /* pool = N cap: cap each */
    ck_assert_int_eq(cc_split_plan(&p, sh, n, 4, CC_SPLIT_RANDOM, 70, 7,
                                   "e", &why), 0);

    for (s = 0; s < 4; s++) {
        ck_assert_uint_eq(sh[s].total, n[s] * 7);
        cc_split_iter_init(&it, &p, &sh[s], s, "e");
        while ((a = cc_split_next(&it)) != 0) {
            ck_assert_uint_eq(a, 7);
        }
    }

    /* N = 1: the whole pool, also the largest */
    ck_assert_int_eq(cc_split_plan(&p, sh, one, 1, CC_SPLIT_EQUAL,
                                   CC_CAMPAIGN_POOL_MAX, 0, "e", &why), 0);
    cc_split_iter_init(&it, &p, &sh[0], 0, "e");
    ck_assert_uint_eq(cc_split_next(&it), CC_CAMPAIGN_POOL_MAX);
    ck_assert_uint_eq(cc_split_next(&it), 0);

    ck_assert_int_eq(cc_split_plan(&p, sh, one, 1, CC_SPLIT_RANDOM, 777,
                                   777, "e", &why), 0);
    cc_split_iter_init(&it, &p, &sh[0], 0, "e");
    ck_assert_uint_eq(cc_split_next(&it), 777);

    /* near 10^15 with a cap of 10^15 in random mode */
    ck_assert_int_eq(cc_split_plan(&p, sh, two, 2, CC_SPLIT_RANDOM,
                                   CC_CAMPAIGN_POOL_MAX - 1,
                                   CC_CAMPAIGN_POOL_MAX, "e", &why), 0);
    t_draw_all(&p, sh, 2, "e", "random near 10^15");

    /* 10^15 over three: base 333333333333333, one extra cent */
    ck_assert_int_eq(cc_split_plan(&p, sh, two, 2, CC_SPLIT_EQUAL,
                                   CC_CAMPAIGN_POOL_MAX, 0, "e", &why), 0);
    ck_assert_uint_eq(p.base, 333333333333333ULL);
    ck_assert_uint_eq(sh[0].extra + sh[1].extra, 1);
    t_draw_all(&p, sh, 2, "e", "equal 10^15");
}
END_TEST


/*
 * The shard that gets the extra cents is the seed's choice: one extra cent
 * among four shards of 1000 users lands in each shard about a quarter of
 * the time over 4000 seeds; and the number of extras in a shard follows
 * the hypergeometric law exactly (chi-square against the exact pmf).
 */
START_TEST(test_extra_law)
{
    int               i, j, hits[4] = { 0, 0, 0, 0 }, hist[8];
    char              seed[32];
    double            pmf[8], chi, e;
    uint64_t          n4[4] = { 1000, 1000, 1000, 1000 }, n2[2] = { 7, 13 };
    const char       *why;
    cc_split_plan_t   p;
    cc_split_shard_t  sh[4];

    for (i = 0; i < 4000; i++) {
        snprintf(seed, sizeof(seed), "law%d", i);
        T_CHECK(cc_split_plan(&p, sh, n4, 4, CC_SPLIT_EQUAL, 4000 * 3 + 1,
                              0, seed, &why) == 0, "refused");

        for (j = 0; j < 4; j++) {
            hits[j] += (int) sh[j].extra;
        }
    }

    for (j = 0; j < 4; j++) {
        ck_assert_msg(hits[j] > 850 && hits[j] < 1150,
                      "shard %d got the extra cent %d times of 4000", j,
                      hits[j]);
    }

    /* 20 users in shards of 7 and 13, 9 extra cents: extra[0] in 0..7 */
    memset(hist, 0, sizeof(hist));

    for (i = 0; i < 100000; i++) {
        snprintf(seed, sizeof(seed), "h%d", i);
        T_CHECK(cc_split_plan(&p, sh, n2, 2, CC_SPLIT_EQUAL, 20 * 4 + 9, 0,
                              seed, &why) == 0, "refused");
        hist[sh[0].extra]++;
    }

    /* C(7,x) C(13,9-x) / C(20,9) */
    for (j = 0; j < 8; j++) {
        pmf[j] = exp(lgamma(8) - lgamma(j + 1) - lgamma(8 - j)
                     + lgamma(14) - lgamma(9 - j + 1) - lgamma(13 - 9 + j + 1)
                     - (lgamma(21) - lgamma(10) - lgamma(12)));
    }

    chi = 0;

    for (j = 0; j < 8; j++) {
        e = pmf[j] * 100000;
        chi += (hist[j] - e) * (hist[j] - e) / e;
    }

    /* 7 degrees of freedom: P(chi2 > 29) < 0.0002 */
    ck_assert_msg(chi < 29, "extra cents off the hypergeometric law: "
                  "chi2 %.1f", chi);
}
END_TEST


/*
 * Users ordered by (rank, uid): the same seed gives the same uid -> amount
 * map, another seed another one; the order is not the uid order.
 */
typedef struct {
    uint64_t  rank;
    uint64_t  uid;
} t_user_t;


static int
t_user_cmp(const void *a, const void *b)
{
    const t_user_t  *x = a, *y = b;

    if (x->rank != y->rank) {
        return x->rank < y->rank ? -1 : 1;
    }

    return x->uid < y->uid ? -1 : x->uid > y->uid;
}


static void
t_map(const char *seed, cc_split_mode_e mode, uint64_t *amount)
{
    size_t            i;
    uint64_t          key, n[1] = { 1000 };
    t_user_t          u[1000];
    const char       *why;
    cc_split_iter_t   it;
    cc_split_plan_t   p;
    cc_split_shard_t  sh[1];

    key = cc_split_key(seed);

    for (i = 0; i < 1000; i++) {
        u[i].uid = 1000 + i * 7;
        u[i].rank = cc_split_rank(key, u[i].uid);
    }

    qsort(u, 1000, sizeof(u[0]), t_user_cmp);

    ck_assert_int_eq(cc_split_plan(&p, sh, n, 1, mode, 1000 * 50 + 500,
                                   mode == CC_SPLIT_RANDOM ? 200 : 0, seed,
                                   &why), 0);
    cc_split_iter_init(&it, &p, &sh[0], 0, seed);

    for (i = 0; i < 1000; i++) {
        amount[(u[i].uid - 1000) / 7] = cc_split_next(&it);
    }
}


START_TEST(test_seed_decides)
{
    int              m;
    size_t           i, moved;
    uint64_t         a[1000], b[1000], c[1000], key;
    cc_split_mode_e  mode;

    for (m = 0; m < 2; m++) {
        mode = m ? CC_SPLIT_RANDOM : CC_SPLIT_EQUAL;

        t_map("one", mode, a);
        t_map("one", mode, b);
        t_map("two", mode, c);

        ck_assert_msg(memcmp(a, b, sizeof(a)) == 0, "%s: same seed, other "
                      "awards", cc_split_mode_name(mode));

        moved = 0;
        for (i = 0; i < 1000; i++) {
            moved += a[i] != c[i];
        }

        /* equal: 500 of 1000 get the extra cent, ~half of them move */
        ck_assert_msg(moved > 300, "%s: another seed moved only %zu awards",
                      cc_split_mode_name(mode), moved);
    }

    /* the rank is the seed's, not the uid order */
    key = cc_split_key("one");
    moved = 0;
    for (i = 1; i < 1000; i++) {
        moved += cc_split_rank(key, i) < cc_split_rank(key, i + 1);
    }
    ck_assert_msg(moved > 400 && moved < 600, "rank follows the uid: %zu",
                  moved);
    ck_assert_uint_ne(cc_split_key("one"), cc_split_key("two"));
    ck_assert_uint_ne(cc_split_rank(key, 5), cc_split_rank(key + 1, 5));
}
END_TEST


START_TEST(test_rng)
{
    int       i, hist[6] = { 0, 0, 0, 0, 0, 0 };
    cc_rng_t  g, h;

    cc_rng_init(&g, "seed", "plan");
    cc_rng_init(&h, "seed", "plan");
    ck_assert_uint_eq(cc_rng_next(&g), cc_rng_next(&h));
    cc_rng_init(&h, "seed", "shard:0");
    ck_assert_uint_ne(cc_rng_next(&g), cc_rng_next(&h));
    /* the separator: ("ab","c") and ("a","bc") are different streams */
    cc_rng_init(&g, "ab", "c");
    cc_rng_init(&h, "a", "bc");
    ck_assert_uint_ne(cc_rng_next(&g), cc_rng_next(&h));

    ck_assert_uint_eq(cc_rng_below(&g, 1), 0);

    for (i = 0; i < 60000; i++) {
        hist[cc_rng_below(&g, 6)]++;
    }

    for (i = 0; i < 6; i++) {
        ck_assert_msg(hist[i] > 9500 && hist[i] < 10500, "face %d: %d", i,
                      hist[i]);
    }

    /* n just above 2^63: half the range is rejected, still in range */
    for (i = 0; i < 1000; i++) {
        T_CHECK(cc_rng_below(&g, (1ULL << 63) + 1) <= (1ULL << 63),
                "out of range");
    }
}
END_TEST


/* 10M users ranked and given their amounts: well under a CPU second */
START_TEST(test_cost)
{
    double            secs;
    clock_t           t0;
    uint64_t          i, key, sink, n[1] = { 10000000 };
    const char       *why;
    cc_split_iter_t   it;
    cc_split_plan_t   p;
    cc_split_shard_t  sh[1];

    ck_assert_int_eq(cc_split_plan(&p, sh, n, 1, CC_SPLIT_RANDOM,
                                   n[0] * 37 + 12345, 200, "cost", &why), 0);
    cc_split_iter_init(&it, &p, &sh[0], 0, "cost");
    key = cc_split_key("cost");
    sink = 0;

    t0 = clock();

    for (i = 1; i <= n[0]; i++) {
        sink += cc_split_rank(key, i) >> 40;
        sink += cc_split_next(&it);
    }

    secs = (double) (clock() - t0) / CLOCKS_PER_SEC;

    ck_assert_uint_ne(sink, 0);
    ck_assert_msg(secs < 1.0, "10M users took %.2f CPU s", secs);
    fprintf(stderr, "test_split: 10M ranks + amounts in %.3f CPU s\n", secs);
}
END_TEST


static Suite *
split_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("split");

    tc = cc_check_tcase(s, "split", test_random_cases, test_refusals,
                        test_edges, test_extra_law, test_seed_decides,
                        test_rng, test_cost);
    tcase_set_timeout(tc, 120);

    return s;
}


int
main(void)
{
    const char  *env;

    env = getenv("CC_TEST_SEED");
    test_seed = env ? strtoull(env, NULL, 10) : (uint64_t) time(NULL);
    fprintf(stderr, "test_split: CC_TEST_SEED=%" PRIu64 "\n", test_seed);

    return cc_check_run(split_suite());
}
