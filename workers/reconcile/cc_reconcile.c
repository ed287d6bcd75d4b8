/*
 * cc-reconcile: the Redis draw logs into MySQL, so that no draw is lost;
 * with --money, the check of a drawn campaign's money instead (awards,
 * ledger, Redis and the wallet's statement against each other, see
 * cc_money.c).
 *
 * The flip script appends every draw to its shard's stream cc:draws in the
 * same atomic step that spends the chance.  Kafka is only the fast path:
 * nginx may die before its producer sent a draw, the broker may be down
 * for longer than the producer keeps a message.  This worker reads each
 * shard's log up to GRACE seconds ago (by the Redis clock), writes those
 * draws with the same idempotent cc_store_write as cc-ingest (rows already
 * there insert nothing; the count of rows it did insert is the number of
 * draws the fast path lost or has not delivered yet), and only then trims
 * the log up to what it wrote.  Run it every few minutes (cron, systemd
 * timer) with --once, or as a daemon.  With --cards each pass ends with
 * the check of the cards invariant (cc_cardcheck.h): gifts only move
 * cards.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cc_addr.h"
#include "cc_drain.h"
#include "cc_keys.h"
#include "cc_store.h"
#include "cc_secret.h"
#include "cc_worker.h"
#include "cc_promfile.h"
#include "cc_redis.h"
#include "cc_money.h"
#include "cc_restore.h"
#include "cc_cardcheck.h"


#define CC_RECONCILE_REDIS_MAX  64


typedef struct {
    char               *redis[CC_RECONCILE_REDIS_MAX];
    cc_addr_t           addrs[CC_RECONCILE_REDIS_MAX];
    size_t              nredis;
    char               *mysql[CC_STORE_SHARDS_MAX];
    size_t              nmysql;
    const char         *user;
    const char         *metrics_file;
    long long           grace_s;
    long long           interval_s;
    long long           batch;
    long long           ttl_s;
    int                 once;
    int                 lost;
    int                 restore;
    int                 cards;
} cc_reconcile_opts_t;


static void
cc_reconcile_usage(FILE *out)
{
    fprintf(out,
"usage: cc-reconcile --redis HOST:PORT [--redis ...] --mysql HOST:PORT/DB\n"
"                    [--mysql ...] [--grace SEC] [--once | --interval SEC]\n"
"\n"
"Writes every draw and combine in the Redis shards' draw logs (stream\n"
CC_KEY_LOG ") older than the grace period into sharded MySQL, idempotently,\n"
"then trims the logs up to what was written.  Reports how many draws MySQL\n"
"lacked.\n"
"\n"
"  --redis ADDR     a Redis shard of the module (cc_redis_shards), repeat;\n"
"                   a master name with --sentinel\n"
"  --mysql SHARD    a MySQL shard, host:port/database, repeat in ring order;\n"
"                   host:port,host:port/database: the writable one of\n"
"                   these (@@read_only = 0), asked again on each connect\n"
"  --user NAME      MySQL user (default " CC_ROLE_RECONCILE ")\n"
CC_SECRET_MYSQL_HELP
CC_SECRET_REDIS_HELP
CC_REDIS_SENTINEL_HELP
"  --grace SEC      leave the last SEC seconds to Kafka (default 30)\n"
"  --batch N        log entries per read and write, 1..5000 (default 500;\n"
"                   an entry holds the new draws of one flip batch or the\n"
"                   gift halves of one gift batch, <= 64)\n"
"  --once           one pass over every shard, then exit\n"
"  --lost           after each pass, compare every user's draws and combine\n"
"                   in MySQL with its Redis shard (the --redis in\n"
"                   cc_redis_shards order): report those the shard lost\n"
"                   (a failover), as a count, a sample and metrics; with\n"
"                   --once, exit 1 when some were lost\n"
"  --restore        --lost, and put them back, idempotently: the card, the\n"
"                   answer of the request, the sequence, a chance spent\n"
"                   (never below 0: an over-issued one is counted), the\n"
"                   combine\n"
"  --request-ttl SEC  the module's cc_request_ttl, for a restored answer's\n"
"                   period (default 86400)\n"
"  --cards          after each pass, check the cards invariant, read-only:\n"
"                   per kind, cards held in Redis + in transit (gift\n"
"                   outboxes) = drawn - combined (MySQL), and per user\n"
"                   MySQL's drawn + received - given - combined = Redis's\n"
"                   count; every difference logged with its uid and kind,\n"
"                   a line per kind; with --once, exit 1 on a difference\n"
"                   (exact after --grace 0 on a quiet system)\n"
"  --interval SEC   seconds between passes when not --once (default 60)\n"
"  --metrics-file PATH  write a Prometheus textfile after each pass\n"
"  --help           this text\n"
"\n"
"cc-reconcile --money --campaign FILE ... checks a drawn campaign's money\n"
"instead (see cc-reconcile --money --help).\n");
}


static int
cc_reconcile_parse(int argc, char **argv, cc_reconcile_opts_t *o)
{
    int     c;
    size_t  i;

    static const struct option  opts[] = {
        { "redis",    required_argument, NULL, 'r' },
        { "mysql",    required_argument, NULL, 'm' },
        { "user",     required_argument, NULL, 'u' },
        { "grace",    required_argument, NULL, 'g' },
        { "batch",    required_argument, NULL, 'n' },
        { "interval", required_argument, NULL, 'i' },
        { "once",     no_argument,       NULL, 'o' },
        { "lost",     no_argument,       NULL, 'L' },
        { "restore",  no_argument,       NULL, 'R' },
        { "cards",    no_argument,       NULL, 'c' },
        { "request-ttl", required_argument, NULL, 'T' },
        { "metrics-file", required_argument, NULL, 'f' },
        { "help",     no_argument,       NULL, 'h' },
        CC_SECRET_MYSQL_OPTIONS,
        CC_SECRET_REDIS_OPTIONS,
        CC_REDIS_SENTINEL_OPTION,
        { NULL, 0, NULL, 0 }
    };

    memset(o, 0, sizeof(*o));
    o->user = CC_ROLE_RECONCILE;
    o->grace_s = 30;
    o->interval_s = 60;
    o->batch = 500;
    o->ttl_s = 86400;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (o->nredis == CC_RECONCILE_REDIS_MAX) {
                fprintf(stderr, "cc-reconcile: too many --redis\n");
                return -1;
            }
            o->redis[o->nredis++] = optarg;
            break;

        case 'm':
            if (o->nmysql == CC_STORE_SHARDS_MAX) {
                fprintf(stderr, "cc-reconcile: too many --mysql\n");
                return -1;
            }
            o->mysql[o->nmysql++] = optarg;
            break;

        case 'u': o->user = optarg; break;
        case 'o': o->once = 1; break;
        case 'L': o->lost = 1; break;
        case 'R': o->lost = 1; o->restore = 1; break;
        case 'c': o->cards = 1; break;

        case 'T':
            if (cc_opt_int("--request-ttl", optarg, 1, 365 * 86400,
                           &o->ttl_s) != 0)
            {
                return -1;
            }
            break;
        case 'f': o->metrics_file = optarg; break;

        case 'g':
            if (cc_opt_int("--grace", optarg, 0, 86400, &o->grace_s) != 0) {
                return -1;
            }
            break;

        case 'n':
            if (cc_opt_int("--batch", optarg, 1, 5000, &o->batch) != 0) {
                return -1;
            }
            break;

        case 'i':
            if (cc_opt_int("--interval", optarg, 1, 86400, &o->interval_s)
                != 0)
            {
                return -1;
            }
            break;

        case 'h':
            cc_reconcile_usage(stdout);
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
            cc_reconcile_usage(stderr);
            return -1;
        }
    }

    if (o->nredis == 0 || o->nmysql == 0 || optind != argc) {
        cc_reconcile_usage(stderr);
        return -1;
    }

    /* a bad address refuses the start: a daemon would fail every pass */
    for (i = 0; i < o->nredis; i++) {
        if (cc_redis_opt_addr(o->redis[i], &o->addrs[i]) != 0) {
            return -1;
        }
    }

    return 0;
}


