/*
 * cc_worker: what every worker binary does the same way: log lines with a
 * time and the program's name, stop on SIGTERM/SIGINT (and report other
 * signals a worker asks for), sleep in a way a stop interrupts, back off
 * while a store is away (sleeping, or by a time the next try is due),
 * parse bounded numeric options, and say what option parsing ended in.
 */

#ifndef CC_WORKER_H
#define CC_WORKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cc_clock.h"            /* cc_now_ms(), the workers' clock */

extern volatile sig_atomic_t  cc_worker_run;
extern const char            *cc_worker_name;

void cc_worker_init(const char *name);

/*
 * Catches sig (SIGUSR1, SIGUSR2, SIGHUP) too: cc_worker_signal then
 * returns it, once, or 0 when none of them came since the last call.
 */
void cc_worker_catch(int sig);
int cc_worker_signal(void);

void cc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sleeps ms, in slices, returning early (-1) once a stop was asked */
int cc_sleep_ms(int64_t ms);

/*
 * Waits before the next try of a store that is away: logs "what: err;
 * retrying in N ms", sleeps N ms, and sets *ms to the next wait.  *ms
 * starts at 0: the waits are 100 ms, doubled each time, at most 5 s.
 * 0 to try again, -1 once a stop was asked.
 */
int cc_retry_wait(int64_t *ms, const char *what, const char *err);

/* the wait after one of ms (0: the first), as cc_retry_wait takes them */
int64_t cc_retry_next(int64_t ms);

/*
 * The same backoff for a loop that cannot sleep (it has other work, or
 * threads share the store): no waiting, only a time before which the
 * next try is not due.  cc_retry_later notes a failure at now and returns
 * the wait (100 ms, doubled each time, at most 5 s, as cc_retry_wait's);
 * a failure noted while a wait runs is the same outage and lengthens
 * nothing.  cc_retry_due says whether the next try is due; cc_retry_ok,
 * once the store served again, makes the next wait the first.  Safe from
 * several threads at once.  A zeroed cc_retry_t is due at once.
 */
typedef struct {
    int64_t  word;          /* at << 13 | ms, in one word: see cc_worker.c */
} cc_retry_t;

int64_t cc_retry_later(cc_retry_t *r, int64_t now);
int cc_retry_due(cc_retry_t *r, int64_t now);
void cc_retry_ok(cc_retry_t *r);

/* the time before which no try is due (ms as cc_now_ms), the wait set last */
int64_t cc_retry_at(cc_retry_t *r);
int64_t cc_retry_ms(cc_retry_t *r);

/*
 * What every worker's option parser returns: CC_OPT_OK to go on;
 * CC_OPT_HELP once --help printed the usage on stdout, and main exits 0
 * through its cleanup path; CC_OPT_BAD once a clear error was printed on
 * stderr, and main exits 2 the same way.
 */
#define CC_OPT_BAD   -1
#define CC_OPT_OK     0
#define CC_OPT_HELP   1

/*
 * After a parser: 0 when it returned CC_OPT_OK (the run goes on, *status
 * untouched); else 1 with *status the exit status, 0 after --help and 2
 * after a bad option:  if (cc_opt_done(parse(...), &rc)) goto done;
 */
int cc_opt_done(int parsed, int *status);

/* strict decimal in [min, max]; 0, or -1 after printing an error */
int cc_opt_int(const char *opt, const char *s, long long min, long long max,
    long long *out);

/* an option that takes a number: its getopt value, name, bounds, place */
typedef struct {
    int          c;
    const char  *name;
    long long    min;
    long long    max;
    long long   *v;
} cc_opt_num_t;

/*
 * getopt's c among the n options of t (cc_opt_int into its place): 0
 * parsed, -1 out of bounds (said), 1 not one of them.
 */
int cc_opt_num(const cc_opt_num_t *t, size_t n, int c, const char *s);

#endif /* CC_WORKER_H */
