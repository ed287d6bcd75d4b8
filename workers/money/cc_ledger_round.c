/*
 * cc_ledger_round: a batch's round post (see cc_ledger_phase.h, "round
 * posts").
 *
 * The entries are posted by one transfer a round; the caller commits it
 * with their awards set credited by an UPDATE that flips each from
 * pending (or crediting) and rolls back when one does not flip: that
 * UPDATE, not a read here, is what keeps an award from being posted by
 * a round and by a single call both (cc_wallet.h).  A locking read of
 * the awards first was 18% of the batch mode's MySQL time, and the
 * UPDATE locks and checks the same rows anyway.  The round's id, from an
 * attempt it alone posts, is a key a second round cannot take.
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


typedef struct {
    size_t     lead;                /* its first entry in id order, or n */
    uint64_t   sum;
} cc_ledger_round_t;


/* the rows of the rounds, one INSERT (a key taken fails it) */
static int
cc_ledger_round_rows(MYSQL *db, const char *campaign,
    const cc_ledger_credit_t *c, size_t n, const unsigned *attempt,
    const cc_ledger_round_t *r, unsigned nr, cc_sqlbuf_t *b, char *err,
    size_t errlen)
{
    char      id[CC_LEDGER_PHASE_ID_MAX + 1];
    int64_t   now;
    unsigned  g, k;

    now = cc_now_ms();
    b->len = 0;

    if (cc_sqlbuf_printf(b, "INSERT INTO ledger_transfers (transfer_id, "
                         "debit, credit, amount_cents, campaign, kind, "
                         "award_id, created_at) VALUES ") != 0)
    {
        goto nomem;
    }

    for (g = 1, k = 0; g <= nr; g++) {
        if (r[g].lead == n) {
            continue;
        }

        cc_ledger_phase_attempt_id(id, sizeof(id), c[r[g].lead].award_id,
                                   attempt[r[g].lead]);

        if (strlen(id) + sizeof(CC_LEDGER_ROUND_PREFIX) - 1
            > CC_LEDGER_PHASE_ID_MAX)
        {
            snprintf(err, errlen, "round post: the id of %.80s too long",
                     id);
            return -1;
        }

        if (cc_sqlbuf_printf(b, "%s('" CC_LEDGER_ROUND_PREFIX "%s',"
                             "'pool:%s','clearing:%s',%" PRIu64 ",'%s',"
                             "'post',NULL,%" PRId64 ")", k++ ? "," : "", id,
                             campaign, campaign, r[g].sum, campaign, now)
            != 0)
        {
            goto nomem;
        }
    }

    if (mysql_real_query(db, b->p, b->len) != 0) {
        snprintf(err, errlen, "round post: %s", mysql_error(db));
        return -1;
    }

    if (mysql_affected_rows(db) != k) {
        snprintf(err, errlen, "round post: %llu rows of %u written",
                 (unsigned long long) mysql_affected_rows(db), k);
        return -1;
    }

    return 0;

nomem:

    snprintf(err, errlen, "round post: out of memory");
    return -1;
}


long
cc_ledger_phase_post_rounds(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, const unsigned *round,
    const unsigned *attempt, uint64_t *deferred, char *err, size_t errlen)
{
    long                added;
    size_t              i, k, *order;
    unsigned            g, nr;
    uint64_t            total;
    cc_sqlbuf_t         b = { NULL, 0, 0 };
    cc_ledger_round_t  *r;

    added = -1;
    total = 0;
    r = NULL;

    for (i = 0, nr = 0; i < n; i++) {
        nr = round[i] > nr ? round[i] : nr;
    }

    order = cc_ledger_bulk_order(c, n);
    r = malloc((nr + 1) * sizeof(cc_ledger_round_t));

    if (order == NULL || r == NULL) {
        snprintf(err, errlen, "round post: out of memory");
        goto out;
    }

    for (g = 0; g <= nr; g++) {
        r[g].lead = n;
        r[g].sum = 0;
    }

    for (i = 0, added = 0; i < n; i++) {
        k = order[i];

        if (round[k] == 0) {
            continue;
        }

        CC_ASSERT(attempt[k] > 0 && c[k].amount_cents > 0);

        g = round[k];
        r[g].lead = r[g].lead == n ? k : r[g].lead;
        r[g].sum += c[k].amount_cents;
        total += c[k].amount_cents;
        c[k].rc = CC_LEDGER_DONE;
        added++;
    }

    if (added > 0
        && cc_ledger_round_rows(db, campaign, c, n, attempt, r, nr, &b, err,
                                errlen) != 0)
    {
        added = -1;
        goto out;
    }

    if (deferred != NULL) {
        *deferred = total;                  /* the caller moves them */

    } else if (total > 0
               && cc_ledger_phase_post_sums(db, campaign, total, &b, err,
                                            errlen) != 0)
    {
        added = -1;
    }

out:

    free(order);
    free(r);
    free(b.p);

    return added;
}
