/*
 * Unit tests of workers/lib/cc_worker.c: the backoff every worker uses while
 * MySQL is away, the bounded numeric options, and cc_log's lines.
 */

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc_worker.h"
#include "cc_check.h"


START_TEST(test_retry_next)
{
    int64_t  ms;
    int64_t  want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000 };
    size_t   i;

    for (ms = 0, i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ms = cc_retry_next(ms);
        ck_assert_int_eq(ms, want[i]);
    }

    ck_assert_int_eq(cc_retry_next(-5), 100);
    ck_assert_int_eq(cc_retry_next(2499), 4998);
    ck_assert_int_eq(cc_retry_next(2500), 5000);
}
END_TEST


START_TEST(test_retry_wait)
{
    int64_t  ms, t0, took;

    /* the first wait is 100 ms; the one after it 200 */
    cc_worker_run = 1;
    ms = 0;
    t0 = cc_now_ms();
    ck_assert_int_eq(cc_retry_wait(&ms, "mysql", "gone"), 0);
    took = cc_now_ms() - t0;
    ck_assert_msg(took >= 100, "waited %lld ms", (long long) took);
    ck_assert_int_eq(ms, 200);

    /* a stop ends the wait at once, and says so */
    cc_worker_run = 0;
    ms = 5000;
    t0 = cc_now_ms();
    ck_assert_int_eq(cc_retry_wait(&ms, "mysql", "gone"), -1);
    took = cc_now_ms() - t0;
    ck_assert_msg(took < 1000, "waited %lld ms", (long long) took);
    cc_worker_run = 1;
}
END_TEST


/* a parser's answer to main's: go on, or exit 0 (--help) or 2 */
START_TEST(test_opt_done)
{
    int  status;

    status = 7;
    ck_assert_int_eq(cc_opt_done(CC_OPT_OK, &status), 0);
    ck_assert_int_eq(status, 7);                   /* untouched */
    ck_assert_int_eq(cc_opt_done(CC_OPT_HELP, &status), 1);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(cc_opt_done(CC_OPT_BAD, &status), 1);
    ck_assert_int_eq(status, 2);
}
END_TEST


START_TEST(test_retry_later)
{
    size_t      i;
    int64_t     now, want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000 };
    cc_retry_t  r;

    memset(&r, 0, sizeof(r));
    now = 1000000;
    ck_assert_int_eq(cc_retry_due(&r, now), 1);     /* zeroed: at once */

    /* each failure once its wait is over doubles the wait, up to 5 s */
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ck_assert_int_eq(cc_retry_later(&r, now), want[i]);
        ck_assert_int_eq(cc_retry_due(&r, now), 0);
        ck_assert_int_eq(cc_retry_due(&r, now + want[i] - 1), 0);

        /* a failure during the wait: the same outage, no longer wait */
        ck_assert_int_eq(cc_retry_later(&r, now + 10), want[i] - 10);
        ck_assert_int_eq(cc_retry_due(&r, now + want[i] - 1), 0);

        now += want[i];
        ck_assert_int_eq(cc_retry_due(&r, now), 1);
    }

    /* a time of today, in ms, keeps its every bit beside the wait */
    cc_retry_ok(&r);
    ck_assert_int_eq(cc_retry_later(&r, 1764547200123), 100);
    ck_assert_int_eq(cc_retry_at(&r), 1764547200223);
    ck_assert_int_eq(cc_retry_ms(&r), 100);
    ck_assert_int_eq(cc_retry_due(&r, 1764547200222), 0);
    ck_assert_int_eq(cc_retry_due(&r, 1764547200223), 1);

    /* served again: the next failure waits the first wait */
    cc_retry_ok(&r);
    ck_assert_int_eq(cc_retry_due(&r, now), 1);
    ck_assert_int_eq(cc_retry_later(&r, now), 100);
}
END_TEST


/* threads failing at the same moment: one outage, one wait */
static cc_retry_t  retry_shared;
static int64_t     retry_now;

static void *
retry_thread(void *arg)
{
    int64_t  *waited = arg;

    *waited = cc_retry_later(&retry_shared, retry_now);
    return NULL;
}


START_TEST(test_retry_later_threads)
{
    int        round;
    size_t     i;
    int64_t    waited[8];
    pthread_t  tid[8];

    memset(&retry_shared, 0, sizeof(retry_shared));
    retry_now = 5000;

    for (round = 0; round < 3; round++) {
        for (i = 0; i < 8; i++) {
            ck_assert_int_eq(pthread_create(&tid[i], NULL, retry_thread,
                                            &waited[i]), 0);
        }

        for (i = 0; i < 8; i++) {
            pthread_join(tid[i], NULL);
            ck_assert_int_eq(waited[i], 100 << round);
        }

        ck_assert_int_eq(cc_retry_ms(&retry_shared), 100 << round);
        ck_assert_int_eq(cc_retry_at(&retry_shared), retry_now + (100 << round));
        retry_now += 100 << round;
    }
}
END_TEST


