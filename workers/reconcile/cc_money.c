/*
 * cc-reconcile --money: does the money of a drawn campaign add up?
 *
 * Run after the draw (cc-draw) and while or after the payout (cc-payout).
 * Each MySQL shard is read as a few streams (mysql_use_result: rows are
 * looked at as they arrive, never held), and the Redis side of the rows
 * of a stream is fetched a batch at a time, pipelined, from each user's
 * Redis shard (the module's ring over the --redis names).  So the work is
 * O(rows) and the memory O(batch), at any number of awards.  The checks,
 * each break named by its class:
 *
 *   pool_sum                the plans' totals sum to the pool, each shard's
 *                           awards to its plan's total, and each shard's
 *                           pool was funded with its plan's total
 *   missing_credit (少发)   a credited award, or one pending longer than
 *                           pending_max, with no credit transfer
 *   duplicate_credit (多发) an award with more than one credit transfer
 *   amount_mismatch         an award whose transfer moved another amount
 *   stale_pending           an award pending longer than pending_max whose
 *                           transfer is there (its status lags the ledger)
 *   transfer_without_award  a credit transfer of the campaign whose award
 *                           does not exist
 *   status_mismatch         field w of cc:{uid}:u disagrees with MySQL: no
 *                           w for an award, w without an award, another
 *                           amount or id, "c" for a pending award, or "p"
 *                           for a credited one whose status was pushed to
 *                           Redis (notified = 1 and no open notice row
 *                           covers it; before that "p" is fine)
 *   eligible_mismatch       Redis users with field e (found by SCAN) versus
 *                           MySQL's eligibility rows before the cutoff;
 *                           and an eligible user without an award, an award
 *                           of a user who is not eligible
 *   ledger_unbalanced       a shard's accounts: total debits != total
 *                           credits, an account's posted sums != the sums
 *                           of its transfers (or a transfer's account
 *                           missing), a guarded account below zero
 *   pool_not_empty          a shard with nothing pending whose pool
 *                           account still holds money
 *   long_at_wallet, short_at_wallet, wallet_amount_mismatch,
 *   duplicate_at_wallet, unknown_key
 *                           with --statement FILE, the external wallet's
 *                           statement against the awards and the ledger
 *                           (三方对账, cc_stmt.c)
 *
 * With wallet http (cc_wallet.h) an award may be 'crediting': its credit
 * is a pending transfer until the wallet confirms, then a post; the post
 * is its credit transfer here, and the pending sums (ledger_pending) are
 * checked apart from the posted ones.
 *
 * MySQL is read before Redis for each batch: the payout sets notified = 1
 * only after Redis holds "c", or with the credit under a notice row of
 * award_notices that it tells only after Redis holds "c" (sql/money.sql);
 * so a credited, notified award that no open notice row covers, read
 * from MySQL, has "c" in Redis unless something is wrong.
 *
 * --repair re-drives every missing credit through cc_ledger_credit_batch,
 * the payout's idempotent path (the transfer id is the award id, a primary
 * key): a pending award is credited and set credited in one transaction,
 * as the payout does; a credited award without a transfer gets its one
 * transfer (its status stays).  A second repair, or a payout racing it,
 * writes nothing more.  A missing credit whose wallet account holds more
 * credits than its transfers (the ledger is read first: a transfer was
 * deleted, the money moved) is not re-driven: it would pay twice.  Every
 * other class is only reported; each break's line and JSON say which
 * ("repair": cc_money_class_repair, cc_money_report.c).
 *
 * The parts, one concern a file (their shared state is cc_money_t,
 * cc_money_run.h):
 *
 *   cc_money.c          options, opening the stores, the run
 *   cc_money_mysql.c    a MySQL shard's access; every check of one
 *                       shard, in order
 *   cc_money_awards.c   awards against transfers, orphans, eligibility
 *                       rows
 *   cc_money_ledger.c   the plan, the pool, the ledger's balance
 *   cc_money_redis.c    w and e in Redis; the SCAN pass
 *   cc_money_repair.c   --repair
 *   cc_money_report.c   the breaks, the JSON document, metrics, the
 *                       alert command
 */


#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_money.h"
#include "cc_money_mysql.h"
#include "cc_money_redis.h"
#include "cc_money_fields.h"
#include "cc_money_repair.h"
#include "cc_money_report.h"
#include "cc_redis.h"
#include "cc_secret.h"
#include "cc_worker.h"


