/*
 * cc-payout: pays the scheduled draw's awards into the users' wallets.
 *
 * cc-draw writes one award per eligible user into the user's MySQL shard
 * (table awards, status pending) and "p:amount:award_id" into field w of
 * the user's Redis hash.  This worker credits them in three steps, each
 * a transaction per MySQL shard:
 *
 *   (a) claims: LPOP cc:claims COUNT 256 on every Redis shard (uids the
 *       module queued for users waiting on POST /cc/claim): their pending
 *       awards in a small transaction, then at once their notice; all the
 *       time, in a thread of its own with its own connections, beside (b)
 *       (a user waits: not for a bulk batch), and before (b) begins;
 *   (b) bulk: the next --batch pending awards of each shard, in award id
 *       order from where the pass got to, every shard in a thread of its
 *       own (their transactions and notices overlap), joined before (c)
 *       runs, in a loop;
 *   (c) outbox: awards credited but not yet notified (a crash between the
 *       commit and Redis leaves some): their notice.
 *
 * A credit is cc_ledger_credit_batch() and the awards' UPDATE to credited
 * (WHERE status = 'pending') in one transaction, so the award and its
 * transfer commit together.  The transfer's id is the award id (the
 * ledger's primary key), which makes a retry, a second payer or a credit
 * made by someone else harmless: it writes nothing.  A notice is the
 * never-backwards script award_set.lua setting w to "c:..." on the user's
 * Redis shard, then notified = 1 in MySQL; a crash between the two sends
 * the notice again, which the script makes harmless.  So the worker may
 * be killed anywhere and restarted.
 *
 * A claim popped and not credited (a crash, MySQL down) is not lost: the
 * award stays pending and the bulk pass pays it; only the user waits.
 * An award whose id the ledger holds with another amount or wallet
 * (MISMATCH) is not paid, stays pending and is logged on every pass;
 * cc-reconcile --money reports it.  A batch the pool cannot pay
 * (NO_FUNDS) is rolled back and logged.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cc_addr.h"
#include "cc_alert.h"
#include "cc_award_set.h"
#include "cc_campaign.h"
#include "cc_ids.h"
#include "cc_keys.h"
#include "cc_ledger.h"
#include "cc_promfile.h"
#include "cc_redis.h"
#include "cc_ring.h"
#include "cc_store.h"
#include "cc_wallet.h"
#include "cc_worker.h"


#define CC_PAYOUT_REDIS_MAX   64
#define CC_PAYOUT_CLAIMS      256            /* uids per LPOP */
#define CC_PAYOUT_ID_MAX      64             /* awards.award_id */


typedef struct {
    char                *redis[CC_PAYOUT_REDIS_MAX];
    size_t               nredis;
    char                *mysql[CC_STORE_SHARDS_MAX];
    size_t               nmysql;
    const char          *campaign;
    const char          *user;
    const char          *metrics;
    long long            batch;
    long long            claims_batch;   /* the bulk's while claims flow */
    long long            claims_idle_ms;
    long long            interval_s;
    long long            idle_ms;
    long long            progress_s;
    long long            alert_timeout_s;
    int                  once;
    int                  shard_of;
    char               **uids;           /* --shard-of's */
    size_t               nuids;
} cc_payout_opts_t;


typedef struct {
    char                 award_id[CC_PAYOUT_ID_MAX + 1];
    uint64_t             uid;
    uint64_t             amount;
    int                  credited;       /* in MySQL, now or before */
    uint32_t             redis;          /* the uid's Redis shard */
} cc_payout_award_t;


typedef struct {
    char                *addr;
    cc_addr_t            a;
    redisContext        *ctx;
    cc_retry_t           retry;          /* reconnects' backoff */
    char                 sha[41];        /* award_set.lua's */
} cc_payout_redis_t;


typedef struct {
    unsigned long long   credited;
    unsigned long long   claimed;        /* of credited: on a claim */
    unsigned long long   exists;
    unsigned long long   mismatch;
    unsigned long long   no_funds;
    unsigned long long   notified;
    unsigned long long   bad_claims;     /* cc:claims entries not a uid */
} cc_payout_stats_t;


/*
 * What is being credited on a MySQL shard right now, so that no award is
 * worked on by the claims and a bulk batch at once: the bulk's batch is
 * the award ids in (lo, hi] (it reads in id order from its cursor), and
 * the claims skip those; a bulk batch starts only once the shard's claims
 * in flight are done (one small transaction).  See cc_payout_claims().
 */
typedef struct {
    int                  bulk;           /* a bulk batch in (lo, hi] */
    char                 lo[CC_PAYOUT_ID_MAX + 1];
    char                 hi[CC_PAYOUT_ID_MAX + 1];
    int                  claims;         /* claims being credited */
} cc_payout_flight_t;


/*
 * A MySQL shard's own state.  The bulk step runs a thread per shard (the
 * shards are separate databases: nothing to share), so everything a
 * shard's work touches is here: its rows, its statement buffer, its own
 * connections to the Redis shards for the notices, its counts.
 */
typedef struct {
    char                 cursor[CC_PAYOUT_ID_MAX + 1];   /* bulk pass */
    char                 ocursor[CC_PAYOUT_ID_MAX + 1];  /* outbox pass */
    int                  pass_done;
    int                  outbox_empty;
    cc_payout_award_t   *rows;           /* room for rows_max */
    cc_ledger_credit_t  *credits;
    char                *sql;            /* room for a statement over rows */
    cc_payout_redis_t   *redis;          /* nredis: this shard's notices */
    cc_payout_stats_t    stats;
    int                  unpaid;         /* this pass left awards unpaid */
    cc_wallet_t         *wallet;         /* the campaign's (one a lane:
                                            libcurl handles are not shared
                                            between threads) */
    long                 rc;             /* the bulk step's */
    pthread_t            tid;
    int                  threaded;       /* tid is to be joined */
    cc_store_shard_t    *db;             /* its connection: the bulk's or
                                            the claims' */
    cc_retry_t          *retry;          /* when db may connect again */
} cc_payout_shard_t;