static const struct {
    const char  *s;
    long long    min, max;
    int          rc;
    long long    v;
} opts[] = {
    { "0", 0, 10, 0, 0 },
    { "10", 0, 10, 0, 10 },
    { "-3", -5, 5, 0, -3 },
    { "9223372036854775807", 0, 9223372036854775807LL, 0,
      9223372036854775807LL },
    { "", 0, 10, -1, 0 },
    { "11", 0, 10, -1, 0 },
    { "-1", 0, 10, -1, 0 },
    { "1x", 0, 10, -1, 0 },
    { " 1", 0, 10, -1, 0 },
    { "+1", 0, 10, -1, 0 },
    { "-", -5, 5, -1, 0 },
    { "1 ", 0, 10, -1, 0 },
    { "0x10", 0, 100, -1, 0 },
    { "9223372036854775808", 0, 9223372036854775807LL, -1, 0 },
};


START_TEST(test_opt_int)
{
    long long  v = -42;
    int        rc;

    rc = cc_opt_int("--n", opts[_i].s, opts[_i].min, opts[_i].max, &v);
    ck_assert_msg(rc == opts[_i].rc, "#%d \"%s\": %d", _i, opts[_i].s, rc);

    if (rc == 0) {
        ck_assert_int_eq(v, opts[_i].v);

    } else {
        ck_assert_int_eq(v, -42);          /* untouched */
    }
}
END_TEST


/* cc_opt_num: the option found in its table, its bounds, or none */
START_TEST(test_opt_num)
{
    long long           a = -1, b = -1;
    const cc_opt_num_t  t[] = {
        { 'a', "--a", 1, 10, &a },
        { 'b', "--b", 0, 100, &b },
    };

    ck_assert_int_eq(cc_opt_num(t, 2, 'b', "42"), 0);
    ck_assert_int_eq(b, 42);
    ck_assert_int_eq(a, -1);                /* the other one untouched */

    ck_assert_int_eq(cc_opt_num(t, 2, 'a', "11"), -1);     /* its bounds */
    ck_assert_int_eq(a, -1);
    ck_assert_int_eq(cc_opt_num(t, 2, 'a', "x"), -1);
    ck_assert_int_eq(cc_opt_num(t, 2, 'a', "10"), 0);
    ck_assert_int_eq(a, 10);

    ck_assert_int_eq(cc_opt_num(t, 2, 'c', "1"), 1);        /* not one */
    ck_assert_int_eq(cc_opt_num(t, 0, 'a', "1"), 1);
    ck_assert_int_eq(a, 10);
}
END_TEST


/*
 * cc_log's lines, stderr sent to a file: each whole with its prefix (two
 * threads logging at once never cut into each other's lines), and one
 * longer than its buffer cut with "...".
 */
static void *
log_many(void *arg)
{
    int  i;

    for (i = 0; i < 2000; i++) {
        cc_log("thread %s line %d %s", (const char *) arg, i,
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    }

    return NULL;
}


START_TEST(test_log_lines)
{
    int         fd, saved, whole, lines;
    char        path[] = "/tmp/test_worker_log.XXXXXX", *big, buf[8192];
    FILE       *f;
    pthread_t   a, b;

    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);

    pthread_create(&a, NULL, log_many, "a");
    pthread_create(&b, NULL, log_many, "b");
    pthread_join(a, NULL);
    pthread_join(b, NULL);

    big = malloc(10000);
    memset(big, 'y', 9999);
    big[9999] = '\0';
    cc_log("big %s", big);
    free(big);

    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);

    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    whole = 0;
    lines = 0;

    while (fgets(buf, sizeof(buf), f) != NULL) {
        lines++;

        if (strstr(buf, " test_worker: thread ") != NULL
            && strstr(buf, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                           "xxxxxxx\n") != NULL
            && strstr(buf + 1, "test_worker:") == strstr(buf, "test_worker:"))
        {
            whole++;

        } else if (strstr(buf, " test_worker: big yyy") != NULL) {
            ck_assert_uint_eq(strlen(buf), 4095);
            ck_assert_str_eq(buf + 4091, "...\n");

        } else {
            ck_abort_msg("a line cut or mixed: \"%.120s\"", buf);
        }
    }

    fclose(f);
    unlink(path);

    ck_assert_int_eq(whole, 4000);
    ck_assert_int_eq(lines, 4001);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    cc_worker_init("test_worker");

    s = suite_create("worker");
    tc = cc_check_tcase(s, "worker", test_retry_next, test_retry_wait,
                        test_opt_done, test_retry_later,
                        test_retry_later_threads, test_log_lines,
                        test_opt_num);
    cc_check_loop(tc, test_opt_int, opts);

    return cc_check_run(s);
}
