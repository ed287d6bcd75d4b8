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
 *                           Redis (notified = 1; before that "p" is fine)
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
 *                           (三方对账, cc_reconcile_statement.c)
 *
 * With wallet http (cc_wallet.h) an award may be 'crediting': its credit
 * is a pending transfer until the wallet confirms, then a post; the post
 * is its credit transfer here, and the pending sums (ledger_pending) are
 * checked apart from the posted ones.
 *
 * MySQL is read before Redis for each batch: the payout sets notified only
 * after Redis holds "c", so a credited, notified award read from MySQL has
 * "c" in Redis unless something is wrong.
 *
 * --repair re-drives every missing credit through cc_ledger_credit_batch,
 * the payout's idempotent path (the transfer id is the award id, a primary
 * key): a pending award is credited and set credited in one transaction,
 * as the payout does; a credited award without a transfer gets its one
 * transfer (its status stays).  A second repair, or a payout racing it,
 * writes nothing more.  Every other class is only reported.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "cc_addr.h"
#include "cc_campaign.h"
#include "cc_ids.h"
#include "cc_keys.h"
#include "cc_ledger.h"
#include "cc_promfile.h"
#include "cc_reconcile_money.h"
#include "cc_reconcile_statement.h"
#include "cc_store.h"
#include "cc_worker.h"


#define CC_MONEY_REDIS_MAX      64
#define CC_MONEY_JSON_MAX       10000   /* breaks kept in the document */
#define CC_MONEY_REPAIR_BATCH   500
#define CC_MONEY_ID_MAX         64      /* awards.award_id */
#define CC_MONEY_W_MAX          128     /* a w value kept for a report */
#define CC_MONEY_PROGRESS_MS    5000


typedef enum {
    CC_MONEY_MISSING_CREDIT = 0,
    CC_MONEY_DUPLICATE_CREDIT,
    CC_MONEY_AMOUNT_MISMATCH,
    CC_MONEY_TRANSFER_WITHOUT_AWARD,
    CC_MONEY_STALE_PENDING,
    CC_MONEY_STATUS_MISMATCH,
    CC_MONEY_ELIGIBLE_MISMATCH,
    CC_MONEY_POOL_SUM,
    CC_MONEY_LEDGER_UNBALANCED,
    CC_MONEY_POOL_NOT_EMPTY,
    CC_MONEY_STATEMENT,             /* + cc_stmt_class_e: --statement's */
    CC_MONEY_NCLASS = CC_MONEY_STATEMENT + CC_STMT_NCLASS
} cc_money_class_e;


static const char  *cc_money_class_names[CC_MONEY_NCLASS] = {
    "missing_credit", "duplicate_credit", "amount_mismatch",
    "transfer_without_award", "stale_pending", "status_mismatch",
    "eligible_mismatch", "pool_sum", "ledger_unbalanced", "pool_not_empty",
    "long_at_wallet", "short_at_wallet", "wallet_amount_mismatch",
    "duplicate_at_wallet", "unknown_key"
};


/* a missing credit, kept for --repair */
typedef struct {
    char       award_id[CC_MONEY_ID_MAX + 1];
    uint64_t   uid;
    uint64_t   amount;
    uint32_t   shard;
    int        pending;
    cJSON     *json;           /* its break in the document, or NULL */
} cc_money_missing_t;


/* a row of a MySQL stream waiting for its user's Redis fields */
typedef struct {
    uint64_t   uid;
    uint64_t   amount;
    char       award_id[CC_MONEY_ID_MAX + 1];
    char       want;           /* w: 'p', 'c', or '?' (either) */
    int        has_e;          /* SCAN pass: Redis has e */
    char       w[CC_MONEY_W_MAX + 1];   /* SCAN pass: w, "" when none */
    int        in_elig;        /* SCAN pass: eligible in MySQL */
    int        in_awards;      /* SCAN pass: award in MySQL */
    int64_t    combined_at;    /* SCAN pass: -1 when no row */
} cc_money_look_t;


/* one award and its credit transfers, gathered from consecutive rows */
typedef struct {
    char       award_id[CC_MONEY_ID_MAX + 1];
    uint64_t   uid;
    uint64_t   amount;
    int        pending;
    int        notified;
    int64_t    created_at;
    unsigned   transfers;
    uint64_t   transfer_sum;
    uint64_t   transfer_amount;     /* of the first */
    int64_t    combined_at;         /* -1: not eligible */
} cc_money_award_t;


typedef struct {
    const char          *campaign_path;
    char                *redis_names[CC_MONEY_REDIS_MAX];
    size_t               nredis;
    char                *mysql[CC_STORE_SHARDS_MAX];
    size_t               nmysql;
    const char          *user;
    const char          *json_path;
    const char          *metrics_path;
    const char          *statement_path;
    cc_stmt_t           *stmt;
    long long            alert_timeout_s;
    long long            batch;
    int                  repair;

    cc_campaign_t        camp;
    cc_store_t           st;
    int                  st_open;
    redisContext        *redis[CC_MONEY_REDIS_MAX];
    cc_ring_t            ring;
    cc_ring_point_t     *points;
    int64_t              started_ms;
    int64_t              cutoff_ms;
    int64_t              progress_ms;

    unsigned long long   counts[CC_MONEY_NCLASS];
    unsigned long long   rows;
    unsigned long long   omitted;
    unsigned long long   repaired;
    size_t               njson;
    cJSON               *doc;
    cJSON               *breaks;

    cc_money_missing_t  *missing;
    size_t               nmissing;
    size_t               missing_cap;

    cc_money_look_t     *look;
    size_t               nlook;
    char                *sql;          /* room for a batch's IN list */
    size_t               sql_len;

    /* the shard being read */
    uint32_t             shard;
    uint64_t             award_sum;
    unsigned long long   pending;
    unsigned long long   plan_sum;
} cc_money_t;


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
"The MySQL password is read from $CC_MYSQL_PASSWORD.\n"
"\n"
"  --campaign FILE      the campaign file (pool, pending_max, alert, ...)\n"
"  --redis ADDR         a Redis shard of the module, in cc_redis_shards\n"
"                       order, repeat\n"
"  --mysql SHARD        a MySQL shard, host:port/database, repeat in ring\n"
"                       order (the order cc-draw was given)\n"
"  --user NAME          MySQL user (default root)\n"
"  --repair             credit every missing credit (a credited award, or\n"
"                       one pending past pending_max, without a transfer)\n"
"                       through the ledger's idempotent credit; other\n"
"                       breaks are only reported\n"
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
    int  c;

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
        { NULL, 0, NULL, 0 }
    };

    m->user = "root";
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
            exit(0);

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

    return 0;
}


/* ---- breaks ------------------------------------------------------------ */


/*
 * Counts a break, prints it on one line and adds it to the document (the
 * first CC_MONEY_JSON_MAX of them; the rest are counted in
 * breaks_omitted).  shard < 0, award_id NULL, uid 0: does not apply.
 */
