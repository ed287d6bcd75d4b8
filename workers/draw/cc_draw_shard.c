/*
 * cc_draw_shard: one shard's thread of cc-draw, steps 4 to 7 of the
 * comment atop cc_draw.c: the plan row and the pool's funding, the
 * eligible read and split, the award batches (with the Redis loader
 * beside them), the read-back check, the Redis fields left, the digest.
 */

#define _GNU_SOURCE

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "cc_award_set.h"
#include "cc_draw.h"
#include "cc_keys.h"
#include "cc_ledger.h"
#include "cc_ledger_bulk.h"
#include "cc_wallet.h"
#include "cc_worker.h"


/* ---- one shard's thread ----------------------------------------------- */

static int
cc_draw_fail(cc_draw_shard_t *s, int rc, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    n = snprintf(s->err, sizeof(s->err), "shard %zu (%s): ", s->shard,
                 s->d->st.shards[s->shard].name);

    va_start(ap, fmt);
    vsnprintf(s->err + n, sizeof(s->err) - n, fmt, ap);
    va_end(ap);

    s->rc = rc;

    if (s->db != NULL) {
        (void) mysql_rollback(s->db);
    }

    return -1;
}


static int
cc_draw_sql(cc_draw_shard_t *s, const char *what, const char *sql,
    size_t len)
{
    if (mysql_real_query(s->db, sql, len) != 0) {
        return cc_draw_fail(s, CC_DRAW_FAILED, "%s: %s", what,
                            mysql_error(s->db));
    }

    return 0;
}


static int
cc_draw_commit(cc_draw_shard_t *s, const char *what)
{
    if (mysql_commit(s->db) != 0) {
        return cc_draw_fail(s, CC_DRAW_FAILED, "%s: commit: %s", what,
                            mysql_error(s->db));
    }

    return 0;
}


/*
 * The shard's plan row: NULL-free columns compared with this run's plan.
 * *found: none, differs (why says how) or the same.
 */
int
cc_draw_plan_row(cc_draw_shard_t *s, int lock,
    cc_draw_plan_found_e *found, char *why, size_t whylen)
{
    int                 i;
    char                sql[512];
    MYSQL_RES          *res;
    MYSQL_ROW           row;
    cc_draw_run_t          *d = s->d;
    cc_split_shard_t   *sh = &d->sh[s->shard];
    unsigned long long  v[5];

    snprintf(sql, sizeof(sql),
             "SELECT eligible, total_cents, extra, pool_cents, seed_key, "
             "split, done_upto, digest FROM draw_plans WHERE campaign = '%s' "
             "AND shard = %zu%s", d->c.id, s->shard,
             lock ? " FOR UPDATE" : "");

    if (cc_draw_sql(s, "read the plan row", sql, strlen(sql)) != 0) {
        return -1;
    }

    res = mysql_store_result(s->db);
    if (res == NULL) {
        return cc_draw_fail(s, CC_DRAW_FAILED, "read the plan row: %s",
                            mysql_error(s->db));
    }

    row = mysql_fetch_row(res);

    if (row == NULL) {
        mysql_free_result(res);
        *found = CC_DRAW_PLAN_NONE;
        return 0;
    }

    for (i = 0; i < 5; i++) {
        v[i] = strtoull(row[i], NULL, 10);
    }

    s->done_upto = strtoull(row[6], NULL, 10);
    s->digest[0] = '\0';

    if (row[7] != NULL) {
        snprintf(s->digest, sizeof(s->digest), "%s", row[7]);
    }

    *found = CC_DRAW_PLAN_SAME;

    if (v[0] != sh->n || v[1] != sh->total || v[2] != sh->extra
        || v[3] != d->c.pool_cents || v[4] != d->key
        || strcmp(row[5], cc_split_mode_name(d->c.split)) != 0)
    {
        snprintf(why, whylen, "drawn before with %llu eligible, %llu cents, "
                 "%llu extra, pool %llu, %s split, seed key %llu; now %"
                 PRIu64 " eligible, %" PRIu64 " cents, %" PRIu64 " extra, "
                 "pool %" PRIu64 ", %s split, seed key %" PRIu64, v[0], v[1],
                 v[2], v[3], row[5], v[4], sh->n, sh->total, sh->extra,
                 d->c.pool_cents, cc_split_mode_name(d->c.split), d->key);
        *found = CC_DRAW_PLAN_DIFFERS;
    }

    mysql_free_result(res);
    return 0;
}


