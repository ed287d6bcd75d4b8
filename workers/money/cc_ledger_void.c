/*
 * cc_ledger_void: a failed attempt's pending transfer voided and the
 * next attempt's written (see cc_ledger_phase.h, "voids").
 *
 * The same discipline as cc_ledger_phase.c: the ids are the keys (INSERT
 * IGNORE ... RETURNING: only what the store wrote now moves sums), the
 * rows in award id order so two payers lock in the same order, and the
 * read before the writes only checks that the pending to void is what
 * the caller says (it decides nothing the keys would not).
 */

#define _GNU_SOURCE

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_assert.h"
#include "cc_ledger_bulk.h"
#include "cc_ledger_phase.h"
#include "cc_sqlbuf.h"
#include "cc_worker.h"


#define CC_LEDGER_VOID_INSERT                                                \
    "INSERT IGNORE INTO ledger_transfers (transfer_id, debit, credit, "      \
    "amount_cents, campaign, kind, award_id, created_at"
#define CC_LEDGER_VOID_VALUES        ") VALUES "
#define CC_LEDGER_VOID_VALUES_BATCH  ", batch_no) VALUES "


typedef struct {
    MYSQL                     *db;
    const char                *campaign;
    const cc_ledger_credit_t  *c;
    char *const               *batch;       /* c[i]'s next batch, or NULL */
    size_t                    *order;       /* the selected, id order */
    size_t                     k;
    char                     (*fid)[CC_LEDGER_PHASE_ID_MAX + 1];
    char                     (*nid)[CC_LEDGER_PHASE_ID_MAX + 1];
    cc_sqlbuf_t                b;
    char                      *err;
    size_t                     errlen;
} cc_ledger_void_t;


void
cc_ledger_phase_attempt_id(char *buf, size_t len, const char *award_id,
    unsigned attempt)
{
    if (attempt <= 1) {
        snprintf(buf, len, "%s", award_id);
    } else {
        snprintf(buf, len, "%s#%u", award_id, attempt);
    }
}


/*
 * The failed attempts' pending transfers read (a locking read), each
 * checked: there, pending, pool -> clearing of its award's amount, the
 * award not posted (no post:<award id>, not credited: a round post).
 * 0, or -1 with err naming the first that is not.
 */
static int
cc_ledger_void_check(cc_ledger_void_t *v)
{
    int          bad;
    char         clearing[48], pool[48];
    size_t       i, j, found;
    MYSQL_RES   *res;
    MYSQL_ROW    row;
    const cc_ledger_credit_t  *c;

    v->b.len = 0;

    if (cc_sqlbuf_printf(&v->b, "SELECT t.transfer_id, t.debit, t.credit, "
                         "t.amount_cents, t.kind, q.transfer_id IS NOT NULL "
                         "OR a.status <=> 'credited' FROM ledger_transfers t "
                         "LEFT JOIN ledger_transfers q ON q.transfer_id = "
                         "CONCAT('post:', t.award_id) LEFT JOIN awards a ON "
                         "a.award_id = t.award_id WHERE t.transfer_id IN (")
        != 0)
    {
        goto nomem;
    }

    for (i = 0; i < v->k; i++) {
        if (cc_sqlbuf_printf(&v->b, "%s'%s'", i ? "," : "", v->fid[i]) != 0)
        {
            goto nomem;
        }
    }

    if (cc_sqlbuf_printf(&v->b, ") LOCK IN SHARE MODE") != 0) {
        goto nomem;
    }

    if (mysql_real_query(v->db, v->b.p, v->b.len) != 0
        || (res = mysql_store_result(v->db)) == NULL)
    {
        snprintf(v->err, v->errlen, "void: read: %s", mysql_error(v->db));
        return -1;
    }

    snprintf(pool, sizeof(pool), "pool:%s", v->campaign);
    snprintf(clearing, sizeof(clearing), "clearing:%s", v->campaign);
    found = 0;
    bad = 0;

    while (!bad && (row = mysql_fetch_row(res)) != NULL) {
        for (j = 0; j < v->k && strcmp(v->fid[j], row[0]) != 0; j++) {
            /* void: at most a batch's, once each */
        }

        if (j == v->k) {
            continue;
        }

        c = &v->c[v->order[j]];
        found++;

        if (strcmp(row[1], pool) != 0 || strcmp(row[2], clearing) != 0
            || strtoull(row[3], NULL, 10) != c->amount_cents
            || strcmp(row[4], "pending") != 0)
        {
            snprintf(v->err, v->errlen, "void: %s is not %s's pending "
                     "transfer of %" PRIu64 " cents to %s", row[0],
                     c->award_id, c->amount_cents, clearing);
            bad = 1;

        } else if (row[5][0] == '1') {
            snprintf(v->err, v->errlen, "void: %s is posted: its pending "
                     "transfer %s is not voided", c->award_id, row[0]);
            bad = 1;
        }
    }

    mysql_free_result(res);

    if (!bad && found != v->k) {
        snprintf(v->err, v->errlen, "void: %zu of the %zu pending transfers "
                 "to void are not there", v->k - found, v->k);
        bad = 1;
    }

    return bad ? -1 : 0;

nomem:

    snprintf(v->err, v->errlen, "void: out of memory");
    return -1;
}


