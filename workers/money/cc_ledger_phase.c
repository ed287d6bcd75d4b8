/*
 * cc_ledger_phase: pending and post transfers (see cc_ledger_phase.h).
 *
 * The same discipline as cc_ledger.c: the store decides what is new (an
 * INSERT IGNORE ... RETURNING of the transfers, the batch sorted by id so
 * two payers lock in the same order), sums move only for the returned
 * rows, and the ids that were there are read afterwards with a locking
 * read to tell a retry of the same credit from another transfer.
 */

#define _GNU_SOURCE

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_assert.h"
#include "cc_ledger_bulk.h"
#include "cc_ledger_phase.h"
#include "cc_ledger_phase_int.h"
#include "cc_sqlbuf.h"
#include "cc_worker.h"


/* the statements both phases share, a row per credit */
#define CC_LEDGER_PHASE_INSERT                                               \
    "INSERT IGNORE INTO ledger_transfers (transfer_id, debit, credit, "      \
    "amount_cents, campaign, kind, award_id, created_at) VALUES "

/* the pending transfers of a batch's details: their batch number too */
#define CC_LEDGER_PHASE_INSERT_BATCH                                         \
    "INSERT IGNORE INTO ledger_transfers (transfer_id, debit, credit, "      \
    "amount_cents, campaign, kind, award_id, created_at, batch_no) VALUES "

/*
 * Both phases' fast path: the transfers of the k entries selected (sel
 * NULL: all n) written in bulk, kind "pending" (the award id) or "post"
 * ("post:" and the award id), pool -> clearing.  ALL_NEW: every one
 * written; NOT_ALL: none left in the transaction (some id was there and
 * the insert rolled back, or too few for bulk, or no bulk on this
 * server): the text path decides; FAILED: err set.
 */
static cc_ledger_bulk_e
cc_ledger_phase_bulk(MYSQL *db, const char *campaign, const char *kind,
    const cc_ledger_credit_t *c, size_t n, const size_t *order,
    const int *sel, char *const *batch, size_t k, int64_t now, char *err,
    size_t errlen)
{
    int               *all;
    char               sql[512], what[32];
    size_t             i;
    cc_ledger_bulk_e   rc;

    if (!cc_ledger_bulk_worth(db, k)) {
        return CC_LEDGER_BULK_NOT_ALL;
    }

    snprintf(what, sizeof(what), "%s: insert", kind);

    if (cc_ledger_bulk_sql(sql, sizeof(sql), "INSERT IGNORE INTO "
                           "ledger_transfers (transfer_id, debit, credit, "
                           "amount_cents, campaign, kind, award_id, "
                           "created_at%s) VALUES (%s, 'pool:%s', "
                           "'clearing:%s', ?, '%s', '%s', ?, %" PRId64 "%s)",
                           batch ? ", batch_no" : "",
                           strcmp(kind, "post") == 0 ? "CONCAT('post:', ?)"
                                                     : "?",
                           campaign, campaign, campaign, kind, now,
                           batch ? ", ?" : "")
        != 0)
    {
        snprintf(err, errlen, "%s: statement too long", what);
        return CC_LEDGER_BULK_FAILED;
    }

    all = NULL;

    if (sel == NULL) {
        all = malloc(n * sizeof(int));
        if (all == NULL) {
            snprintf(err, errlen, "%s: out of memory", what);
            return CC_LEDGER_BULK_FAILED;
        }

        for (i = 0; i < n; i++) {
            all[i] = 1;
        }
    }

    rc = cc_ledger_bulk_new(db, what, sql, CC_LEDGER_BIND_ID_AMOUNT_ID, c, n,
                            order, sel ? sel : all, batch, k, err, errlen);
    free(all);

    return rc;
}


/* the index of the entry with this id (the first not yet marked), or n */
static size_t
cc_ledger_phase_find(cc_ledger_credit_t *c, const size_t *order, size_t n,
    const char *id, const int *marked)
{
    size_t  lo, hi, mid;

    lo = 0;
    hi = n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (strcmp(c[order[mid]].award_id, id) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }

    for ( ; lo < n && strcmp(c[order[lo]].award_id, id) == 0; lo++) {
        if (!marked[order[lo]]) {
            return order[lo];
        }
    }

    return n;
}