/* the plan row and the pool's funding, one transaction */
static int
cc_draw_begin_shard(cc_draw_shard_t *s)
{
    char                   sql[512], why[512], err[512];
    cc_draw_run_t         *d = s->d;
    cc_ledger_rc_e         lr;
    cc_split_shard_t      *sh = &d->sh[s->shard];
    cc_draw_plan_found_e   found;

    snprintf(sql, sizeof(sql),
             "INSERT IGNORE INTO draw_plans (campaign, shard, eligible, "
             "total_cents, extra, pool_cents, split, seed_key, created_at) "
             "VALUES ('%s', %zu, %" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %"
             PRIu64 ", '%s', %" PRIu64 ", %" PRId64 ")", d->c.id, s->shard,
             sh->n, sh->total, sh->extra, d->c.pool_cents,
             cc_split_mode_name(d->c.split), d->key, d->now_ms);

    if (cc_draw_sql(s, "insert the plan row", sql, strlen(sql)) != 0
        || cc_draw_plan_row(s, 1, &found, why, sizeof(why)) != 0)
    {
        return -1;
    }

    if (found != CC_DRAW_PLAN_SAME) {
        return cc_draw_fail(s, CC_DRAW_REFUSED, "the eligible set or "
                            "settings changed: %s",
                            found == CC_DRAW_PLAN_DIFFERS
                            ? why : "the plan row vanished");
    }

    if (sh->total > 0) {
        lr = cc_ledger_fund(s->db, d->c.id, (unsigned) s->shard, sh->total,
                            err, sizeof(err));

        if (lr == CC_LEDGER_MISMATCH) {
            return cc_draw_fail(s, CC_DRAW_REFUSED, "the pool's funding "
                                "fund:%s:%zu exists with another amount or "
                                "accounts: %s", d->c.id, s->shard, err);
        }

        if (lr != CC_LEDGER_DONE && lr != CC_LEDGER_EXISTS) {
            return cc_draw_fail(s, CC_DRAW_FAILED, "fund the pool: %s", err);
        }
    }

    return cc_draw_commit(s, "plan row and funding");
}


static int
cc_draw_rank_cmp(const void *a, const void *b)
{
    const cc_draw_rank_t  *x = a, *y = b;

    if (x->rank != y->rank) {
        return x->rank < y->rank ? -1 : 1;
    }

    return x->pos < y->pos ? -1 : x->pos > y->pos;
}


/*
 * The shard's digest: SHA-256 of "uid amount\n" over its users in rank
 * order, hex into s->plan_digest.  0, or -1 on out of memory.
 */
static int
cc_draw_plan_digest(cc_draw_shard_t *s, const cc_draw_rank_t *by_rank)
{
    char            line[80];
    uint64_t        i, pos;
    EVP_MD_CTX     *md;
    unsigned char   h[EVP_MAX_MD_SIZE];
    unsigned int    hlen;

    md = EVP_MD_CTX_new();

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return -1;
    }

    for (i = 0; i < s->n; i++) {
        pos = by_rank[i].pos;
        hlen = (unsigned) snprintf(line, sizeof(line), "%" PRIu64 " %"
                                   PRIu64 "\n", s->users[pos].uid,
                                   s->amounts[pos]);
        EVP_DigestUpdate(md, line, hlen);
    }

    EVP_DigestFinal_ex(md, h, &hlen);
    EVP_MD_CTX_free(md);

    for (i = 0; i < 32; i++) {
        snprintf(s->plan_digest + 2 * i, 3, "%02x", h[i]);
    }

    return 0;
}


/*
 * The shard's eligible uids, in uid order, and their amounts.  The split
 * walks them in rank order (cc_split_rank(), then uid): that order decides
 * who gets what.  They are written in uid order: the awards' keys (award
 * id "<campaign>:<uid>", and (campaign, uid)) then grow at their ends
 * instead of at random pages of the B-trees, which in rank order cost
 * InnoDB most of a draw's time.
 */
