/*
 * cc_wallet_batch_books: the batches of wallet_mode batch in MySQL (see
 * cc_wallet_batch.h for the protocol, sql/money.sql for the rows).
 *
 * A batch is its wallet_batches row (number, count, total, when written)
 * and its details, which are the pending transfers naming it (batch_no):
 * an award's attempt, its amount, its award id (the detail number; the
 * user).  Both are written in the transaction that reserves the amounts,
 * before the batch is sent, so whoever resumes it reads back the same
 * batch.  The batch numbers are planned before the transfers are written
 * (a transfer is written with its batch, in one INSERT); the entries
 * whose transfer was there already are taken out of the plan after.
 */

#define _GNU_SOURCE

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc_assert.h"
#include "cc_wallet_batch_int.h"
#include "cc_worker.h"


static unsigned long long  cc_wb_seq;      /* batch numbers, process-wide */


long
cc_wb_entry(const cc_wb_ctx_t *x, const char *id)
{
    int     cmp;
    size_t  lo, hi, mid;

    lo = 0;
    hi = x->n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        cmp = strcmp(x->c[x->order[mid]].award_id, id);

        if (cmp == 0) {
            return (long) x->order[mid];
        }

        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }

    return -1;
}


cc_wb_t *
cc_wb_add(cc_wb_ctx_t *x, const char *no, size_t n)
{
    size_t    cap;
    cc_wb_t  *nb, *b;

    if (x->nb == x->capb) {
        cap = x->capb ? x->capb * 2 : 8;
        nb = realloc(x->b, cap * sizeof(cc_wb_t));
        if (nb == NULL) {
            return NULL;
        }

        x->b = nb;
        x->capb = cap;
    }

    b = &x->b[x->nb];
    memset(b, 0, sizeof(cc_wb_t));
    b->cap = n ? n : 16;
    b->d = calloc(b->cap, sizeof(cc_wb_detail_t));
    if (b->d == NULL) {
        return NULL;
    }

    snprintf(b->no, sizeof(b->no), "%s", no);
    x->nb++;

    return b;
}


cc_wb_detail_t *
cc_wb_push(cc_wb_t *b)
{
    cc_wb_detail_t  *nd;

    if (b->n == b->cap) {
        nd = realloc(b->d, b->cap * 2 * sizeof(cc_wb_detail_t));
        if (nd == NULL) {
            return NULL;
        }

        b->d = nd;
        b->cap *= 2;
    }

    memset(&b->d[b->n], 0, sizeof(cc_wb_detail_t));

    return &b->d[b->n++];
}


int
cc_wb_detail_cmp(const void *a, const void *b)
{
    return strcmp(((const cc_wb_detail_t *) a)->award_id,
                  ((const cc_wb_detail_t *) b)->award_id);
}


int
cc_wb_plan(cc_wb_ctx_t *x, const int *sel, char *err, size_t errlen)
{
    char                 no[CC_WALLET_BATCH_NO_MAX + 1];
    size_t               i, k, left, max;
    cc_wb_t             *b;
    cc_wb_detail_t      *d;
    cc_ledger_credit_t  *c;

    for (i = 0, left = 0; i < x->n; i++) {
        left += sel[i] != 0;
    }

    max = x->w->camp.wallet_batch_max;
    b = NULL;

    for (i = 0; i < x->n && left > 0; i++) {
        k = x->order[i];

        if (!sel[k]) {
            continue;
        }

        if (b == NULL) {
            snprintf(no, sizeof(no), "%s:b%" PRId64 ".%d.%llu", x->w->camp.id,
                     cc_now_ms(), (int) getpid(),
                     __atomic_add_fetch(&cc_wb_seq, 1, __ATOMIC_RELAXED));

            b = cc_wb_add(x, no, left < max ? left : max);
            if (b == NULL) {
                snprintf(err, errlen, "batch: out of memory");
                return -1;
            }

            b->born_ms = cc_now_ms();
        }

        c = &x->c[k];
        d = cc_wb_push(b);
        snprintf(d->award_id, sizeof(d->award_id), "%s", c->award_id);
        d->uid = c->uid;
        d->amount = c->amount_cents;
        d->attempt = ++x->attempt[k];
        d->ci = (long) k;
        x->bi[k] = x->nb - 1;
        b->total += d->amount;
        left--;

        if (b->n == max || left == 0) {
            b = NULL;
        }
    }

    return 0;
}