/*
 * The clearing account's credits in table (ledger_accounts, guard 0: its
 * posted credits; or ledger_pending: its pending credits) up by sum, the
 * row made when missing; with_pool: the pool's row of the table made
 * too when missing (0 added), in the same statement, after the
 * clearing's (the order every phase locks them in).  0, or -1 with err
 * "WHAT: why".
 */
static int
cc_ledger_phase_clearing(MYSQL *db, const char *what, const char *table,
    const char *campaign, uint64_t sum, int with_pool, cc_sqlbuf_t *b,
    char *err, size_t errlen)
{
    int  acc;

    acc = strcmp(table, "ledger_accounts") == 0;
    b->len = 0;

    if (cc_sqlbuf_printf(b, "INSERT INTO %s (account, credits%s) VALUES "
                         "('clearing:%s', %" PRIu64 "%s)", table,
                         acc ? ", guard" : "", campaign, sum, acc ? ", 0" : "")
        != 0
        || (with_pool
            && cc_sqlbuf_printf(b, ", ('pool:%s', 0%s)", campaign,
                                acc ? ", 1" : "") != 0)
        || cc_sqlbuf_printf(b, " ON DUPLICATE KEY UPDATE credits = credits "
                            "+ VALUES(credits)") != 0)
    {
        snprintf(err, errlen, "%s: out of memory", what);
        return -1;
    }

    if (mysql_real_query(db, b->p, b->len) != 0) {
        snprintf(err, errlen, "%s: clearing:%s not moved: %s", what,
                 campaign, mysql_error(db));
        return -1;
    }

    return 0;
}


/*
 * The books' shape of a campaign paid over http: 0 when it has the
 * clearing account (or no pending transfer yet); 1, err said, when it
 * has pending transfers but no clearing account: they were written in
 * the per-user shape (pool -> wallet:<uid>, before the clearing
 * account), and this version does not mix the two in one campaign; -1
 * MySQL failed.
 */
int
cc_ledger_phase_shape(MYSQL *db, const char *campaign, char *err,
    size_t errlen)
{
    int         rc, old;
    char        sql[768];
    MYSQL_RES  *res;
    MYSQL_ROW   row;

    /*
     * The clearing account's pending row is written with the campaign's
     * first pending transfer, in its transaction: pending transfers
     * without it were written in the other shape.  Both lookups are one
     * index probe (not a scan of the campaign's transfers).
     */
    snprintf(sql, sizeof(sql), "SELECT EXISTS(SELECT 1 FROM ledger_pending "
             "WHERE account = 'clearing:%s'), EXISTS(SELECT 1 FROM "
             "ledger_transfers WHERE campaign = '%s' AND kind = 'pending'), "
             "EXISTS(SELECT 1 FROM wallet_batch_details WHERE award_id >= "
             "'%s:' AND award_id < '%s;')", campaign, campaign, campaign,
             campaign);

    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL)
    {
        snprintf(err, errlen, "shape: %s", mysql_error(db));
        return -1;
    }

    row = mysql_fetch_row(res);
    rc = row != NULL && row[0][0] == '0' && row[1][0] == '1' ? 1 : 0;
    old = row != NULL && row[2][0] == '1';
    mysql_free_result(res);

    /* the campaign's award ids are "<campaign>:..." (':' + 1 is ';') */
    if (old) {
        snprintf(err, errlen, "campaign %s's batches are in the shape "
                 "before their details were its pending transfers (rows in "
                 "wallet_batch_details); this version does not mix the two "
                 "in one campaign: finish it with the version that began it "
                 "(see README \"The clearing account\")", campaign);
        return 1;
    }

    if (rc) {
        snprintf(err, errlen, "campaign %s's books are in the per-user "
                 "shape (pending transfers to wallet:<uid>, written before "
                 "the clearing account); this version books wallet http "
                 "into clearing:%s and does not mix the two in one "
                 "campaign: finish it with the version that began it (see "
                 "README \"The clearing account\")", campaign, campaign);
    }

    return rc;
}


/* ---- pending -------------------------------------------------------- */