static cJSON *
cc_money_break(cc_money_t *m, cc_money_class_e cls, long shard,
    const char *award_id, uint64_t uid, const char *expected,
    const char *found)
{
    char    u[24];
    cJSON  *b;

    m->counts[cls]++;

    snprintf(u, sizeof(u), "%" PRIu64, uid);

    printf("break %s shard %s%ld award %s uid %s: expected %s, found %s\n",
           cc_money_class_names[cls], shard < 0 ? "-" : "",
           shard < 0 ? 0L : shard, award_id ? award_id : "-",
           uid ? u : "-", expected, found);

    if (m->njson == CC_MONEY_JSON_MAX) {
        m->omitted++;
        return NULL;
    }

    b = cJSON_CreateObject();
    if (b == NULL) {
        m->omitted++;
        return NULL;
    }

    cJSON_AddStringToObject(b, "class", cc_money_class_names[cls]);

    if (shard < 0) {
        cJSON_AddNullToObject(b, "shard");
    } else {
        cJSON_AddNumberToObject(b, "shard", (double) shard);
    }

    if (award_id) {
        cJSON_AddStringToObject(b, "award_id", award_id);
    } else {
        cJSON_AddNullToObject(b, "award_id");
    }

    /* a string: a uid may exceed a double's 53 bits */
    if (uid) {
        cJSON_AddStringToObject(b, "uid", u);
    } else {
        cJSON_AddNullToObject(b, "uid");
    }

    cJSON_AddStringToObject(b, "expected", expected);
    cJSON_AddStringToObject(b, "found", found);

    cJSON_AddItemToArray(m->breaks, b);
    m->njson++;

    return b;
}


static void
cc_money_progress(cc_money_t *m, const char *what)
{
    int64_t  now;

    now = cc_now_ms();

    if (now - m->progress_ms >= CC_MONEY_PROGRESS_MS) {
        cc_log("shard %u: %s; %llu rows checked in all, %llu breaks so far",
               m->shard, what, m->rows, m->omitted + m->njson);
        m->progress_ms = now;
    }
}


/* ---- stores -------------------------------------------------------------- */


static redisContext *
cc_money_redis_connect(const char *name)
{
    cc_addr_t        a;
    const char      *why;
    redisContext    *rc;
    struct timeval   tv = { 5, 0 };

    if (cc_addr_parse(name, strlen(name), &a, &why) != 0) {
        fprintf(stderr, "cc-reconcile: --redis \"%s\": %s\n", name, why);
        return NULL;
    }

    rc = redisConnectWithTimeout(a.host, (int) a.port, tv);

    if (rc == NULL || rc->err) {
        cc_log("redis %s: %s", name, rc ? rc->errstr : "out of memory");
        redisFree(rc);
        return NULL;
    }

    redisSetTimeout(rc, tv);

    return rc;
}


static MYSQL *
cc_money_db(cc_money_t *m)
{
    return m->st.shards[m->shard].conn;
}


static MYSQL_RES *
cc_money_query(cc_money_t *m, const char *sql, int stream)
{
    MYSQL      *db;
    MYSQL_RES  *res;

    db = cc_money_db(m);

    if (mysql_real_query(db, sql, strlen(sql)) != 0) {
        goto failed;
    }

    res = stream ? mysql_use_result(db) : mysql_store_result(db);
    if (res == NULL) {
        goto failed;
    }

    return res;

failed:

    cc_log("mysql %s: %s", m->st.shards[m->shard].name, mysql_error(db));
    return NULL;
}


/* after mysql_fetch_row() returned NULL: 0 at the end, -1 on an error */
static int
cc_money_stream_end(cc_money_t *m, MYSQL_RES *res)
{
    MYSQL  *db;

    db = cc_money_db(m);
    mysql_free_result(res);

    if (mysql_errno(db) != 0) {
        cc_log("mysql %s: %s (while reading)", m->st.shards[m->shard].name,
               mysql_error(db));
        return -1;
    }

    return 0;
}


static int
cc_money_exec(cc_money_t *m, const char *sql)
{
    MYSQL  *db;

    db = cc_money_db(m);

    if (mysql_real_query(db, sql, strlen(sql)) != 0) {
        cc_log("mysql %s: %s", m->st.shards[m->shard].name, mysql_error(db));
        return -1;
    }

    return 0;
}


static uint64_t
cc_money_u64(const char *s)
{
    return s ? strtoull(s, NULL, 10) : 0;
}


/*
 * HGET field of every waiting row's user hash, pipelined: each command
 * goes to the user's Redis shard, and the replies of one connection come
 * back in the order sent, so reading them in the rows' order pairs each
 * reply with its row.  r[i] is the reply (the caller frees), or -1 when a
 * Redis shard failed (every reply freed).
 */
static int
cc_money_hget(cc_money_t *m, const char *field, redisReply **r)
{
    char           key[CC_KEY_MAX];
    void          *reply;
    size_t         i, j;
    redisContext  *c;

    for (i = 0; i < m->nlook; i++) {
        cc_key_user(key, m->look[i].uid);
        c = m->redis[cc_ring_shard(&m->ring, m->look[i].uid)];
        redisAppendCommand(c, "HGET %s %s", key, field);
    }

    for (i = 0; i < m->nlook; i++) {
        j = cc_ring_shard(&m->ring, m->look[i].uid);
        c = m->redis[j];

        if (redisGetReply(c, &reply) != REDIS_OK) {
            cc_log("redis %s: HGET: %s", m->redis_names[j], c->errstr);
            goto failed;
        }

        r[i] = reply;

        if (r[i]->type != REDIS_REPLY_STRING && r[i]->type != REDIS_REPLY_NIL)
        {
            cc_log("redis %s: HGET: %s", m->redis_names[j],
                   r[i]->type == REDIS_REPLY_ERROR ? r[i]->str
                   : "not a string");
            i++;
            goto failed;
        }
    }

    return 0;

failed:

    for (j = 0; j < i; j++) {
        freeReplyObject(r[j]);
    }

    return -1;
}


/* ---- awards and their transfers ------------------------------------------ */


static int
cc_money_add_missing(cc_money_t *m, const cc_money_award_t *a, cJSON *json)
{
    cc_money_missing_t  *p;

    if (m->nmissing == m->missing_cap) {
        p = realloc(m->missing, (m->missing_cap ? m->missing_cap * 2 : 64)
                                * sizeof(cc_money_missing_t));
        if (p == NULL) {
            cc_log("out of memory");
            return -1;
        }
        m->missing = p;
        m->missing_cap = m->missing_cap ? m->missing_cap * 2 : 64;
    }

    p = &m->missing[m->nmissing++];
    memcpy(p->award_id, a->award_id, sizeof(p->award_id));
    p->uid = a->uid;
    p->amount = a->amount;
    p->shard = m->shard;
    p->pending = a->pending;
    p->json = json;

    return 0;
}


/*
 * The Redis side of a batch of awards: w = "<p|c>:<amount>:<award_id>"
 * (cc_keys.h), with the status MySQL says (want).
 */