typedef struct {
    cc_payout_opts_t     o;
    cc_campaign_t        camp;
    cc_store_t           st;
    cc_payout_shard_t    shard[CC_STORE_SHARDS_MAX];
    cc_payout_redis_t    redis[CC_PAYOUT_REDIS_MAX];    /* the claims' */
    cc_ring_t            ring;           /* uid -> Redis shard, the module's */
    cc_ring_point_t     *points;
    cc_retry_t           mysql_retry;
    unsigned             mysql_fails;

    /*
     * The claims' thread: its own MySQL connections (cst), lanes (claim:
     * rows, statements, Redis connections for the notices, wallet) and
     * retry time.  p->redis is its alone (the LPOPs).
     */
    cc_store_t           cst;
    cc_payout_shard_t    claim[CC_STORE_SHARDS_MAX];
    cc_retry_t           cmysql_retry;
    unsigned             cmysql_fails;
    pthread_t            claims_tid;
    int                  claims_threaded;

    /* shared by the claims' thread and the bulk's: under mu */
    pthread_mutex_t      mu;
    pthread_cond_t       cv;             /* a shard's claims are done */
    cc_payout_flight_t   flight[CC_STORE_SHARDS_MAX];
    cc_payout_stats_t    cstats[CC_STORE_SHARDS_MAX];   /* the claims' */
    int                  claims_stop;
    int64_t              claim_at_ms;    /* when a claim was last popped */
    int                  claims_started; /* its first turn is over */
    size_t               rows_max;       /* of each shard's rows */
    size_t               sql_max;
    int64_t              last_ok_ms;     /* a turn with every shard up */
    unsigned long long   bad_claims;     /* cc:claims entries not a uid */
} cc_payout_t;


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
"The MySQL password is read from $CC_MYSQL_PASSWORD.\n"
"\n"
"  --campaign FILE   the campaign file (the same cc-draw read)\n"
"  --redis ADDR      a Redis shard, exactly as in cc_redis_shards and in\n"
"                    its order (the uid's shard is the module's), repeat\n"
"  --mysql SHARD     a MySQL shard, host:port/database, repeat in ring order\n"
"  --user NAME       MySQL user (default root)\n"
"  --batch N         awards per bulk transaction, 1..50000 (default 5000)\n"
"  --claims-batch N  awards per bulk transaction while claims come (one\n"
"                    popped in the last second), 1..50000 (default 1000):\n"
"                    a claim whose award is in the batch in flight waits\n"
"                    for that batch\n"
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
        { "alert-timeout",  required_argument, NULL, 'A' },
        { "progress", required_argument, NULL, 'p' },
        { "once",     no_argument,       NULL, 'o' },
        { "shard-of", no_argument,       NULL, 's' },
        { "metrics-file", required_argument, NULL, 'M' },
        { "help",     no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(o, 0, sizeof(*o));
    o->user = "root";
    o->batch = 5000;
    o->claims_batch = 1000;
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

        case 'n':
            if (cc_opt_int("--batch", optarg, 1, 50000, &o->batch) != 0) {
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

        case 'l':
            if (cc_opt_int("--idle-ms", optarg, 1, 10000, &o->idle_ms) != 0) {
                return -1;
            }
            break;

        case 'B':
            if (cc_opt_int("--claims-batch", optarg, 1, 50000,
                           &o->claims_batch) != 0)
            {
                return -1;
            }
            break;

        case 'L':
            if (cc_opt_int("--claims-idle-ms", optarg, 1, 10000,
                           &o->claims_idle_ms) != 0)
            {
                return -1;
            }
            break;

        case 'A':
            if (cc_opt_int("--alert-timeout", optarg, 1, 3600,
                           &o->alert_timeout_s) != 0)
            {
                return -1;
            }
            break;

        case 'p':
            if (cc_opt_int("--progress", optarg, 1, 86400, &o->progress_s)
                != 0)
            {
                return -1;
            }
            break;

        case 'h':
            cc_payout_usage(stdout);
            return CC_OPT_HELP;

        default:
            cc_payout_usage(stderr);
            return -1;
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


/* ---- Redis ---------------------------------------------------------- */


/* said: "redis ADDR: why" */
static void
cc_payout_redis_backoff(cc_payout_t *p, cc_payout_redis_t *r,
    const char *said)
{
    int64_t  ms;

    ms = cc_retry_later(&r->retry, cc_now_ms());
    cc_log("%s; retrying in %lld ms", said, (long long) ms);

    if (r->ctx != NULL) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }

    (void) p;
}


static void
cc_payout_redis_down(cc_payout_t *p, cc_payout_redis_t *r, const char *why)
{
    char  said[512];

    snprintf(said, sizeof(said), "redis %s: %s", r->addr, why);
    cc_payout_redis_backoff(p, r, said);
}


/*
 * A connection with award_set.lua loaded: every (re)connect loads it, so
 * a Redis that restarted and lost its script cache gets it back.  NULL
 * while the shard is down or backing off.  A connection still there when
 * asked for again served its last turn: the backoff starts over.
 */
static redisContext *
cc_payout_redis(cc_payout_t *p, cc_payout_redis_t *r)
{
    char  err[256];

    if (r->ctx != NULL) {
        cc_retry_ok(&r->retry);
        return r->ctx;
    }

    if (!cc_retry_due(&r->retry, cc_now_ms())) {
        return NULL;
    }

    r->ctx = cc_redis_connect(&r->a, r->addr, 5000, err, sizeof(err));

    if (r->ctx == NULL) {
        cc_payout_redis_backoff(p, r, err);
        return NULL;
    }

    if (cc_award_set_load(r->ctx, r->sha, err, sizeof(err)) != 0) {
        cc_payout_redis_down(p, r, err);
        return NULL;
    }

    return r->ctx;
}


/* ---- MySQL ---------------------------------------------------------- */


static int
cc_payout_sql_fail(cc_payout_shard_t *ps, const char *what, const char *why)
{
    int64_t            ms;
    cc_store_shard_t  *sh = ps->db;

    /* from a shard's thread, with the other shards' (cc_retry_t is safe) */
    ms = cc_retry_later(ps->retry, cc_now_ms());

    cc_log("mysql shard %s: %s: %s; retrying in %lld ms", sh->name, what,
           why ? why : (sh->conn ? mysql_error(sh->conn) : "not connected"),
           (long long) ms);

    /* the transaction is gone with the connection: nothing half done */
    if (sh->conn != NULL) {
        mysql_close(sh->conn);
        sh->conn = NULL;
    }

    return -1;
}


/*
 * Connects the shards of st that are not, once the backoff says so: the
 * bulk's store from the loop, the claims' own from their thread.  Every
 * shard still connected since the last turn: the backoff starts over.
 */
static void
cc_payout_mysql_connect(cc_store_t *st, cc_retry_t *retry, unsigned *fails,
    const char *who)
{
    size_t   s;
    int64_t  ms;

    for (s = 0; s < st->nshards; s++) {
        if (st->shards[s].conn == NULL) {
            break;
        }
    }

    if (s == st->nshards) {
        cc_retry_ok(retry);
        return;
    }

    if (!cc_retry_due(retry, cc_now_ms())) {
        return;
    }

    if (cc_store_connect(st) != 0) {
        ms = cc_retry_later(retry, cc_now_ms());

        /* the first failure in a row, then one line in ten */
        if ((*fails)++ % 10 == 0) {
            cc_log("mysql%s: %s; retrying in %lld ms", who, st->err,
                   (long long) ms);
        }

        return;
    }

    if (*fails > 0) {
        cc_log("mysql%s: every shard connected again", who);
        *fails = 0;
    }
}


/* ends a transaction that wrote nothing, so the next read sees new rows */
static int
cc_payout_end_read(cc_payout_shard_t *ps)
{
    if (mysql_rollback(ps->db->conn) != 0) {
        return cc_payout_sql_fail(ps, "rollback", NULL);
    }

    return 0;
}


/*
 * Reads rows of (award_id, uid, amount_cents, status) into the shard's rows
 * (at most p->rows_max); the number read or -1.
 */
static long
cc_payout_select(cc_payout_t *p, cc_payout_shard_t *ps, const char *sql,
    size_t len)
{
    MYSQL              *db = ps->db->conn;
    size_t              n;
    MYSQL_ROW           row;
    MYSQL_RES          *res;
    cc_payout_award_t  *a;

    if (mysql_real_query(db, sql, len) != 0
        || (res = mysql_store_result(db)) == NULL)
    {
        return cc_payout_sql_fail(ps, "read awards", NULL);
    }

    n = 0;

    while (n < p->rows_max && (row = mysql_fetch_row(res)) != NULL) {
        a = &ps->rows[n++];
        snprintf(a->award_id, sizeof(a->award_id), "%s", row[0]);
        a->uid = strtoull(row[1], NULL, 10);
        a->amount = strtoull(row[2], NULL, 10);
        a->credited = strcmp(row[3], "credited") == 0;
        a->redis = cc_ring_shard(&p->ring, a->uid);
    }

    mysql_free_result(res);

    return (long) n;
}


/* appends "'id','id',..." of the rows with credited == want */
static size_t
cc_payout_id_list(const cc_payout_award_t *rows, char *out, size_t n,
    int want, const int *ok)
{
    char    *q;
    size_t   i, k;

    q = out;

    for (i = 0, k = 0; i < n; i++) {
        if (rows[i].credited == want && (ok == NULL || ok[i])) {
            q += sprintf(q, "%s'%s'", k++ ? "," : "", rows[i].award_id);
        }
    }

    return k;
}


/*
 * Credits the rows not credited yet, in the shard's open transaction, and
 * marks them credited in the same one.  The number credited now, or -1
 * (rolled back).
 *
 * With the ledger the awards are marked first, then credited: the pool's
 * row, which every credit of the shard updates, is then the last row the
 * transaction locks, just before its commit, so a claim's credit waits on
 * a bulk batch for its commit only, not for the UPDATE of its thousands
 * of awards as well.  Should the ledger refuse some (MISMATCH), that is
 * rolled back and done again the other way round, marking only the
 * awards it credited.  (The wallet http commits on its own: marked
 * after.)
 */
static long
cc_payout_credit(cc_payout_shard_t *ps, size_t n, int claims)
{
    int                 early;
    char                err[512];
    long                added;
    size_t              i, k, len;
    int64_t             now;
    MYSQL              *db = ps->db->conn;
    cc_ledger_credit_t *c = ps->credits;

    now = cc_now_ms();
    early = cc_wallet_one_txn(ps->wallet);

again:

    for (i = 0, k = 0; i < n; i++) {
        if (!ps->rows[i].credited) {
            c[k].award_id = ps->rows[i].award_id;
            c[k].uid = ps->rows[i].uid;
            c[k].amount_cents = ps->rows[i].amount;
            k++;
        }
    }

    if (k == 0) {
        return 0;
    }

    if (early) {
        len = sprintf(ps->sql, "UPDATE awards SET status = 'credited', "
                      "credited_at = %" PRId64 " WHERE status IN ("
                      "'pending', 'crediting') AND award_id IN (", now);
        (void) cc_payout_id_list(ps->rows, ps->sql + len, n, 0, NULL);
        len += strlen(ps->sql + len);
        len += sprintf(ps->sql + len, ")");

        if (mysql_real_query(db, ps->sql, len) != 0) {
            (void) mysql_rollback(db);
            return cc_payout_sql_fail(ps, "mark awards credited", NULL);
        }
    }

    /* the campaign's wallet: the ledger, or http two-phase (cc_wallet.h) */
    added = cc_wallet_credit(ps->wallet, db, c, k, err, sizeof(err));

    for (i = 0; added < 0 && i < k; i++) {
        if (c[i].rc == CC_LEDGER_NO_FUNDS) {
            break;
        }
    }

    if (added < 0) {
        if (i < k) {
            /* a break, not an outage: said, skipped, left pending */
            cc_log("mysql shard %s: NO_FUNDS: %s; %zu awards from %s left "
                   "pending", ps->db->name, err, k, c[0].award_id);
            ps->stats.no_funds += k;
            ps->unpaid = 1;

            if (mysql_rollback(db) != 0) {
                return cc_payout_sql_fail(ps, "rollback", NULL);
            }

            return 0;
        }

        (void) mysql_rollback(db);
        return cc_payout_sql_fail(ps, "credit", err);
    }

    for (i = 0; early && i < k; i++) {
        if (c[i].rc != CC_LEDGER_DONE && c[i].rc != CC_LEDGER_EXISTS) {
            /* some not paid: their marks go, and the others' are redone */
            if (mysql_rollback(db) != 0) {
                return cc_payout_sql_fail(ps, "rollback", NULL);
            }

            early = 0;
            goto again;
        }
    }

    /* rows and c[] are in the same order: walk both */

    for (i = 0, k = 0; i < n; i++) {
        if (ps->rows[i].credited) {
            continue;
        }

        switch (c[k++].rc) {
        case CC_LEDGER_DONE:
            ps->rows[i].credited = 2;        /* marked below */
            break;

        case CC_LEDGER_EXISTS:
            ps->rows[i].credited = 2;
            ps->stats.exists++;
            break;

        case CC_LEDGER_ERROR:               /* wallet http: logged there */
            ps->unpaid = 1;
            break;

        default:                            /* CC_LEDGER_MISMATCH */
            cc_log("award %s: MISMATCH: the ledger holds transfer %s with "
                   "another amount or wallet; not paid (%" PRIu64
                   " cents to uid %" PRIu64 " stays pending)",
                   ps->rows[i].award_id, ps->rows[i].award_id,
                   ps->rows[i].amount, ps->rows[i].uid);
            ps->stats.mismatch++;
            ps->unpaid = 1;
            break;
        }
    }

    len = sprintf(ps->sql, "UPDATE awards SET status = 'credited', "
                  "credited_at = %" PRId64 " WHERE status IN ('pending', "
                  "'crediting') AND award_id IN (", now);
    k = early ? 0 : cc_payout_id_list(ps->rows, ps->sql + len, n, 2, NULL);
    len += strlen(ps->sql + len);
    len += sprintf(ps->sql + len, ")");

    if (k > 0 && mysql_real_query(db, ps->sql, len) != 0) {
        (void) mysql_rollback(db);
        return cc_payout_sql_fail(ps, "mark awards credited", NULL);
    }

    if (mysql_commit(db) != 0) {
        return cc_payout_sql_fail(ps, "commit credits", NULL);
    }

    for (i = 0; i < n; i++) {
        if (ps->rows[i].credited == 2) {
            ps->rows[i].credited = 1;
        }
    }

    ps->stats.credited += added;

    if (claims) {
        ps->stats.claimed += added;
    }

    return added;
}


/*
 * Tells the users' Redis shards that the credited rows are credited: per
 * Redis shard, a pipeline of award_set.lua calls of up to
 * CC_AWARD_SET_MAX users each (cc_award_set.h), then notified = 1 for the
 * rows whose call succeeded, committed.  A Redis shard that is down
 * leaves its rows to a later round.  The number notified, or -1 when
 * MySQL failed.
 */
static long
cc_payout_notify(cc_payout_t *p, cc_payout_shard_t *ps, size_t n)
{
    int                 *ok, reload;
    char                 err[256];
    size_t               i, r, k, c, len, sent, calls, *rowof;
    MYSQL               *db = ps->db->conn;
    redisReply          *reply;
    redisContext        *ctx;
    cc_payout_award_t   *a;
    cc_award_set_call_t *call;

    ok = calloc(n + 1, sizeof(int));
    rowof = malloc((n + 1) * sizeof(size_t));
    call = malloc(sizeof(cc_award_set_call_t));

    if (ok == NULL || rowof == NULL || call == NULL) {
        cc_log("out of memory");
        free(ok);
        free(rowof);
        free(call);
        return 0;
    }

    call->n = 0;

    for (r = 0; r < p->o.nredis; r++) {
        ctx = NULL;
        sent = 0;
        calls = 0;
        reload = 0;

        /* rowof[0..sent): the rows in the calls, in the order sent */
        for (i = 0; i < n; i++) {
            a = &ps->rows[i];

            if (!a->credited || a->redis != r) {
                continue;
            }

            if (ctx == NULL && (ctx = cc_payout_redis(p, &ps->redis[r]))
                               == NULL)
            {
                break;
            }

            cc_award_set_add(call, a->uid, 1, a->amount, a->award_id);
            rowof[sent++] = i;

            if (call->n == CC_AWARD_SET_MAX) {
                if (cc_award_set_append(ctx, ps->redis[r].sha, call) != 0) {
                    sent -= CC_AWARD_SET_MAX;
                    break;
                }
                calls++;
            }
        }

        if (call->n > 0) {
            if (ctx != NULL
                && cc_award_set_append(ctx, ps->redis[r].sha, call) == 0)
            {
                calls++;

            } else {
                sent -= call->n;
                call->n = 0;
            }
        }

        /* the replies, a call at a time, in the order the calls went */

        for (c = 0; c < calls; c++) {
            if (redisGetReply(ctx, (void **) &reply) != REDIS_OK) {
                cc_payout_redis_down(p, &ps->redis[r], ctx->errstr);
                break;
            }

            if (cc_award_set_reply(reply, &reload, err, sizeof(err)) >= 0) {
                for (k = c * CC_AWARD_SET_MAX;
                     k < sent && k < (c + 1) * CC_AWARD_SET_MAX;
                     k++)
                {
                    ok[rowof[k]] = 1;
                }

            } else if (c == 0) {
                /* NOSCRIPT after a restart, or worse: one line a batch */
                cc_log("redis %s: %s", ps->redis[r].addr, err);
            }

            freeReplyObject(reply);
        }

        if (reload && ps->redis[r].ctx != NULL) {
            /* the script cache was lost (a restart): reconnect, reload */
            redisFree(ps->redis[r].ctx);
            ps->redis[r].ctx = NULL;
        }
    }

    free(rowof);
    free(call);

    len = sprintf(ps->sql, "UPDATE awards SET notified = 1 WHERE status = "
                  "'credited' AND award_id IN (");
    k = cc_payout_id_list(ps->rows, ps->sql + len, n, 1, ok);
    len += strlen(ps->sql + len);
    len += sprintf(ps->sql + len, ")");

    free(ok);

    if (k == 0) {
        return 0;
    }

    if (mysql_real_query(db, ps->sql, len) != 0) {
        (void) mysql_rollback(db);
        return cc_payout_sql_fail(ps, "mark awards notified", NULL);
    }

    if (mysql_commit(db) != 0) {
        return cc_payout_sql_fail(ps, "commit notices", NULL);
    }

    ps->stats.notified += k;

    return (long) k;
}


/* ---- the three steps ------------------------------------------------ */


/*
 * (a) The claims of every Redis shard: uids whose users wait, served by a
 * thread of their own beside the bulk batches (cc_payout_claims_thread),
 * on its own connections.  Their awards are read whatever their status (a
 * credited one may lack its notice), credited when pending, in one small
 * transaction per MySQL shard, and notified at once.
 *
 * A claimed award inside the bulk batch in flight on its shard is left to
 * that batch (flight[]): the batch holds its transfer's lock until its
 * commit, so a claim crediting it would wait for the whole batch, and
 * every claim behind it too; the batch notifies it right after its
 * commit, as soon as the claim could have.  Otherwise the claims mark the
 * shard busy before writing, and a bulk batch starting meanwhile waits
 * for them.  So no award is written by both at once; were it, the
 * ledger's key (the award id) would still credit it once.
 *
 * The number of claims popped, or -1 when no Redis shard answered.
 */
static long
cc_payout_claims(cc_payout_t *p)
{
    int                 inflight;
    char               *sql, id[CC_PAYOUT_ID_MAX + 1];
    long                popped, rc;
    size_t              i, r, s, n, len, found, up;
    uint64_t            uid;
    uint64_t           *uids;
    uint32_t           *shard;
    redisReply         *reply, *e;
    redisContext       *ctx;
    cc_payout_shard_t  *ps;
    cc_payout_flight_t *f;

    popped = -1;
    n = 0;
    up = 0;
    uids = malloc(p->o.nredis * CC_PAYOUT_CLAIMS * sizeof(uint64_t));
    shard = malloc(p->o.nredis * CC_PAYOUT_CLAIMS * sizeof(uint32_t));

    if (uids == NULL || shard == NULL) {
        cc_log("out of memory");
        goto done;
    }

    for (r = 0; r < p->o.nredis; r++) {
        ctx = cc_payout_redis(p, &p->redis[r]);
        if (ctx == NULL) {
            continue;
        }

        reply = redisCommand(ctx, "LPOP %s %d", CC_KEY_CLAIMS,
                             CC_PAYOUT_CLAIMS);

        if (reply == NULL) {
            cc_payout_redis_down(p, &p->redis[r], ctx->errstr);
            continue;
        }

        up++;

        if (reply->type == REDIS_REPLY_ARRAY) {
            for (i = 0; i < reply->elements; i++) {
                e = reply->element[i];

                /*
                 * The module pushes uids it parsed, but the list is
                 * anyone's who reaches Redis: an entry is a uid in its
                 * one form or dropped (strtoull read "-1" as 2^64-1 and
                 * " 7", "+7", "07" as 7).
                 */
                if (e->type != REDIS_REPLY_STRING
                    || cc_parse_uid(e->str, e->len, &uid) != 0)
                {
                    cc_log("redis %s: skipping claim \"%.40s\": not a uid",
                           p->redis[r].addr,
                           e->type == REDIS_REPLY_STRING ? e->str : "?");

                    pthread_mutex_lock(&p->mu);
                    p->bad_claims++;
                    pthread_mutex_unlock(&p->mu);
                    continue;
                }

                shard[n] = cc_store_shard_of(&p->cst, uid);
                uids[n++] = uid;
            }

        } else if (reply->type == REDIS_REPLY_ERROR) {
            cc_log("redis %s: LPOP %s: %s", p->redis[r].addr, CC_KEY_CLAIMS,
                   reply->str);
        }

        freeReplyObject(reply);
    }

    popped = up > 0 ? (long) n : -1;

    for (s = 0; s < p->cst.nshards && n > 0; s++) {
        ps = &p->claim[s];
        f = &p->flight[s];
        sql = ps->sql;
        len = sprintf(sql, "SELECT award_id, uid, amount_cents, status "
                      "FROM awards WHERE notified = 0 AND award_id IN (");
        found = 0;

        pthread_mutex_lock(&p->mu);

        inflight = f->bulk;

        for (i = 0; i < n; i++) {
            if (shard[i] != s) {
                continue;
            }

            snprintf(id, sizeof(id), "%s:%" PRIu64, p->camp.id, uids[i]);

            /* ids of one campaign: strcmp orders them as MySQL does */
            if (inflight && strcmp(id, f->lo) > 0 && strcmp(id, f->hi) <= 0)
            {
                continue;           /* the batch in flight pays it */
            }

            len += sprintf(sql + len, "%s'%s'", found++ ? "," : "", id);
        }

        len += sprintf(sql + len, ")");

        if (found == 0 || ps->db->conn == NULL) {
            /* a shard down: the bulk pass pays these later */
            pthread_mutex_unlock(&p->mu);
            continue;
        }

        f->claims = 1;
        pthread_mutex_unlock(&p->mu);

        rc = cc_payout_select(p, ps, sql, len);

        if (rc > 0) {
            if (cc_payout_credit(ps, (size_t) rc, 1) >= 0) {
                (void) cc_payout_notify(p, ps, (size_t) rc);
            }

        } else if (rc == 0) {
            (void) cc_payout_end_read(ps);
        }

        pthread_mutex_lock(&p->mu);
        f->claims = 0;
        p->cstats[s] = ps->stats;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }

done:

    free(uids);
    free(shard);

    return popped;
}


/*
 * The claims' thread: pops and credits claims until told to stop (the
 * loop ended: SIGTERM, or --once found nothing left) or SIGTERM; when no
 * claim came it sleeps --idle-ms, and a Redis shard down makes it wait
 * for the retry.  It never waits for a bulk batch (see above), so a claim
 * is paid within a claims turn and the pool row's lock.
 */
static void *
cc_payout_claims_thread(void *arg)
{
    long          popped;
    cc_payout_t  *p = arg;

    mysql_thread_init();

    while (cc_worker_run && !__atomic_load_n(&p->claims_stop,
                                             __ATOMIC_RELAXED))
    {
        cc_payout_mysql_connect(&p->cst, &p->cmysql_retry,
                                &p->cmysql_fails, " (claims)");

        popped = cc_payout_claims(p);

        if (!p->claims_started) {
            pthread_mutex_lock(&p->mu);
            p->claims_started = 1;
            pthread_cond_broadcast(&p->cv);
            pthread_mutex_unlock(&p->mu);
        }

        if (popped > 0) {
            __atomic_store_n(&p->claim_at_ms, cc_now_ms(), __ATOMIC_RELAXED);

        } else {
            cc_sleep_ms(popped < 0 ? 100 : p->o.claims_idle_ms);
        }
    }

    pthread_mutex_lock(&p->mu);
    p->claims_started = 1;              /* stopped before a first turn */
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);

    mysql_thread_end();

    return NULL;
}


