/*
 * cc-payout: pays the scheduled draw's awards into the users' wallets.
 *
 * cc-draw writes one award per eligible user into the user's MySQL shard
 * (table awards, status pending) and "p:amount:award_id" into field w of
 * the user's Redis hash.  This worker credits them in three steps, each
 * a transaction per MySQL shard:
 *
 *   (a) claims: LPOP cc:claims COUNT 256 on every Redis shard (uids the
 *       module queued for users waiting on POST /cc/claim), all the
 *       time, in a thread of its own, each uid queued for its MySQL
 *       shard's claims' thread (one a shard, each with its own
 *       connections), which credits all its queued claims in a small
 *       transaction, then at once their notice; beside (b) (a user
 *       waits: not for a bulk batch, nor for another shard's claims),
 *       and before (b) begins;
 *   (b) bulk: the next --batch pending awards of each shard, in award id
 *       order from where the pass got to, every shard in a thread of its
 *       own (their transactions and notices overlap), joined before (c)
 *       runs, in a loop;
 *   (c) outbox: notices owed but not sent (a crash between the commit
 *       and Redis leaves some): awards credited with notified = 0, and
 *       the open rows of award_notices, each row's range told again.
 *
 * A credit is cc_wallet_credit() on the campaign's wallet and the awards'
 * UPDATE to credited (WHERE status IN ('pending', 'crediting')) in one
 * transaction, so the award and its transfer commit together.  The
 * transfer's id is the award id (the ledger's primary key), which makes a
 * retry, a second payer or a credit made by someone else harmless: it
 * writes nothing.  A notice is the never-backwards script award_set.lua
 * setting w to "c:..." on the user's Redis shard; what says it is owed
 * commits with the credit (a bulk batch: one row of award_notices, told
 * once Redis holds the batch's notices; a claim: notified = 0, then 1 in
 * the claims' next transaction on the shard; see sql/money.sql), so a
 * crash between the two sends the notice again,
 * which the script makes harmless.  So the worker may be killed anywhere
 * and restarted.
 *
 * A claim popped and not credited (a crash, MySQL down) is not lost: the
 * award stays pending and the bulk pass pays it; only the user waits.
 * An award whose id the ledger holds with another amount or wallet
 * (MISMATCH) is not paid, stays pending and is logged on every pass;
 * cc-reconcile --money reports it.  A batch the pool cannot pay
 * (NO_FUNDS) is rolled back and logged.
 *
 * This file: the options, the loop, the counts and main; the steps are in
 * cc_payout_step.c, a shard's credit and notice in cc_payout_shard.c (see
 * cc_payout.h).
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_alert.h"
#include "cc_ledger_phase.h"
#include "cc_payout.h"
#include "cc_promfile.h"
#include "cc_redis.h"
#include "cc_secret.h"


static void
cc_payout_usage(FILE *out)
{
    fprintf(out,
"usage: cc-payout --campaign FILE --redis HOST:PORT [--redis ...]\n"
"                 --mysql HOST:PORT/DB [--mysql ...] [--batch N] [--once]\n"
"\n"
"Credits the scheduled draw's pending awards into the users' wallets (the\n"
"ledger in each MySQL shard) and tells each user's Redis shard (field w of\n"
"cc:{uid}:u becomes \"c:amount:award_id\").  Claims queued by the module\n"
"(cc:claims) are served at once, beside the rest, which goes in batches,\n"
"one transaction per MySQL shard each.  Safe to kill and restart\n"
"anywhere: nothing is credited twice, nothing is lost.  SIGTERM finishes\n"
"the batch and exits.\n"
"\n"
"  --campaign FILE   the campaign file (the same cc-draw read)\n"
"  --redis ADDR      a Redis shard, exactly as in cc_redis_shards and in\n"
"                    its order (the uid's shard is the module's), repeat;\n"
"                    a master name with --sentinel\n"
"  --mysql SHARD     a MySQL shard, host:port/database, repeat in ring order;\n"
"                    host:port,host:port/database: the writable one of\n"
"                    these (@@read_only = 0), asked again on each connect\n"
"  --user NAME       MySQL user (default " CC_ROLE_PAYOUT ")\n"
CC_SECRET_MYSQL_HELP
CC_SECRET_REDIS_HELP
CC_REDIS_SENTINEL_HELP
"  --batch N         awards per bulk transaction, 1..50000 (default 5000)\n"
"  --claims-batch N  awards per bulk transaction while claims come (one\n"
"                    popped in the last second), 1..50000 (default 1000):\n"
"                    a claim whose award is in the batch in flight waits\n"
"                    for that batch\n"
"  --claims-yield-ms MS  while claims come, the bulk waits MS before each\n"
"                    batch, 0..1000 (default 20): a claim is a user\n"
"                    waiting, the bulk is not\n"
"  --once            pay what is pending and notify, then exit: 0 when\n"
"                    every award was paid, 1 when some could not be\n"
"                    (mismatch, no funds: logged)\n"
"  --interval SEC    a new pass over the pending awards every SEC seconds\n"
"                    when not --once (default 10); claims are served all\n"
"                    the time\n"
"  --idle-ms MS      sleep when there was nothing to do (default 10)\n"
"  --claims-idle-ms MS  between looks at cc:claims when none came\n"
"                    (default 2): a user is waiting\n"
"  --progress SEC    a progress line every SEC seconds (default 10)\n"
"  --alert-timeout SEC  wallet http: kill the campaign's alert command\n"
"                    after SEC (default 10)\n"
"  --metrics-file PATH  a Prometheus textfile written with each progress\n"
"                    line and at exit (cc_payout_*)\n"
"  --shard-of UID..  print \"uid redis-shard mysql-shard\" for each UID\n"
"                    and exit: where a user's award and notice go\n"
"  --help            this text\n"
"\n"
"Exit status: 0 done (or stopped), 1 awards left unpaid (--once),\n"
"2 bad usage or campaign file.\n");
}


/*
 * The options that take a number, each with its bounds: 0 parsed, -1 out
 * of bounds (said), 1 not one of them.
 */