/*
 * The new ones' sums: clearing:<campaign>'s credits pending, the pool's
 * debits pending under its guard (credits >= debits + pending debits +
 * S).
 */
static int
cc_ledger_phase_sums(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, const cc_ledger_phase_e *st,
    cc_sqlbuf_t *b, char *err, size_t errlen)
{
    size_t     i, k;
    uint64_t   sum;

    for (i = 0, k = 0, sum = 0; i < n; i++) {
        if (st[i] == CC_LEDGER_PHASE_NEW) {
            sum += c[i].amount_cents;
            k++;
        }
    }

    if (k == 0) {
        return 0;
    }

    /* one round trip: the clearing's pending credits, the pool's row */
    if (cc_ledger_phase_clearing(db, "pending: clearing", "ledger_pending",
                                 campaign, sum, 1, b, err, errlen) != 0)
    {
        return -1;
    }

    CC_ASSERT(sum >= k);            /* every amount above 0 */

    b->len = 0;

    /* the pool's side: as much pending debit as the clearing's credit */
    if (cc_sqlbuf_printf(b, "UPDATE ledger_pending p JOIN ledger_accounts a "
                         "ON a.account = p.account SET p.debits = p.debits "
                         "+ %" PRIu64 " WHERE p.account = 'pool:%s' AND "
                         "a.guard = 1 AND a.credits >= a.debits + p.debits "
                         "+ %" PRIu64, sum, campaign, sum) != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0) {
        snprintf(err, errlen, "pending: pool: %s", mysql_error(db));
        return -1;
    }

    if (mysql_affected_rows(db) != 1) {
        for (i = 0; i < n; i++) {
            c[i].rc = st[i] == CC_LEDGER_PHASE_NEW ? CC_LEDGER_NO_FUNDS
                                                   : CC_LEDGER_ERROR;
        }

        snprintf(err, errlen, "pending: pool:%s holds less than the %"
                 PRIu64 " cents of %zu new credits (or is not funded)",
                 campaign, sum, k);
        return -1;
    }

    return 0;

nomem:

    snprintf(err, errlen, "pending: out of memory");
    return -1;
}


/*
 * The pending transfers in one INSERT IGNORE ... RETURNING, in id order:
 * the returned are NEW (marked).  0, or -1 with err set.
 */
static int
cc_ledger_phase_pending_insert(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, char *const *batch, const size_t *order,
    int *marked, cc_ledger_phase_e *st, int64_t now, cc_sqlbuf_t *b,
    char *err, size_t errlen)
{
    size_t      i, k;
    MYSQL_RES  *res;
    MYSQL_ROW   row;

    switch (cc_ledger_phase_bulk(db, campaign, "pending", c, n, order, NULL,
                                 batch, n, now, err, errlen))
    {
    case CC_LEDGER_BULK_ALL_NEW:
        for (i = 0; i < n; i++) {
            marked[i] = 1;
            st[i] = CC_LEDGER_PHASE_NEW;
        }
        return 0;

    case CC_LEDGER_BULK_FAILED:
        return -1;

    default:
        break;                      /* the text: RETURNING what is new */
    }

    b->len = 0;

    if (cc_sqlbuf_printf(b, batch ? CC_LEDGER_PHASE_INSERT_BATCH
                                  : CC_LEDGER_PHASE_INSERT) != 0)
    {
        goto nomem;
    }

    for (i = 0; i < n; i++) {
        k = order[i];

        if (cc_sqlbuf_printf(b, "%s('%s','pool:%s','clearing:%s',%" PRIu64
                             ",'%s','pending','%s',%" PRId64 "%s%s%s)",
                             i ? "," : "", c[k].award_id, campaign, campaign,
                             c[k].amount_cents, campaign, c[k].award_id, now,
                             batch ? ",'" : "", batch ? batch[k] : "",
                             batch ? "'" : "")
            != 0)
        {
            goto nomem;
        }
    }

    if (cc_sqlbuf_printf(b, " RETURNING transfer_id") != 0) {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0
        || (res = mysql_store_result(db)) == NULL)
    {
        snprintf(err, errlen, "pending: insert: %s", mysql_error(db));
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        k = cc_ledger_phase_find(c, order, n, row[0], marked);

        if (k < n) {
            marked[k] = 1;
            st[k] = CC_LEDGER_PHASE_NEW;
        }
    }

    mysql_free_result(res);

    return 0;

nomem:

    snprintf(err, errlen, "pending: out of memory");
    return -1;
}