static int
cc_draw_read_users(cc_draw_shard_t *s)
{
    int                rc;
    char               sql[256];
    size_t             cap;
    uint64_t           i, n;
    MYSQL_RES         *res;
    MYSQL_ROW          row;
    cc_draw_run_t     *d = s->d;
    cc_split_iter_t    it;
    cc_draw_user_t    *u;
    cc_draw_rank_t    *by_rank;

    snprintf(sql, sizeof(sql), "SELECT uid FROM eligibility "
             "WHERE combined_at < %" PRId64 " ORDER BY uid",
             d->c.cutoff * 1000);

    if (cc_draw_sql(s, "read the eligible", sql, strlen(sql)) != 0) {
        return -1;
    }

    res = mysql_use_result(s->db);
    if (res == NULL) {
        return cc_draw_fail(s, CC_DRAW_FAILED, "read the eligible: %s",
                            mysql_error(s->db));
    }

    row = NULL;
    n = 0;
    cap = d->sh[s->shard].n + 1;
    s->users = malloc(cap * sizeof(cc_draw_user_t));

    while (s->users != NULL && (row = mysql_fetch_row(res)) != NULL) {
        if (n == cap) {
            cap *= 2;
            u = realloc(s->users, cap * sizeof(cc_draw_user_t));
            if (u == NULL) {
                break;
            }
            s->users = u;
        }

        s->users[n].uid = strtoull(row[0], NULL, 10);
        n++;
    }

    if (s->users == NULL || row != NULL) {
        mysql_free_result(res);
        return cc_draw_fail(s, CC_DRAW_FAILED, "out of memory");
    }

    if (mysql_errno(s->db) != 0) {
        mysql_free_result(res);
        return cc_draw_fail(s, CC_DRAW_FAILED, "read the eligible: %s",
                            mysql_error(s->db));
    }

    mysql_free_result(res);

    if (cc_draw_commit(s, "read the eligible") != 0) {
        return -1;
    }

    if (n != d->sh[s->shard].n) {
        return cc_draw_fail(s, CC_DRAW_REFUSED, "the eligible set changed "
                            "while drawing: %" PRIu64 " eligible, the plan "
                            "counted %" PRIu64, n, d->sh[s->shard].n);
    }

    s->n = n;
    s->amounts = malloc((n + 1) * sizeof(uint64_t));
    s->credited = calloc(n + 1, 1);
    by_rank = malloc((n + 1) * sizeof(cc_draw_rank_t));

    if (s->amounts == NULL || s->credited == NULL || by_rank == NULL) {
        free(by_rank);
        return cc_draw_fail(s, CC_DRAW_FAILED, "out of memory");
    }

    for (i = 0; i < n; i++) {
        if (i > 0 && s->users[i].uid <= s->users[i - 1].uid) {
            free(by_rank);
            return cc_draw_fail(s, CC_DRAW_FAILED, "the eligible uids came "
                                "out of order (%" PRIu64 " after %" PRIu64
                                ")", s->users[i].uid, s->users[i - 1].uid);
        }

        by_rank[i].rank = cc_split_rank(d->key, s->users[i].uid);
        by_rank[i].pos = i;
    }

    qsort(by_rank, n, sizeof(cc_draw_rank_t), cc_draw_rank_cmp);

    cc_split_iter_init(&it, &d->plan, &d->sh[s->shard], s->shard, d->c.seed);

    for (i = 0; i < n; i++) {
        s->amounts[by_rank[i].pos] = cc_split_next(&it);
    }

    rc = cc_draw_plan_digest(s, by_rank);
    free(by_rank);

    return rc == 0 ? 0 : cc_draw_fail(s, CC_DRAW_FAILED, "SHA-256: out of "
                                      "memory");
}


/*
 * What the writer reuses batch after batch.  With MariaDB's array binding
 * (bulk) the award rows go through one prepared INSERT executed over
 * arrays of ids, uids and amounts: one round trip, and no SQL text to
 * build or parse per row (the text was most of a batch's time).  Other
 * servers get the multi-row INSERT text in buf.
 */
typedef struct {
    MYSQL_STMT          *st;          /* NULL: the text INSERT */
    char                *buf;
    size_t               buflen;
    cc_ledger_credit_t  *cr;
    char               (*ids)[CC_DRAW_ID_MAX];
    size_t              *ord;         /* 0..k-1 in award id order */
    char               **idp;         /* the bound arrays, in id order */
    unsigned long       *idlen;
    uint64_t            *uids;
    uint64_t            *amts;
    cc_wallet_t         *wallet;      /* sync: the campaign's, credits */
} cc_draw_bufs_t;