static void
cc_money_usage(FILE *out)
{
    fprintf(out,
"usage: cc-reconcile --money --campaign FILE --redis HOST:PORT [--redis ...]\n"
"                    --mysql HOST:PORT/DB [--mysql ...] [--repair]\n"
"                    [--json OUT] [--metrics-file PATH] [options]\n"
"\n"
"Checks that the money of a drawn campaign adds up: the awards sum to the\n"
"pool; every credited award has exactly one ledger transfer of its amount\n"
"and every credit transfer an award; no award is pending longer than\n"
"pending_max; Redis's award status (field w) and eligible users (field e)\n"
"equal MySQL's; each shard's ledger balances; the pools are empty once\n"
"nothing is pending.  Each break is printed on one line (class, shard,\n"
"award, uid, expected, found) and written in a JSON document; any break\n"
"exits 1 and runs the campaign's alert command with that JSON on stdin.\n"
"\n"
"  --campaign FILE      the campaign file (pool, pending_max, alert, ...)\n"
"  --redis ADDR         a Redis shard of the module, in cc_redis_shards\n"
"                       order, repeat; a master name with --sentinel\n"
"  --mysql SHARD        a MySQL shard, host:port/database, repeat in ring\n"
"                       order (the order cc-draw was given);\n"
"                       host:port,host:port/database: the writable one\n"
"                       of these (@@read_only = 0)\n"
"  --user NAME          MySQL user (default " CC_ROLE_BOOKS "; with --repair\n"
"                       " CC_ROLE_REPAIR ")\n"
CC_SECRET_MYSQL_HELP
CC_SECRET_REDIS_HELP
CC_REDIS_SENTINEL_HELP
"  --repair             credit every missing credit (a credited award, or\n"
"                       one pending past pending_max, without a transfer)\n"
"                       through the ledger's idempotent credit, but not\n"
"                       one whose wallet account already holds money no\n"
"                       transfer explains (a deleted transfer: it would\n"
"                       pay twice), and write again each award field w\n"
"                       that Redis lost or holds behind MySQL (a\n"
"                       failover), through award_set.lua, never\n"
"                       backwards; other breaks are only reported.  Each\n"
"                       break's line ends with what --repair does with it\n"
"  --statement FILE     also compare the external wallet's statement\n"
"                       (key,uid,amount_cents,currency,applied_at_ms a\n"
"                       line) with the awards and the ledger: long_at_\n"
"                       wallet, short_at_wallet, wallet_amount_mismatch,\n"
"                       duplicate_at_wallet, unknown_key; --repair then\n"
"                       retries, with the same key, the breaks a retry\n"
"                       mends (wallet http)\n"
"  --json OUT           write the JSON document to OUT (also when clean)\n"
"  --metrics-file PATH  write a Prometheus textfile (rows, rate, last\n"
"                       success, breaks by class)\n"
"  --alert-timeout SEC  kill the alert command after SEC (default 10)\n"
"  --batch N            rows per Redis pipeline, 1..10000 (default 1000)\n"
"  --help               this text\n"
"\n"
"Exit status: 0 no break, 1 breaks found, 2 bad input or a store that\n"
"could not be read.\n");
}


static int
cc_money_parse(int argc, char **argv, cc_money_t *m)
{
    int     c;
    size_t  i;

    static const struct option  opts[] = {
        { "money",         no_argument,       NULL, 'M' },
        { "campaign",      required_argument, NULL, 'c' },
        { "redis",         required_argument, NULL, 'r' },
        { "mysql",         required_argument, NULL, 'm' },
        { "user",          required_argument, NULL, 'u' },
        { "repair",        no_argument,       NULL, 'R' },
        { "json",          required_argument, NULL, 'j' },
        { "statement",     required_argument, NULL, 'S' },
        { "metrics-file",  required_argument, NULL, 'f' },
        { "alert-timeout", required_argument, NULL, 'a' },
        { "batch",         required_argument, NULL, 'n' },
        { "help",          no_argument,       NULL, 'h' },
        CC_SECRET_MYSQL_OPTIONS,
        CC_SECRET_REDIS_OPTIONS,
        CC_REDIS_SENTINEL_OPTION,
        { NULL, 0, NULL, 0 }
    };

    m->user = NULL;
    m->alert_timeout_s = 10;
    m->batch = 1000;
    optind = 1;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'M': break;
        case 'c': m->campaign_path = optarg; break;
        case 'u': m->user = optarg; break;
        case 'R': m->repair = 1; break;
        case 'j': m->json_path = optarg; break;
        case 'S': m->statement_path = optarg; break;
        case 'f': m->metrics_path = optarg; break;

        case 'r':
            if (m->nredis == CC_MONEY_REDIS_MAX) {
                fprintf(stderr, "cc-reconcile: too many --redis\n");
                return -1;
            }
            m->redis_names[m->nredis++] = optarg;
            break;

        case 'm':
            if (m->nmysql == CC_STORE_SHARDS_MAX) {
                fprintf(stderr, "cc-reconcile: too many --mysql\n");
                return -1;
            }
            m->mysql[m->nmysql++] = optarg;
            break;

        case 'a':
            if (cc_opt_int("--alert-timeout", optarg, 1, 3600,
                           &m->alert_timeout_s)
                != 0)
            {
                return -1;
            }
            break;

        case 'n':
            if (cc_opt_int("--batch", optarg, 1, 10000, &m->batch) != 0) {
                return -1;
            }
            break;

        case 'h':
            cc_money_usage(stdout);
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
            cc_money_usage(stderr);
            return -1;
        }
    }

    if (optind != argc) {
        fprintf(stderr, "cc-reconcile: unexpected argument \"%s\"\n",
                argv[optind]);
        return -1;
    }

    if (m->campaign_path == NULL) {
        fprintf(stderr, "cc-reconcile: --money needs --campaign FILE\n");
        return -1;
    }

    if (m->nredis == 0 || m->nmysql == 0) {
        fprintf(stderr, "cc-reconcile: --money needs --redis and --mysql\n");
        return -1;
    }

    for (i = 0; i < m->nredis; i++) {
        if (cc_redis_opt_addr(m->redis_names[i], &m->redis_addrs[i]) != 0) {
            return -1;
        }
    }

    /* reading the books is one role; mending them, another */
    if (m->user == NULL) {
        m->user = m->repair ? CC_ROLE_REPAIR : CC_ROLE_BOOKS;
    }

    return 0;
}