/*
 * The entries whose pending transfer (id = the award id) is voided
 * (marked 2): in flight when the award holds another attempt's pending
 * transfer not voided (cc_ledger_void.c writes a void and the next
 * attempt in one transaction), else OTHER: a post would take its amount
 * from the other awards' reservations.  A locking read with joins, not
 * subqueries (a subquery of a locking read reads the snapshot).  Every
 * entry it decides is marked 1.  0, or -1 with err set.
 */
static int
cc_ledger_phase_live(MYSQL *db, cc_ledger_credit_t *c, size_t n,
    int *marked, cc_ledger_phase_e *st, cc_sqlbuf_t *b, char *err,
    size_t errlen)
{
    size_t      k, m;
    MYSQL_RES  *res;
    MYSQL_ROW   row;

    b->len = 0;

    if (cc_sqlbuf_printf(b, "SELECT l.award_id FROM ledger_transfers l "
                         "LEFT JOIN ledger_transfers v ON v.transfer_id = "
                         "CONCAT('void:', l.transfer_id) WHERE l.kind = "
                         "'pending' AND v.transfer_id IS NULL AND "
                         "l.award_id IN (") != 0)
    {
        goto nomem;
    }

    for (k = 0, m = 0; k < n; k++) {
        if (marked[k] == 2
            && cc_sqlbuf_printf(b, "%s'%s'", m++ ? "," : "", c[k].award_id)
               != 0)
        {
            goto nomem;
        }
    }

    if (cc_sqlbuf_printf(b, ") LOCK IN SHARE MODE") != 0) {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0
        || (res = mysql_store_result(db)) == NULL)
    {
        snprintf(err, errlen, "pending: live attempts: %s", mysql_error(db));
        return -1;
    }

    for (k = 0; k < n; k++) {
        if (marked[k] == 2) {
            st[k] = CC_LEDGER_PHASE_OTHER;      /* unless a live one */
        }
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        for (k = 0; k < n; k++) {
            if (marked[k] == 2 && strcmp(c[k].award_id, row[0]) == 0) {
                st[k] = CC_LEDGER_PHASE_IN_FLIGHT;
            }
        }
    }

    mysql_free_result(res);

    for (k = 0; k < n; k++) {
        if (marked[k] == 2) {
            marked[k] = 1;
        }
    }

    return 0;

nomem:

    snprintf(err, errlen, "pending: out of memory");
    return -1;
}


/*
 * The ids the insert did not write were there: read them (a locking read)
 * and tell the same pending transfer, posted or not, from another one.
 * Posted: its post:<award id> is there (a single call's), or its award
 * is credited (a batch's round post, cc_ledger_round.c, names no award:
 * it commits with the awards it credits).
 * Every entry is marked after it.  0, or -1 with err set.
 */