void
cc_wb_names(const cc_wb_ctx_t *x, char **names)
{
    size_t  i;

    for (i = 0; i < x->n; i++) {
        names[i] = x->bi[i] < x->nb ? x->b[x->bi[i]].no : NULL;
    }
}


void
cc_wb_keep(cc_wb_ctx_t *x, size_t from, const cc_ledger_phase_e *st)
{
    size_t    i, j, k, to;
    cc_wb_t  *b;

    for (i = from, to = from; i < x->nb; i++) {
        b = &x->b[i];

        for (j = 0, k = 0, b->total = 0; j < b->n; j++) {
            if (st[b->d[j].ci] != CC_LEDGER_PHASE_NEW) {
                x->attempt[b->d[j].ci] = 0;     /* cc_wb_resume says */
                x->bi[b->d[j].ci] = (size_t) -1;
                continue;
            }

            b->d[k] = b->d[j];
            b->total += b->d[k].amount;
            x->bi[b->d[k].ci] = to;
            k++;
        }

        b->n = k;

        if (k == 0) {
            free(b->d);
            continue;
        }

        if (to != i) {
            x->b[to] = *b;
        }

        to++;
    }

    x->nb = to;
}


int
cc_wb_rows(cc_wb_ctx_t *x, size_t from, char *err, size_t errlen)
{
    size_t    i;
    cc_wb_t  *b;

    if (from == x->nb) {
        return 0;
    }

    x->q.len = 0;

    if (cc_sqlbuf_printf(&x->q, "INSERT INTO wallet_batches (batch_no, "
                         "campaign, details, total_cents, created_at) "
                         "VALUES ") != 0)
    {
        goto nomem;
    }

    for (i = from; i < x->nb; i++) {
        b = &x->b[i];

        /* the batch number is ours (cc_wb_plan: campaign id and digits) */
        if (cc_sqlbuf_printf(&x->q, "%s('%s','%s',%zu,%" PRIu64 ",%" PRId64
                             ")", i > from ? "," : "", b->no, x->w->camp.id,
                             b->n, b->total, b->born_ms) != 0)
        {
            goto nomem;
        }
    }

    if (mysql_real_query(x->db, x->q.p, x->q.len) != 0) {
        snprintf(err, errlen, "batch %s: %s", x->b[from].no,
                 mysql_error(x->db));
        return -1;
    }

    return 0;

nomem:

    snprintf(err, errlen, "batch: out of memory");
    return -1;
}


/* an attempt's number from its pending transfer's id ("<award id>#n") */
static unsigned
cc_wb_attempt_of(const char *transfer_id)
{
    const char  *p;

    p = strchr(transfer_id, '#');

    return p ? (unsigned) strtoul(p + 1, NULL, 10) : 1;
}


/*
 * The batches whose numbers x->q lists (the readback's SELECT so far)
 * read back whole, each to be queried; an entry of this call is answered
 * by its last attempt's batch only.  0, or -1 with err.
 */
static int
cc_wb_readback(cc_wb_ctx_t *x, char *err, size_t errlen)
{
    long             k;
    cc_wb_t         *b;
    MYSQL_RES       *res;
    MYSQL_ROW        row;
    cc_wb_detail_t  *d;

    if (cc_sqlbuf_printf(&x->q, ") ORDER BY t.batch_no, t.award_id LOCK IN "
                         "SHARE MODE") != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(x->db, x->q.p, x->q.len) != 0
        || (res = mysql_store_result(x->db)) == NULL)
    {
        snprintf(err, errlen, "batch: read back: %s", mysql_error(x->db));
        return -1;
    }

    b = NULL;

    while ((row = mysql_fetch_row(res)) != NULL) {
        if (b == NULL || strcmp(b->no, row[0]) != 0) {
            b = cc_wb_add(x, row[0], 0);
            if (b == NULL) {
                mysql_free_result(res);
                goto nomem;
            }

            b->state = CC_WB_QUERY;
            b->wait_ms = CC_WALLET_BATCH_POLL_MS;
            b->born_ms = strtoll(row[5], NULL, 10);
        }

        d = cc_wb_push(b);
        if (d == NULL) {
            mysql_free_result(res);
            goto nomem;
        }

        snprintf(d->award_id, sizeof(d->award_id), "%s", row[1]);
        d->uid = strtoull(row[2], NULL, 10);
        d->amount = strtoull(row[3], NULL, 10);
        d->attempt = cc_wb_attempt_of(row[4]);
        k = cc_wb_entry(x, row[1]);

        d->ci = k >= 0 && x->attempt[k] == d->attempt ? k : -1;
        b->total += d->amount;

        if (d->ci >= 0) {
            x->bi[k] = x->nb - 1;
        }
    }

    mysql_free_result(res);

    return 0;

nomem:

    snprintf(err, errlen, "batch: out of memory");
    return -1;
}