/*
 * (b) The next batch of a shard's pass over its pending awards, in award
 * id order from the cursor.  The index by_status (campaign, status,
 * notified, and InnoDB's award_id after them) serves each status as one
 * ordered range; a status IN (...) would be two ranges, sorted anew over
 * every pending row at each batch (a pass quadratic in the backlog:
 * measured 18k credits/s over 1M awards against 37k/s at its end).  So
 * one ordered range per status, merged.  A short batch ends the pass.
 */
static long
cc_payout_bulk(cc_payout_t *p, size_t s)
{
    long                rc, n;
    size_t              len;
    long long           batch;
    cc_payout_shard_t  *ps = &p->shard[s];
    cc_payout_flight_t *f;

    if (ps->pass_done || p->st.shards[s].conn == NULL) {
        return 0;
    }

    /* claims come: smaller batches, a claim in one waits for less */
    batch = cc_now_ms() - __atomic_load_n(&p->claim_at_ms, __ATOMIC_RELAXED)
            < 1000 && p->o.claims_batch < p->o.batch
            ? p->o.claims_batch : p->o.batch;

    len = sprintf(ps->sql,
                  "(SELECT award_id, uid, amount_cents, status FROM awards "
                  "WHERE campaign = '%s' AND status = 'pending' AND "
                  "notified = 0 AND award_id > '%s' ORDER BY award_id "
                  "LIMIT %lld) UNION ALL "
                  "(SELECT award_id, uid, amount_cents, status FROM awards "
                  "WHERE campaign = '%s' AND status = 'crediting' AND "
                  "notified = 0 AND award_id > '%s' ORDER BY award_id "
                  "LIMIT %lld) ORDER BY award_id LIMIT %lld",
                  p->camp.id, ps->cursor, batch,
                  p->camp.id, ps->cursor, batch, batch);

    n = cc_payout_select(p, ps, ps->sql, len);

    if (n < 0) {
        return -1;
    }

    if (n == 0) {
        ps->pass_done = 1;
        ps->cursor[0] = '\0';
        return cc_payout_end_read(ps);
    }

    /*
     * The batch is in flight: from now on the claims leave its awards to
     * it; and it waits for the claims being credited now (one small
     * transaction), so that it never waits on their rows' locks in MySQL
     * and they never wait on its rows' (only, for a moment, on the pool's
     * row: the last thing a batch writes before its commit).
     */
    f = &p->flight[s];
    pthread_mutex_lock(&p->mu);
    memcpy(f->lo, ps->cursor, sizeof(f->lo));
    memcpy(f->hi, ps->rows[n - 1].award_id, sizeof(f->hi));
    f->bulk = 1;

    while (f->claims) {
        pthread_cond_wait(&p->cv, &p->mu);
    }

    pthread_mutex_unlock(&p->mu);

    rc = cc_payout_credit(ps, (size_t) n, 0);

    if (rc < 0) {
        pthread_mutex_lock(&p->mu);
        f->bulk = 0;
        pthread_mutex_unlock(&p->mu);
        return -1;                  /* the cursor stays: the batch again */
    }

    if (n < batch) {
        ps->pass_done = 1;
        ps->cursor[0] = '\0';

    } else {
        memcpy(ps->cursor, ps->rows[n - 1].award_id,
               sizeof(ps->cursor));
    }

    /* the notice at once: the outbox only catches what a crash left */
    (void) cc_payout_notify(p, ps, (size_t) n);

    pthread_mutex_lock(&p->mu);
    f->bulk = 0;
    pthread_mutex_unlock(&p->mu);

    return rc;
}