static int
cc_ledger_phase_pending_read(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, const size_t *order, int *marked,
    cc_ledger_phase_e *st, cc_sqlbuf_t *b, char *err, size_t errlen)
{
    int         same;
    char        wallet[48];         /* the clearing account's name */
    size_t      i, k, left, voided;
    MYSQL_RES  *res;
    MYSQL_ROW   row;

    b->len = 0;
    left = 0;
    voided = 0;

    /*
     * row[7]: t voided (a joined table: read by the locking read too).
     * The award's status, a round post's mark, is a subquery: read from
     * the snapshot, not locked (a claim must not wait here for a bulk
     * batch holding the award's row).  Stale, it says in flight for an
     * award a round posted: the call is answered as applied, and the
     * post's locking read of the award (cc_ledger_phase_credited) finds
     * it credited: EXISTS, nothing posted twice.
     */
    if (cc_sqlbuf_printf(b, "SELECT t.transfer_id, t.debit, t.credit, "
                         "t.amount_cents, t.kind, t.campaign, p.transfer_id "
                         "IS NOT NULL OR (SELECT a.status FROM awards a "
                         "WHERE a.award_id = t.award_id) <=> 'credited', "
                         "v.transfer_id IS NOT NULL FROM "
                         "ledger_transfers t LEFT JOIN "
                         "ledger_transfers p ON p.transfer_id = "
                         "CONCAT('post:', t.transfer_id) LEFT JOIN "
                         "ledger_transfers v ON v.transfer_id = "
                         "CONCAT('void:', t.transfer_id) WHERE "
                         "t.transfer_id IN (") != 0)
    {
        goto nomem;
    }

    for (i = 0; i < n; i++) {
        if (!marked[order[i]]
            && cc_sqlbuf_printf(b, "%s'%s'", left++ ? "," : "",
                                c[order[i]].award_id) != 0)
        {
            goto nomem;
        }
    }

    if (left > 0) {
        if (cc_sqlbuf_printf(b, ") LOCK IN SHARE MODE") != 0) {
            goto nomem;
        }

        if (mysql_real_query(db, b->p, b->len) != 0
            || (res = mysql_store_result(db)) == NULL)
        {
            snprintf(err, errlen, "pending: read: %s", mysql_error(db));
            return -1;
        }

        while ((row = mysql_fetch_row(res)) != NULL) {
            while ((k = cc_ledger_phase_find(c, order, n, row[0], marked))
                   < n)
            {
                marked[k] = 1;
                snprintf(wallet, sizeof(wallet), "clearing:%s", campaign);

                same = strncmp(row[1], "pool:", 5) == 0
                       && strcmp(row[1] + 5, campaign) == 0
                       && strcmp(row[2], wallet) == 0
                       && strtoull(row[3], NULL, 10) == c[k].amount_cents
                       && strcmp(row[4], "pending") == 0
                       && strcmp(row[5], campaign) == 0;

                st[k] = !same ? CC_LEDGER_PHASE_OTHER
                        : row[6][0] == '1' ? CC_LEDGER_PHASE_POSTED
                        : CC_LEDGER_PHASE_IN_FLIGHT;

                if (st[k] == CC_LEDGER_PHASE_IN_FLIGHT && row[7][0] == '1') {
                    marked[k] = 2;      /* voided: in flight if another
                                           attempt is live */
                    voided++;
                }
            }
        }

        mysql_free_result(res);
    }

    if (voided > 0
        && cc_ledger_phase_live(db, c, n, marked, st, b, err, errlen) != 0)
    {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (!marked[i]) {
            snprintf(err, errlen, "pending %s neither written nor there",
                     c[i].award_id);
            return -1;
        }
    }

    return 0;

nomem:

    snprintf(err, errlen, "pending: out of memory");
    return -1;
}


/*
 * The pending transfers: the insert (in bulk from CC_LEDGER_BULK_MIN
 * when all are new), and the read of the ids it did not write.  0, or -1
 * with err set.
 */
static int
cc_ledger_phase_pending_write(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, char *const *batch, const size_t *order,
    int *marked, cc_ledger_phase_e *st, cc_sqlbuf_t *b, char *err,
    size_t errlen)
{
    if (cc_ledger_phase_pending_insert(db, campaign, c, n, batch, order,
                                       marked, st, cc_now_ms(), b, err,
                                       errlen) != 0)
    {
        return -1;
    }

    return cc_ledger_phase_pending_read(db, campaign, c, n, order, marked,
                                        st, b, err, errlen);
}