/*
 * The live pending transfer of each in-flight entry (not voided: one an
 * award, cc_ledger_phase.h): its attempt, and its batch's number into
 * x->q's readback (m of them), or x->single[] when it names none.  The
 * rows come in batch order: each number once.  0, or -1 with err set.
 */
static int
cc_wb_live(cc_wb_ctx_t *x, MYSQL_RES *res, size_t *m)
{
    long        k;
    char        last[CC_WALLET_BATCH_NO_MAX + 1];
    MYSQL_ROW   row;

    last[0] = '\0';
    *m = 0;

    while ((row = mysql_fetch_row(res)) != NULL) {
        k = cc_wb_entry(x, row[0]);

        if (k < 0) {
            continue;
        }

        x->attempt[k] = cc_wb_attempt_of(row[1]);

        if (row[2] == NULL) {
            x->single[k] = 1;           /* a single call's: no batch */
            continue;
        }

        if (last[0] != '\0' && strcmp(last, row[2]) == 0) {
            continue;
        }

        snprintf(last, sizeof(last), "%s", row[2]);

        if (cc_sqlbuf_printf(&x->q, "%s'%s'", (*m)++ ? "," : "", row[2])
            != 0)
        {
            return -1;
        }
    }

    return 0;
}


int
cc_wb_resume(cc_wb_ctx_t *x, const cc_ledger_phase_e *st, char *err,
    size_t errlen)
{
    int         rc;
    size_t      i, m;
    MYSQL_RES  *res;

    x->q.len = 0;

    if (cc_sqlbuf_printf(&x->q, "SELECT t.award_id, t.transfer_id, "
                         "t.batch_no FROM ledger_transfers t LEFT JOIN "
                         "ledger_transfers v ON v.transfer_id = "
                         "CONCAT('void:', t.transfer_id) WHERE t.kind = "
                         "'pending' AND v.transfer_id IS NULL AND "
                         "t.award_id IN (") != 0)
    {
        goto nomem;
    }

    for (i = 0, m = 0; i < x->n; i++) {
        if (st[i] == CC_LEDGER_PHASE_IN_FLIGHT
            && cc_sqlbuf_printf(&x->q, "%s'%s'", m++ ? "," : "",
                                x->c[i].award_id) != 0)
        {
            goto nomem;
        }
    }

    if (m == 0) {
        return 0;
    }

    /* locking reads, with joins: what is committed now, not the
       transaction's snapshot (a claim's call may have written its
       pending after it began: the insert found it there) */
    if (cc_sqlbuf_printf(&x->q, ") ORDER BY t.batch_no LOCK IN SHARE MODE")
        != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(x->db, x->q.p, x->q.len) != 0
        || (res = mysql_store_result(x->db)) == NULL)
    {
        snprintf(err, errlen, "batch: live attempts: %s", mysql_error(x->db));
        return -1;
    }

    /* the batch numbers: each batch then read whole */
    x->q.len = 0;
    rc = cc_sqlbuf_printf(&x->q, "SELECT t.batch_no, t.award_id, "
                          "COALESCE(a.uid, SUBSTRING_INDEX(t.award_id, ':', "
                          "-1)), t.amount_cents, t.transfer_id, b.created_at "
                          "FROM ledger_transfers t JOIN wallet_batches b ON "
                          "b.batch_no = t.batch_no LEFT JOIN awards a ON "
                          "a.award_id = t.award_id WHERE t.campaign = '%s' "
                          "AND t.kind = 'pending' AND t.batch_no IN (",
                          x->w->camp.id);
    rc = rc != 0 ? rc : cc_wb_live(x, res, &m);
    mysql_free_result(res);

    if (rc != 0) {
        goto nomem;
    }

    if (m == 0) {
        return 0;                   /* none was in a batch */
    }

    return cc_wb_readback(x, err, errlen);

nomem:

    snprintf(err, errlen, "batch: out of memory");
    return -1;
}
