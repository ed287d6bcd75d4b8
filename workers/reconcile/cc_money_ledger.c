/*
 * cc_money_ledger.c: the checks of a shard's books: the draw
 * plan and the pool (pool_sum, pool_not_empty), and the double entry of
 * the shard's ledger, posted and pending (ledger_unbalanced).
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_money_ledger.h"
#include "cc_money_mysql.h"
#include "cc_money_report.h"
#include "cc_worker.h"


static void cc_money_add_moved(cc_money_t *m, uint64_t uid);


/*
 * The table's debits and credits summed over its accounts are equal (the
 * posted ones in ledger_accounts, the pending in ledger_pending; what
 * names the kind in the break).
 */
static int
cc_money_totals(cc_money_t *m, const char *table, const char *what)
{
    char        sql[128], expected[96], found[160];
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    snprintf(sql, sizeof(sql), "SELECT COALESCE(SUM(debits), 0), "
             "COALESCE(SUM(credits), 0) FROM %s", table);

    res = cc_money_query(m, sql, 0);
    if (res == NULL) {
        return -1;
    }

    row = mysql_fetch_row(res);
    if (row != NULL && strcmp(row[0], row[1]) != 0) {
        snprintf(expected, sizeof(expected), "total %sdebits = total "
                 "%scredits", what, what);
        snprintf(found, sizeof(found), "%sdebits %s, %scredits %s", what,
                 row[0], what, row[1]);
        cc_money_break(m, CC_MONEY_LEDGER_UNBALANCED, m->shard, NULL, 0,
                       expected, found);
    }

    mysql_free_result(res);

    return 0;
}


/*
 * The pending sums (wallet http's two phases): they balance by
 * themselves (a pending transfer adds its amount to one account's
 * pending debits and another's pending credits; its post or its void
 * takes it off both), and each account's are the amounts of its live
 * pending transfers: not voided (void:<id>) and of an award not posted
 * (post:<award id> posts the award's live one; so does a batch's round
 * post, which names no award: the award is credited then).  With the
 * posted check this is how Σ debits = Σ credits holds with money in
 * flight: posted with posted, pending with pending; a void counts in
 * neither.
 */
static int
cc_money_pending(cc_money_t *m)
{
    char        expected[160], found[160];
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    if (cc_money_totals(m, "ledger_pending", "pending ") != 0) {
        return -1;
    }

    res = cc_money_query(m,
        "SELECT u.account, SUM(u.d), SUM(u.c), MAX(p.debits), "
        "MAX(p.credits) FROM ("
        "SELECT t.debit AS account, t.amount_cents AS d, 0 AS c "
        "FROM ledger_transfers t LEFT JOIN ledger_transfers q "
        "ON q.transfer_id = CONCAT('post:', t.award_id) "
        "LEFT JOIN ledger_transfers v "
        "ON v.transfer_id = CONCAT('void:', t.transfer_id) "
        "LEFT JOIN awards a ON a.award_id = t.award_id "
        "WHERE t.kind = 'pending' AND q.transfer_id IS NULL "
        "AND v.transfer_id IS NULL AND NOT a.status <=> 'credited' "
        "UNION ALL SELECT t.credit, 0, t.amount_cents "
        "FROM ledger_transfers t LEFT JOIN ledger_transfers q "
        "ON q.transfer_id = CONCAT('post:', t.award_id) "
        "LEFT JOIN ledger_transfers v "
        "ON v.transfer_id = CONCAT('void:', t.transfer_id) "
        "LEFT JOIN awards a ON a.award_id = t.award_id "
        "WHERE t.kind = 'pending' AND q.transfer_id IS NULL "
        "AND v.transfer_id IS NULL AND NOT a.status <=> 'credited' "
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
                       cc_money_wallet_uid(row[0]), expected, found);
    }

    return cc_money_stream_end(m, res);
}


/*
 * Double entry: every transfer is one debit and one credit, so the
 * accounts' totals are equal and each account's posted sums are those of
 * its transfers.  The ledger is the shard's, shared by every campaign.
 */