static int
cc_money_flush_awards(cc_money_t *m)
{
    char              expected[160], found[CC_MONEY_W_MAX + 8], tail[96];
    size_t            i;
    redisReply      **r;
    cc_money_look_t  *l;

    if (m->nlook == 0) {
        return 0;
    }

    r = calloc(m->nlook, sizeof(redisReply *));
    if (r == NULL || cc_money_hget(m, CC_FIELD_AWARD, r) != 0) {
        free(r);
        return -1;
    }

    for (i = 0; i < m->nlook; i++) {
        l = &m->look[i];

        snprintf(tail, sizeof(tail), "%" PRIu64 ":%s", l->amount,
                 l->award_id);
        snprintf(expected, sizeof(expected), "%s:%s",
                 l->want == 'p' ? "p" : l->want == 'c' ? "c" : "p|c", tail);

        if (r[i]->type == REDIS_REPLY_NIL) {
            cc_money_break(m, CC_MONEY_STATUS_MISMATCH, m->shard,
                           l->award_id, l->uid, expected, "none");

        } else if (r[i]->len < 2
                   || (r[i]->str[0] != 'p' && r[i]->str[0] != 'c')
                   || r[i]->str[1] != ':'
                   || (l->want != '?' && r[i]->str[0] != l->want)
                   || strcmp(r[i]->str + 2, tail) != 0)
        {
            snprintf(found, sizeof(found), "%.*s", CC_MONEY_W_MAX,
                     r[i]->str);
            cc_money_break(m, CC_MONEY_STATUS_MISMATCH, m->shard,
                           l->award_id, l->uid, expected, found);
        }

        freeReplyObject(r[i]);
    }

    free(r);
    m->nlook = 0;

    return 0;
}


/* the checks of one award and its transfers, once all its rows are read */
static int
cc_money_award_done(cc_money_t *m, const cc_money_award_t *a)
{
    char              expected[96], found[96];
    int64_t           age_s;
    cJSON            *json;
    cc_money_look_t  *l;

    m->rows++;
    m->award_sum += a->amount;
    m->pending += a->pending;

    age_s = (m->started_ms - a->created_at) / 1000;

    if (a->transfers == 0) {
        if (!a->pending || age_s > m->camp.pending_max) {
            snprintf(expected, sizeof(expected), "a credit of %" PRIu64,
                     a->amount);
            if (a->pending) {
                snprintf(found, sizeof(found),
                         "no transfer, pending for %" PRId64 " s", age_s);
            } else {
                snprintf(found, sizeof(found), "no transfer, credited");
            }

            json = cc_money_break(m, CC_MONEY_MISSING_CREDIT, m->shard,
                                  a->award_id, a->uid, expected, found);

            /* wallet http: the ledger's own credit would skip the wallet */
            if (m->camp.wallet != CC_WALLET_HTTP
                && cc_money_add_missing(m, a, json) != 0)
            {
                return -1;
            }
        }

    } else if (a->transfers > 1) {
        snprintf(found, sizeof(found), "%u transfers of %" PRIu64 " in all",
                 a->transfers, a->transfer_sum);
        cc_money_break(m, CC_MONEY_DUPLICATE_CREDIT, m->shard, a->award_id,
                       a->uid, "1 transfer", found);

    } else if (a->transfer_amount != a->amount) {
        snprintf(expected, sizeof(expected), "%" PRIu64, a->amount);
        snprintf(found, sizeof(found), "%" PRIu64, a->transfer_amount);
        cc_money_break(m, CC_MONEY_AMOUNT_MISMATCH, m->shard, a->award_id,
                       a->uid, expected, found);
    }

    if (a->transfers > 0 && a->pending && age_s > m->camp.pending_max) {
        snprintf(expected, sizeof(expected), "credited within %" PRId64 " s",
                 m->camp.pending_max);
        snprintf(found, sizeof(found), "pending for %" PRId64 " s", age_s);
        cc_money_break(m, CC_MONEY_STALE_PENDING, m->shard, a->award_id,
                       a->uid, expected, found);
    }

    if (a->combined_at < 0 || a->combined_at >= m->cutoff_ms) {
        if (a->combined_at < 0) {
            snprintf(found, sizeof(found), "an award, no eligibility row");
        } else {
            snprintf(found, sizeof(found), "an award, combined at %" PRId64
                     " ms", a->combined_at);
        }
        cc_money_break(m, CC_MONEY_ELIGIBLE_MISMATCH, m->shard, a->award_id,
                       a->uid, "combined before the cutoff", found);
    }

    l = &m->look[m->nlook++];
    l->uid = a->uid;
    l->amount = a->amount;
    memcpy(l->award_id, a->award_id, sizeof(l->award_id));
    l->want = a->pending ? 'p' : a->notified ? 'c' : '?';

    if ((long long) m->nlook == m->batch) {
        return cc_money_flush_awards(m);
    }

    return 0;
}


/*
 * One stream over the shard's awards of the campaign in uid order (the
 * unique key (campaign, uid): no sort), each joined with its credit
 * transfers (by_award) and its eligibility row (the primary key).  An
 * award with k transfers is k consecutive rows.
 */
static int
cc_money_awards(cc_money_t *m)
{
    char               sql[1024];
    MYSQL_ROW          row;
    MYSQL_RES         *res;
    cc_money_award_t   a;

    snprintf(sql, sizeof(sql),
             "SELECT a.award_id, a.uid, a.amount_cents, a.status, "
             "a.notified, a.created_at, t.transfer_id, t.amount_cents, "
             "el.combined_at "
             "FROM awards a "
             "LEFT JOIN ledger_transfers t ON t.award_id = a.award_id "
             "AND t.kind IN ('credit', 'post') "
             "LEFT JOIN eligibility el ON el.uid = a.uid "
             "WHERE a.campaign = '%s' ORDER BY a.uid",
             m->camp.id);

    res = cc_money_query(m, sql, 1);
    if (res == NULL) {
        return -1;
    }

    a.award_id[0] = '\0';

    while ((row = mysql_fetch_row(res)) != NULL) {
        if (a.award_id[0] == '\0' || strcmp(a.award_id, row[0]) != 0) {
            if (a.award_id[0] != '\0' && cc_money_award_done(m, &a) != 0) {
                goto failed;
            }

            memset(&a, 0, sizeof(a));
            snprintf(a.award_id, sizeof(a.award_id), "%s", row[0]);
            a.uid = cc_money_u64(row[1]);
            a.amount = cc_money_u64(row[2]);
            a.pending = strcmp(row[3], "credited") != 0;   /* crediting */
            a.notified = row[4][0] != '0';
            a.created_at = strtoll(row[5], NULL, 10);
            a.combined_at = row[8] ? strtoll(row[8], NULL, 10) : -1;

            cc_money_progress(m, "reading awards");
        }

        if (row[6] != NULL) {
            if (a.transfers++ == 0) {
                a.transfer_amount = cc_money_u64(row[7]);
            }
            a.transfer_sum += cc_money_u64(row[7]);
        }
    }

    if (a.award_id[0] != '\0' && cc_money_award_done(m, &a) != 0) {
        goto failed;
    }

    if (cc_money_stream_end(m, res) != 0) {
        return -1;
    }

    return cc_money_flush_awards(m);

failed:

    /* the rest of the stream must be read before the next query */
    while (mysql_fetch_row(res) != NULL) { /* void */ }
    mysql_free_result(res);
    return -1;
}