static MYSQL_STMT *
cc_draw_bulk_prepare(cc_draw_shard_t *s)
{
    int             sync;
    char            sql[512], now[32];
    MYSQL_STMT     *st;
    cc_draw_run_t  *d = s->d;

    sync = d->c.credit == CC_CREDIT_SYNC;
    snprintf(now, sizeof(now), "%" PRId64, d->now_ms);

    snprintf(sql, sizeof(sql), "INSERT IGNORE INTO awards (award_id, "
             "campaign, uid, amount_cents, status, created_at, credited_at)"
             " VALUES (?, '%s', ?, ?, '%s', %" PRId64 ", %s)", d->c.id,
             sync ? "credited" : "pending", d->now_ms, sync ? now : "0");

    st = mysql_stmt_init(s->db);

    if (st == NULL || mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        cc_log("shard %zu: no bulk INSERT (%s): the text one instead",
               s->shard, st ? mysql_stmt_error(st) : "out of memory");
        if (st != NULL) {
            mysql_stmt_close(st);
        }
        return NULL;
    }

    return st;
}


static int
cc_draw_id_cmp(const void *a, const void *b, void *arg)
{
    char  (*ids)[CC_DRAW_ID_MAX] = arg;

    return strcmp(ids[*(const size_t *) a], ids[*(const size_t *) b]);
}


/*
 * The rows of ids[0..k) (users from..from+k) through the prepared
 * INSERT's arrays, in award id order: the primary key's pages are then
 * visited in order, not at random as the rank order would.
 */
static int
cc_draw_insert_bulk(cc_draw_shard_t *s, cc_draw_bufs_t *b, uint64_t from,
    size_t k)
{
    size_t        i, j;
    unsigned int  size;
    MYSQL_BIND    bind[3];

    for (i = 0; i < k; i++) {
        b->ord[i] = i;
    }

    qsort_r(b->ord, k, sizeof(size_t), cc_draw_id_cmp, b->ids);

    for (i = 0; i < k; i++) {
        j = b->ord[i];
        b->idp[i] = b->ids[j];
        b->idlen[i] = strlen(b->ids[j]);
        b->uids[i] = s->users[from + j].uid;
        b->amts[i] = s->amounts[from + j];
    }

    cc_ledger_bind_strs(&bind[0], b->idp, b->idlen);
    cc_ledger_bind_u64s(&bind[1], b->uids);
    cc_ledger_bind_u64s(&bind[2], b->amts);

    size = (unsigned int) k;

    if (mysql_stmt_attr_set(b->st, STMT_ATTR_ARRAY_SIZE, &size) != 0
        || mysql_stmt_bind_param(b->st, bind) != 0
        || mysql_stmt_execute(b->st) != 0)
    {
        return cc_draw_fail(s, CC_DRAW_FAILED, "insert awards: %s",
                            mysql_stmt_error(b->st));
    }

    s->inserted += mysql_stmt_affected_rows(b->st);

    return 0;
}


/*
 * Awards [from, to) in rank order, one transaction: the rows, in sync mode
 * their credits, and done_upto moved from `from` to `to` (the guard: if
 * another run moved it, nothing of this batch commits).
 */