int
cc_money_ledger(cc_money_t *m)
{
    char        expected[160], found[160];
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    if (cc_money_totals(m, "ledger_accounts", "") != 0) {
        return -1;
    }

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
                       cc_money_wallet_uid(row[0]), "a guarded account >= 0",
                       found);
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
        "FROM ledger_transfers WHERE kind NOT IN ('pending', 'void') "
        "UNION ALL SELECT credit, 0, amount_cents FROM ledger_transfers "
        "WHERE kind NOT IN ('pending', 'void') "
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
                       cc_money_wallet_uid(row[0]), expected, found);

        if (row[4] != NULL
            && strtoull(row[4], NULL, 10) > strtoull(row[2], NULL, 10))
        {
            cc_money_add_moved(m, cc_money_wallet_uid(row[0]));
        }
    }

    if (cc_money_stream_end(m, res) != 0) {
        return -1;
    }

    return cc_money_pending(m);
}


/*
 * The two phases of each award of the campaign (cc_ledger_phase.h): of
 * its pending transfers, one attempt each, exactly one is live (not
 * voided) and, posted or not, each void is of its pending's amount; and
 * no void without its pending.  Two live ones would reserve the award
 * twice (and two tries could each be posted but for post:<award id>'s
 * key); none, with or without a post, is a payer that voided without
 * the next attempt, which cc-payout does in one transaction.
 */
static int
cc_money_phases(cc_money_t *m)
{
    char        sql[1536], found[160];
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    snprintf(sql, sizeof(sql),
             "SELECT t.award_id, COUNT(*), SUM(v.transfer_id IS NULL), "
             "MAX(q.transfer_id IS NOT NULL OR a.status <=> 'credited'), "
             "SUM(v.amount_cents <> t.amount_cents) FROM ledger_transfers t "
             "LEFT JOIN ledger_transfers v "
             "ON v.transfer_id = CONCAT('void:', t.transfer_id) "
             "LEFT JOIN ledger_transfers q "
             "ON q.transfer_id = CONCAT('post:', t.award_id) "
             "LEFT JOIN awards a ON a.award_id = t.award_id "
             "WHERE t.campaign = '%s' AND t.kind = 'pending' "
             "GROUP BY t.award_id HAVING SUM(v.transfer_id IS NULL) <> 1 "
             "OR SUM(v.amount_cents <> t.amount_cents) > 0 "
             "UNION ALL SELECT v.award_id, 0, 0, 0, 1 FROM ledger_transfers "
             "v LEFT JOIN ledger_transfers t ON t.transfer_id = "
             "SUBSTRING(v.transfer_id, 6) AND t.kind = 'pending' "
             "WHERE v.campaign = '%s' AND v.kind = 'void' "
             "AND t.transfer_id IS NULL", m->camp.id, m->camp.id);

    res = cc_money_query(m, sql, 1);
    if (res == NULL) {
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        if (row[1][0] == '0') {
            snprintf(found, sizeof(found), "a void without its pending "
                     "transfer");
        } else {
            snprintf(found, sizeof(found), "%s live of %s pending (%s)%s",
                     row[2], row[1], row[3][0] == '1' ? "posted" : "not posted",
                     row[4] && row[4][0] != '0' ? ", a void of another amount"
                                                : "");
        }

        cc_money_break(m, CC_MONEY_LEDGER_UNBALANCED, m->shard, row[0], 0,
                       "one live pending transfer an award, the others "
                       "voided (each of its amount)", found);
    }

    return cc_money_stream_end(m, res);
}


/*
 * wallet http's books (cc_ledger_phase.h): the pool pays one clearing
 * account, clearing:<campaign>, pending then posted; no wallet row per
 * user.  A campaign begun in the per-user shape (pool -> wallet:<uid>)
 * keeps it, checked by the wallet accounts' sums as before; both shapes
 * in one campaign is a break.  In the clearing shape its posted credits
 * are the credited awards' sum, the first leg of the three-way check
 * (the statement's sum is the third: cc_money.c).
 */
