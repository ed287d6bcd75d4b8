/*
 * cc_money_repair.c: --repair.  The missing credits found by
 * the award checks are kept in m->missing (a list this part grows; the
 * run frees it); once every check ran, each is credited through
 * cc_ledger_credit_batch, the payout's idempotent path (the transfer id
 * is the award id, a primary key), shard by shard, a batch a
 * transaction.  A second repair, or a payout racing it, writes nothing
 * more.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_ids.h"
#include "cc_ledger.h"
#include "cc_logtext.h"
#include "cc_money_mysql.h"
#include "cc_money_repair.h"
#include "cc_sqlbuf.h"
#include "cc_worker.h"


int
cc_money_add_missing(cc_money_t *m, const cc_money_award_t *a, cJSON *json)
{
    char                 text[96];
    cc_money_missing_t  *p;

    /* the repair puts the id into SQL text: one not fit is not mended */
    if (cc_check_award_id(a->award_id, strlen(a->award_id)) != 0) {
        (void) cc_logtext(text, sizeof(text), a->award_id,
                          strlen(a->award_id));
        cc_log("award \"%s\": an id not fit for SQL, not repaired", text);
        return 0;
    }

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
 * One transaction on one shard, as the payout's bulk step: the credits
 * (transfer id = award id: a transfer that meanwhile appeared is EXISTS
 * and moves nothing), then the pending ones among them set credited.
 */
static void
cc_money_repair_batch(cc_money_t *m, cc_money_missing_t *x, size_t n)
{
    int                  rc;
    char                 err[512], esc[2 * CC_MONEY_ID_MAX + 1];
    long                 added;
    size_t               i, npending;
    cc_sqlbuf_t          sql = { NULL, 0, 0 };
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

    /*
     * The statement grows as needed: the award ids of a batch
     * (CC_MONEY_REPAIR_BATCH of them, whatever --batch says) do not fit
     * in m->sql, which is sized for --batch uids.
     */
    rc = cc_sqlbuf_printf(&sql, "UPDATE awards SET status = 'credited', "
                          "credited_at = %" PRId64 " WHERE campaign = '%s' "
                          "AND status = 'pending' AND award_id IN (",
                          cc_now_ms(), m->camp.id);
    npending = 0;

    for (i = 0; rc == 0 && i < n; i++) {
        if (x[i].pending && (c[i].rc == CC_LEDGER_DONE
                             || c[i].rc == CC_LEDGER_EXISTS))
        {
            mysql_real_escape_string(db, esc, x[i].award_id,
                                     strlen(x[i].award_id));
            rc = cc_sqlbuf_printf(&sql, "%s'%s'", npending ? "," : "", esc);
            npending++;
        }
    }

    if (rc == 0) {
        rc = cc_sqlbuf_printf(&sql, ")");
    }

    if (rc != 0) {
        cc_log("repair on shard %u: out of memory; rolled back, nothing "
               "repaired", m->shard);
        cc_money_exec(m, "ROLLBACK");
        free(sql.p);
        return;
    }

    if ((npending > 0 && cc_money_exec(m, sql.p) != 0)
        || cc_money_exec(m, "COMMIT") != 0)
    {
        cc_log("repair on shard %u: rolled back, nothing repaired",
               m->shard);
        cc_money_exec(m, "ROLLBACK");
        free(sql.p);
        return;
    }

    free(sql.p);

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


void
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