/* credit transfers of the campaign whose award is not there */
static int
cc_money_orphans(cc_money_t *m)
{
    char        sql[1024], found[256];
    uint64_t    uid;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    snprintf(sql, sizeof(sql),
             "SELECT t.transfer_id, t.award_id, t.credit, t.amount_cents "
             "FROM ledger_transfers t "
             "LEFT JOIN awards a ON a.award_id = t.award_id "
             "WHERE t.campaign = '%s' AND t.kind IN ('credit', 'post') "
             "AND a.award_id IS NULL", m->camp.id);

    res = cc_money_query(m, sql, 1);
    if (res == NULL) {
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        m->rows++;
        uid = strncmp(row[2], "wallet:", 7) == 0 ? cc_money_u64(row[2] + 7)
                                                 : 0;
        snprintf(found, sizeof(found), "transfer %.64s of %s to %.70s",
                 row[0], row[3], row[2]);
        cc_money_break(m, CC_MONEY_TRANSFER_WITHOUT_AWARD, m->shard,
                       row[1] ? row[1] : row[0], uid, "an award", found);
    }

    return cc_money_stream_end(m, res);
}


/* ---- eligibility ---------------------------------------------------------- */


static int
cc_money_flush_eligible(cc_money_t *m)
{
    size_t        i;
    redisReply  **r;

    if (m->nlook == 0) {
        return 0;
    }

    r = calloc(m->nlook, sizeof(redisReply *));
    if (r == NULL || cc_money_hget(m, CC_FIELD_COMBINE, r) != 0) {
        free(r);
        return -1;
    }

    for (i = 0; i < m->nlook; i++) {
        if (r[i]->type == REDIS_REPLY_NIL) {
            cc_money_break(m, CC_MONEY_ELIGIBLE_MISMATCH, m->shard, NULL,
                           m->look[i].uid, "field e in Redis",
                           "none (eligible in MySQL)");
        }

        freeReplyObject(r[i]);
    }

    free(r);
    m->nlook = 0;

    return 0;
}


/*
 * The shard's users eligible before the cutoff (primary key order), each
 * with whether it has an award: every one needs field e in Redis and an
 * award.  (Redis users with e that MySQL lacks are found by the SCAN.)
 */
static int
cc_money_eligible(cc_money_t *m)
{
    char        sql[1024], award_id[CC_MONEY_ID_MAX + 1];
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    snprintf(sql, sizeof(sql),
             "SELECT el.uid, a.award_id IS NOT NULL FROM eligibility el "
             "LEFT JOIN awards a ON a.campaign = '%s' AND a.uid = el.uid "
             "WHERE el.combined_at < %" PRId64 " ORDER BY el.uid",
             m->camp.id, m->cutoff_ms);

    res = cc_money_query(m, sql, 1);
    if (res == NULL) {
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        m->rows++;
        m->look[m->nlook].uid = cc_money_u64(row[0]);

        if (row[1][0] == '0') {
            snprintf(award_id, sizeof(award_id), "%s:%s", m->camp.id, row[0]);
            cc_money_break(m, CC_MONEY_ELIGIBLE_MISMATCH, m->shard, award_id,
                           m->look[m->nlook].uid, "an award",
                           "none (eligible before the cutoff)");
        }

        if ((long long) ++m->nlook == m->batch
            && cc_money_flush_eligible(m) != 0)
        {
            while (mysql_fetch_row(res) != NULL) { /* void */ }
            mysql_free_result(res);
            return -1;
        }

        cc_money_progress(m, "reading eligibility");
    }

    if (cc_money_stream_end(m, res) != 0) {
        return -1;
    }

    return cc_money_flush_eligible(m);
}


/* ---- the ledger and the pool ---------------------------------------------- */


/*
 * The pending sums (wallet http's two phases): they balance by
 * themselves (a pending transfer adds its amount to one account's
 * pending debits and another's pending credits; its post takes it off
 * both), and each account's are the amounts of its pending transfers
 * without a post.  With the posted check this is how Σ debits = Σ credits
 * holds with money in flight: posted with posted, pending with pending.
 */
static int
cc_money_pending(cc_money_t *m)
{
    char        expected[160], found[160];
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = cc_money_query(m, "SELECT COALESCE(SUM(debits), 0), "
                            "COALESCE(SUM(credits), 0) FROM ledger_pending",
                         0);
    if (res == NULL) {
        return -1;
    }

    row = mysql_fetch_row(res);
    if (row != NULL && strcmp(row[0], row[1]) != 0) {
        snprintf(found, sizeof(found), "pending debits %s, pending credits "
                 "%s", row[0], row[1]);
        cc_money_break(m, CC_MONEY_LEDGER_UNBALANCED, m->shard, NULL, 0,
                       "total pending debits = total pending credits",
                       found);
    }

    mysql_free_result(res);

    res = cc_money_query(m,
        "SELECT u.account, SUM(u.d), SUM(u.c), MAX(p.debits), "
        "MAX(p.credits) FROM ("
        "SELECT t.debit AS account, t.amount_cents AS d, 0 AS c "
        "FROM ledger_transfers t LEFT JOIN ledger_transfers q "
        "ON q.transfer_id = CONCAT('post:', t.transfer_id) "
        "WHERE t.kind = 'pending' AND q.transfer_id IS NULL "
        "UNION ALL SELECT t.credit, 0, t.amount_cents "
        "FROM ledger_transfers t LEFT JOIN ledger_transfers q "
        "ON q.transfer_id = CONCAT('post:', t.transfer_id) "
        "WHERE t.kind = 'pending' AND q.transfer_id IS NULL "
        "UNION ALL SELECT account, 0, 0 FROM ledger_pending) u "
        "LEFT JOIN ledger_pending p ON p.account = u.account "
        "GROUP BY u.account "
        "HAVING COALESCE(MAX(p.debits), 0) <> SUM(u.d) "
        "OR COALESCE(MAX(p.credits), 0) <> SUM(u.c)", 1);
    if (res == NULL) {
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        snprintf(expected, sizeof(expected), "%.80s: pending debits %s, "
                 "credits %s (its transfers in flight)", row[0], row[1],
                 row[2]);
        snprintf(found, sizeof(found), "pending debits %s, credits %s",
                 row[3] ? row[3] : "0", row[4] ? row[4] : "0");
        cc_money_break(m, CC_MONEY_LEDGER_UNBALANCED, m->shard, NULL,
                       strncmp(row[0], "wallet:", 7) == 0
                       ? cc_money_u64(row[0] + 7) : 0, expected, found);
    }

    return cc_money_stream_end(m, res);
}


/*
 * Double entry: every transfer is one debit and one credit, so the
 * accounts' totals are equal and each account's posted sums are those of
 * its transfers.  The ledger is the shard's, shared by every campaign.
 */