typedef struct {
    cc_payout_t  *p;
    size_t        s;
} cc_payout_job_t;


static void *
cc_payout_bulk_thread(void *arg)
{
    cc_payout_job_t  *j = arg;

    mysql_thread_init();
    j->p->shard[j->s].rc = cc_payout_bulk(j->p, j->s);
    mysql_thread_end();

    return NULL;
}


/*
 * (b) on every shard at once: a thread per shard with a batch to do, so
 * the shards' transactions, commits and notices overlap instead of
 * queueing behind each other (MySQL's work is most of a credit's).  The
 * threads share nothing but the log and the retry time.  Joined before
 * the turn goes on, so claims and the outbox run alone.
 */
static long
cc_payout_bulk_all(cc_payout_t *p)
{
    long                did;
    size_t              s, nrun;
    cc_payout_job_t     job[CC_STORE_SHARDS_MAX];
    cc_payout_shard_t  *ps;

    nrun = 0;

    for (s = 0; s < p->st.nshards; s++) {
        ps = &p->shard[s];
        ps->rc = 0;

        if (ps->pass_done || p->st.shards[s].conn == NULL) {
            continue;
        }

        nrun++;
    }

    for (s = 0; s < p->st.nshards; s++) {
        ps = &p->shard[s];
        job[s].p = p;
        job[s].s = s;
        ps->threaded = 0;

        if (ps->pass_done || p->st.shards[s].conn == NULL) {
            continue;
        }

        /* one shard to do, or no thread to be had: do it here */
        if (nrun > 1
            && pthread_create(&ps->tid, NULL, cc_payout_bulk_thread, &job[s])
               == 0)
        {
            ps->threaded = 1;

        } else {
            ps->rc = cc_payout_bulk(p, s);
        }
    }

    did = 0;

    for (s = 0; s < p->st.nshards; s++) {
        ps = &p->shard[s];

        if (ps->threaded) {
            pthread_join(ps->tid, NULL);
        }

        did += ps->rc > 0 ? ps->rc : 0;
    }

    return did;
}


