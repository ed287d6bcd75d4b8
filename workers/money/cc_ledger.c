/*
 * cc_ledger: the embedded wallet, a double-entry ledger (see cc_ledger.h
 * and sql/money.sql).
 *
 * Every transfer is one row of ledger_transfers whose primary key is its
 * id, and moves its amount from one account's debits to another's
 * credits in the same transaction.  The store decides what is new: an
 * INSERT IGNORE writes only the ids not there yet, and RETURNING (or the
 * affected rows) says which; the account changes are computed from those
 * rows only, so a retried credit moves no money twice.  Nothing is read
 * before it is written: the ids already there are read after the insert,
 * with a locking read (the newest committed row, whatever the caller's
 * snapshot), to tell EXISTS from MISMATCH.
 */

#define _GNU_SOURCE

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_assert.h"
#include "cc_campaign.h"
#include "cc_ids.h"
#include "cc_ledger.h"
#include "cc_ledger_bulk.h"
#include "cc_sqlbuf.h"
#include "cc_worker.h"


#define CC_LEDGER_RC_UNSET  ((cc_ledger_rc_e) -1)


typedef struct {
    cc_ledger_credit_t  *c;
    size_t               n;
    size_t              *order;    /* indices of c sorted by award_id */
} cc_ledger_batch_t;


/*
 * Ids and campaigns go into SQL text unquoted, so they are checked here
 * (cc_ids.h): a campaign is 1..32 of [A-Za-z0-9_-], an award id 1..64 of
 * those and ':'.
 */
int
cc_ledger_campaign_ok(const char *campaign)
{
    size_t  len;

    len = strlen(campaign);

    return len <= CC_CAMPAIGN_ID_MAX
           && cc_check_request_id(campaign, len) == 0;
}


int
cc_ledger_award_ok(const cc_ledger_credit_t *c)
{
    return cc_check_award_id(c->award_id, strlen(c->award_id)) == 0
           && c->amount_cents > 0 && c->uid > 0;
}


/*
 * A transfer's result moves one way: unset, then what the insert found
 * (DONE, EXISTS, MISMATCH), then only a written one may be undone by the
 * pool's guard (NO_FUNDS) or by a rollback (ERROR).
 */
static void
cc_ledger_set_rc(cc_ledger_credit_t *c, cc_ledger_rc_e rc)
{
    CC_ASSERT(c->rc == CC_LEDGER_RC_UNSET
              || (c->rc == CC_LEDGER_DONE
                  && (rc == CC_LEDGER_NO_FUNDS || rc == CC_LEDGER_ERROR)));

    c->rc = rc;
}


const char *
cc_ledger_rc_name(cc_ledger_rc_e rc)
{
    switch (rc) {
    case CC_LEDGER_DONE:     return "done";
    case CC_LEDGER_EXISTS:   return "exists";
    case CC_LEDGER_MISMATCH: return "mismatch";
    case CC_LEDGER_NO_FUNDS: return "no_funds";
    case CC_LEDGER_ERROR:    return "error";
    }

    return "unknown";
}