static int
cc_draw_batch(cc_draw_shard_t *s, cc_draw_bufs_t *b, uint64_t from,
    uint64_t to)
{
    int                  sync;
    long                 added;
    char                 sql[256], err[512];
    size_t               len, k;
    uint64_t             i;
    cc_draw_run_t       *d = s->d;
    cc_ledger_credit_t  *cr = b->cr;

    sync = d->c.credit == CC_CREDIT_SYNC;
    len = 0;

    if (b->st == NULL) {
        len = (size_t) snprintf(b->buf, b->buflen, "INSERT IGNORE INTO "
                                "awards (award_id, campaign, uid, "
                                "amount_cents, status, created_at, "
                                "credited_at) VALUES ");
    }

    for (i = from, k = 0; i < to; i++, k++) {
        cc_award_set_id(b->ids[k], CC_DRAW_ID_MAX, d->c.id, s->users[i].uid);

        cr[k].award_id = b->ids[k];
        cr[k].uid = s->users[i].uid;
        cr[k].amount_cents = s->amounts[i];
        cr[k].rc = CC_LEDGER_ERROR;

        if (b->st != NULL) {
            continue;
        }

        len += (size_t) snprintf(b->buf + len, b->buflen - len,
                                 "%s('%s','%s',%" PRIu64 ",%" PRIu64
                                 ",'%s',%" PRId64 ",", k ? "," : "",
                                 b->ids[k], d->c.id, s->users[i].uid,
                                 s->amounts[i],
                                 sync ? "credited" : "pending", d->now_ms);

        if (sync) {
            len += (size_t) snprintf(b->buf + len, b->buflen - len,
                                     "%" PRId64 ")", d->now_ms);
        } else {
            len += (size_t) snprintf(b->buf + len, b->buflen - len,
                                     "0)");
        }
    }

    if (b->st != NULL) {
        if (cc_draw_insert_bulk(s, b, from, k) != 0) {
            return -1;
        }

    } else {
        if (cc_draw_sql(s, "insert awards", b->buf, len) != 0) {
            return -1;
        }

        s->inserted += mysql_affected_rows(s->db);
    }

    if (sync) {
        added = cc_wallet_credit(b->wallet, s->db, cr, k, err,
                                 sizeof(err));
        if (added < 0) {
            return cc_draw_fail(s, CC_DRAW_FAILED, "credit awards: %s", err);
        }

        for (i = 0; i < k; i++) {
            if (cr[i].rc == CC_LEDGER_MISMATCH) {
                return cc_draw_fail(s, CC_DRAW_FAILED, "the ledger holds "
                                    "transfer %s with another amount or "
                                    "wallet than the award's %" PRIu64,
                                    cr[i].award_id, cr[i].amount_cents);
            }
        }
    }

    snprintf(sql, sizeof(sql), "UPDATE draw_plans SET done_upto = %" PRIu64
             " WHERE campaign = '%s' AND shard = %zu AND done_upto = %"
             PRIu64, to, d->c.id, s->shard, from);

    if (cc_draw_sql(s, "move done_upto", sql, strlen(sql)) != 0) {
        return -1;
    }

    if (mysql_affected_rows(s->db) != 1) {
        return cc_draw_fail(s, CC_DRAW_FAILED, "done_upto is no longer %"
                            PRIu64 ": another cc-draw is drawing this "
                            "shard", from);
    }

    if (cc_draw_commit(s, "awards") != 0) {
        return -1;
    }

    __atomic_store_n(&s->written, to, __ATOMIC_RELEASE);
    return 0;
}


static void *cc_draw_loader_main(void *arg);