static int
cc_money_ledger(cc_money_t *m)
{
    char        expected[160], found[160];
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = cc_money_query(m, "SELECT COALESCE(SUM(debits), 0), "
                            "COALESCE(SUM(credits), 0) FROM ledger_accounts",
                         0);
    if (res == NULL) {
        return -1;
    }

    row = mysql_fetch_row(res);
    if (row != NULL && strcmp(row[0], row[1]) != 0) {
        snprintf(found, sizeof(found), "debits %s, credits %s", row[0],
                 row[1]);
        cc_money_break(m, CC_MONEY_LEDGER_UNBALANCED, m->shard, NULL, 0,
                       "total debits = total credits", found);
    }

    mysql_free_result(res);

    res = cc_money_query(m, "SELECT account, debits, credits "
                            "FROM ledger_accounts "
                            "WHERE guard = 1 AND debits > credits", 1);
    if (res == NULL) {
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        snprintf(found, sizeof(found), "%.80s: debits %s > credits %s",
                 row[0], row[1], row[2]);
        cc_money_break(m, CC_MONEY_LEDGER_UNBALANCED, m->shard, NULL,
                       strncmp(row[0], "wallet:", 7) == 0
                       ? cc_money_u64(row[0] + 7) : 0,
                       "a guarded account >= 0", found);
    }

    if (cc_money_stream_end(m, res) != 0) {
        return -1;
    }

    /*
     * Each account's transfers summed (one grouping over the transfers,
     * O(transfers)), next to its posted sums: only the accounts that
     * differ come back.
     */
    res = cc_money_query(m,
        "SELECT u.account, SUM(u.d), SUM(u.c), MAX(a.debits), "
        "MAX(a.credits) FROM ("
        "SELECT debit AS account, amount_cents AS d, 0 AS c "
        "FROM ledger_transfers WHERE kind <> 'pending' "
        "UNION ALL SELECT credit, 0, amount_cents FROM ledger_transfers "
        "WHERE kind <> 'pending' "
        "UNION ALL SELECT account, 0, 0 FROM ledger_accounts) u "
        "LEFT JOIN ledger_accounts a ON a.account = u.account "
        "GROUP BY u.account "
        "HAVING MAX(a.debits) IS NULL OR MAX(a.debits) <> SUM(u.d) "
        "OR MAX(a.credits) <> SUM(u.c)", 1);
    if (res == NULL) {
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        snprintf(expected, sizeof(expected),
                 "%.80s: debits %s, credits %s (its transfers)", row[0],
                 row[1], row[2]);

        if (row[3] == NULL) {
            snprintf(found, sizeof(found), "no such account");
        } else {
            snprintf(found, sizeof(found), "debits %s, credits %s (posted)",
                     row[3], row[4]);
        }

        cc_money_break(m, CC_MONEY_LEDGER_UNBALANCED, m->shard, NULL,
                       strncmp(row[0], "wallet:", 7) == 0
                       ? cc_money_u64(row[0] + 7) : 0, expected, found);
    }

    if (cc_money_stream_end(m, res) != 0) {
        return -1;
    }

    return cc_money_pending(m);
}


static int
cc_money_one(cc_money_t *m, const char *sql, char *out, size_t len)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = cc_money_query(m, sql, 0);
    if (res == NULL) {
        return -1;
    }

    row = mysql_fetch_row(res);
    out[0] = '\0';
    if (row != NULL && row[0] != NULL) {
        snprintf(out, len, "%s", row[0]);
    }

    mysql_free_result(res);

    return row != NULL;
}


/* the shard's plan: 1 with *total set, 0 when there is none, -1 error */
static int
cc_money_plan(cc_money_t *m, uint64_t *total)
{
    int   rc;
    char  sql[256], v[32];

    snprintf(sql, sizeof(sql), "SELECT total_cents FROM draw_plans "
             "WHERE campaign = '%s' AND shard = %u", m->camp.id, m->shard);

    rc = cc_money_one(m, sql, v, sizeof(v));
    if (rc == 1) {
        *total = cc_money_u64(v);
    }

    return rc;
}


/*
 * After the awards were read: they sum to the plan's total, the pool was
 * funded with it, and with nothing pending the pool holds nothing.
 */
static int
cc_money_pool(cc_money_t *m, int has_plan, uint64_t total)
{
    int      rc;
    char     sql[256], v[64], expected[64], found[96];
    int64_t  balance;

    if (!has_plan) {
        snprintf(found, sizeof(found), "no plan, awards of %" PRIu64,
                 m->award_sum);
        cc_money_break(m, CC_MONEY_POOL_SUM, m->shard, NULL, 0,
                       "a draw plan for the shard", found);
        total = 0;

    } else if (m->award_sum != total) {
        snprintf(expected, sizeof(expected), "awards of %" PRIu64
                 " (the plan)", total);
        snprintf(found, sizeof(found), "%" PRIu64, m->award_sum);
        cc_money_break(m, CC_MONEY_POOL_SUM, m->shard, NULL, 0, expected,
                       found);
    }

    snprintf(sql, sizeof(sql), "SELECT amount_cents FROM ledger_transfers "
             "WHERE transfer_id = 'fund:%s:%u'", m->camp.id, m->shard);

    rc = cc_money_one(m, sql, v, sizeof(v));
    if (rc == -1) {
        return -1;
    }

    if (has_plan && (rc == 0 || cc_money_u64(v) != total)) {
        snprintf(expected, sizeof(expected), "fund:%s:%u of %" PRIu64,
                 m->camp.id, m->shard, total);
        snprintf(found, sizeof(found), "%s", rc ? v : "none");
        cc_money_break(m, CC_MONEY_POOL_SUM, m->shard, NULL, 0, expected,
                       found);
    }

    if (m->pending > 0) {
        return 0;
    }

    snprintf(sql, sizeof(sql),
             "SELECT CAST(credits AS SIGNED) - CAST(debits AS SIGNED) "
             "FROM ledger_accounts WHERE account = 'pool:%s'", m->camp.id);

    rc = cc_money_one(m, sql, v, sizeof(v));
    if (rc == -1) {
        return -1;
    }

    balance = rc ? strtoll(v, NULL, 10) : 0;

    if (balance != 0) {
        snprintf(found, sizeof(found), "pool:%s holds %" PRId64
                 " with nothing pending", m->camp.id, balance);
        cc_money_break(m, CC_MONEY_POOL_NOT_EMPTY, m->shard, NULL, 0, "0",
                       found);
    }

    return 0;
}


/* --statement's breaks, as the others (cc_stmt_break_pt) */
static void *
cc_money_stmt_break(void *ctx, cc_stmt_class_e cls, long shard,
    const char *award_id, uint64_t uid, const char *expected,
    const char *found)
{
    return cc_money_break(ctx, CC_MONEY_STATEMENT + cls, shard, award_id,
                          uid, expected, found);
}


/* every check of one MySQL shard */
static int
cc_money_shard(cc_money_t *m, uint32_t s)
{
    int       has_plan;
    uint64_t  total;

    m->shard = s;
    m->award_sum = 0;
    m->pending = 0;
    total = 0;

    has_plan = cc_money_plan(m, &total);
    if (has_plan == -1) {
        return -1;
    }

    m->plan_sum += total;

    if (cc_money_awards(m) != 0
        || cc_money_pool(m, has_plan, total) != 0
        || cc_money_orphans(m) != 0
        || cc_money_eligible(m) != 0
        || cc_money_ledger(m) != 0
        || (m->stmt != NULL
            && cc_stmt_shard(m->stmt, cc_money_db(m), s, cc_money_stmt_break,
                             m) != 0))
    {
        return -1;
    }

    cc_log("shard %u (%s): %" PRIu64 " in awards, %llu pending; %llu rows "
           "checked so far", s, m->st.shards[s].name, m->award_sum,
           m->pending, m->rows);

    return 0;
}


/* ---- Redis users that MySQL lacks ----------------------------------------- */