/*
 * One pass over one Redis shard: 0 when its log is written and trimmed up
 * to the grace cutoff, -1 on an error (logged; the next pass starts again
 * from what is left in the log).
 */
static int
cc_reconcile_shard(const cc_reconcile_opts_t *o, size_t r, cc_store_t *st,
    cc_drain_stats_t *stats)
{
    int            rc;
    char           err[512];
    redisContext  *c;

    c = cc_redis_connect(&o->addrs[r], o->redis[r], 5000, err, sizeof(err));
    if (c == NULL) {
        cc_log("%s", err);
        return -1;
    }

    rc = cc_drain_shard(c, st, o->grace_s * 1000, (size_t) o->batch, stats,
                        err, sizeof(err));
    if (rc != 0) {
        cc_log("%s", err);
    }

    redisFree(c);

    return rc;
}


/* every Redis shard at once, and the module's ring over their names */
typedef struct {
    cc_ring_t          ring;
    cc_ring_point_t   *points;
    redisContext      *c[CC_RECONCILE_REDIS_MAX];
} cc_reconcile_redis_t;


static void
cc_reconcile_redis_close(const cc_reconcile_opts_t *o,
    cc_reconcile_redis_t *rr)
{
    size_t  r;

    for (r = 0; r < o->nredis; r++) {
        redisFree(rr->c[r]);
    }

    free(rr->points);
}