cc_ledger_rc_e
cc_ledger_fund(MYSQL *db, const char *campaign, unsigned shard,
    uint64_t amount_cents, char *err, size_t errlen)
{
    int             same;
    char            sql[512];
    MYSQL_RES      *res;
    MYSQL_ROW       row;

    if (!cc_ledger_campaign_ok(campaign) || amount_cents == 0) {
        snprintf(err, errlen, "fund: bad campaign or amount 0");
        return CC_LEDGER_ERROR;
    }

    snprintf(sql, sizeof(sql),
             "INSERT IGNORE INTO ledger_transfers (transfer_id, debit, "
             "credit, amount_cents, campaign, kind, award_id, created_at) "
             "VALUES ('fund:%s:%u', 'sponsor:%s', 'pool:%s', %" PRIu64
             ", '%s', 'fund', NULL, %" PRId64 ")",
             campaign, shard, campaign, campaign, amount_cents, campaign,
             cc_now_ms());

    if (mysql_query(db, sql) != 0) {
        snprintf(err, errlen, "fund: insert transfer: %s", mysql_error(db));
        return CC_LEDGER_ERROR;
    }

    if (mysql_affected_rows(db) == 1) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO ledger_accounts (account, debits, credits, "
                 "guard) VALUES ('sponsor:%s', %" PRIu64 ", 0, 0), "
                 "('pool:%s', 0, %" PRIu64 ", 1) ON DUPLICATE KEY UPDATE "
                 "debits = debits + VALUES(debits), "
                 "credits = credits + VALUES(credits)",
                 campaign, amount_cents, campaign, amount_cents);

        if (mysql_query(db, sql) != 0) {
            snprintf(err, errlen, "fund: accounts: %s", mysql_error(db));
            return CC_LEDGER_ERROR;
        }

        return CC_LEDGER_DONE;
    }

    /* the id is there: the same transfer, or another under its id */

    snprintf(sql, sizeof(sql),
             "SELECT debit, credit, amount_cents, kind FROM ledger_transfers"
             " WHERE transfer_id = 'fund:%s:%u' LOCK IN SHARE MODE",
             campaign, shard);

    if (mysql_query(db, sql) != 0
        || (res = mysql_store_result(db)) == NULL)
    {
        snprintf(err, errlen, "fund: read transfer: %s", mysql_error(db));
        return CC_LEDGER_ERROR;
    }

    row = mysql_fetch_row(res);

    if (row == NULL) {
        mysql_free_result(res);
        snprintf(err, errlen, "fund:%s:%u neither written nor there",
                 campaign, shard);
        return CC_LEDGER_ERROR;
    }

    same = strncmp(row[0], "sponsor:", 8) == 0
           && strcmp(row[0] + 8, campaign) == 0
           && strncmp(row[1], "pool:", 5) == 0
           && strcmp(row[1] + 5, campaign) == 0
           && strtoull(row[2], NULL, 10) == amount_cents
           && strcmp(row[3], "fund") == 0;

    if (!same) {
        snprintf(err, errlen, "fund:%s:%u exists as %s -> %s %s cents (%s),"
                 " not %" PRIu64, campaign, shard, row[0], row[1], row[2],
                 row[3], amount_cents);
    }

    mysql_free_result(res);

    return same ? CC_LEDGER_EXISTS : CC_LEDGER_MISMATCH;
}


/*
 * The entry of the batch a returned row stands for: the first with this id
 * whose rc is still unset, preferring one with this amount (an id twice in
 * one batch is written once).  n when none.
 */