/* the pending transfers, and their sums when reserve is set */
static int
cc_ledger_phase_pending_do(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, char *const *batch,
    cc_ledger_phase_e *st, int reserve, char *err, size_t errlen)
{
    int           rc, *marked;
    size_t        i, *order;
    cc_sqlbuf_t   b = { NULL, 0, 0 };

    /*
     * Every entry's rc first: the caller may reuse c[] between batches,
     * and a refused batch must not leave an entry with the last one's
     * result.
     */
    for (i = 0; i < n; i++) {
        c[i].rc = CC_LEDGER_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (!cc_ledger_award_ok(&c[i])) {
            snprintf(err, errlen, "pending: bad award \"%.64s\"",
                     c[i].award_id);
            return -1;
        }
    }

    if (!cc_ledger_campaign_ok(campaign)) {
        snprintf(err, errlen, "pending: bad campaign \"%.32s\"", campaign);
        return -1;
    }

    if (n == 0) {
        return 0;
    }

    rc = -1;
    order = cc_ledger_bulk_order(c, n);
    marked = calloc(n, sizeof(int));

    if (order == NULL || marked == NULL) {
        snprintf(err, errlen, "pending: out of memory");
        goto done;
    }

    switch (cc_ledger_phase_shape(db, campaign, err, errlen)) {
    case 0:
        break;
    default: /* 1: the per-user shape, or -1 */
        goto done;
    }

    if (cc_ledger_phase_pending_write(db, campaign, c, n, batch, order,
                                      marked, st, &b, err, errlen) != 0
        || (reserve
            && cc_ledger_phase_sums(db, campaign, c, n, st, &b, err, errlen)
               != 0))
    {
        goto done;
    }

    for (i = 0; i < n; i++) {
        CC_ASSERT(marked[i]);
        CC_ASSERT(st[i] >= CC_LEDGER_PHASE_NEW
                  && st[i] <= CC_LEDGER_PHASE_OTHER);

        c[i].rc = st[i] == CC_LEDGER_PHASE_OTHER ? CC_LEDGER_MISMATCH
                  : st[i] == CC_LEDGER_PHASE_POSTED ? CC_LEDGER_EXISTS
                  : CC_LEDGER_DONE;
    }

    rc = 0;

done:

    free(order);
    free(marked);
    free(b.p);

    return rc;
}


int
cc_ledger_phase_pending(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, cc_ledger_phase_e *st, char *err,
    size_t errlen)
{
    return cc_ledger_phase_pending_do(db, campaign, c, n, NULL, st, 1, err,
                                      errlen);
}


int
cc_ledger_phase_transfers(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, char *const *batch,
    cc_ledger_phase_e *st, char *err, size_t errlen)
{
    return cc_ledger_phase_pending_do(db, campaign, c, n, batch, st, 0, err,
                                      errlen);
}


int
cc_ledger_phase_reserve(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, const cc_ledger_phase_e *st, char *err,
    size_t errlen)
{
    int          rc;
    cc_sqlbuf_t  b = { NULL, 0, 0 };

    rc = cc_ledger_phase_sums(db, campaign, c, n, st, &b, err, errlen);
    free(b.p);

    return rc;
}


/* ---- post ----------------------------------------------------------- */


/*
 * The awards of the entries with sel[] set locked (FOR UPDATE, in the
 * caller's open transaction, order[] their award id order) and each one
 * already credited taken out: sel[i] = 0, rc EXISTS.  A single call's
 * post, so that a claim never posts an award a batch's round posted (the
 * round's own guard is its payer's UPDATE: cc_wallet.h).  The number
 * taken out, or -1 with err set.
 */
static int
cc_ledger_phase_credited(MYSQL *db, cc_ledger_credit_t *c, size_t n,
    const size_t *order, int *sel, cc_sqlbuf_t *b, char *err, size_t errlen)
{
    int         k;
    size_t      i, m;
    MYSQL_RES  *res;
    MYSQL_ROW   row;

    b->len = 0;

    if (cc_sqlbuf_printf(b, "SELECT award_id, status FROM awards WHERE "
                         "award_id IN (") != 0)
    {
        goto nomem;
    }

    for (i = 0, m = 0; i < n; i++) {
        if (sel[order[i]]
            && cc_sqlbuf_printf(b, "%s'%s'", m++ ? "," : "",
                                c[order[i]].award_id) != 0)
        {
            goto nomem;
        }
    }

    if (m == 0) {
        return 0;
    }

    if (cc_sqlbuf_printf(b, ") FOR UPDATE") != 0) {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0
        || (res = mysql_store_result(db)) == NULL)
    {
        snprintf(err, errlen, "post: awards: %s", mysql_error(db));
        return -1;
    }

    k = 0;

    while ((row = mysql_fetch_row(res)) != NULL) {
        if (strcmp(row[1], "credited") != 0) {
            continue;
        }

        for (i = 0; i < n; i++) {
            if (sel[i] && strcmp(c[i].award_id, row[0]) == 0) {
                sel[i] = 0;
                c[i].rc = CC_LEDGER_EXISTS;
                k++;
            }
        }
    }

    mysql_free_result(res);

    return k;

nomem:

    snprintf(err, errlen, "post: out of memory");
    return -1;
}