/* (c) Credited awards without their notice, from the outbox cursor. */
static long
cc_payout_outbox(cc_payout_t *p, size_t s)
{
    long                n;
    size_t              len;
    cc_payout_shard_t  *ps = &p->shard[s];

    if (p->st.shards[s].conn == NULL) {
        return 0;
    }

    len = sprintf(ps->sql, "SELECT award_id, uid, amount_cents, status FROM "
                  "awards WHERE campaign = '%s' AND status = 'credited' AND "
                  "notified = 0 AND award_id > '%s' ORDER BY award_id "
                  "LIMIT %lld", p->camp.id, ps->ocursor, p->o.batch);

    n = cc_payout_select(p, ps, ps->sql, len);

    if (n < 0) {
        return -1;
    }

    ps->outbox_empty = n == 0 && ps->ocursor[0] == '\0';

    if (n < p->o.batch) {
        ps->ocursor[0] = '\0';

    } else {
        memcpy(ps->ocursor, ps->rows[n - 1].award_id, sizeof(ps->ocursor));
    }

    if (n == 0) {
        return cc_payout_end_read(ps);
    }

    return cc_payout_notify(p, ps, (size_t) n);
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
        t->notified += x->notified;
    }

    t->bad_claims = p->bad_claims;

    pthread_mutex_unlock(&p->mu);
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
    cc_promfile_add(&pf, "cc_payout_bad_claims_total", "counter",
                    "cc:claims entries dropped: not a uid", t->bad_claims);
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
 * The loop.  --once ends once every shard finished a pass over its
 * pending awards and found its outbox empty; otherwise a new pass starts
 * every --interval, and claims are served on every turn.
 */