int
cc_money_clearing(cc_money_t *m)
{
    char        sql[1536], expected[160], found[160];
    uint64_t    posted, credited, posts;
    MYSQL_ROW   row;
    MYSQL_RES  *res;
    unsigned long long  wallets, clearing;

    snprintf(sql, sizeof(sql),
             "SELECT (SELECT COUNT(*) FROM ledger_transfers WHERE campaign = "
             "'%s' AND kind IN ('pending', 'post') AND credit LIKE "
             "'wallet:%%'), (SELECT COUNT(*) FROM ledger_transfers WHERE "
             "campaign = '%s' AND kind IN ('pending', 'post') AND credit = "
             "'clearing:%s'), (SELECT credits FROM ledger_accounts WHERE "
             "account = 'clearing:%s'), (SELECT SUM(amount_cents) FROM "
             "awards WHERE campaign = '%s' AND status = 'credited'), "
             "(SELECT SUM(amount_cents) FROM ledger_transfers WHERE "
             "campaign = '%s' AND kind = 'post' AND credit = 'clearing:%s')",
             m->camp.id, m->camp.id, m->camp.id, m->camp.id, m->camp.id,
             m->camp.id, m->camp.id);

    res = cc_money_query(m, sql, 0);
    if (res == NULL) {
        return -1;
    }

    row = mysql_fetch_row(res);
    wallets = row ? cc_money_u64(row[0]) : 0;
    clearing = row ? cc_money_u64(row[1]) : 0;
    posted = row ? cc_money_u64(row[2]) : 0;
    credited = row ? cc_money_u64(row[3]) : 0;
    posts = row ? cc_money_u64(row[4]) : 0;
    mysql_free_result(res);

    m->credited_sum += credited;
    m->clearing_sum += posted;
    m->per_user |= wallets > 0;

    if (wallets > 0 && clearing > 0) {
        snprintf(expected, sizeof(expected), "one shape of books: every "
                 "pending and post transfer to clearing:%s", m->camp.id);
        snprintf(found, sizeof(found), "%llu to users' wallet:<uid> "
                 "accounts and %llu to clearing:%s (both shapes)", wallets,
                 clearing, m->camp.id);
        cc_money_break(m, CC_MONEY_LEDGER_UNBALANCED, m->shard, NULL, 0,
                       expected, found);
        return 0;
    }

    if (wallets == 0 && posted != credited) {
        snprintf(expected, sizeof(expected), "clearing:%s's posted credits "
                 "= the credited awards' %" PRIu64, m->camp.id, credited);
        snprintf(found, sizeof(found), "%" PRIu64, posted);
        cc_money_break(m, CC_MONEY_LEDGER_UNBALANCED, m->shard, NULL, 0,
                       expected, found);
    }

    /* a batch's round post names no award: its sum is checked here */
    if (wallets == 0 && posts != credited) {
        snprintf(expected, sizeof(expected), "the post transfers to "
                 "clearing:%s (calls' and rounds') = the credited awards' %"
                 PRIu64, m->camp.id, credited);
        snprintf(found, sizeof(found), "%" PRIu64, posts);
        cc_money_break(m, CC_MONEY_LEDGER_UNBALANCED, m->shard, NULL, 0,
                       expected, found);
    }

    return cc_money_phases(m);
}


/* a wallet whose credits exceed its transfers' (uid 0: not a wallet) */
static void
cc_money_add_moved(cc_money_t *m, uint64_t uid)
{
    size_t     cap;
    uint64_t  *p;

    if (uid == 0 || m->moved_all) {
        return;
    }

    if (m->nmoved == m->moved_cap) {
        cap = m->moved_cap ? m->moved_cap * 2 : 64;
        p = cap <= 1000000 ? realloc(m->moved, cap * sizeof(uint64_t)) : NULL;
        if (p == NULL) {
            m->moved_all = 1;         /* no repair on this shard, then */
            return;
        }
        m->moved = p;
        m->moved_cap = cap;
    }

    m->moved[m->nmoved++] = uid;
}


int
cc_money_moved(const cc_money_t *m, uint64_t uid)
{
    size_t  i;

    if (m->moved_all) {
        return 1;
    }

    for (i = 0; i < m->nmoved; i++) {
        if (m->moved[i] == uid) {
            return 1;
        }
    }

    return 0;
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
int
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
int
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

    /* a shard with nobody eligible is planned 0 and funded by nothing */
    if (has_plan && (rc == 0 ? total != 0 : cc_money_u64(v) != total)) {
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