/*
 * The post transfers of the entries with ok[] set: one INSERT IGNORE ...
 * RETURNING (the returned DONE).  marked[i]: written now, or not ours
 * to post.  0, or -1 with err set.
 */
static int
cc_ledger_phase_post_insert(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, const size_t *order, const int *ok,
    int *marked, cc_sqlbuf_t *b, char *err, size_t errlen)
{
    size_t      i, k;
    int64_t     now;
    MYSQL_RES  *res;
    MYSQL_ROW   row;

    now = cc_now_ms();

    for (i = 0, k = 0; i < n; i++) {
        k += ok[i] != 0;
    }

    switch (cc_ledger_phase_bulk(db, campaign, "post", c, n, order, ok,
                                 NULL, k, now, err, errlen))
    {
    case CC_LEDGER_BULK_ALL_NEW:
        for (i = 0; i < n; i++) {
            marked[i] = 1;          /* posted now, or not ours to post */

            if (ok[i]) {
                c[i].rc = CC_LEDGER_DONE;
            }
        }
        return 0;

    case CC_LEDGER_BULK_FAILED:
        return -1;

    default:
        break;                      /* the text: RETURNING what is new */
    }

    b->len = 0;

    if (cc_sqlbuf_printf(b, CC_LEDGER_PHASE_INSERT) != 0) {
        goto nomem;
    }

    for (i = 0, k = 0; i < n; i++) {
        if (!ok[order[i]]) {
            marked[order[i]] = 1;          /* not ours to post */
            continue;
        }

        if (cc_sqlbuf_printf(b, "%s('post:%s','pool:%s','clearing:%s',%"
                             PRIu64 ",'%s','post','%s',%" PRId64 ")",
                             k++ ? "," : "", c[order[i]].award_id, campaign,
                             campaign, c[order[i]].amount_cents, campaign,
                             c[order[i]].award_id, now) != 0)
        {
            goto nomem;
        }
    }

    if (cc_sqlbuf_printf(b, " RETURNING transfer_id") != 0) {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0
        || (res = mysql_store_result(db)) == NULL)
    {
        snprintf(err, errlen, "post: insert: %s", mysql_error(db));
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        k = cc_ledger_phase_find(c, order, n, row[0] + 5, marked);

        if (k < n) {
            marked[k] = 1;
            c[k].rc = CC_LEDGER_DONE;
        }
    }

    mysql_free_result(res);

    return 0;

nomem:

    snprintf(err, errlen, "post: out of memory");
    return -1;
}


/*
 * The sums of the posts written now: the clearing account's posted
 * credits up and its pending credits down, the pool's pending debits
 * down and its posted debits up, by the same sum.  0, or -1 with err set.
 */