/* 0, or -1 logged with what (and then closed) */
static int
cc_reconcile_redis_open(const cc_reconcile_opts_t *o,
    cc_reconcile_redis_t *rr, const char *what)
{
    char         err[512];
    size_t       r, lens[CC_RECONCILE_REDIS_MAX];
    const char  *names[CC_RECONCILE_REDIS_MAX];

    memset(rr, 0, sizeof(*rr));

    for (r = 0; r < o->nredis; r++) {
        names[r] = o->redis[r];
        lens[r] = strlen(o->redis[r]);
    }

    rr->points = malloc(cc_ring_npoints(o->nredis) * sizeof(cc_ring_point_t));

    if (rr->points == NULL
        || cc_ring_build(&rr->ring, rr->points, names, lens, o->nredis) != 0)
    {
        cc_log("%s: cannot build the Redis ring", what);
        cc_reconcile_redis_close(o, rr);
        return -1;
    }

    for (r = 0; r < o->nredis; r++) {
        rr->c[r] = cc_redis_connect(&o->addrs[r], o->redis[r], 5000, err,
                                    sizeof(err));
        if (rr->c[r] == NULL) {
            cc_log("%s: %s", what, err);
            cc_reconcile_redis_close(o, rr);
            return -1;
        }
    }

    return 0;
}


/*
 * The users' draws and combines in MySQL against their Redis shards
 * (cc_restore.h): the lost ones reported, and with --restore put back.
 * 0, or -1 when a server failed (logged); *lost: what is still lost.
 */
static int
cc_reconcile_lost(const cc_reconcile_opts_t *o, cc_store_t *st,
    cc_restore_stats_t *stats, uint64_t *lost)
{
    int                    rc;
    cc_restore_t           rs;
    cc_reconcile_redis_t   rr;

    memset(&rs, 0, sizeof(rs));
    rc = -1;

    if (cc_reconcile_redis_open(o, &rr, "lost") != 0) {
        return -1;
    }

    rs.st = st;
    rs.redis = rr.c;
    rs.names = o->redis;
    rs.nredis = o->nredis;
    rs.ring = &rr.ring;
    rs.restore = o->restore;
    rs.ttl_s = o->ttl_s;

    if (cc_restore_run(&rs) != 0) {
        cc_log("lost: %s", rs.err);
        goto done;
    }

    *stats = rs.stats;
    *lost = rs.stats.lost_draws + rs.stats.lost_combines;

    cc_log("lost: %llu users compared; %llu draws and %llu combines in "
           "MySQL that their Redis shard lacks%s%s%s",
           (unsigned long long) rs.stats.users,
           (unsigned long long) rs.stats.lost_draws,
           (unsigned long long) rs.stats.lost_combines,
           rs.stats.nsample ? " (draws " : "", rs.stats.sample,
           rs.stats.nsample ? ")" : "");

    if (o->restore) {
        cc_log("restored: %llu draws, %llu combines; %llu chances "
               "over-issued (the users keep the cards), %llu cards short at "
               "a combine, %llu draws left past a gap in seq",
               (unsigned long long) rs.stats.restored,
               (unsigned long long) rs.stats.combines,
               (unsigned long long) rs.stats.overissued,
               (unsigned long long) rs.stats.short_cards,
               (unsigned long long) rs.stats.gaps);

        /* what a restore could not put back is still lost */
        *lost = rs.stats.gaps;
    }

    rc = 0;

done:

    cc_reconcile_redis_close(o, &rr);

    return rc;
}