/*
 * The rows of one kind ("void": the voids of the failed attempts;
 * "pending": the next attempts), one INSERT IGNORE ... RETURNING: the
 * number written now in *nw, their sum in *sum.  0, or -1 with err.
 */
static int
cc_ledger_void_rows(cc_ledger_void_t *v, const char *kind, size_t *nw,
    uint64_t *sum)
{
    int          isvoid, bn;
    size_t       i;
    int64_t      now;
    MYSQL_RES   *res;
    MYSQL_ROW    row;
    const cc_ledger_credit_t  *c;

    isvoid = strcmp(kind, "void") == 0;
    bn = !isvoid && v->batch != NULL;           /* a batch's detail */
    now = cc_now_ms();
    v->b.len = 0;

    if (cc_sqlbuf_printf(&v->b, "%s%s", CC_LEDGER_VOID_INSERT,
                         bn ? CC_LEDGER_VOID_VALUES_BATCH
                            : CC_LEDGER_VOID_VALUES) != 0)
    {
        goto nomem;
    }

    for (i = 0; i < v->k; i++) {
        c = &v->c[v->order[i]];

        if (cc_sqlbuf_printf(&v->b, "%s('%s%s','pool:%s','clearing:%s',%"
                             PRIu64 ",'%s','%s','%s',%" PRId64 "%s%s%s)",
                             i ? "," : "", isvoid ? "void:" : "",
                             isvoid ? v->fid[i] : v->nid[i], v->campaign,
                             v->campaign, c->amount_cents, v->campaign, kind,
                             c->award_id, now, bn ? ",'" : "",
                             bn ? v->batch[v->order[i]] : "", bn ? "'" : "")
            != 0)
        {
            goto nomem;
        }
    }

    if (cc_sqlbuf_printf(&v->b, " RETURNING amount_cents") != 0) {
        goto nomem;
    }

    if (mysql_real_query(v->db, v->b.p, v->b.len) != 0
        || (res = mysql_store_result(v->db)) == NULL)
    {
        snprintf(v->err, v->errlen, "void: %s rows: %s", kind,
                 mysql_error(v->db));
        return -1;
    }

    *nw = 0;
    *sum = 0;

    while ((row = mysql_fetch_row(res)) != NULL) {
        (*nw)++;
        *sum += strtoull(row[0], NULL, 10);
    }

    mysql_free_result(res);

    CC_ASSERT(*nw <= v->k);

    return 0;

nomem:

    snprintf(v->err, v->errlen, "void: out of memory");
    return -1;
}


/*
 * What the new pendings take beyond what the new voids gave back (a
 * void there before gave it then): clearing:<campaign>'s pending credits
 * and the pool's pending debits up by net, under the pool's guard.
 */