static size_t
cc_ledger_find(cc_ledger_batch_t *bt, const char *id, uint64_t amount)
{
    size_t  lo, hi, mid, i, any;
    int     d;

    lo = 0;
    hi = bt->n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        d = strcmp(bt->c[bt->order[mid]].award_id, id);

        if (d < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    any = bt->n;

    for (i = lo; i < bt->n && strcmp(bt->c[bt->order[i]].award_id, id) == 0;
         i++)
    {
        if (bt->c[bt->order[i]].rc != CC_LEDGER_RC_UNSET) {
            continue;
        }

        if (bt->c[bt->order[i]].amount_cents == amount) {
            return bt->order[i];
        }

        if (any == bt->n) {
            any = bt->order[i];
        }
    }

    return any;
}


/*
 * The ids the insert did not write are there already: read them (a
 * locking read, so the newest committed version) and compare every
 * column a credit sets.
 */
static int
cc_ledger_classify(MYSQL *db, const char *campaign, cc_ledger_batch_t *bt,
    cc_sqlbuf_t *b, char *err, size_t errlen)
{
    int              same;
    char             wallet[48];
    size_t           i, k, left;
    uint64_t         amount;
    MYSQL_RES       *res;
    MYSQL_ROW        row;
    cc_ledger_credit_t  *c;

    b->len = 0;
    left = 0;

    if (cc_sqlbuf_printf(b, "SELECT transfer_id, debit, credit, "
                         "amount_cents, kind, campaign FROM ledger_transfers"
                         " WHERE transfer_id IN (") != 0)
    {
        goto nomem;
    }

    for (i = 0; i < bt->n; i++) {
        if (bt->c[i].rc == CC_LEDGER_RC_UNSET) {
            if (cc_sqlbuf_printf(b, "%s'%s'", left ? "," : "",
                                 bt->c[i].award_id) != 0)
            {
                goto nomem;
            }

            left++;
        }
    }

    if (left == 0) {
        return 0;
    }

    if (cc_sqlbuf_printf(b, ") LOCK IN SHARE MODE") != 0) {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0
        || (res = mysql_store_result(db)) == NULL)
    {
        snprintf(err, errlen, "credit: read transfers: %s", mysql_error(db));
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        amount = strtoull(row[3], NULL, 10);

        /* every entry of the batch with this id */
        while ((k = cc_ledger_find(bt, row[0], amount)) != bt->n) {
            c = &bt->c[k];
            snprintf(wallet, sizeof(wallet), "wallet:%" PRIu64, c->uid);

            same = strncmp(row[1], "pool:", 5) == 0
                   && strcmp(row[1] + 5, campaign) == 0
                   && strcmp(row[2], wallet) == 0
                   && amount == c->amount_cents
                   && strcmp(row[4], "credit") == 0
                   && strcmp(row[5], campaign) == 0;

            cc_ledger_set_rc(c, same ? CC_LEDGER_EXISTS
                                     : CC_LEDGER_MISMATCH);
        }
    }

    mysql_free_result(res);

    for (i = 0; i < bt->n; i++) {
        if (bt->c[i].rc == CC_LEDGER_RC_UNSET) {
            bt->c[i].rc = CC_LEDGER_ERROR;
            snprintf(err, errlen, "credit %s neither written nor there",
                     bt->c[i].award_id);
            return -1;
        }
    }

    return 0;

nomem:

    snprintf(err, errlen, "credit: out of memory");
    return -1;
}


/*
 * The fast path, when every credit of the batch is new (a first payment:
 * nearly always).  The transfers and the wallets go through prepared
 * statements over bound arrays (MariaDB's bulk execution): no SQL text per
 * row to build and parse, which was a good part of the server's work.
 * Bulk execution returns no RETURNING rows, only a count, so the INSERT
 * IGNORE runs after a savepoint: all n rows written means all are new;
 * fewer means some id was there (a retry, another payer), and the
 * insert is rolled back to the savepoint for the general path to sort
 * out.  ALL_NEW: all written (rc DONE each, wallets credited); NOT_ALL
 * (nothing of this function left in the transaction); FAILED.
 */
static cc_ledger_bulk_e
cc_ledger_credit_bulk(MYSQL *db, const char *campaign, cc_ledger_batch_t *bt,
    int64_t now, char *err, size_t errlen)
{
    int                 *all;
    cc_ledger_bulk_e     rc;
    char                 sql[512];
    size_t               i;
    unsigned long long   affected;

    all = malloc((bt->n ? bt->n : 1) * sizeof(int));
    if (all == NULL) {
        snprintf(err, errlen, "credit: out of memory");
        return CC_LEDGER_BULK_FAILED;
    }

    for (i = 0; i < bt->n; i++) {
        all[i] = 1;
    }

    /* in id order, as the text path: two payers lock ids in one order */
    if (cc_ledger_bulk_sql(sql, sizeof(sql), "INSERT IGNORE INTO "
                           "ledger_transfers (transfer_id, debit, credit, "
                           "amount_cents, campaign, kind, award_id, "
                           "created_at) VALUES (?, 'pool:%s', "
                           "CONCAT('wallet:', ?), ?, '%s', 'credit', ?, %"
                           PRId64 ")", campaign, campaign, now) != 0)
    {
        free(all);
        snprintf(err, errlen, "credit: statement too long");
        return CC_LEDGER_BULK_FAILED;
    }

    rc = cc_ledger_bulk_new(db, "credit: insert transfers", sql,
                            CC_LEDGER_BIND_ID_UID_AMOUNT_ID, bt->c, bt->n,
                            bt->order, all, NULL, bt->n, err, errlen);

    if (rc == CC_LEDGER_BULK_ALL_NEW
        && cc_ledger_bulk_rows(db, "credit: wallets", "INSERT INTO "
                               "ledger_accounts (account, credits, guard) "
                               "VALUES (CONCAT('wallet:', ?), ?, 1) ON "
                               "DUPLICATE KEY UPDATE credits = credits + "
                               "VALUES(credits)", CC_LEDGER_BIND_UID_AMOUNT,
                               bt->c, bt->n, bt->order,
                               all, NULL, &affected, err, errlen)
           != 0)
    {
        rc = CC_LEDGER_BULK_FAILED;
    }

    for (i = 0; rc == CC_LEDGER_BULK_ALL_NEW && i < bt->n; i++) {
        cc_ledger_set_rc(&bt->c[i], CC_LEDGER_DONE);
    }

    free(all);

    return rc;
}


/*
 * The general path: one INSERT IGNORE ... RETURNING of every transfer, in
 * id order (two payers lock the ids in the same order); what it returns
 * is DONE, the others are read (cc_ledger_classify).  *rows: the number
 * written.  0, or -1 with err set.
 */
static int
cc_ledger_credit_text(MYSQL *db, const char *campaign, cc_ledger_batch_t *bt,
    int64_t now, cc_sqlbuf_t *b, size_t *rows, char *err, size_t errlen)
{
    size_t               i, k;
    uint64_t             amount;
    MYSQL_RES           *res;
    MYSQL_ROW            row;
    cc_ledger_credit_t  *c = bt->c;

    b->len = 0;

    if (cc_sqlbuf_printf(b, "INSERT IGNORE INTO ledger_transfers "
                         "(transfer_id, debit, credit, amount_cents, "
                         "campaign, kind, award_id, created_at) VALUES ")
        != 0)
    {
        goto nomem;
    }

    for (i = 0; i < bt->n; i++) {
        k = bt->order[i];

        if (cc_sqlbuf_printf(b, "%s('%s','pool:%s','wallet:%" PRIu64 "',%"
                             PRIu64 ",'%s','credit','%s',%" PRId64 ")",
                             i ? "," : "", c[k].award_id, campaign,
                             c[k].uid, c[k].amount_cents, campaign,
                             c[k].award_id, now)
            != 0)
        {
            goto nomem;
        }
    }

    if (cc_sqlbuf_printf(b, " RETURNING transfer_id, amount_cents") != 0) {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0
        || (res = mysql_store_result(db)) == NULL)
    {
        snprintf(err, errlen, "credit: insert transfers: %s",
                 mysql_error(db));
        return -1;
    }

    *rows = 0;

    while ((row = mysql_fetch_row(res)) != NULL) {
        amount = strtoull(row[1], NULL, 10);
        k = cc_ledger_find(bt, row[0], amount);

        if (k == bt->n) {
            mysql_free_result(res);
            snprintf(err, errlen, "credit: the insert returned %s, not in "
                     "the batch", row[0]);
            return -1;
        }

        cc_ledger_set_rc(&c[k], CC_LEDGER_DONE);
        (*rows)++;
    }

    mysql_free_result(res);

    if (*rows < bt->n
        && cc_ledger_classify(db, campaign, bt, b, err, errlen) != 0)
    {
        return -1;
    }

    /* every entry is now one of the three the insert can find */
    for (i = 0; i < bt->n; i++) {
        CC_ASSERT(c[i].rc == CC_LEDGER_DONE || c[i].rc == CC_LEDGER_EXISTS
                  || c[i].rc == CC_LEDGER_MISMATCH);
    }

    return 0;

nomem:

    snprintf(err, errlen, "credit: out of memory");
    return -1;
}


/*
 * The wallets of the new transfers (rc DONE), credited in one upsert in
 * the batch's (id) order; *sum: what they were credited in all.  0, or
 * -1 with err set.
 */
static int
cc_ledger_credit_wallets(MYSQL *db, cc_ledger_batch_t *bt, cc_sqlbuf_t *b,
    uint64_t *sum, char *err, size_t errlen)
{
    size_t               i, k;
    cc_ledger_credit_t  *e;

    b->len = 0;
    *sum = 0;

    if (cc_sqlbuf_printf(b, "INSERT INTO ledger_accounts (account, credits,"
                         " guard) VALUES ") != 0)
    {
        goto nomem;
    }

    for (i = 0, k = 0; i < bt->n; i++) {
        e = &bt->c[bt->order[i]];

        if (e->rc != CC_LEDGER_DONE) {
            continue;
        }

        CC_ASSERT(e->amount_cents > 0);

        if (cc_sqlbuf_printf(b, "%s('wallet:%" PRIu64 "',%" PRIu64 ",1)",
                             k++ ? "," : "", e->uid, e->amount_cents) != 0)
        {
            goto nomem;
        }

        *sum += e->amount_cents;
    }

    if (cc_sqlbuf_printf(b, " ON DUPLICATE KEY UPDATE "
                         "credits = credits + VALUES(credits)") != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0) {
        snprintf(err, errlen, "credit: wallets: %s", mysql_error(db));
        return -1;
    }

    return 0;

nomem:

    snprintf(err, errlen, "credit: out of memory");
    return -1;
}


/*
 * The pool's side of the new transfers: its debits grow by sum, guarded
 * (credits >= debits + sum) so its balance never goes below 0.  DONE;
 * NO_FUNDS when the guard held (err set, the new ones' rc NO_FUNDS);
 * ERROR when MySQL failed.
 */
static cc_ledger_rc_e
cc_ledger_debit_pool(MYSQL *db, const char *campaign, cc_ledger_batch_t *bt,
    cc_sqlbuf_t *b, uint64_t sum, size_t rows, char *err, size_t errlen)
{
    size_t  i;

    b->len = 0;

    if (cc_sqlbuf_printf(b, "UPDATE ledger_accounts SET debits = debits + %"
                         PRIu64 " WHERE account = 'pool:%s' AND guard = 1 "
                         "AND credits >= debits + %" PRIu64, sum, campaign,
                         sum) != 0)
    {
        snprintf(err, errlen, "credit: out of memory");
        return CC_LEDGER_ERROR;
    }

    if (mysql_real_query(db, b->p, b->len) != 0) {
        snprintf(err, errlen, "credit: pool: %s", mysql_error(db));
        return CC_LEDGER_ERROR;
    }

    if (mysql_affected_rows(db) != 1) {
        for (i = 0; i < bt->n; i++) {
            if (bt->c[i].rc == CC_LEDGER_DONE) {
                cc_ledger_set_rc(&bt->c[i], CC_LEDGER_NO_FUNDS);
            }
        }

        snprintf(err, errlen, "credit: pool:%s holds less than the %" PRIu64
                 " cents of %zu new credits (or is not funded)", campaign,
                 sum, rows);
        return CC_LEDGER_NO_FUNDS;
    }

    return CC_LEDGER_DONE;
}


/* what the entries with this rc sum to, and how many they are */
static uint64_t
cc_ledger_sum(const cc_ledger_credit_t *c, size_t n, cc_ledger_rc_e rc,
    size_t *count)
{
    size_t    i;
    uint64_t  sum;

    sum = 0;
    *count = 0;

    for (i = 0; i < n; i++) {
        if (c[i].rc == rc) {
            sum += c[i].amount_cents;
            (*count)++;
        }
    }

    return sum;
}


/*
 * The guards of a batch, before anything is written: the campaign and
 * every award must be fit for SQL text, every amount and uid above 0.
 */
static int
cc_ledger_credit_check(const char *campaign, const cc_ledger_credit_t *c,
    size_t n, char *err, size_t errlen)
{
    size_t  i;

    if (!cc_ledger_campaign_ok(campaign)) {
        snprintf(err, errlen, "credit: bad campaign \"%.32s\"", campaign);
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (!cc_ledger_award_ok(&c[i])) {
            snprintf(err, errlen, "credit: bad award \"%.64s\" (uid %" PRIu64
                     ", %" PRIu64 " cents)", c[i].award_id, c[i].uid,
                     c[i].amount_cents);
            return -1;
        }
    }

    return 0;
}


/*
 * One transaction's part (the caller's), in four statements:
 *
 *   INSERT IGNORE INTO ledger_transfers ... RETURNING transfer_id, amount
 *       -- the new transfers only; the batch is sorted by id, so two
 *       -- payers lock the ids in the same order
 *   SELECT ... WHERE transfer_id IN (the others) LOCK IN SHARE MODE
 *       -- EXISTS or MISMATCH
 *   INSERT INTO ledger_accounts (wallets of the new) ... ON DUPLICATE KEY
 *       UPDATE credits = credits + VALUES(credits)
 *   UPDATE ledger_accounts SET debits = debits + S
 *       WHERE account = 'pool:<campaign>' AND credits >= debits + S
 *       -- the guard: no row changed is NO_FUNDS
 *
 * When every credit is new (cc_ledger_credit_bulk: the first two bulk,
 * all n rows written) the SELECT is not needed and the pool's UPDATE
 * follows at once.
 */
long
cc_ledger_credit_batch(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, char *err, size_t errlen)
{
    long               added;
    size_t             i, rows, done;
    int64_t            now;
    uint64_t           sum;
    cc_sqlbuf_t        b = { NULL, 0, 0 };
    cc_ledger_bulk_e   rc;
    cc_ledger_batch_t  bt;

    bt.c = c;
    bt.n = n;
    bt.order = NULL;
    added = -1;

    for (i = 0; i < n; i++) {
        c[i].rc = CC_LEDGER_RC_UNSET;
    }

    if (cc_ledger_credit_check(campaign, c, n, err, errlen) != 0) {
        goto failed;
    }

    if (n == 0) {
        return 0;
    }

    bt.order = cc_ledger_bulk_order(c, n);
    if (bt.order == NULL) {
        snprintf(err, errlen, "credit: out of memory");
        goto failed;
    }

    now = cc_now_ms();
    rc = cc_ledger_bulk_ok(db)
         ? cc_ledger_credit_bulk(db, campaign, &bt, now, err, errlen)
         : CC_LEDGER_BULK_NOT_ALL;

    if (rc == CC_LEDGER_BULK_FAILED) {
        goto failed;
    }

    if (rc == CC_LEDGER_BULK_ALL_NEW) {
        rows = n;                   /* all new, the wallets credited */
        sum = cc_ledger_sum(c, n, CC_LEDGER_DONE, &done);

    } else {                        /* not all new: the general path */
        if (cc_ledger_credit_text(db, campaign, &bt, now, &b, &rows, err,
                                  errlen)
            != 0)
        {
            goto failed;
        }

        if (rows == 0) {
            added = 0;
            goto done;
        }

        if (cc_ledger_credit_wallets(db, &bt, &b, &sum, err, errlen) != 0) {
            goto failed;
        }
    }

    /* double entry: the pool is debited what the wallets were credited */
    CC_ASSERT(sum == cc_ledger_sum(c, n, CC_LEDGER_DONE, &done));
    CC_ASSERT(done == rows && rows > 0 && rows <= n && sum >= rows);

    switch (cc_ledger_debit_pool(db, campaign, &bt, &b, sum, rows, err,
                                 errlen))
    {
    case CC_LEDGER_DONE:
        added = (long) rows;
        goto done;

    case CC_LEDGER_NO_FUNDS:        /* the new ones' rc says so */
        goto done;

    default:
        goto failed;
    }

failed:

    for (i = 0; i < n; i++) {
        if (c[i].rc == CC_LEDGER_DONE || c[i].rc == CC_LEDGER_RC_UNSET) {
            cc_ledger_set_rc(&c[i], CC_LEDGER_ERROR);
        }
    }

done:

    free(bt.order);
    free(b.p);

    return added;
}