/*
 * The cards invariant (cc_cardcheck.h), read-only: 0 when it ran, with
 * *diffs the differences it found (each logged), or -1 when a server
 * failed (logged).
 */
static int
cc_reconcile_cards(const cc_reconcile_opts_t *o, cc_store_t *st,
    cc_cardcheck_stats_t *stats, uint64_t *diffs)
{
    int                    rc;
    cc_cardcheck_t         cc;
    cc_reconcile_redis_t   rr;

    memset(&cc, 0, sizeof(cc));

    if (cc_reconcile_redis_open(o, &rr, "cards") != 0) {
        return -1;
    }

    cc.st = st;
    cc.redis = rr.c;
    cc.names = o->redis;
    cc.nredis = o->nredis;
    cc.ring = &rr.ring;

    rc = cc_cardcheck_run(&cc);

    if (rc != 0) {
        cc_log("cards: %s", cc.err);

    } else {
        *stats = cc.stats;
        *diffs = cc_cardcheck_differences(&cc.stats);
        cc_log("cards: %llu users, %llu gifts in transit; %llu "
               "differences: %llu of users, %llu of kinds, %llu of gifts, "
               "%llu users only in MySQL, %llu unreadable outbox entries",
               (unsigned long long) cc.stats.users,
               (unsigned long long) cc.stats.transit,
               (unsigned long long) *diffs,
               (unsigned long long) cc.stats.user_diffs,
               (unsigned long long) cc.stats.kind_diffs,
               (unsigned long long) cc.stats.gift_diffs,
               (unsigned long long) cc.stats.mysql_only,
               (unsigned long long) cc.stats.outbox_bad);
    }

    cc_reconcile_redis_close(o, &rr);

    return rc;
}


/*
 * The textfile after a pass: totals since start, the last pass's rate.
 * Until a pass succeeded the file is left alone, so a collector keeps
 * the last success time of an earlier run and its age shows the failure.
 */
static void
cc_reconcile_metrics(const char *path, const cc_drain_stats_t *all,
    const cc_drain_stats_t *pass, int64_t pass_ms, int failed,
    int64_t last_ok_ms, const cc_restore_stats_t *lost,
    const cc_cardcheck_stats_t *cards)
{
    char           name[96];
    unsigned       k;
    cc_promfile_t  pf;

    if (path == NULL || last_ok_ms == 0) {
        return;
    }

    cc_promfile_begin(&pf);
    cc_promfile_add(&pf, "cc_reconcile_rows_total", "counter",
                    "Draws and combines read from the Redis logs",
                    (double) all->read);
    cc_promfile_add(&pf, "cc_reconcile_written_total", "counter",
                    "Rows MySQL lacked, written by the reconciler",
                    (double) all->inserted);
    cc_promfile_add(&pf, "cc_reconcile_unreadable_total", "counter",
                    "Log lines or entries skipped as unreadable",
                    (double) all->bad);
    cc_promfile_add(&pf, "cc_reconcile_rate", "gauge",
                    "Rows read per second in the last pass",
                    pass->read * 1000.0 / (double) (pass_ms + 1));
    cc_promfile_add(&pf, "cc_reconcile_failed_shards", "gauge",
                    "Redis shards the last pass could not finish", failed);
    cc_promfile_add(&pf, "cc_reconcile_last_success_timestamp_seconds",
                    "gauge", "End of the last pass with no failed shard "
                    "(unix seconds)", last_ok_ms / 1000.0);

    if (lost != NULL) {
        cc_promfile_add(&pf, "cc_reconcile_lost_draws", "gauge",
                        "Draws in MySQL that their Redis shard lacked, "
                        "last compare", (double) lost->lost_draws);
        cc_promfile_add(&pf, "cc_reconcile_lost_combines", "gauge",
                        "Combines in MySQL that their Redis shard lacked, "
                        "last compare", (double) lost->lost_combines);
        cc_promfile_add(&pf, "cc_reconcile_restored_draws", "gauge",
                        "Draws put back into Redis, last compare",
                        (double) lost->restored);
        cc_promfile_add(&pf, "cc_reconcile_restored_combines", "gauge",
                        "Combines put back into Redis, last compare",
                        (double) lost->combines);
        cc_promfile_add(&pf, "cc_reconcile_overissued_chances", "gauge",
                        "Restored draws whose chance the user no longer "
                        "had, last compare", (double) lost->overissued);
    }

    if (cards != NULL) {
        cc_promfile_add(&pf, "cc_reconcile_card_differences", "gauge",
                        "Differences the last cards check found (users "
                        "and kinds; 0: no card created, lost or delivered "
                        "twice)", (double) cc_cardcheck_differences(cards));
        cc_promfile_add(&pf, "cc_reconcile_cards_in_transit", "gauge",
                        "Gifts in an outbox not yet applied to their "
                        "receiver, last cards check", (double) cards->transit);

        for (k = 0; k < cards->nkinds; k++) {
            snprintf(name, sizeof(name),
                     "cc_reconcile_card_kind_excess{kind=\"%u\"}", k);
            cc_promfile_add(&pf, name, "gauge",
                            "Cards of the kind held + in transit less "
                            "drawn - combined, last cards check (0: it "
                            "adds up)",
                            (double) (cards->held[k] + cards->in_transit[k]
                                      - cards->drawn[k]
                                      + cards->combined[k]));
        }
    }

    if (cc_promfile_commit(&pf, path) != 0) {
        cc_log("metrics file %s: %s", path, strerror(errno));
    }
}