static int
cc_payout_parse_number(int c, const char *arg, cc_payout_opts_t *o)
{
    const cc_opt_num_t  nums[] = {
        { 'n', "--batch",          1, 50000, &o->batch },
        { 'i', "--interval",       1, 86400, &o->interval_s },
        { 'l', "--idle-ms",        1, 10000, &o->idle_ms },
        { 'B', "--claims-batch",   1, 50000, &o->claims_batch },
        { 'Y', "--claims-yield-ms", 0, 1000, &o->claims_yield_ms },
        { 'L', "--claims-idle-ms", 1, 10000, &o->claims_idle_ms },
        { 'A', "--alert-timeout",  1, 3600,  &o->alert_timeout_s },
        { 'p', "--progress",       1, 86400, &o->progress_s },
    };

    return cc_opt_num(nums, sizeof(nums) / sizeof(nums[0]), c, arg);
}


static int
cc_payout_parse(int argc, char **argv, cc_payout_opts_t *o)
{
    int  c;

    static const struct option  opts[] = {
        { "campaign", required_argument, NULL, 'c' },
        { "redis",    required_argument, NULL, 'r' },
        { "mysql",    required_argument, NULL, 'm' },
        { "user",     required_argument, NULL, 'u' },
        { "batch",    required_argument, NULL, 'n' },
        { "interval", required_argument, NULL, 'i' },
        { "idle-ms",  required_argument, NULL, 'l' },
        { "claims-batch",   required_argument, NULL, 'B' },
        { "claims-idle-ms", required_argument, NULL, 'L' },
        { "claims-yield-ms", required_argument, NULL, 'Y' },
        { "alert-timeout",  required_argument, NULL, 'A' },
        { "progress", required_argument, NULL, 'p' },
        { "once",     no_argument,       NULL, 'o' },
        { "shard-of", no_argument,       NULL, 's' },
        { "metrics-file", required_argument, NULL, 'M' },
        { "help",     no_argument,       NULL, 'h' },
        CC_SECRET_MYSQL_OPTIONS,
        CC_SECRET_REDIS_OPTIONS,
        CC_REDIS_SENTINEL_OPTION,
        { NULL, 0, NULL, 0 }
    };

    memset(o, 0, sizeof(*o));
    o->user = CC_ROLE_PAYOUT;
    o->batch = 5000;
    o->claims_batch = 1000;
    o->claims_yield_ms = CC_PAYOUT_CLAIMS_YIELD_MS;
    o->claims_idle_ms = 2;
    o->alert_timeout_s = CC_ALERT_TIMEOUT_S;
    o->interval_s = 10;
    o->idle_ms = 10;
    o->progress_s = 10;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o->campaign = optarg; break;
        case 'u': o->user = optarg; break;
        case 'o': o->once = 1; break;
        case 's': o->shard_of = 1; break;
        case 'M': o->metrics = optarg; break;

        case 'r':
            if (o->nredis == CC_PAYOUT_REDIS_MAX) {
                fprintf(stderr, "cc-payout: at most %d --redis\n",
                        CC_PAYOUT_REDIS_MAX);
                return -1;
            }
            o->redis[o->nredis++] = optarg;
            break;

        case 'm':
            if (o->nmysql == CC_STORE_SHARDS_MAX) {
                fprintf(stderr, "cc-payout: at most %d --mysql\n",
                        CC_STORE_SHARDS_MAX);
                return -1;
            }
            o->mysql[o->nmysql++] = optarg;
            break;

        case 'h':
            cc_payout_usage(stdout);
            return CC_OPT_HELP;

        case CC_REDIS_OPT_SENTINEL:
            if (cc_redis_opt_sentinel(optarg) != 0) {
                return -1;
            }
            break;

        case CC_SECRET_OPT_MYSQL_FILE:
        case CC_SECRET_OPT_REDIS_USER:
        case CC_SECRET_OPT_REDIS_FILE:
            (void) cc_secret_opt(c, optarg);
            break;

        default:
            switch (cc_payout_parse_number(c, optarg, o)) {
            case 0:
                break;
            case 1:
                cc_payout_usage(stderr);
                /* fall through */
            default:
                return -1;
            }
        }
    }

    if (o->shard_of) {
        o->uids = &argv[optind];
        o->nuids = argc - optind;

    } else if (optind != argc) {
        fprintf(stderr, "cc-payout: unexpected argument \"%s\"\n",
                argv[optind]);
        return -1;
    }

    if (o->campaign == NULL || o->nredis == 0 || o->nmysql == 0) {
        fprintf(stderr, "cc-payout: --campaign, --redis and --mysql are "
                "required (see --help)\n");
        return -1;
    }

    return 0;
}