static int
cc_money_look_cmp(const void *a, const void *b)
{
    const cc_money_look_t  *x = a, *y = b;

    if (x->amount != y->amount) {       /* the MySQL shard, in the SCAN */
        return x->amount < y->amount ? -1 : 1;
    }

    return x->uid < y->uid ? -1 : x->uid > y->uid;
}


static cc_money_look_t *
cc_money_look_find(cc_money_t *m, uint64_t uid)
{
    cc_money_look_t  key;

    key.amount = m->shard;
    key.uid = uid;

    return bsearch(&key, m->look, m->nlook, sizeof(cc_money_look_t),
                   cc_money_look_cmp);
}


/* SELECT col FROM ... WHERE uid IN (the look rows of the shard) */
static MYSQL_RES *
cc_money_in_query(cc_money_t *m, const char *head)
{
    size_t  i, len;

    len = (size_t) snprintf(m->sql, m->sql_len, "%s", head);

    for (i = 0; i < m->nlook; i++) {
        if (m->look[i].amount == m->shard) {
            len += (size_t) snprintf(m->sql + len, m->sql_len - len,
                                     "%s%" PRIu64, len && m->sql[len - 1]
                                     == '(' ? "" : ",", m->look[i].uid);
        }
    }

    snprintf(m->sql + len, m->sql_len - len, ")");

    return cc_money_query(m, m->sql, 0);
}


/*
 * The users of a SCAN batch that have e or w: are they eligible (before
 * the cutoff) and awarded in their MySQL shard?  The look rows are sorted
 * by (shard, uid) (the shard kept in .amount) and each shard asked once
 * with an IN list of its uids.
 */
static int
cc_money_scan_resolve(cc_money_t *m)
{
    char              head[256], found[CC_MONEY_W_MAX + 64], id[80];
    size_t            i;
    uint32_t          s;
    MYSQL_ROW         row;
    MYSQL_RES        *res;
    cc_money_look_t  *l;

    if (m->nlook == 0) {
        return 0;
    }

    qsort(m->look, m->nlook, sizeof(cc_money_look_t), cc_money_look_cmp);

    for (i = 0; i < m->nlook; i = i + 1) {
        if (i > 0 && m->look[i].amount == m->look[i - 1].amount) {
            continue;
        }

        s = (uint32_t) m->look[i].amount;
        m->shard = s;

        res = cc_money_in_query(m, "SELECT uid, combined_at FROM "
                                   "eligibility WHERE uid IN (");
        if (res == NULL) {
            return -1;
        }

        while ((row = mysql_fetch_row(res)) != NULL) {
            l = cc_money_look_find(m, cc_money_u64(row[0]));
            if (l != NULL) {
                l->in_elig = 1;
                l->combined_at = strtoll(row[1], NULL, 10);
            }
        }

        mysql_free_result(res);

        snprintf(head, sizeof(head), "SELECT uid FROM awards WHERE "
                 "campaign = '%s' AND uid IN (", m->camp.id);

        res = cc_money_in_query(m, head);
        if (res == NULL) {
            return -1;
        }

        while ((row = mysql_fetch_row(res)) != NULL) {
            l = cc_money_look_find(m, cc_money_u64(row[0]));
            if (l != NULL) {
                l->in_awards = 1;
            }
        }

        mysql_free_result(res);
    }

    for (i = 0; i < m->nlook; i++) {
        l = &m->look[i];
        s = (uint32_t) l->amount;

        if (l->has_e && (!l->in_elig || l->combined_at >= m->cutoff_ms)) {
            if (l->in_elig) {
                snprintf(found, sizeof(found), "e in Redis; MySQL combined "
                         "at %" PRId64 " ms", l->combined_at);
            } else {
                snprintf(found, sizeof(found), "e in Redis; no eligibility "
                         "row");
            }
            cc_money_break(m, CC_MONEY_ELIGIBLE_MISMATCH, s, NULL, l->uid,
                           "combined before the cutoff in MySQL", found);
        }

        if (l->w[0] != '\0' && !l->in_awards) {
            snprintf(id, sizeof(id), "%s:%" PRIu64, m->camp.id, l->uid);
            snprintf(found, sizeof(found), "%s", l->w);
            cc_money_break(m, CC_MONEY_STATUS_MISMATCH, s, id, l->uid,
                           "none (no award in MySQL)", found);
        }
    }

    m->nlook = 0;

    return 0;
}


/* HMGET e w of n keys of one Redis shard, pipelined, then resolved */
static int
cc_money_scan_keys(cc_money_t *m, size_t r, redisReply **keys, size_t n)
{
    int               failed;
    void             *reply;
    size_t            i, len;
    uint64_t          uid;
    const char       *k;
    redisReply       *v;
    redisContext     *c;
    cc_money_look_t  *l;

    c = m->redis[r];

    for (i = 0; i < n; i++) {
        redisAppendCommand(c, "HMGET %b %s %s", keys[i]->str,
                           (size_t) keys[i]->len, CC_FIELD_COMBINE,
                           CC_FIELD_AWARD);
    }

    failed = 0;

    for (i = 0; i < n; i++) {
        if (redisGetReply(c, &reply) != REDIS_OK) {
            cc_log("redis %s: HMGET: %s", m->redis_names[r], c->errstr);
            return -1;
        }

        v = reply;

        if (failed || v->type != REDIS_REPLY_ARRAY || v->elements != 2) {
            if (!failed) {
                cc_log("redis %s: HMGET: %s", m->redis_names[r],
                       v->type == REDIS_REPLY_ERROR ? v->str : "bad reply");
            }
            failed = 1;
            freeReplyObject(v);
            continue;
        }

        /* "cc:{uid}:u" */
        k = keys[i]->str;
        len = keys[i]->len;

        if (len < 8 || cc_parse_uid(k + 4, len - 7, &uid) != 0
            || (v->element[0]->type != REDIS_REPLY_STRING
                && v->element[1]->type != REDIS_REPLY_STRING))
        {
            freeReplyObject(v);
            continue;
        }

        m->rows++;
        l = &m->look[m->nlook++];
        memset(l, 0, sizeof(*l));
        l->uid = uid;
        l->amount = cc_store_shard_of(&m->st, uid);
        l->has_e = v->element[0]->type == REDIS_REPLY_STRING;
        l->combined_at = -1;

        if (v->element[1]->type == REDIS_REPLY_STRING) {
            snprintf(l->w, sizeof(l->w), "%s", v->element[1]->str);
        }

        freeReplyObject(v);
    }

    if (failed) {
        return -1;
    }

    return cc_money_scan_resolve(m);
}


/*
 * Every user hash of one Redis shard (SCAN: a key that lives through the
 * whole scan is returned at least once; a key returned twice is checked
 * twice, harmlessly, as nothing is counted twice unless it is broken).
 */