int
main(int argc, char **argv)
{
    int                   rc, failed;
    size_t                i;
    uint64_t              lost, diffs;
    cc_restore_stats_t    lstats;
    cc_cardcheck_stats_t  cstats;
    cc_store_t            st;
    cc_drain_stats_t      stats;
    cc_reconcile_opts_t   o;
    cc_drain_stats_t      all;
    int64_t               started, last_ok;

    cc_worker_init("cc-reconcile");

    for (i = 1; i < (size_t) argc; i++) {
        if (strcmp(argv[i], "--money") == 0) {
            return cc_money_main(argc, argv);
        }
    }

    memset(&st, 0, sizeof(st));
    rc = 2;

    if (cc_opt_done(cc_reconcile_parse(argc, argv, &o), &rc)) {
        goto done;
    }

    if (cc_secret_load() != 0) {
        rc = 2;
        goto done;
    }

    if (cc_store_open(&st, o.mysql, o.nmysql, o.user,
                      cc_secret_mysql_password()) != 0)
    {
        fprintf(stderr, "cc-reconcile: %s\n", st.err);
        goto done;
    }

    failed = 0;
    last_ok = 0;
    memset(&all, 0, sizeof(all));

    do {
        memset(&stats, 0, sizeof(stats));
        failed = 0;
        started = cc_now_ms();

        for (i = 0; i < o.nredis && cc_worker_run; i++) {
            if (cc_reconcile_shard(&o, i, &st, &stats) != 0) {
                failed++;
            }
        }

        cc_log("pass done: %llu draws checked, %llu written, %llu "
               "unreadable, %d shard(s) failed", stats.read, stats.inserted,
               stats.bad, failed);

        /* the logs drained first: what they held is in MySQL now */
        lost = 0;
        memset(&lstats, 0, sizeof(lstats));

        if (o.lost && failed == 0 && cc_worker_run
            && cc_reconcile_lost(&o, &st, &lstats, &lost) != 0)
        {
            failed++;
        }

        /* the cards: after the drain (and a restore), read-only */
        diffs = 0;
        memset(&cstats, 0, sizeof(cstats));

        if (o.cards && failed == 0 && cc_worker_run
            && cc_reconcile_cards(&o, &st, &cstats, &diffs) != 0)
        {
            failed++;
        }

        all.read += stats.read;
        all.inserted += stats.inserted;
        all.bad += stats.bad;
        last_ok = failed ? last_ok : cc_now_ms();
        cc_reconcile_metrics(o.metrics_file, &all, &stats,
                             cc_now_ms() - started, failed, last_ok,
                             o.lost ? &lstats : NULL,
                             o.cards && failed == 0 ? &cstats : NULL);

    } while (!o.once && cc_sleep_ms(o.interval_s * 1000) == 0);

    rc = failed || lost || diffs ? 1 : 0;

done:

    cc_store_close(&st);
    mysql_library_end();

    return rc;
}