static int
cc_money_open(cc_money_t *m)
{
    char    err[512];
    size_t  i, lens[CC_MONEY_REDIS_MAX];

    if (cc_campaign_load(m->campaign_path, &m->camp, err, sizeof(err)) != 0)
    {
        fprintf(stderr, "cc-reconcile: campaign file %s\n", err);
        return -1;
    }

    m->cutoff_ms = m->camp.cutoff * 1000;

    for (i = 0; i < m->nredis; i++) {
        lens[i] = strlen(m->redis_names[i]);
    }

    m->points = calloc(cc_ring_npoints(m->nredis), sizeof(cc_ring_point_t));
    m->look = calloc((size_t) m->batch, sizeof(cc_money_look_t));
    m->sql_len = (size_t) m->batch * 80 + 1024;
    m->sql = malloc(m->sql_len);
    m->doc = cJSON_CreateObject();
    m->breaks = cJSON_CreateArray();

    if (m->points == NULL || m->look == NULL || m->sql == NULL
        || m->doc == NULL || m->breaks == NULL)
    {
        cc_log("out of memory");
        return -1;
    }

    if (cc_ring_build(&m->ring, m->points,
                      (const char *const *) m->redis_names, lens, m->nredis)
        != 0)
    {
        fprintf(stderr, "cc-reconcile: bad --redis list\n");
        return -1;
    }

    for (i = 0; i < m->nredis; i++) {
        m->redis[i] = cc_redis_connect(&m->redis_addrs[i], m->redis_names[i],
                                       5000, err, sizeof(err));
        if (m->redis[i] == NULL) {
            cc_log("%s", err);
            return -1;
        }
    }

    if (cc_store_open(&m->st, m->mysql, m->nmysql, m->user,
                      cc_secret_mysql_password()) != 0)
    {
        fprintf(stderr, "cc-reconcile: %s\n", m->st.err);
        return -1;
    }

    m->st_open = 1;

    if (cc_store_connect(&m->st) != 0) {
        cc_log("mysql: %s", m->st.err);
        return -1;
    }

    return 0;
}


static void
cc_money_close(cc_money_t *m)
{
    size_t  i;

    for (i = 0; i < m->nredis; i++) {
        if (m->redis[i] != NULL) {
            redisFree(m->redis[i]);
        }
    }

    if (m->st_open) {
        cc_store_close(&m->st);
    }

    cJSON_Delete(m->doc);
    cJSON_Delete(m->breaks);
    free(m->points);
    free(m->look);
    free(m->sql);
    free(m->missing);
    free(m->moved);
    free(m->fields);
}


/*
 * The check itself: every MySQL shard, every Redis shard, the plans
 * against the pool, the statement; -1 when it stopped before the end (a
 * shard down, a stop signal, a statement not read).
 */