static int
cc_money_scan(cc_money_t *m, size_t r)
{
    char           cursor[32];
    size_t         i, n;
    redisReply    *rr;
    redisContext  *c;

    c = m->redis[r];
    snprintf(cursor, sizeof(cursor), "0");

    do {
        rr = redisCommand(c, "SCAN %s MATCH cc:{*}:u COUNT %lld", cursor,
                          m->batch);

        if (rr == NULL || rr->type != REDIS_REPLY_ARRAY || rr->elements != 2
            || rr->element[0]->type != REDIS_REPLY_STRING
            || rr->element[1]->type != REDIS_REPLY_ARRAY)
        {
            cc_log("redis %s: SCAN: %s", m->redis_names[r],
                   rr == NULL ? c->errstr
                   : rr->type == REDIS_REPLY_ERROR ? rr->str : "bad reply");
            freeReplyObject(rr);
            return -1;
        }

        snprintf(cursor, sizeof(cursor), "%s", rr->element[0]->str);

        /* COUNT is a hint: a reply may hold more keys than a batch */
        for (i = 0; i < rr->element[1]->elements; i += n) {
            n = rr->element[1]->elements - i;
            if ((long long) n > m->batch) {
                n = (size_t) m->batch;
            }

            if (cc_money_scan_keys(m, r, rr->element[1]->element + i, n)
                != 0)
            {
                freeReplyObject(rr);
                return -1;
            }
        }

        freeReplyObject(rr);
        cc_money_progress(m, "scanning Redis");

    } while (strcmp(cursor, "0") != 0 && cc_worker_run);

    return cc_worker_run ? 0 : -1;
}


/* ---- --repair --------------------------------------------------------------- */


/*
 * One transaction on one shard, as the payout's bulk step: the credits
 * (transfer id = award id: a transfer that meanwhile appeared is EXISTS
 * and moves nothing), then the pending ones among them set credited.
 */
static void
cc_money_repair_batch(cc_money_t *m, cc_money_missing_t *x, size_t n)
{
    char                 err[512], esc[2 * CC_MONEY_ID_MAX + 1];
    long                 added;
    size_t               i, len, npending;
    MYSQL               *db;
    cc_ledger_credit_t   c[CC_MONEY_REPAIR_BATCH];

    db = cc_money_db(m);

    for (i = 0; i < n; i++) {
        c[i].award_id = x[i].award_id;
        c[i].uid = x[i].uid;
        c[i].amount_cents = x[i].amount;
        c[i].rc = CC_LEDGER_ERROR;
    }

    if (cc_money_exec(m, "START TRANSACTION") != 0) {
        return;
    }

    added = cc_ledger_credit_batch(db, m->camp.id, c, n, err, sizeof(err));
    if (added < 0) {
        cc_log("repair on shard %u: %s; rolled back, nothing repaired",
               m->shard, err);
        cc_money_exec(m, "ROLLBACK");
        return;
    }

    len = (size_t) snprintf(m->sql, m->sql_len,
                            "UPDATE awards SET status = 'credited', "
                            "credited_at = %" PRId64 " WHERE campaign = '%s' "
                            "AND status = 'pending' AND award_id IN (",
                            cc_now_ms(), m->camp.id);
    npending = 0;

    for (i = 0; i < n; i++) {
        if (x[i].pending && (c[i].rc == CC_LEDGER_DONE
                             || c[i].rc == CC_LEDGER_EXISTS))
        {
            mysql_real_escape_string(db, esc, x[i].award_id,
                                     strlen(x[i].award_id));
            len += (size_t) snprintf(m->sql + len, m->sql_len - len,
                                     "%s'%s'", npending ? "," : "", esc);
            npending++;
        }
    }

    snprintf(m->sql + len, m->sql_len - len, ")");

    if ((npending > 0 && cc_money_exec(m, m->sql) != 0)
        || cc_money_exec(m, "COMMIT") != 0)
    {
        cc_log("repair on shard %u: rolled back, nothing repaired",
               m->shard);
        cc_money_exec(m, "ROLLBACK");
        return;
    }

    for (i = 0; i < n; i++) {
        if (c[i].rc == CC_LEDGER_DONE || c[i].rc == CC_LEDGER_EXISTS) {
            m->repaired++;
            cc_log("repaired %s (uid %" PRIu64 ", %" PRIu64 "): %s",
                   x[i].award_id, x[i].uid, x[i].amount,
                   c[i].rc == CC_LEDGER_DONE ? "credited now"
                   : "its transfer was there already");
        } else {
            cc_log("not repaired %s: %s", x[i].award_id,
                   cc_ledger_rc_name(c[i].rc));
        }

        if (x[i].json != NULL) {
            cJSON_AddBoolToObject(x[i].json, "repaired",
                                  c[i].rc == CC_LEDGER_DONE
                                  || c[i].rc == CC_LEDGER_EXISTS);
        }
    }
}


static void
cc_money_repair(cc_money_t *m)
{
    size_t  i, j;

    /* the missing credits were found shard by shard: runs of one shard */
    for (i = 0; i < m->nmissing; i = j) {
        for (j = i; j < m->nmissing && m->missing[j].shard
                                       == m->missing[i].shard
                    && j - i < CC_MONEY_REPAIR_BATCH; j++)
        {
            /* void */
        }

        m->shard = m->missing[i].shard;
        cc_money_repair_batch(m, &m->missing[i], j - i);
    }
}


/* ---- what is reported ------------------------------------------------------ */


/*
 * Runs the campaign's alert command (a command line, by /bin/sh: it may
 * take arguments) with the document on stdin (a file, so a command that
 * does not read cannot block us), in its own process group, for at most
 * --alert-timeout seconds; then the group is killed.  Its
 * failure is logged: the breaks are reported either way.
 */
static void
cc_money_alert(cc_money_t *m, const char *json)
{
    int      fd, status;
    FILE    *f;
    pid_t    pid, w;
    int64_t  deadline;

    if (m->camp.alert[0] == '\0') {
        cc_log("breaks found; the campaign file names no alert command");
        return;
    }

    f = tmpfile();
    if (f == NULL || fputs(json, f) == EOF || fflush(f) != 0) {
        cc_log("alert %s: cannot write its input: %s", m->camp.alert,
               strerror(errno));
        if (f) {
            fclose(f);
        }
        return;
    }

    fd = fileno(f);
    lseek(fd, 0, SEEK_SET);

    pid = fork();

    if (pid == -1) {
        cc_log("alert %s: fork: %s", m->camp.alert, strerror(errno));
        fclose(f);
        return;
    }

    if (pid == 0) {
        setpgid(0, 0);
        dup2(fd, STDIN_FILENO);
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execl("/bin/sh", "sh", "-c", m->camp.alert, (char *) NULL);
        fprintf(stderr, "cc-reconcile: alert %s: %s\n", m->camp.alert,
                strerror(errno));
        _exit(127);
    }

    setpgid(pid, pid);
    fclose(f);

    deadline = cc_now_ms() + m->alert_timeout_s * 1000;

    while ((w = waitpid(pid, &status, WNOHANG)) == 0
           || (w == -1 && errno == EINTR))
    {
        if (cc_now_ms() >= deadline) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            cc_log("alert %s: still running after %lld s, killed",
                   m->camp.alert, m->alert_timeout_s);
            return;
        }

        usleep(20000);
    }

    if (w == -1) {
        cc_log("alert %s: waitpid: %s", m->camp.alert, strerror(errno));

    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        cc_log("alert %s: sent", m->camp.alert);

    } else if (WIFEXITED(status)) {
        cc_log("alert %s: failed, exit status %d", m->camp.alert,
               WEXITSTATUS(status));

    } else {
        cc_log("alert %s: failed, killed by signal %d", m->camp.alert,
               WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
}


static int
cc_money_write_file(const char *path, const char *text)
{
    int    rc;
    char   tmp[4096];
    FILE  *f;

    if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }

    f = fopen(tmp, "w");
    if (f == NULL) {
        return -1;
    }

    rc = fputs(text, f) == EOF || fputc('\n', f) == EOF;
    rc |= fclose(f) != 0;

    if (rc || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }

    return 0;
}


