/*
 * cc_worker: shared plumbing of the worker binaries.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cc_worker.h"


volatile sig_atomic_t  cc_worker_run = 1;
const char            *cc_worker_name = "cc";


static volatile sig_atomic_t  cc_worker_got;


static void
cc_worker_on_signal(int sig)
{
    if (sig == SIGTERM || sig == SIGINT) {
        cc_worker_run = 0;

    } else {
        cc_worker_got = sig;
    }
}


void
cc_worker_init(const char *name)
{
    cc_worker_name = name;

    cc_worker_catch(SIGTERM);
    cc_worker_catch(SIGINT);

    signal(SIGPIPE, SIG_IGN);

    setvbuf(stdout, NULL, _IOLBF, 0);
}


void
cc_worker_catch(int sig)
{
    struct sigaction  sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cc_worker_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}


int
cc_worker_signal(void)
{
    int  sig;

    sig = cc_worker_got;
    cc_worker_got = 0;

    return sig;
}


void
cc_log(const char *fmt, ...)
{
    int         n, m;
    char        when[32], line[4096];
    time_t      now;
    va_list     ap;
    struct tm   tm;

    now = time(NULL);
    localtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);

    /*
     * The line is made whole, then written with one call: stderr is
     * unbuffered, so the threads of a worker (cc-draw's shards, cc-payout's
     * claims and batches) each write whole lines, never parts of two.  A
     * line longer than the buffer is cut, and says so.
     */
    n = snprintf(line, sizeof(line), "%s %s: ", when, cc_worker_name);

    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);

    if (m < 0) {
        m = 0;
    }

    if ((size_t) (n + m) >= sizeof(line) - 1) {
        n = (int) sizeof(line) - 5;
        memcpy(line + n, "...", 3);
        m = 3;
    }

    line[n + m] = '\n';
    fwrite(line, 1, (size_t) (n + m + 1), stderr);
}


int
cc_sleep_ms(int64_t ms)
{
    struct timespec  ts;
    int64_t          slice;

    while (ms > 0) {
        if (!cc_worker_run) {
            return -1;
        }

        slice = ms > 100 ? 100 : ms;
        ts.tv_sec = 0;
        ts.tv_nsec = slice * 1000000;
        nanosleep(&ts, NULL);
        ms -= slice;
    }

    return cc_worker_run ? 0 : -1;
}


#define CC_RETRY_FIRST_MS  100
#define CC_RETRY_MAX_MS    5000


int64_t
cc_retry_next(int64_t ms)
{
    if (ms <= 0) {
        return CC_RETRY_FIRST_MS;
    }

    return ms < CC_RETRY_MAX_MS / 2 ? ms * 2 : CC_RETRY_MAX_MS;
}


int
cc_retry_wait(int64_t *ms, const char *what, const char *err)
{
    if (*ms <= 0) {
        *ms = cc_retry_next(0);
    }

    cc_log("%s: %s; retrying in %lld ms", what, err, (long long) *ms);

    if (cc_sleep_ms(*ms) != 0) {
        return -1;
    }

    *ms = cc_retry_next(*ms);

    return 0;
}


/*
 * One word holds both the time before which no try is due (at, ms since
 * the epoch, 41 bits until 2039 and well under 50 for centuries) and the
 * wait that set it (ms, at most CC_RETRY_MAX_MS, 13 bits), so that one
 * compare-and-swap moves both: a failure is noted by the thread whose
 * swap wins; the others see the wait it set.  With two words, a thread
 * could read the old wait between the winner's two stores and double the
 * wrong one.
 */
#define CC_RETRY_MS_BITS  13

typedef char cc_retry_ms_fits[CC_RETRY_MAX_MS < (1 << CC_RETRY_MS_BITS)
                              ? 1 : -1];

#define cc_retry_word(at, ms)  ((at) << CC_RETRY_MS_BITS | (ms))
#define cc_retry_word_at(w)    ((w) >> CC_RETRY_MS_BITS)
#define cc_retry_word_ms(w)    ((w) & ((1 << CC_RETRY_MS_BITS) - 1))


int64_t
cc_retry_later(cc_retry_t *r, int64_t now)
{
    int64_t  w, at, next;

    w = __atomic_load_n(&r->word, __ATOMIC_ACQUIRE);
    at = cc_retry_word_at(w);

    if (now < at) {
        return at - now;                /* the same outage, seen again */
    }

    next = cc_retry_next(cc_retry_word_ms(w));

    if (!__atomic_compare_exchange_n(&r->word, &w,
                                     cc_retry_word(now + next, next), 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    {
        at = cc_retry_word_at(w);       /* another thread's wait */
        return at > now ? at - now : 0;
    }

    return next;
}


int
cc_retry_due(cc_retry_t *r, int64_t now)
{
    return now >= cc_retry_at(r);
}


void
cc_retry_ok(cc_retry_t *r)
{
    __atomic_store_n(&r->word, 0, __ATOMIC_RELEASE);
}


int64_t
cc_retry_at(cc_retry_t *r)
{
    return cc_retry_word_at(__atomic_load_n(&r->word, __ATOMIC_ACQUIRE));
}


int64_t
cc_retry_ms(cc_retry_t *r)
{
    return cc_retry_word_ms(__atomic_load_n(&r->word, __ATOMIC_ACQUIRE));
}


int
cc_opt_done(int parsed, int *status)
{
    if (parsed == CC_OPT_OK) {
        return 0;
    }

    *status = parsed == CC_OPT_HELP ? 0 : 2;

    return 1;
}


int
cc_opt_int(const char *opt, const char *s, long long min, long long max,
    long long *out)
{
    char       *end;
    long long   v;

    errno = 0;
    v = strtoll(s, &end, 10);

    /* strtoll would also take leading space and a '+' */
    if (!(*s == '-' || (*s >= '0' && *s <= '9')) || *end != '\0'
        || errno != 0 || v < min || v > max)
    {
        fprintf(stderr, "%s: %s must be an integer in %lld..%lld, not \"%s\"\n",
                cc_worker_name, opt, min, max, s);
        return -1;
    }

    *out = v;
    return 0;
}


int
cc_opt_num(const cc_opt_num_t *t, size_t n, int c, const char *s)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (t[i].c == c) {
            return cc_opt_int(t[i].name, s, t[i].min, t[i].max, t[i].v) != 0
                   ? -1 : 0;
        }
    }

    return 1;
}