static int
cc_money_check(cc_money_t *m)
{
    char      found[64], expected[64];
    size_t    r;
    uint32_t  s;

    m->started_ms = cc_now_ms();
    m->progress_ms = m->started_ms;

    if (m->statement_path != NULL) {
        char  err[512];

        m->stmt = cc_stmt_load(m->statement_path, &m->camp, err, sizeof(err));
        if (m->stmt == NULL) {
            fprintf(stderr, "cc-reconcile: --statement %s\n", err);
            return -1;
        }
    }

    cc_log("campaign %s: checking the money on %zu MySQL and %zu Redis "
           "shard(s)%s", m->camp.id, m->nmysql, m->nredis,
           m->repair ? ", repairing missing credits" : "");

    for (s = 0; s < m->st.nshards; s++) {
        if (!cc_worker_run || cc_money_shard(m, s) != 0) {
            cc_log("campaign %s: stopped on shard %u, the check is not "
                   "complete", m->camp.id, s);
            return -1;
        }
    }

    for (r = 0; r < m->nredis; r++) {
        if (cc_money_scan(m, r) != 0) {
            cc_log("campaign %s: stopped on Redis %s, the check is not "
                   "complete", m->camp.id, m->redis_names[r]);
            return -1;
        }
    }

    if (m->plan_sum != m->camp.pool_cents) {
        snprintf(expected, sizeof(expected), "plans of %" PRIu64
                 " (the pool)", m->camp.pool_cents);
        snprintf(found, sizeof(found), "%llu", m->plan_sum);
        cc_money_break(m, CC_MONEY_POOL_SUM, -1, NULL, 0, expected, found);
    }

    if (m->stmt != NULL) {
        cc_stmt_finish(m->stmt, cc_money_stmt_break, m);
    }

    /*
     * The three ways in sums (三方对账): each difference is a key's break
     * above, classified; the sums say how much.
     */
    if (m->camp.wallet == CC_WALLET_HTTP) {
        m->stmt_sum = m->stmt != NULL ? cc_stmt_sum(m->stmt) : 0;
        cc_log("campaign %s: three-way: posted to clearing:%s %" PRIu64
               ", credited awards %" PRIu64 ", the statement %" PRIu64 "%s",
               m->camp.id, m->camp.id, m->clearing_sum, m->credited_sum,
               m->stmt_sum, m->stmt != NULL ? "" : " (no --statement)");
    }

    return 0;
}


/*
 * The check's result: the JSON document (--json), the metrics, the log's
 * lines, the alert; the exit code: 0 clean, 1 breaks found, 2 out of
 * memory.
 */
static int
cc_money_finish(cc_money_t *m)
{
    int                  i, rc;
    char                *json;
    int64_t              done_ms;
    unsigned long long   total;

    done_ms = cc_now_ms();
    total = 0;

    for (i = 0; i < CC_MONEY_NCLASS; i++) {
        total += m->counts[i];
    }

    json = cc_money_document(m, total);
    if (json == NULL) {
        cc_log("out of memory");
        return 2;
    }

    if (m->json_path && cc_money_write_file(m->json_path, json) != 0) {
        cc_log("--json %s: %s", m->json_path, strerror(errno));
    }

    cc_money_metrics(m, total, done_ms);

    cc_log("campaign %s: %llu rows checked in %.1f s, %llu break(s)",
           m->camp.id, m->rows, (done_ms - m->started_ms) / 1000.0, total);

    for (i = 0; i < CC_MONEY_NCLASS; i++) {
        if (m->counts[i]) {
            cc_log("  %s: %llu", cc_money_class_names[i], m->counts[i]);
        }
    }

    if (m->repair) {
        cc_log("repaired %llu of %zu missing credit(s)", m->repaired,
               m->nmissing);
        cc_log("repaired %llu of %zu award field(s) w in Redis",
               m->fields_repaired, m->nfields);
    }

    rc = 0;

    if (total > 0) {
        cc_money_alert(m, json);
        rc = 1;
    }

    free(json);

    return rc;
}


int
cc_money_main(int argc, char **argv)
{
    int          rc;
    cc_money_t   m;

    memset(&m, 0, sizeof(m));
    rc = 2;

    if (cc_opt_done(cc_money_parse(argc, argv, &m), &rc)) {
        goto done;
    }

    if (cc_secret_load() != 0) {
        rc = 2;
        goto done;
    }

    if (cc_money_open(&m) != 0 || cc_money_check(&m) != 0) {
        goto done;
    }

    if (m.repair && m.nmissing > 0) {
        cc_money_repair(&m);
    }

    if (m.repair) {
        cc_money_repair_fields(&m);
    }

    if (m.repair && m.stmt != NULL) {
        m.repaired += cc_stmt_repair(m.stmt, &m.st);
    }

    rc = cc_money_finish(&m);

done:

    cc_stmt_free(m.stmt);
    cc_money_close(&m);
    mysql_library_end();

    return rc;
}