static char *
cc_money_document(cc_money_t *m, unsigned long long total)
{
    int     i;
    cJSON  *checks, *c;

    cJSON_AddStringToObject(m->doc, "campaign", m->camp.id);
    cJSON_AddBoolToObject(m->doc, "ok", total == 0);

    checks = cJSON_AddArrayToObject(m->doc, "checks");

    for (i = 0; i < CC_MONEY_NCLASS; i++) {
        if (i >= CC_MONEY_STATEMENT && m->stmt == NULL) {
            break;                      /* no --statement: not checked */
        }

        c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", cc_money_class_names[i]);
        cJSON_AddBoolToObject(c, "ok", m->counts[i] == 0);
        cJSON_AddNumberToObject(c, "breaks", (double) m->counts[i]);
        cJSON_AddItemToArray(checks, c);
    }

    cJSON_AddItemToObject(m->doc, "breaks", m->breaks);
    m->breaks = NULL;                   /* now owned by the document */

    cJSON_AddNumberToObject(m->doc, "breaks_omitted", (double) m->omitted);

    if (m->repair) {
        cJSON_AddNumberToObject(m->doc, "repaired", (double) m->repaired);
    }

    return cJSON_PrintUnformatted(m->doc);
}


static void
cc_money_metrics(cc_money_t *m, unsigned long long total, int64_t done_ms)
{
    int            i;
    char           name[96];
    cc_promfile_t  pf;

    if (m->metrics_path == NULL) {
        return;
    }

    cc_promfile_begin(&pf);
    cc_promfile_add(&pf, "cc_reconcile_money_rows_total", "counter",
                    "Rows the money checks read (awards, eligibility, "
                    "Redis users)", (double) m->rows);
    cc_promfile_add(&pf, "cc_reconcile_money_rate", "gauge",
                    "Rows checked per second by the last run",
                    m->rows * 1000.0 / (double) (done_ms - m->started_ms + 1));
    cc_promfile_add(&pf, "cc_reconcile_money_last_success_timestamp_seconds",
                    "gauge", "When the money checks last ran to the end "
                    "(unix seconds)", done_ms / 1000.0);
    cc_promfile_add(&pf, "cc_reconcile_money_ok", "gauge",
                    "1 when the last run found no break", total == 0);
    cc_promfile_add(&pf, "cc_reconcile_money_repaired_total", "counter",
                    "Missing credits the last run repaired",
                    (double) m->repaired);

    for (i = 0; i < CC_MONEY_NCLASS; i++) {
        snprintf(name, sizeof(name), "cc_reconcile_money_breaks{class=\"%s\"}",
                 cc_money_class_names[i]);
        cc_promfile_add(&pf, name, "gauge",
                        "Breaks the last run found, by class",
                        (double) m->counts[i]);
    }

    if (cc_promfile_commit(&pf, m->metrics_path) != 0) {
        cc_log("metrics file %s: %s", m->metrics_path, strerror(errno));
    }
}


/* ---- main ------------------------------------------------------------------- */


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
        m->redis[i] = cc_money_redis_connect(m->redis_names[i]);
        if (m->redis[i] == NULL) {
            return -1;
        }
    }

    if (cc_store_open(&m->st, m->mysql, m->nmysql, m->user,
                      getenv("CC_MYSQL_PASSWORD")) != 0)
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
}


int
cc_reconcile_money_main(int argc, char **argv)
{
    int                  rc, i;
    char                *json, found[64], expected[64];
    size_t               r;
    uint32_t             s;
    int64_t              done_ms;
    cc_money_t           m;
    unsigned long long   total;

    memset(&m, 0, sizeof(m));
    json = NULL;
    rc = 2;

    if (cc_money_parse(argc, argv, &m) != 0 || cc_money_open(&m) != 0) {
        goto done;
    }

    m.started_ms = cc_now_ms();
    m.progress_ms = m.started_ms;

    if (m.statement_path != NULL) {
        char  err[512];

        m.stmt = cc_stmt_load(m.statement_path, &m.camp, err, sizeof(err));
        if (m.stmt == NULL) {
            fprintf(stderr, "cc-reconcile: --statement %s\n", err);
            goto done;
        }
    }

    cc_log("campaign %s: checking the money on %zu MySQL and %zu Redis "
           "shard(s)%s", m.camp.id, m.nmysql, m.nredis,
           m.repair ? ", repairing missing credits" : "");

    for (s = 0; s < m.st.nshards; s++) {
        if (!cc_worker_run || cc_money_shard(&m, s) != 0) {
            cc_log("campaign %s: stopped on shard %u, the check is not "
                   "complete", m.camp.id, s);
            goto done;
        }
    }

    for (r = 0; r < m.nredis; r++) {
        if (cc_money_scan(&m, r) != 0) {
            cc_log("campaign %s: stopped on Redis %s, the check is not "
                   "complete", m.camp.id, m.redis_names[r]);
            goto done;
        }
    }

    if (m.plan_sum != m.camp.pool_cents) {
        snprintf(expected, sizeof(expected), "plans of %" PRIu64
                 " (the pool)", m.camp.pool_cents);
        snprintf(found, sizeof(found), "%llu", m.plan_sum);
        cc_money_break(&m, CC_MONEY_POOL_SUM, -1, NULL, 0, expected, found);
    }

    if (m.stmt != NULL) {
        cc_stmt_finish(m.stmt, cc_money_stmt_break, &m);
    }

    if (m.repair && m.nmissing > 0) {
        cc_money_repair(&m);
    }

    if (m.repair && m.stmt != NULL) {
        m.repaired += cc_stmt_repair(m.stmt, &m.st);
    }

    done_ms = cc_now_ms();
    total = 0;

    for (i = 0; i < CC_MONEY_NCLASS; i++) {
        total += m.counts[i];
    }

    json = cc_money_document(&m, total);
    if (json == NULL) {
        cc_log("out of memory");
        goto done;
    }

    if (m.json_path && cc_money_write_file(m.json_path, json) != 0) {
        cc_log("--json %s: %s", m.json_path, strerror(errno));
    }

    cc_money_metrics(&m, total, done_ms);

    cc_log("campaign %s: %llu rows checked in %.1f s, %llu break(s)%s",
           m.camp.id, m.rows, (done_ms - m.started_ms) / 1000.0, total,
           m.repair ? "" : "");

    for (i = 0; i < CC_MONEY_NCLASS; i++) {
        if (m.counts[i]) {
            cc_log("  %s: %llu", cc_money_class_names[i], m.counts[i]);
        }
    }

    if (m.repair) {
        cc_log("repaired %llu of %zu missing credit(s)", m.repaired,
               m.nmissing);
    }

    if (total > 0) {
        cc_money_alert(&m, json);
        rc = 1;

    } else {
        rc = 0;
    }

done:

    free(json);
    cc_stmt_free(m.stmt);
    cc_money_close(&m);
    mysql_library_end();

    return rc;
}