/* the counts of every shard */
static void
cc_payout_total(cc_payout_t *p, cc_payout_stats_t *t)
{
    size_t              s;
    cc_payout_stats_t  *x;

    memset(t, 0, sizeof(*t));

    pthread_mutex_lock(&p->mu);

    for (s = 0; s < 2 * p->st.nshards; s++) {
        x = s < p->st.nshards ? &p->shard[s].stats
                              : &p->cstats[s - p->st.nshards];
        t->credited += x->credited;
        t->claimed += x->claimed;
        t->exists += x->exists;
        t->mismatch += x->mismatch;
        t->no_funds += x->no_funds;
        t->raced += x->raced;
        t->notified += x->notified;
    }

    t->bad_claims = p->bad_claims;

    pthread_mutex_unlock(&p->mu);

    memset(&t->wallet, 0, sizeof(t->wallet));

    for (s = 0; s < p->st.nshards; s++) {
        cc_wallet_counts(p->shard[s].wallet, &t->wallet);
        cc_wallet_counts(p->claim[s].wallet, &t->wallet);
    }

    t->forged = t->wallet.forged;
}


static void
cc_payout_report(cc_payout_t *p, const char *what, double rate)
{
    cc_payout_stats_t   all;
    cc_payout_stats_t  *t = &all;

    cc_payout_total(p, t);

    cc_log("%s: %llu credited (%llu on claims), %llu already credited, "
           "%llu mismatch, %llu no funds, %llu notified, %llu bad claims; "
           "%.0f credits/s", what, t->credited, t->claimed, t->exists,
           t->mismatch, t->no_funds, t->notified, t->bad_claims, rate);

    if (t->forged > 0) {
        cc_log("%s: %llu answers not signed by the wallet, taken as none",
               what, t->forged);
    }
}


