/*
 * Unit tests of common/cc_rand: the draws' generator.  Its output is
 * uniform (chi-square over bytes, and over cards drawn by the default
 * weights), processes that fork and init draw apart, and the attack that
 * predicts random() (what ngx_random() is: glibc's additive feedback
 * generator, o[i] = o[i-3] + o[i-31] mod 2^31, off by one at most)
 * predicts random() and not it.
 */

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cc_rand.h"
#include "cc_cards.h"
#include "cc_check.h"


#define NBYTES  (1 << 22)


/*
 * The chi-square statistic of counts over k bins of n draws.  For k - 1
 * degrees of freedom its mean is k - 1 and its standard deviation
 * sqrt(2 (k - 1)): the bounds below are 6 standard deviations, so a good
 * generator fails them about once in 10^9 runs.
 */
static double
chi_square(const uint64_t *count, const double *expected, unsigned k)
{
    unsigned  i;
    double    d, x;

    x = 0;

    for (i = 0; i < k; i++) {
        d = (double) count[i] - expected[i];
        x += d * d / expected[i];
    }

    return x;
}


START_TEST(test_rand_bytes_uniform)
{
    unsigned   i, j;
    uint64_t   v, count[256];
    double     expected[256];
    cc_rand_t  rnd;

    cc_rand_init(&rnd);
    memset(count, 0, sizeof(count));

    for (i = 0; i < NBYTES / 8; i++) {
        ck_assert_int_eq(cc_rand_u64(&rnd, &v), 0);

        for (j = 0; j < 8; j++) {
            count[(v >> (8 * j)) & 0xff]++;
        }
    }

    for (i = 0; i < 256; i++) {
        expected[i] = NBYTES / 256.0;
    }

    /* 255 degrees of freedom: mean 255, sd 22.6 */
    ck_assert_double_lt(chi_square(count, expected, 256), 255 + 6 * 22.6);
    ck_assert_double_gt(chi_square(count, expected, 256), 255 - 6 * 22.6);
}
END_TEST


START_TEST(test_rand_cards_uniform)
{
    unsigned    i, n;
    uint64_t    v, count[CC_KINDS_MAX];
    double      expected[CC_KINDS_MAX], x;
    cc_rand_t   rnd;
    cc_cards_t  cards;

    cc_cards_default(&cards);
    cc_rand_init(&rnd);
    memset(count, 0, sizeof(count));

    n = 2000000;

    for (i = 0; i < n; i++) {
        ck_assert_int_eq(cc_rand_u64(&rnd, &v), 0);
        count[cc_cards_pick(&cards, v)]++;
    }

    for (i = 0; i < cards.nkinds; i++) {
        expected[i] = (double) n * cards.weight[i] / cards.total;
    }

    /* 4 degrees of freedom: mean 4, sd 2.8; the rare kind is in it */
    x = chi_square(count, expected, cards.nkinds);
    ck_assert_double_lt(x, 4 + 6 * 2.83);
}
END_TEST


/*
 * A worker forks from a master that may have drawn: each child inits, as
 * nginx workers do, and draws.  Without the init they would share the
 * buffered bytes; with it, they and the parent draw apart.
 */
START_TEST(test_rand_forks_differ)
{
    int        fd[2][2];
    pid_t      pid[2];
    unsigned   c, i;
    uint64_t   v, mine[4], theirs[2][4];
    cc_rand_t  rnd;

    cc_rand_init(&rnd);
    ck_assert_int_eq(cc_rand_u64(&rnd, &v), 0);     /* the buffer filled */

    for (c = 0; c < 2; c++) {
        ck_assert_int_eq(pipe(fd[c]), 0);
        pid[c] = fork();
        ck_assert_int_ge(pid[c], 0);

        if (pid[c] == 0) {
            cc_rand_init(&rnd);

            for (i = 0; i < 4; i++) {
                if (cc_rand_u64(&rnd, &mine[i]) != 0) {
                    _exit(1);
                }
            }

            _exit(write(fd[c][1], mine, sizeof(mine)) == sizeof(mine)
                  ? 0 : 1);
        }

        close(fd[c][1]);
    }

    for (c = 0; c < 2; c++) {
        int  status;

        ck_assert_int_eq(read(fd[c][0], theirs[c], sizeof(theirs[c])),
                         sizeof(theirs[c]));
        close(fd[c][0]);
        ck_assert_int_eq(waitpid(pid[c], &status, 0), pid[c]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(cc_rand_u64(&rnd, &mine[i]), 0);
    }

    ck_assert(memcmp(theirs[0], theirs[1], sizeof(theirs[0])) != 0);
    ck_assert(memcmp(theirs[0], mine, sizeof(mine)) != 0);
    ck_assert(memcmp(theirs[1], mine, sizeof(mine)) != 0);
}
END_TEST


/* how many of n 31-bit outputs o[i] (i >= 31) the random() attack predicts */
static unsigned
predicted(const uint32_t *o, unsigned n)
{
    unsigned  i, hits;
    uint32_t  guess;

    hits = 0;

    for (i = 31; i < n; i++) {
        guess = (o[i - 31] + o[i - 3]) & 0x7fffffff;

        if (o[i] == guess || o[i] == ((guess + 1) & 0x7fffffff)) {
            hits++;
        }
    }

    return hits;
}


START_TEST(test_rand_not_predictable_like_random)
{
    unsigned   i, n;
    uint32_t   o[1000];
    uint64_t   v;
    cc_rand_t  rnd;

    n = 1000;

    /* random() seeded as nginx seeds a worker: pid and time */
    srandom(((unsigned) getpid() << 16) ^ 1764240000u ^ 123u);

    for (i = 0; i < n; i++) {
        o[i] = (uint32_t) random();
    }

    ck_assert_uint_eq(predicted(o, n), n - 31);   /* every one */

    /* the same attack on the draws: 2 in 2^31 a guess */
    cc_rand_init(&rnd);

    for (i = 0; i < n; i++) {
        ck_assert_int_eq(cc_rand_u64(&rnd, &v), 0);
        o[i] = (uint32_t) (v >> 33);
    }

    ck_assert_uint_le(predicted(o, n), 1);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("rand");

    tc = cc_check_tcase(s, "rand", test_rand_bytes_uniform,
                        test_rand_cards_uniform, test_rand_forks_differ,
                        test_rand_not_predictable_like_random);
    tcase_set_timeout(tc, 60);

    return cc_check_run(s);
}