static int
cc_draw_write(cc_draw_shard_t *s)
{
    int                  rc, loader;
    char                 err[256];
    size_t               batch;
    uint64_t             from, to;
    cc_draw_bufs_t       b;

    if (s->done_upto > s->n) {
        return cc_draw_fail(s, CC_DRAW_FAILED, "done_upto %" PRIu64 " is "
                            "past the %" PRIu64 " eligible", s->done_upto,
                            s->n);
    }

    batch = (size_t) s->d->o.batch;
    memset(&b, 0, sizeof(b));
    b.st = cc_ledger_bulk_ok(s->db) ? cc_draw_bulk_prepare(s) : NULL;
    b.buflen = b.st ? 0 : batch * CC_DRAW_ROW_MAX + 256;
    b.buf = b.st ? NULL : malloc(b.buflen);
    b.cr = malloc(batch * sizeof(cc_ledger_credit_t));
    b.ids = malloc(batch * CC_DRAW_ID_MAX);
    b.ord = malloc(batch * sizeof(size_t));
    b.idp = malloc(batch * sizeof(char *));
    b.idlen = malloc(batch * sizeof(unsigned long));
    b.uids = malloc(batch * sizeof(uint64_t));
    b.amts = malloc(batch * sizeof(uint64_t));

    rc = 0;
    loader = 0;

    if ((b.st == NULL && b.buf == NULL) || b.cr == NULL || b.ids == NULL
        || b.ord == NULL || b.idp == NULL || b.idlen == NULL
        || b.uids == NULL || b.amts == NULL)
    {
        rc = cc_draw_fail(s, CC_DRAW_FAILED, "out of memory");
        goto done;
    }

    if (s->d->c.credit == CC_CREDIT_SYNC
        && (b.wallet = cc_wallet_open(&s->d->c, err, sizeof(err))) == NULL)
    {
        rc = cc_draw_fail(s, CC_DRAW_FAILED, "wallet: %s", err);
        goto done;
    }

    s->written = s->done_upto;
    s->load_from = s->done_upto;
    s->loaded_upto = s->done_upto;
    s->write_end = 0;
    loader = pthread_create(&s->loader, NULL, cc_draw_loader_main, s) == 0;

    for (from = s->done_upto; from < s->n; from = to) {
        if (!cc_worker_run) {
            rc = cc_draw_fail(s, CC_DRAW_FAILED, "stopped at %" PRIu64
                              " of %" PRIu64 "; run again to go on", from,
                              s->n);
            goto done;
        }

        to = from + batch < s->n ? from + batch : s->n;

        rc = cc_draw_batch(s, &b, from, to);
        if (rc != 0) {
            goto done;
        }
    }

done:

    if (loader) {
        __atomic_store_n(&s->write_end, 1, __ATOMIC_RELEASE);
        pthread_join(s->loader, NULL);
        s->loaded += s->pipe.loaded;

        if (!s->pipe_ok && rc == 0) {
            cc_log("shard %zu: Redis beside the writes: %s; loading after "
                   "them", s->shard, s->pipe.err);
        }
    }

    if (b.st != NULL) {
        mysql_stmt_close(b.st);
    }

    free(b.buf);
    free(b.cr);
    free(b.ids);
    free(b.ord);
    free(b.idp);
    free(b.idlen);
    free(b.uids);
    free(b.amts);
    cc_wallet_close(b.wallet);

    return rc;
}


/*
 * The read-back looks every row's uid up among the shard's users: a
 * binary search over millions of users misses the cache at nearly every
 * step, so a hash table (open addressing, linear probing, at most 2/3
 * full) maps uid -> position + 1, built once.  0 on out of memory.
 */
static int
cc_draw_index(cc_draw_shard_t *s)
{
    unsigned  bits;
    uint64_t  i, h, cap;

    if (s->index != NULL) {
        return 1;
    }

    for (bits = 4, cap = 16; cap < s->n + s->n / 2; bits++, cap *= 2) {
        /* void */
    }

    s->index = calloc(cap, sizeof(uint64_t));
    if (s->index == NULL) {
        return 0;
    }

    s->index_mask = cap - 1;
    s->index_shift = 64 - bits;

    for (i = 0; i < s->n; i++) {
        h = (s->users[i].uid * 0x9e3779b97f4a7c15ULL) >> s->index_shift;

        while (s->index[h] != 0) {
            h = (h + 1) & s->index_mask;
        }

        s->index[h] = i + 1;
    }

    return 1;
}


static cc_draw_user_t *
cc_draw_find(cc_draw_shard_t *s, uint64_t uid)
{
    uint64_t  h, k;

    h = (uid * 0x9e3779b97f4a7c15ULL) >> s->index_shift;

    while ((k = s->index[h]) != 0) {
        if (s->users[k - 1].uid == uid) {
            return &s->users[k - 1];
        }

        h = (h + 1) & s->index_mask;
    }

    return NULL;
}


/*
 * Every award row of the campaign in this shard read back and checked
 * against the plan: one per user of the first `upto` in uid order (the
 * order written), of its amount.  Before a resumed run writes (upto =
 * done_upto), a row that differs means the settings changed since (a cap,
 * say, that the plan row does not hold): refused, bad_rc 2.  After the
 * writes (upto = n) it is a failure.  Once all are there, their status is
 * kept for Redis and the shard's digest is the plan's (every row matched
 * it).
 */