static int
cc_payout_run(cc_payout_t *p)
{
    int                 sync, all, unpaid;
    long                did, rc;
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

    if (!sync) {
        if (pthread_create(&p->claims_tid, NULL, cc_payout_claims_thread, p)
            != 0)
        {
            cc_log("cannot start the claims' thread: %s", strerror(errno));
            return 2;
        }

        p->claims_threaded = 1;

        /*
         * The claims queued before the start go first: the bulk begins
         * after the claims' first turn (a stop ends it as well).
         */
        pthread_mutex_lock(&p->mu);

        while (!p->claims_started) {
            pthread_cond_wait(&p->cv, &p->mu);
        }

        pthread_mutex_unlock(&p->mu);
    }

    while (cc_worker_run) {
        cc_payout_mysql_connect(&p->st, &p->mysql_retry,
                                &p->mysql_fails, "");

        did = 0;

        if (!sync) {
            /* the claims are served all the time by their own thread */
            did += cc_payout_bulk_all(p);
        }

        for (s = 0; s < p->st.nshards; s++) {
            rc = cc_payout_outbox(p, s);
            did += rc > 0 ? rc : 0;
        }

        now = cc_now_ms();

        for (s = 0, all = 1; s < p->st.nshards; s++) {
            all = all && p->st.shards[s].conn != NULL;
        }

        if (all) {
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

        for (s = 0, all = 1; s < p->st.nshards; s++) {
            all = all && (sync || p->shard[s].pass_done)
                  && p->shard[s].outbox_empty
                  && p->st.shards[s].conn != NULL;
        }

        if (all && p->o.once) {
            break;
        }

        if (all && !sync && now >= next_pass) {
            /* a new pass: mismatches and unfunded awards are tried again */
            for (s = 0; s < p->st.nshards; s++) {
                p->shard[s].pass_done = 0;
            }

            for (s = 0; s < p->st.nshards; s++) {
                p->shard[s].unpaid = 0;
            }

            next_pass = now + p->o.interval_s * 1000;
        }

        if (did == 0) {
            cc_sleep_ms(p->o.idle_ms);
        }
    }

    if (p->claims_threaded) {
        /* it finishes the claims it popped, then stops */
        __atomic_store_n(&p->claims_stop, 1, __ATOMIC_RELAXED);
        pthread_join(p->claims_tid, NULL);
        p->claims_threaded = 0;
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
cc_payout_shard_of(cc_payout_t *p)
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


int
main(int argc, char **argv)
{
    int                 rc;
    char                err[512];
    size_t              i, s, lens[CC_PAYOUT_REDIS_MAX];
    const char         *names[CC_PAYOUT_REDIS_MAX];
    int                 sync_init = 0;
    cc_payout_t        *p;
    cc_payout_shard_t  *ps;

    cc_worker_init("cc-payout");

    p = calloc(1, sizeof(cc_payout_t));
    if (p == NULL) {
        fprintf(stderr, "cc-payout: out of memory\n");
        return 2;
    }

    /* from here every exit goes through done: one cleanup path */
    rc = 2;

    if (cc_opt_done(cc_payout_parse(argc, argv, &p->o), &rc)) {
        goto done;
    }

    if (cc_campaign_load(p->o.campaign, &p->camp, err, sizeof(err)) != 0) {
        fprintf(stderr, "cc-payout: campaign file %s: %s\n", p->o.campaign,
                err);
        goto done;
    }

    for (i = 0; i < p->o.nredis; i++) {
        if (cc_redis_opt_addr(p->o.redis[i], &p->redis[i].a) != 0) {
            goto done;
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
        goto done;
    }

    if (cc_store_open(&p->st, p->o.mysql, p->o.nmysql, p->o.user,
                      getenv("CC_MYSQL_PASSWORD")) != 0
        || cc_store_open(&p->cst, p->o.mysql, p->o.nmysql, p->o.user,
                         getenv("CC_MYSQL_PASSWORD")) != 0)
    {
        fprintf(stderr, "cc-payout: %s\n", p->st.err);
        goto done;
    }

    if (p->o.shard_of) {
        rc = cc_payout_shard_of(p);
        goto done;
    }

    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    sync_init = 1;

    /*
     * Per MySQL shard, twice (the bulk's lane and the claims'): one buffer
     * of rows and one statement over them, reused, and its own connections
     * to the Redis shards (hiredis contexts are not shared between
     * threads), to MySQL and to the wallet.
     */
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
            ps->retry = &p->cmysql_retry;
        }

        ps->rows = malloc(p->rows_max * sizeof(cc_payout_award_t));
        ps->credits = malloc(p->rows_max * sizeof(cc_ledger_credit_t));
        ps->sql = malloc(p->sql_max);
        ps->redis = calloc(p->o.nredis, sizeof(cc_payout_redis_t));

        if (ps->rows == NULL || ps->credits == NULL || ps->sql == NULL
            || ps->redis == NULL)
        {
            fprintf(stderr, "cc-payout: out of memory\n");
            goto done;
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
            goto done;
        }

        cc_wallet_set_alert_timeout(ps->wallet, p->o.alert_timeout_s);
    }

    cc_log("campaign %s (%s): paying from %zu MySQL and %zu Redis shards, "
           "batches of %lld%s", p->camp.id,
           cc_credit_mode_name(p->camp.credit), p->st.nshards, p->o.nredis,
           p->o.batch, p->camp.credit == CC_CREDIT_SYNC
                       ? " (sync: credited by cc-draw, notices only)" : "");

    rc = cc_payout_run(p);

done:

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
        free(ps->redis);
    }

    cc_store_close(&p->st);
    cc_store_close(&p->cst);
    if (sync_init) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
    }
    free(p->points);
    free(p);

    return rc;
}