static void
cc_payout_metrics(cc_payout_t *p, double rate)
{
    cc_promfile_t       pf;
    cc_payout_stats_t   all;
    cc_payout_stats_t  *t = &all;

    if (p->o.metrics == NULL) {
        return;
    }

    cc_payout_total(p, t);

    cc_promfile_begin(&pf);
    cc_promfile_add(&pf, "cc_payout_rows_total", "counter",
                    "Awards credited by this process", t->credited);
    cc_promfile_add(&pf, "cc_payout_claims_total", "counter",
                    "Awards credited on a user's claim", t->claimed);
    cc_promfile_add(&pf, "cc_payout_notified_total", "counter",
                    "Credited awards told to Redis", t->notified);
    cc_promfile_add(&pf, "cc_payout_mismatch_total", "counter",
                    "Awards not paid: the ledger holds their id with "
                    "another amount or wallet", t->mismatch);
    cc_promfile_add(&pf, "cc_payout_no_funds_total", "counter",
                    "Awards not paid: the pool holds too little", t->no_funds);
    cc_promfile_add(&pf, "cc_payout_raced_total", "counter",
                    "Awards a credit found credited by another payer "
                    "meanwhile: rolled back, paid by the next pass",
                    t->raced);
    cc_promfile_add(&pf, "cc_payout_bad_claims_total", "counter",
                    "cc:claims entries dropped: not a uid", t->bad_claims);
    cc_promfile_add(&pf, "cc_payout_wallet_unsigned_answers_total",
                    "counter", "wallet http: answers not signed by the "
                    "wallet, taken as no answer", t->forged);
    cc_promfile_add(&pf, "cc_payout_wallet_batches_total", "counter",
                    "wallet http, batch mode: batches the wallet accepted",
                    t->wallet.batches);
    cc_promfile_add(&pf, "cc_payout_wallet_batches_in_flight", "gauge",
                    "wallet http, batch mode: batches sent and not read "
                    "back yet", t->wallet.inflight);
    cc_promfile_add(&pf, "cc_payout_wallet_details_failed_total", "counter",
                    "wallet http, batch mode: details the wallet failed, "
                    "each sent again in a later batch", t->wallet.failed);
    cc_promfile_add(&pf, "cc_payout_wallet_claim_calls_total", "counter",
                    "wallet http, batch mode: claimed awards sent as single "
                    "calls, not in a batch", t->wallet.single);
    cc_promfile_add(&pf, "cc_payout_wallet_unknown_total", "counter",
                    "wallet http: credits left crediting without an answer "
                    "(asked again by the next pass)", t->wallet.unknown);
    cc_promfile_add(&pf, "cc_payout_wallet_voided_total", "counter",
                    "wallet http, batch mode: failed details' pending "
                    "transfers voided (each award's next attempt pending)",
                    t->wallet.voided);
    cc_promfile_add(&pf, "cc_payout_wallet_batches_overdue_total",
                    "counter", "wallet http, batch mode: batches without "
                    "a result past wallet_batch_age_ms, alerted (still "
                    "queried)", t->wallet.overdue);
    cc_promfile_add(&pf, "cc_payout_rate", "gauge",
                    "Credits per second since the last progress line", rate);
    cc_promfile_add(&pf, "cc_payout_last_success_timestamp_seconds", "gauge",
                    "When a turn last reached every MySQL shard",
                    p->last_ok_ms / 1000.0);

    if (cc_promfile_commit(&pf, p->o.metrics) != 0) {
        cc_log("--metrics-file %s: %s", p->o.metrics, strerror(errno));
    }
}