static int
cc_draw_verify(cc_draw_shard_t *s, uint64_t upto, int bad_rc)
{
    char             sql[256];
    uint64_t         i, uid, amount, seen;
    MYSQL_RES       *res;
    MYSQL_ROW        row;
    cc_draw_user_t  *u;

    snprintf(sql, sizeof(sql), "SELECT uid, amount_cents, status FROM awards"
             " WHERE campaign = '%s'", s->d->c.id);

    if (cc_draw_sql(s, "read the awards back", sql, strlen(sql)) != 0) {
        return -1;
    }

    res = mysql_use_result(s->db);
    if (res == NULL) {
        return cc_draw_fail(s, CC_DRAW_FAILED, "read the awards back: %s",
                            mysql_error(s->db));
    }

    if (!cc_draw_index(s)) {
        mysql_free_result(res);
        return cc_draw_fail(s, CC_DRAW_FAILED, "out of memory");
    }

    seen = 0;
    memset(s->credited, 0, s->n);

    while ((row = mysql_fetch_row(res)) != NULL) {
        uid = strtoull(row[0], NULL, 10);
        amount = strtoull(row[1], NULL, 10);
        u = cc_draw_find(s, uid);

        if (u == NULL || (uint64_t) (u - s->users) >= upto
            || amount != s->amounts[u - s->users])
        {
            mysql_free_result(res);
            return cc_draw_fail(s, bad_rc, "award %s:%" PRIu64 " of %" PRIu64
                                " cents is not in this plan (%s): the "
                                "eligible set or settings changed",
                                s->d->c.id, uid, amount,
                                u == NULL ? "not eligible"
                                : amount != s->amounts[u - s->users]
                                ? "another amount" : "not yet drawn");
        }

        s->credited[u - s->users] = row[2][0] == 'c' ? 1 : 2;
        seen++;
    }

    if (mysql_errno(s->db) != 0) {
        mysql_free_result(res);
        return cc_draw_fail(s, CC_DRAW_FAILED, "read the awards back: %s",
                            mysql_error(s->db));
    }

    mysql_free_result(res);

    if (cc_draw_commit(s, "read the awards back") != 0) {
        return -1;
    }

    if (seen != upto) {
        return cc_draw_fail(s, bad_rc, "%" PRIu64 " award rows where %" PRIu64
                            " are drawn", seen, upto);
    }

    if (upto < s->n) {
        return 0;
    }

    for (i = 0; i < s->n; i++) {
        s->credited[i] = s->credited[i] == 1;
    }

    /* a digest stored by an earlier run must be this one */
    if (s->digest[0] != '\0' && strcmp(s->digest, s->plan_digest) != 0) {
        return cc_draw_fail(s, CC_DRAW_FAILED, "digest %s differs from the "
                            "one stored, %s", s->plan_digest, s->digest);
    }

    memcpy(s->digest, s->plan_digest, 65);
    return 0;
}


/*
 * Field w of users[i] onto its Redis shard (the ring's), through the
 * pipeline; fresh: HSETNX first (cc_draw_redis.h).
 */
static int
cc_draw_load_user(cc_draw_shard_t *s, cc_draw_pipe_t *pp, uint64_t i,
    int credited, int fresh)
{
    char            id[CC_DRAW_ID_MAX];
    uint64_t        uid = s->users[i].uid;
    cc_draw_run_t  *d = s->d;

    cc_award_set_id(id, sizeof(id), d->c.id, uid);

    return cc_draw_pipe_send(pp, cc_ring_shard(&d->ring, uid), uid,
                             credited, s->amounts[i], id, fresh);
}


static int
cc_draw_pipe_start(cc_draw_run_t *d, cc_draw_pipe_t *pp)
{
    return cc_draw_pipe_open(pp, d->addrs, d->o.redis, d->o.nredis);
}


/*
 * The loader: a thread beside the shard's writer that puts the awards of
 * every committed batch into Redis while the next batch is in MySQL (the
 * two servers work at once instead of one after the other).  It follows
 * s->written, which the writer moves after each commit, so it only loads
 * rows MySQL holds; their status is the one just written (pending, or
 * credited in sync mode).  Should the payer credit one meanwhile, its
 * notice "c" wins over this "p": award_set.lua never moves a status back.
 * It stops when the writer says so (write_end) and everything written is
 * loaded, or at its first error (the final pass then loads all).
 */