static int
cc_ledger_void_reserve(cc_ledger_void_t *v, uint64_t net)
{
    v->b.len = 0;

    if (cc_sqlbuf_printf(&v->b, "UPDATE ledger_pending SET credits = "
                         "credits + %" PRIu64 " WHERE account = "
                         "'clearing:%s'", net, v->campaign) != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(v->db, v->b.p, v->b.len) != 0
        || mysql_affected_rows(v->db) != 1)
    {
        snprintf(v->err, v->errlen, "void: clearing:%s's pending: %s",
                 v->campaign, mysql_error(v->db));
        return -1;
    }

    v->b.len = 0;

    if (cc_sqlbuf_printf(&v->b, "UPDATE ledger_pending p JOIN "
                         "ledger_accounts a ON a.account = p.account SET "
                         "p.debits = p.debits + %" PRIu64 " WHERE "
                         "p.account = 'pool:%s' AND a.guard = 1 AND "
                         "a.credits >= a.debits + p.debits + %" PRIu64,
                         net, v->campaign, net) != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(v->db, v->b.p, v->b.len) != 0
        || mysql_affected_rows(v->db) != 1)
    {
        snprintf(v->err, v->errlen, "void: pool:%s cannot hold %" PRIu64
                 " more cents pending: %s", v->campaign, net,
                 mysql_error(v->db));
        return -1;
    }

    return 0;

nomem:

    snprintf(v->err, v->errlen, "void: out of memory");
    return -1;
}


/* the voids and the next pendings of v's selected entries */
static long
cc_ledger_void_write(cc_ledger_void_t *v)
{
    size_t     nvoid, nnext;
    uint64_t   gave, took;

    if (cc_ledger_void_check(v) != 0
        || cc_ledger_void_rows(v, "void", &nvoid, &gave) != 0
        || cc_ledger_void_rows(v, "pending", &nnext, &took) != 0)
    {
        return -1;
    }

    if (nnext != v->k) {
        snprintf(v->err, v->errlen, "void: %zu of the next attempts' "
                 "pending transfers were there (another payer wrote them)",
                 v->k - nnext);
        return -1;
    }

    /* every void is of an amount a next pending takes again */
    CC_ASSERT(gave <= took && nvoid <= nnext);

    if (took > gave && cc_ledger_void_reserve(v, took - gave) != 0) {
        return -1;
    }

    return (long) nvoid;
}


long
cc_ledger_phase_retry(MYSQL *db, const char *campaign,
    const cc_ledger_credit_t *c, const unsigned *failed, const int *sel,
    char *const *batch, size_t n, char *err, size_t errlen)
{
    long               rc;
    size_t             i, *all;
    cc_ledger_void_t   v;

    memset(&v, 0, sizeof(v));
    v.db = db;
    v.campaign = campaign;
    v.c = c;
    v.batch = batch;
    v.err = err;
    v.errlen = errlen;

    if (!cc_ledger_campaign_ok(campaign)) {
        snprintf(err, errlen, "void: bad campaign \"%.32s\"", campaign);
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (sel[i] && (!cc_ledger_award_ok(&c[i]) || failed[i] == 0)) {
            snprintf(err, errlen, "void: bad award \"%.64s\" or attempt %u",
                     c[i].award_id, failed[i]);
            return -1;
        }

        v.k += sel[i] != 0;
    }

    if (v.k == 0) {
        return 0;
    }

    rc = -1;
    all = cc_ledger_bulk_order(c, n);
    v.order = malloc(v.k * sizeof(size_t));
    v.fid = malloc(v.k * sizeof(*v.fid));
    v.nid = malloc(v.k * sizeof(*v.nid));

    if (all == NULL || v.order == NULL || v.fid == NULL || v.nid == NULL) {
        snprintf(err, errlen, "void: out of memory");
        goto done;
    }

    for (i = 0, v.k = 0; i < n; i++) {
        if (sel[all[i]]) {
            v.order[v.k] = all[i];
            cc_ledger_phase_attempt_id(v.fid[v.k], sizeof(v.fid[0]),
                                       c[all[i]].award_id, failed[all[i]]);
            cc_ledger_phase_attempt_id(v.nid[v.k], sizeof(v.nid[0]),
                                       c[all[i]].award_id,
                                       failed[all[i]] + 1);
            v.k++;
        }
    }

    rc = cc_ledger_void_write(&v);

done:

    free(all);
    free(v.order);
    free(v.fid);
    free(v.nid);
    free(v.b.p);

    return rc;
}