/*
 * Starts the claims' popping thread (which starts a claims' thread per
 * MySQL shard), and waits for their first turns: the claims queued at
 * the first pop go first (a turn of each shard that had some), the bulk
 * begins after them (a stop ends them as well).  0, or 2 when a thread
 * (or memory for the queues) could not be had.
 */
static int
cc_payout_claims_start(cc_payout_t *p)
{
    int  e;

    e = pthread_create(&p->claims_tid, NULL, cc_payout_step_claims_thread, p);
    if (e != 0) {
        cc_log("cannot start the claims' thread: %s", strerror(e));
        return 2;
    }

    p->claims_threaded = 1;

    pthread_mutex_lock(&p->mu);

    while (!p->claims_started) {
        pthread_cond_wait(&p->cv, &p->mu);
    }

    pthread_mutex_unlock(&p->mu);

    if (p->claims_started < 0) {        /* it could not queue claims */
        pthread_join(p->claims_tid, NULL);
        p->claims_threaded = 0;
        return 2;
    }

    return 0;
}


/* it finishes the claims it popped, then stops */
static void
cc_payout_claims_stop(cc_payout_t *p)
{
    if (p->claims_threaded) {
        __atomic_store_n(&p->claims_stop, 1, __ATOMIC_RELAXED);
        pthread_join(p->claims_tid, NULL);
        p->claims_threaded = 0;
    }
}


/*
 * After a turn: whether every shard finished its pass over the pending
 * awards (sync: cc-draw credits, no pass) and found its outbox empty,
 * every shard up.
 */
static int
cc_payout_all_done(cc_payout_t *p, int sync)
{
    int     all;
    size_t  s;

    for (s = 0, all = 1; s < p->st.nshards; s++) {
        all = all && (sync || p->shard[s].pass_done)
              && p->shard[s].outbox_empty
              && p->st.shards[s].conn != NULL;
    }

    return all;
}


/* a new pass: mismatches and unfunded awards are tried again */
static void
cc_payout_new_pass(cc_payout_t *p)
{
    size_t  s;

    for (s = 0; s < p->st.nshards; s++) {
        p->shard[s].pass_done = 0;
    }

    for (s = 0; s < p->st.nshards; s++) {
        p->shard[s].unpaid = 0;
    }
}


/* one turn of the loop: the bulk (not sync), the outboxes; the work done */
static long
cc_payout_turn(cc_payout_t *p, int sync)
{
    long    did, rc;
    size_t  s;

    cc_payout_shard_connect(&p->st, &p->mysql_retry, &p->mysql_fails, "");

    did = 0;

    if (!sync) {
        /* the claims are served all the time by their own thread */
        did += cc_payout_step_bulk_all(p);
    }

    for (s = 0; s < p->st.nshards; s++) {
        rc = cc_payout_step_outbox(p, s);
        did += rc > 0 ? rc : 0;
    }

    return did;
}


/* every MySQL shard connected */
static int
cc_payout_all_up(cc_payout_t *p)
{
    int     all;
    size_t  s;

    for (s = 0, all = 1; s < p->st.nshards; s++) {
        all = all && p->st.shards[s].conn != NULL;
    }

    return all;
}


/*
 * The loop.  --once ends once every shard finished a pass over its
 * pending awards and found its outbox empty; otherwise a new pass starts
 * every --interval, and claims are served on every turn.
 */
