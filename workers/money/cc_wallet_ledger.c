/*
 * cc_wallet_ledger: pending and post transfers (see cc_wallet_ledger.h).
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
#include <time.h>

#include "cc_ledger_bulk.h"
#include "cc_sqlbuf.h"
#include "cc_wallet_ledger.h"


#define CC_WL_ID_CHARS  "abcdefghijklmnopqrstuvwxyz" \
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:"
#define CC_WL_UNSET     ((cc_ledger_rc_e) -1)


static int64_t
cc_wl_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int
cc_wl_valid(const char *s, size_t max, int colon)
{
    size_t  len;

    len = strlen(s);

    return len > 0 && len <= max
           && strspn(s, colon ? CC_WL_ID_CHARS : CC_WL_ID_CHARS + 0) == len
           && (colon || strchr(s, ':') == NULL);
}


static int
cc_wl_cmp(const void *a, const void *b, void *arg)
{
    const cc_ledger_credit_t  *c = arg;

    return strcmp(c[*(const size_t *) a].award_id,
                  c[*(const size_t *) b].award_id);
}


/* the index of the entry with this id (the first not yet marked), or n */
static size_t
cc_wl_find(cc_ledger_credit_t *c, const size_t *order, size_t n,
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


static size_t *
cc_wl_order(cc_ledger_credit_t *c, size_t n)
{
    size_t  i, *order;

    order = malloc((n ? n : 1) * sizeof(size_t));
    if (order == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        order[i] = i;
    }

    qsort_r(order, n, sizeof(size_t), cc_wl_cmp, c);

    return order;
}


/*
 * The new ones' sums: wallet:<uid> credits pending, the pool's debits
 * pending under its guard (credits >= debits + pending debits + S).
 */
static int
cc_wl_reserve(MYSQL *db, const char *campaign, cc_ledger_credit_t *c,
    size_t n, const size_t *order, const cc_wl_state_e *st, int bulk,
    cc_sqlbuf_t *b, char *err, size_t errlen)
{
    int                 *sel;
    size_t               i, k;
    uint64_t             sum;
    unsigned long long   affected;

    b->len = 0;
    sum = 0;

    if (bulk) {
        sel = malloc((n ? n : 1) * sizeof(int));
        if (sel == NULL) {
            goto nomem;
        }

        for (i = 0, k = 0; i < n; i++) {
            sel[i] = st[i] == CC_WL_NEW;
            sum += sel[i] ? c[i].amount_cents : 0;
            k += sel[i];
        }

        if (k > 0
            && cc_ledger_bulk_rows(db, "pending: wallets", "INSERT INTO "
                          "ledger_pending (account, credits) VALUES "
                          "(CONCAT('wallet:', ?), ?) ON DUPLICATE KEY "
                          "UPDATE credits = credits + VALUES(credits)", 0,
                          c, n, order, sel, &affected, err, errlen)
               != 0)
        {
            free(sel);
            return -1;
        }

        free(sel);

        if (k == 0) {
            return 0;
        }

        goto pool;
    }

    if (cc_sqlbuf_printf(b, "INSERT INTO ledger_pending (account, credits) "
                     "VALUES ") != 0)
    {
        goto nomem;
    }

    for (i = 0, k = 0; i < n; i++) {
        if (st[order[i]] != CC_WL_NEW) {
            continue;
        }

        if (cc_sqlbuf_printf(b, "%s('wallet:%" PRIu64 "',%" PRIu64 ")",
                         k++ ? "," : "", c[order[i]].uid,
                         c[order[i]].amount_cents) != 0)
        {
            goto nomem;
        }

        sum += c[order[i]].amount_cents;
    }

    if (k == 0) {
        return 0;
    }

    if (cc_sqlbuf_printf(b, " ON DUPLICATE KEY UPDATE "
                     "credits = credits + VALUES(credits)") != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0) {
        snprintf(err, errlen, "pending: wallets: %s", mysql_error(db));
        return -1;
    }

pool:

    b->len = 0;

    if (cc_sqlbuf_printf(b, "INSERT IGNORE INTO ledger_pending (account) "
                     "VALUES ('pool:%s')", campaign) != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0) {
        snprintf(err, errlen, "pending: pool row: %s", mysql_error(db));
        return -1;
    }

    b->len = 0;

    if (cc_sqlbuf_printf(b, "UPDATE ledger_pending p JOIN ledger_accounts a "
                     "ON a.account = p.account SET p.debits = p.debits + %"
                     PRIu64 " WHERE p.account = 'pool:%s' AND a.guard = 1 "
                     "AND a.credits >= a.debits + p.debits + %" PRIu64,
                     sum, campaign, sum) != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(db, b->p, b->len) != 0) {
        snprintf(err, errlen, "pending: pool: %s", mysql_error(db));
        return -1;
    }

    if (mysql_affected_rows(db) != 1) {
        for (i = 0; i < n; i++) {
            c[i].rc = st[i] == CC_WL_NEW ? CC_LEDGER_NO_FUNDS
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


int
cc_wallet_ledger_pending(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, cc_wl_state_e *st, char *err,
    size_t errlen)
{
    int           rc, same, bulk, *marked;
    char          wallet[48], sql[512];
    size_t        i, k, left, *order;
    int64_t       now;
    MYSQL_RES    *res;
    MYSQL_ROW     row;
    cc_sqlbuf_t   b = { NULL, 0, 0 };

    rc = -1;
    marked = NULL;
    order = NULL;

    for (i = 0; i < n; i++) {
        c[i].rc = CC_LEDGER_ERROR;

        if (!cc_wl_valid(c[i].award_id, 64, 1) || c[i].amount_cents == 0
            || c[i].uid == 0)
        {
            snprintf(err, errlen, "pending: bad award \"%.64s\"",
                     c[i].award_id);
            return -1;
        }
    }

    if (!cc_wl_valid(campaign, 32, 0)) {
        snprintf(err, errlen, "pending: bad campaign \"%.32s\"", campaign);
        return -1;
    }

    if (n == 0) {
        return 0;
    }

    order = cc_wl_order(c, n);
    marked = calloc(n, sizeof(int));

    if (order == NULL || marked == NULL) {
        goto nomem;
    }

    now = cc_wl_now_ms();
    bulk = cc_ledger_bulk_ok(db);

    if (bulk) {
        for (i = 0; i < n; i++) {
            marked[i] = 1;                  /* all of them, to begin */
        }

        snprintf(sql, sizeof(sql), "INSERT IGNORE INTO ledger_transfers "
                 "(transfer_id, debit, credit, amount_cents, campaign, "
                 "kind, award_id, created_at) VALUES (?, 'pool:%s', "
                 "CONCAT('wallet:', ?), ?, '%s', 'pending', ?, %" PRId64
                 ")", campaign, campaign, now);

        switch (cc_ledger_bulk_new(db, "pending: insert", sql, c, n, order,
                                  marked, n, err, errlen))
        {
        case 1:
            for (i = 0; i < n; i++) {
                st[i] = CC_WL_NEW;
            }
            goto reserve;

        case 0:
            memset(marked, 0, n * sizeof(int));
            break;

        default:
            goto done;
        }
    }

    if (cc_sqlbuf_printf(&b, "INSERT IGNORE INTO ledger_transfers (transfer_id,"
                     " debit, credit, amount_cents, campaign, kind, "
                     "award_id, created_at) VALUES ") != 0)
    {
        goto nomem;
    }

    for (i = 0; i < n; i++) {
        k = order[i];

        if (cc_sqlbuf_printf(&b, "%s('%s','pool:%s','wallet:%" PRIu64 "',%"
                         PRIu64 ",'%s','pending','%s',%" PRId64 ")",
                         i ? "," : "", c[k].award_id, campaign, c[k].uid,
                         c[k].amount_cents, campaign, c[k].award_id, now)
            != 0)
        {
            goto nomem;
        }
    }

    if (cc_sqlbuf_printf(&b, " RETURNING transfer_id") != 0) {
        goto nomem;
    }

    if (mysql_real_query(db, b.p, b.len) != 0
        || (res = mysql_store_result(db)) == NULL)
    {
        snprintf(err, errlen, "pending: insert: %s", mysql_error(db));
        goto done;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        k = cc_wl_find(c, order, n, row[0], marked);

        if (k < n) {
            marked[k] = 1;
            st[k] = CC_WL_NEW;
        }
    }

    mysql_free_result(res);

    /* the ids that were there: the same pending transfer, posted or not? */

    b.len = 0;
    left = 0;

    if (cc_sqlbuf_printf(&b, "SELECT t.transfer_id, t.debit, t.credit, "
                     "t.amount_cents, t.kind, t.campaign, p.transfer_id IS "
                     "NOT NULL FROM ledger_transfers t LEFT JOIN "
                     "ledger_transfers p ON p.transfer_id = "
                     "CONCAT('post:', t.transfer_id) WHERE t.transfer_id "
                     "IN (") != 0)
    {
        goto nomem;
    }

    for (i = 0; i < n; i++) {
        if (!marked[order[i]]) {
            if (cc_sqlbuf_printf(&b, "%s'%s'", left++ ? "," : "",
                             c[order[i]].award_id) != 0)
            {
                goto nomem;
            }
        }
    }

    if (left > 0) {
        if (cc_sqlbuf_printf(&b, ") LOCK IN SHARE MODE") != 0) {
            goto nomem;
        }

        if (mysql_real_query(db, b.p, b.len) != 0
            || (res = mysql_store_result(db)) == NULL)
        {
            snprintf(err, errlen, "pending: read: %s", mysql_error(db));
            goto done;
        }

        while ((row = mysql_fetch_row(res)) != NULL) {
            while ((k = cc_wl_find(c, order, n, row[0], marked)) < n) {
                marked[k] = 1;
                snprintf(wallet, sizeof(wallet), "wallet:%" PRIu64,
                         c[k].uid);

                same = strncmp(row[1], "pool:", 5) == 0
                       && strcmp(row[1] + 5, campaign) == 0
                       && strcmp(row[2], wallet) == 0
                       && strtoull(row[3], NULL, 10) == c[k].amount_cents
                       && strcmp(row[4], "pending") == 0
                       && strcmp(row[5], campaign) == 0;

                st[k] = !same ? CC_WL_OTHER
                        : row[6][0] == '1' ? CC_WL_POSTED : CC_WL_IN_FLIGHT;
            }
        }

        mysql_free_result(res);
    }

    for (i = 0; i < n; i++) {
        if (!marked[i]) {
            snprintf(err, errlen, "pending %s neither written nor there",
                     c[i].award_id);
            goto done;
        }
    }

reserve:

    if (cc_wl_reserve(db, campaign, c, n, order, st, bulk, &b, err, errlen)
        != 0)
    {
        goto done;
    }

    for (i = 0; i < n; i++) {
        c[i].rc = st[i] == CC_WL_OTHER ? CC_LEDGER_MISMATCH
                  : st[i] == CC_WL_POSTED ? CC_LEDGER_EXISTS
                  : CC_LEDGER_DONE;
    }

    rc = 0;
    goto done;

nomem:

    snprintf(err, errlen, "pending: out of memory");

done:

    free(order);
    free(marked);
    free(b.p);

    return rc;
}


long
cc_wallet_ledger_post(MYSQL *db, const char *campaign, cc_ledger_credit_t *c,
    size_t n, const int *ok, char *err, size_t errlen)
{
    int                 *marked, *done, bulk;
    char                 sql[512];
    long                 added;
    size_t               i, k, *order;
    uint64_t             sum;
    int64_t              now;
    MYSQL_RES           *res;
    MYSQL_ROW            row;
    cc_sqlbuf_t          b = { NULL, 0, 0 };
    unsigned long long   affected;

    added = -1;
    order = cc_wl_order(c, n);
    marked = calloc(n ? n : 1, sizeof(int));
    done = calloc(n ? n : 1, sizeof(int));

    if (order == NULL || marked == NULL || done == NULL) {
        goto nomem;
    }

    now = cc_wl_now_ms();
    bulk = cc_ledger_bulk_ok(db);

    for (i = 0, k = 0; i < n; i++) {
        k += ok[i] != 0;
    }

    if (k == 0) {
        added = 0;
        goto done;
    }

    if (bulk) {
        snprintf(sql, sizeof(sql), "INSERT IGNORE INTO ledger_transfers "
                 "(transfer_id, debit, credit, amount_cents, campaign, "
                 "kind, award_id, created_at) VALUES (CONCAT('post:', ?), "
                 "'pool:%s', CONCAT('wallet:', ?), ?, '%s', 'post', ?, %"
                 PRId64 ")", campaign, campaign, now);

        switch (cc_ledger_bulk_new(db, "post: insert", sql, c, n, order, ok,
                                  k, err, errlen))
        {
        case 1:
            for (i = 0; i < n; i++) {
                marked[i] = 1;
                c[i].rc = ok[i] ? CC_LEDGER_DONE : c[i].rc;
            }
            goto sums;

        case 0:
            break;

        default:
            goto done;
        }
    }

    k = 0;

    if (cc_sqlbuf_printf(&b, "INSERT IGNORE INTO ledger_transfers (transfer_id,"
                     " debit, credit, amount_cents, campaign, kind, "
                     "award_id, created_at) VALUES ") != 0)
    {
        goto nomem;
    }

    for (i = 0; i < n; i++) {
        if (!ok[order[i]]) {
            marked[order[i]] = 1;          /* not ours to post */
            continue;
        }

        if (cc_sqlbuf_printf(&b, "%s('post:%s','pool:%s','wallet:%" PRIu64
                         "',%" PRIu64 ",'%s','post','%s',%" PRId64 ")",
                         k++ ? "," : "", c[order[i]].award_id, campaign,
                         c[order[i]].uid, c[order[i]].amount_cents,
                         campaign, c[order[i]].award_id, now) != 0)
        {
            goto nomem;
        }
    }

    if (k == 0) {
        added = 0;
        goto done;
    }

    if (cc_sqlbuf_printf(&b, " RETURNING transfer_id") != 0) {
        goto nomem;
    }

    if (mysql_real_query(db, b.p, b.len) != 0
        || (res = mysql_store_result(db)) == NULL)
    {
        snprintf(err, errlen, "post: insert: %s", mysql_error(db));
        goto done;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        k = cc_wl_find(c, order, n, row[0] + 5, marked);

        if (k < n) {
            marked[k] = 1;
            c[k].rc = CC_LEDGER_DONE;
        }
    }

    mysql_free_result(res);

sums:

    /* the sums of the posts written now: pending -> posted */

    b.len = 0;
    sum = 0;
    added = 0;

    for (i = 0; i < n; i++) {
        done[i] = ok[i] && marked[i];

        if (done[i]) {
            sum += c[i].amount_cents;
            added++;

        } else if (ok[i]) {
            c[i].rc = CC_LEDGER_EXISTS;           /* posted by a racer */
        }
    }

    if (added == 0) {
        goto done;
    }

    if (bulk) {
        if (cc_ledger_bulk_rows(db, "post: wallets", "INSERT INTO "
                                "ledger_accounts (account, credits, guard) "
                                "VALUES (CONCAT('wallet:', ?), ?, 1) ON "
                                "DUPLICATE KEY UPDATE credits = credits + "
                                "VALUES(credits)", 0, c, n, order, done,
                                &affected, err, errlen) != 0
            || cc_ledger_bulk_rows(db, "post: wallets' pending", "INSERT INTO "
                          "ledger_pending (account, credits) VALUES "
                          "(CONCAT('wallet:', ?), ?) ON DUPLICATE KEY "
                          "UPDATE credits = credits - VALUES(credits)", 0,
                          c, n, order, done, &affected, err, errlen) != 0)
        {
            added = -1;
            goto done;
        }

        goto pool;
    }

    if (cc_sqlbuf_printf(&b, "INSERT INTO ledger_accounts (account, credits, "
                     "guard) VALUES ") != 0)
    {
        goto nomem;
    }

    for (i = 0, k = 0; i < n; i++) {
        if (done[order[i]]) {
            if (cc_sqlbuf_printf(&b, "%s('wallet:%" PRIu64 "',%" PRIu64 ",1)",
                             k++ ? "," : "", c[order[i]].uid,
                             c[order[i]].amount_cents) != 0)
            {
                goto nomem;
            }
        }
    }

    if (cc_sqlbuf_printf(&b, " ON DUPLICATE KEY UPDATE "
                     "credits = credits + VALUES(credits)") != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(db, b.p, b.len) != 0) {
        snprintf(err, errlen, "post: wallets: %s", mysql_error(db));
        added = -1;
        goto done;
    }

    /* the same rows' pending credits, taken off (never below 0: unsigned) */
    b.len = 0;

    if (cc_sqlbuf_printf(&b, "INSERT INTO ledger_pending (account, credits) "
                     "VALUES ") != 0)
    {
        goto nomem;
    }

    for (i = 0, k = 0; i < n; i++) {
        if (done[order[i]]) {
            if (cc_sqlbuf_printf(&b, "%s('wallet:%" PRIu64 "',%" PRIu64 ")",
                             k++ ? "," : "", c[order[i]].uid,
                             c[order[i]].amount_cents) != 0)
            {
                goto nomem;
            }
        }
    }

    if (cc_sqlbuf_printf(&b, " ON DUPLICATE KEY UPDATE "
                     "credits = credits - VALUES(credits)") != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(db, b.p, b.len) != 0) {
        snprintf(err, errlen, "post: wallets' pending: %s", mysql_error(db));
        added = -1;
        goto done;
    }

pool:

    b.len = 0;

    if (cc_sqlbuf_printf(&b, "UPDATE ledger_pending SET debits = debits - %"
                     PRIu64 " WHERE account = 'pool:%s' AND debits >= %"
                     PRIu64, sum, campaign, sum) != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(db, b.p, b.len) != 0
        || mysql_affected_rows(db) != 1)
    {
        snprintf(err, errlen, "post: pool:%s's pending debits below %" PRIu64
                 ": %s", campaign, sum, mysql_error(db));
        added = -1;
        goto done;
    }

    b.len = 0;

    if (cc_sqlbuf_printf(&b, "UPDATE ledger_accounts SET debits = debits + %"
                     PRIu64 " WHERE account = 'pool:%s'", sum, campaign)
        != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(db, b.p, b.len) != 0
        || mysql_affected_rows(db) != 1)
    {
        snprintf(err, errlen, "post: pool:%s: %s", campaign,
                 mysql_error(db));
        added = -1;
    }

    goto done;

nomem:

    snprintf(err, errlen, "post: out of memory");
    added = -1;

done:

    free(order);
    free(marked);
    free(done);
    free(b.p);

    return added;
}