int
cc_ledger_phase_post_sums(MYSQL *db, const char *campaign, uint64_t sum,
    cc_sqlbuf_t *b, char *err, size_t errlen)
{
    if (cc_ledger_phase_clearing(db, "post: clearing", "ledger_accounts",
                                 campaign, sum, 0, b, err, errlen) != 0)
    {
        return -1;
    }

    b->len = 0;

    CC_ASSERT(sum > 0);             /* the callers move a positive sum */

    /*
     * Both pending sums down in one statement (one round trip, a claim's
     * turn counts them), each only where that much is there: both rows
     * changed, or the post is refused.  Two primary key probes (forced:
     * a scan of a small table would lock every campaign's rows), in key
     * order, clearing before pool, as every phase locks them.
     */
    if (cc_sqlbuf_printf(b, "UPDATE ledger_pending FORCE INDEX (PRIMARY) "
                         "SET credits = credits - IF(account = "
                         "'clearing:%s', %" PRIu64 ", 0), debits = debits - "
                         "IF(account = 'pool:%s', %" PRIu64 ", 0) WHERE "
                         "account IN ('clearing:%s', 'pool:%s') AND "
                         "IF(account = 'pool:%s', debits, credits) >= %"
                         PRIu64, campaign, sum, campaign, sum, campaign,
                         campaign, campaign, sum) != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0) {
        snprintf(err, errlen, "post: pending sums: %s", mysql_error(db));
        return -1;
    }

    if (mysql_affected_rows(db) != 2) {
        snprintf(err, errlen, "post: clearing:%s's pending credits or "
                 "pool:%s's pending debits below %" PRIu64, campaign,
                 campaign, sum);
        return -1;
    }

    b->len = 0;

    if (cc_sqlbuf_printf(b, "UPDATE ledger_accounts SET debits = debits + %"
                         PRIu64 " WHERE account = 'pool:%s'", sum, campaign)
        != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0
        || mysql_affected_rows(db) != 1)
    {
        snprintf(err, errlen, "post: pool:%s: %s", campaign,
                 mysql_error(db));
        return -1;
    }

    return 0;

nomem:

    snprintf(err, errlen, "post: out of memory");
    return -1;
}


long
cc_ledger_phase_post(MYSQL *db, const char *campaign, cc_ledger_credit_t *c,
    size_t n, const int *ok, char *err, size_t errlen)
{
    return cc_ledger_phase_post_rows(db, campaign, c, n, ok, NULL, err,
                                     errlen);
}


int
cc_ledger_phase_post_move(MYSQL *db, const char *campaign, uint64_t sum,
    char *err, size_t errlen)
{
    int          rc;
    cc_sqlbuf_t  b = { NULL, 0, 0 };

    rc = sum > 0 ? cc_ledger_phase_post_sums(db, campaign, sum, &b, err,
                                             errlen)
                 : 0;
    free(b.p);

    return rc;
}


long
cc_ledger_phase_post_rows(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, const int *ok, uint64_t *deferred,
    char *err, size_t errlen)
{
    int           *marked, *done, *sel, k;
    long           added;
    size_t         i, nok, *order;
    uint64_t       sum;
    cc_sqlbuf_t    b = { NULL, 0, 0 };

    added = -1;
    order = cc_ledger_bulk_order(c, n);
    marked = calloc(n ? n : 1, sizeof(int));
    done = calloc(n ? n : 1, sizeof(int));
    sel = calloc(n ? n : 1, sizeof(int));

    if (order == NULL || marked == NULL || done == NULL || sel == NULL) {
        snprintf(err, errlen, "post: out of memory");
        goto out;
    }

    for (i = 0, nok = 0; i < n; i++) {
        sel[i] = ok[i] != 0;
        nok += sel[i];
    }

    if (nok == 0) {
        added = 0;
        goto out;
    }

    /* an award a batch's round posted meanwhile is credited: EXISTS */
    k = cc_ledger_phase_credited(db, c, n, order, sel, &b, err, errlen);
    if (k < 0) {
        goto out;
    }

    if ((size_t) k < nok
        && cc_ledger_phase_post_insert(db, campaign, c, n, order, sel,
                                       marked, &b, err, errlen) != 0)
    {
        goto out;
    }

    /* the posts written now: pending -> posted */

    for (i = 0, sum = 0, added = 0; i < n; i++) {
        done[i] = sel[i] && marked[i];

        if (done[i]) {
            CC_ASSERT(c[i].rc == CC_LEDGER_DONE && c[i].amount_cents > 0);
            sum += c[i].amount_cents;
            added++;

        } else if (sel[i]) {
            c[i].rc = CC_LEDGER_EXISTS;           /* posted by a racer */
        }
    }

    CC_ASSERT(added >= 0 && (size_t) added <= nok);

    if (deferred != NULL) {
        *deferred = sum;                    /* the caller moves them */

    } else if (added > 0
               && cc_ledger_phase_post_sums(db, campaign, sum, &b, err,
                                            errlen) != 0)
    {
        added = -1;
    }

out:

    free(order);
    free(marked);
    free(done);
    free(sel);
    free(b.p);

    return added;
}