static int
cc_payout_run(cc_payout_t *p)
{
    int                 sync, unpaid;
    long                did;
    size_t              s;
    double              rate;
    int64_t             now, start, next_pass, next_progress, last_t;
    cc_payout_stats_t   t;
    unsigned long long  last_n;

    sync = p->camp.credit == CC_CREDIT_SYNC;
    start = cc_now_ms();
    next_pass = start;
    next_progress = start + p->o.progress_s * 1000;
    last_t = start;
    last_n = 0;

    if (!sync && cc_payout_claims_start(p) != 0) {
        return 2;
    }

    while (cc_worker_run) {
        did = cc_payout_turn(p, sync);
        now = cc_now_ms();

        if (cc_payout_all_up(p)) {
            p->last_ok_ms = now;
        }

        if (now >= next_progress) {
            cc_payout_total(p, &t);
            rate = (t.credited - last_n) * 1000.0 / (now - last_t + 1);
            cc_payout_report(p, "progress", rate);
            cc_payout_metrics(p, rate);
            last_n = t.credited;
            last_t = now;
            next_progress = now + p->o.progress_s * 1000;
        }

        if (cc_payout_all_done(p, sync)) {
            if (p->o.once) {
                break;
            }

            if (!sync && now >= next_pass) {
                cc_payout_new_pass(p);
                next_pass = now + p->o.interval_s * 1000;
            }
        }

        if (did == 0) {
            cc_sleep_ms(p->o.idle_ms);
        }
    }

    cc_payout_claims_stop(p);

    /* the bulk's notices in flight (stopped mid-pass): read and told */
    for (s = 0; s < p->st.nshards; s++) {
        cc_payout_shard_notices_flush(&p->shard[s]);
    }

    now = cc_now_ms();
    cc_payout_total(p, &t);
    rate = t.credited * 1000.0 / (now - start + 1);
    cc_payout_report(p, cc_worker_run ? "done" : "stopping", rate);
    cc_payout_metrics(p, rate);

    for (s = 0, unpaid = 0; s < p->st.nshards; s++) {
        unpaid = unpaid || p->shard[s].unpaid;
    }

    return p->o.once && cc_worker_run && unpaid ? 1 : 0;
}


static int
cc_payout_locate(cc_payout_t *p)
{
    size_t     i;
    long long  uid;

    for (i = 0; i < p->o.nuids; i++) {
        if (cc_opt_int("uid", p->o.uids[i], 1, INT64_MAX, &uid) != 0) {
            return 2;
        }

        printf("%lld %s %s\n", uid,
               p->o.redis[cc_ring_shard(&p->ring, (uint64_t) uid)],
               p->st.shards[cc_store_shard_of(&p->st, (uint64_t) uid)].name);
    }

    return 0;
}


/*
 * Per MySQL shard, twice (the bulk's lane and the claims'): one buffer of
 * rows and one statement over them, reused, and its own connections to
 * the Redis shards (hiredis contexts are not shared between threads), to
 * MySQL and to the wallet.  0, or -1 with the reason on stderr.
 */