static void *
cc_draw_loader_main(void *arg)
{
    int               end;
    uint64_t          i, upto;
    struct timespec   ts = { 0, 2000000 };
    cc_draw_shard_t  *s = arg;
    cc_draw_pipe_t   *pp = &s->pipe;

    s->pipe_ok = 0;

    if (cc_draw_pipe_start(s->d, pp) != 0) {
        goto done;
    }

    for (i = s->load_from; ; ) {
        end = __atomic_load_n(&s->write_end, __ATOMIC_ACQUIRE);
        upto = __atomic_load_n(&s->written, __ATOMIC_ACQUIRE);

        if (i == upto) {
            if (end) {
                break;
            }

            nanosleep(&ts, NULL);
            continue;
        }

        for (; i < upto; i++) {
            /* rows written by this run: their fields are new to Redis */
            if (cc_draw_load_user(s, pp, i,
                                  s->d->c.credit == CC_CREDIT_SYNC, 1)
                != 0)
            {
                goto done;
            }
        }
    }

    if (cc_draw_pipe_flush(pp) == 0) {
        s->loaded_upto = i;
        s->pipe_ok = 1;
    }

done:

    cc_draw_pipe_close(pp);
    return NULL;
}


/*
 * Field w of every award's user, "p:..." or "c:..." as MySQL says (the
 * read-back), on the user's Redis shard, pipelined.  What the loader sent
 * already, [load_from, loaded_upto), is sent again only where MySQL now
 * says credited and the loader said pending.
 */
static int
cc_draw_load_redis(cc_draw_shard_t *s)
{
    int             sent_c;
    uint64_t        i;
    cc_draw_pipe_t  pp;

    sent_c = s->d->c.credit == CC_CREDIT_SYNC;

    if (cc_draw_pipe_start(s->d, &pp) != 0) {
        cc_draw_pipe_close(&pp);
        return cc_draw_fail(s, CC_DRAW_FAILED, "%s", pp.err);
    }

    for (i = 0; i < s->n; i++) {
        if (i >= s->load_from && i < s->loaded_upto
            && s->credited[i] == sent_c)
        {
            continue;
        }

        if (cc_draw_load_user(s, &pp, i, s->credited[i], 0) != 0) {
            break;
        }
    }

    if (i == s->n) {
        (void) cc_draw_pipe_flush(&pp);
    }

    cc_draw_pipe_close(&pp);
    s->loaded += pp.loaded;

    if (pp.err[0] != '\0') {
        return cc_draw_fail(s, CC_DRAW_FAILED, "%s", pp.err);
    }

    return 0;
}


/* the shard is done: its digest into its plan row */
static int
cc_draw_finish(cc_draw_shard_t *s)
{
    char  sql[512];

    snprintf(sql, sizeof(sql), "UPDATE draw_plans SET digest = '%s' WHERE "
             "campaign = '%s' AND shard = %zu AND digest IS NULL", s->digest,
             s->d->c.id, s->shard);

    if (cc_draw_sql(s, "store the digest", sql, strlen(sql)) != 0) {
        return -1;
    }

    return cc_draw_commit(s, "store the digest");
}


void *
cc_draw_shard_main(void *arg)
{
    int64_t           t[5];
    cc_draw_shard_t  *s = arg;

    mysql_thread_init();

    t[0] = cc_now_ms();

    if (cc_draw_begin_shard(s) == 0
        && cc_draw_read_users(s) == 0
        && (s->done_upto == 0
            || cc_draw_verify(s, s->done_upto, CC_DRAW_REFUSED) == 0)
        && (t[1] = cc_now_ms(), cc_draw_write(s) == 0)
        && (t[2] = cc_now_ms(), cc_draw_verify(s, s->n, CC_DRAW_FAILED) == 0)
        && (t[3] = cc_now_ms(), cc_draw_load_redis(s) == 0)
        && cc_draw_finish(s) == 0)
    {
        t[4] = cc_now_ms();
        s->rc = CC_DRAW_OK;

        /* where the time went, for the operator and the benchmark */
        cc_log("shard %zu: %" PRIu64 " users read and ranked in %.2f s, "
               "written in %.2f s, checked in %.2f s, into Redis in %.2f s",
               s->shard, s->n, (t[1] - t[0]) / 1000.0,
               (t[2] - t[1]) / 1000.0, (t[3] - t[2]) / 1000.0,
               (t[4] - t[3]) / 1000.0);
    }

    mysql_thread_end();
    __atomic_store_n(&s->finished, 1, __ATOMIC_RELEASE);

    return NULL;
}

