/*
 * cc_money_awards.c: the checks of a shard's awards, each read
 * as one MySQL stream: every award against its credit transfers and its
 * eligibility row (missing_credit, duplicate_credit, amount_mismatch,
 * stale_pending, eligible_mismatch), the credit transfers without an
 * award (transfer_without_award), and the users eligible before the
 * cutoff against their awards.  The Redis side of the rows read goes
 * through cc_money_redis.c a batch at a time; the missing
 * credits are kept for --repair (cc_money_repair.c).
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_ledger_phase.h"
#include "cc_money_awards.h"
#include "cc_money_ledger.h"
#include "cc_money_mysql.h"
#include "cc_money_redis.h"
#include "cc_money_repair.h"
#include "cc_money_report.h"
#include "cc_worker.h"


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
    m->pending_all += a->pending;

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

            /*
             * wallet http: the ledger's own credit would skip the wallet;
             * a wallet already credited with no transfer (a transfer
             * deleted): a second credit would pay twice
             */
            if (m->camp.wallet == CC_WALLET_HTTP) {
                cc_money_break_repair(m, CC_MONEY_MISSING_CREDIT, m->shard,
                                      a->award_id, a->uid, expected, found,
                                      CC_MONEY_REPAIR_HTTP);

            } else if (cc_money_moved(m, a->uid)) {
                cc_money_break_repair(m, CC_MONEY_MISSING_CREDIT, m->shard,
                                      a->award_id, a->uid, expected, found,
                                      CC_MONEY_REPAIR_MOVED);

            } else {
                json = cc_money_break(m, CC_MONEY_MISSING_CREDIT, m->shard,
                                      a->award_id, a->uid, expected, found);

                if (cc_money_add_missing(m, a, json) != 0) {
                    return -1;
                }
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
 * transfers (by_award) and its eligibility row (the primary key).  Its
 * credit transfers: the ledger's credit, a single call's post, or, for
 * an award a batch's round post posted (the round names no award: its
 * sum is cc_money_clearing's check), its live pending transfer once the
 * award is credited.  An
 * award with k transfers is k consecutive rows.  Its notice is sent when
 * notified = 1 and no open row of award_notices covers it (sql/money.sql),
 * read in the statement's one snapshot: the payout commits the award and
 * its notice row together, and tells the row only after Redis holds the
 * notice.
 */
int
cc_money_awards(cc_money_t *m)
{
    char               sql[1536];
    MYSQL_ROW          row;
    MYSQL_RES         *res;
    cc_money_award_t   a;

    snprintf(sql, sizeof(sql),
             "SELECT a.award_id, a.uid, a.amount_cents, a.status, "
             "a.notified AND NOT EXISTS (SELECT 1 FROM award_notices n "
             "WHERE n.campaign = a.campaign AND n.told_at = 0 AND "
             "n.first_id <= a.award_id AND n.last_id >= a.award_id), "
             "a.created_at, t.transfer_id, t.amount_cents, el.combined_at "
             "FROM awards a "
             "LEFT JOIN ledger_transfers t ON t.award_id = a.award_id "
             "AND (t.kind IN ('credit', 'post') OR (t.kind = 'pending' "
             "AND a.status = 'credited' AND NOT EXISTS (SELECT 1 FROM "
             "ledger_transfers v WHERE v.transfer_id = CONCAT('void:', "
             "t.transfer_id)) AND NOT EXISTS (SELECT 1 FROM "
             "ledger_transfers q WHERE q.transfer_id = CONCAT('post:', "
             "a.award_id)))) "
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
    cc_money_stream_abort(res);
    return -1;
}


/* credit transfers of the campaign whose award is not there (a round
 * post names none: cc_money_clearing checks its sum) */
int
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
             "AND a.award_id IS NULL AND t.transfer_id NOT LIKE '"
             CC_LEDGER_ROUND_PREFIX "%%'", m->camp.id);

    res = cc_money_query(m, sql, 1);
    if (res == NULL) {
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        m->rows++;
        uid = cc_money_wallet_uid(row[2]);
        snprintf(found, sizeof(found), "transfer %.64s of %s to %.70s",
                 row[0], row[3], row[2]);
        cc_money_break(m, CC_MONEY_TRANSFER_WITHOUT_AWARD, m->shard,
                       row[1] ? row[1] : row[0], uid, "an award", found);
    }

    return cc_money_stream_end(m, res);
}


/*
 * The shard's users eligible before the cutoff (primary key order), each
 * with whether it has an award: every one needs field e in Redis and an
 * award.  (Redis users with e that MySQL lacks are found by the SCAN.)
 */
int
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
            cc_money_stream_abort(res);
            return -1;
        }

        cc_money_progress(m, "reading eligibility");
    }

    if (cc_money_stream_end(m, res) != 0) {
        return -1;
    }

    return cc_money_flush_eligible(m);
}