static int
cc_payout_lanes_open(cc_payout_t *p)
{
    char                err[512];
    size_t              i, s;
    cc_payout_shard_t  *ps;

    p->rows_max = (size_t) p->o.batch;
    if (p->rows_max < p->o.nredis * CC_PAYOUT_CLAIMS) {
        p->rows_max = p->o.nredis * CC_PAYOUT_CLAIMS;
    }

    p->sql_max = 1024 + p->rows_max * (CC_PAYOUT_ID_MAX + 8);

    for (s = 0; s < 2 * p->st.nshards; s++) {
        ps = s < p->st.nshards ? &p->shard[s] : &p->claim[s - p->st.nshards];

        if (s < p->st.nshards) {
            ps->db = &p->st.shards[s];
            ps->retry = &p->mysql_retry;

        } else {
            ps->db = &p->cst.shards[s - p->st.nshards];
            ps->retry = &p->cretry[s - p->st.nshards];
        }

        ps->campaign = p->camp.id;
        ps->nredis = p->o.nredis;
        ps->rows = malloc(p->rows_max * sizeof(cc_payout_award_t));
        ps->credits = malloc(p->rows_max * sizeof(cc_ledger_credit_t));
        ps->sql = malloc(p->sql_max);
        ps->sql_max = p->sql_max;
        ps->redis = calloc(p->o.nredis, sizeof(cc_payout_redis_t));

        if (ps->rows == NULL || ps->credits == NULL || ps->sql == NULL
            || ps->redis == NULL)
        {
            fprintf(stderr, "cc-payout: out of memory\n");
            return -1;
        }

        for (i = 0; i < p->o.nredis; i++) {
            ps->redis[i].addr = p->redis[i].addr;
            ps->redis[i].a = p->redis[i].a;
        }

        ps->wallet = cc_wallet_open(&p->camp, err, sizeof(err));
        if (ps->wallet == NULL) {
            fprintf(stderr, "cc-payout: wallet %s: %s\n",
                    p->camp.wallet == CC_WALLET_HTTP ? "http" : "ledger",
                    err);
            return -1;
        }

        cc_wallet_set_alert_timeout(ps->wallet, p->o.alert_timeout_s);
        cc_wallet_defer_sums(ps->wallet);   /* cc_payout_shard_credit
                                               calls cc_wallet_finish */

        /*
         * The claims' credits as single calls, answered at once: as a
         * batch of their own each waited for the wallet's processing
         * and the polls (a claim's p50 75 ms at 200/s, issue 20).
         */
        if (s >= p->st.nshards) {
            cc_wallet_single_calls(ps->wallet);

            /* the claims' notified = 1, owed to their next transaction */
            ps->told_ids = calloc(1, p->sql_max);
            if (ps->told_ids == NULL) {
                fprintf(stderr, "cc-payout: out of memory\n");
                return -1;
            }
        }
    }

    return 0;
}


/* the Redis ring, the uid's Redis shard as the module's; 0 or -1 */
static int
cc_payout_ring(cc_payout_t *p)
{
    size_t       i, lens[CC_PAYOUT_REDIS_MAX];
    const char  *names[CC_PAYOUT_REDIS_MAX];

    for (i = 0; i < p->o.nredis; i++) {
        if (cc_redis_opt_addr(p->o.redis[i], &p->redis[i].a) != 0) {
            return -1;
        }

        p->redis[i].addr = p->o.redis[i];
        names[i] = p->o.redis[i];
        lens[i] = strlen(names[i]);
    }

    p->points = malloc(cc_ring_npoints(p->o.nredis)
                       * sizeof(cc_ring_point_t));

    if (p->points == NULL
        || cc_ring_build(&p->ring, p->points, names, lens, p->o.nredis) != 0)
    {
        fprintf(stderr, "cc-payout: cannot build the Redis ring\n");
        return -1;
    }

    return 0;
}


/* the threads' locks and condition variables: made (init 1) or undone */
static void
cc_payout_sync(cc_payout_t *p, int init)
{
    size_t  s;

    if (init) {
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);

        for (s = 0; s < CC_STORE_SHARDS_MAX; s++) {
            pthread_cond_init(&p->cq[s].cv, NULL);
        }

        return;
    }

    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);

    for (s = 0; s < CC_STORE_SHARDS_MAX; s++) {
        pthread_cond_destroy(&p->cq[s].cv);
    }
}


/* everything main set up, whatever got set up */
static void
cc_payout_free(cc_payout_t *p, int sync_init)
{
    size_t              i, s;
    cc_payout_shard_t  *ps;

    for (i = 0; i < p->o.nredis; i++) {
        if (p->redis[i].ctx != NULL) {
            redisFree(p->redis[i].ctx);
        }
    }

    for (s = 0; s < 2 * p->st.nshards; s++) {
        ps = s < p->st.nshards ? &p->shard[s] : &p->claim[s - p->st.nshards];

        for (i = 0; ps->redis != NULL && i < p->o.nredis; i++) {
            if (ps->redis[i].ctx != NULL) {
                redisFree(ps->redis[i].ctx);
            }
        }

        cc_wallet_close(ps->wallet);
        free(ps->rows);
        free(ps->credits);
        free(ps->sql);
        free(ps->told_ids);
        free(ps->redis);
    }

    cc_store_close(&p->st);
    cc_store_close(&p->cst);
    if (sync_init) {
        cc_payout_sync(p, 0);
    }
    free(p->points);
    free(p);
}


/*
 * wallet http: a campaign whose books are in the per-user shape (written
 * before the clearing account) is refused at start, not mixed: 0, or -1
 * said (exit 2).  A shard MySQL does not answer now is left to the
 * pending phase, which refuses it the same way.
 */
static int
cc_payout_shape(cc_payout_t *p)
{
    char     err[512];
    size_t   s;
    MYSQL   *db;

    if (p->camp.wallet != CC_WALLET_HTTP) {
        return 0;
    }

    (void) cc_store_connect(&p->st);

    for (s = 0; s < p->st.nshards; s++) {
        db = p->st.shards[s].conn;

        if (db != NULL && cc_ledger_phase_shape(db, p->camp.id, err,
                                                sizeof(err)) == 1)
        {
            fprintf(stderr, "cc-payout: mysql shard %s: %s\n",
                    p->st.shards[s].name, err);
            return -1;
        }
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int            rc;
    char           err[512];
    int            sync_init = 0;
    cc_payout_t   *p;

    cc_worker_init("cc-payout");

    /* before any thread: the claims' threads connect at once, and the
       client library's first mysql_init() is not safe in several */
    if (mysql_library_init(0, NULL, NULL) != 0) {
        fprintf(stderr, "cc-payout: the MySQL client library failed\n");
        return 2;
    }

    p = calloc(1, sizeof(cc_payout_t));
    if (p == NULL) {
        fprintf(stderr, "cc-payout: out of memory\n");
        mysql_library_end();
        return 2;
    }

    /* from here every exit goes through done: one cleanup path */
    rc = 2;

    if (cc_opt_done(cc_payout_parse(argc, argv, &p->o), &rc)) {
        goto done;
    }

    if (cc_secret_load() != 0) {
        goto done;                      /* rc is 2 */
    }

    if (cc_campaign_load(p->o.campaign, &p->camp, err, sizeof(err)) != 0) {
        fprintf(stderr, "cc-payout: campaign file %s: %s\n", p->o.campaign,
                err);
        goto done;
    }

    if (cc_payout_ring(p) != 0) {
        goto done;
    }

    if (cc_store_open(&p->st, p->o.mysql, p->o.nmysql, p->o.user,
                      cc_secret_mysql_password()) != 0
        || cc_store_open(&p->cst, p->o.mysql, p->o.nmysql, p->o.user,
                         cc_secret_mysql_password()) != 0)
    {
        fprintf(stderr, "cc-payout: %s\n", p->st.err);
        goto done;
    }

    if (p->o.shard_of) {
        rc = cc_payout_locate(p);
        goto done;
    }

    if (cc_payout_shape(p) != 0) {
        goto done;                      /* rc is 2 */
    }

    cc_payout_sync(p, 1);
    sync_init = 1;

    if (cc_payout_lanes_open(p) != 0) {
        goto done;
    }

    cc_log("campaign %s (%s): paying from %zu MySQL and %zu Redis shards, "
           "batches of %lld%s", p->camp.id,
           cc_credit_mode_name(p->camp.credit), p->st.nshards, p->o.nredis,
           p->o.batch, p->camp.credit == CC_CREDIT_SYNC
                       ? " (sync: credited by cc-draw, notices only)" : "");

    rc = cc_payout_run(p);

done:

    cc_payout_free(p, sync_init);
    mysql_library_end();

    return rc;
}
