/*
 * cc_money_ledger.h: the checks of a shard's plan, pool and
 * ledger (cc_money_ledger.c).
 */

#ifndef CC_MONEY_LEDGER_H
#define CC_MONEY_LEDGER_H

#include "cc_money_run.h"

/* the shard's plan: 1 with *total set, 0 when there is none, -1 error */
int cc_money_plan(cc_money_t *m, uint64_t *total);

/* after the awards were read (m->award_sum, m->pending): 0, or -1 */
int cc_money_pool(cc_money_t *m, int has_plan, uint64_t total);

/* the double entry, posted and pending: 0, or -1 */
int cc_money_ledger(cc_money_t *m);

/*
 * wallet http: the campaign's books in one shape, and with the clearing
 * account's, Σ posted to clearing:<campaign> = Σ the credited awards
 * (ledger_unbalanced when not), the sums added to m->clearing_sum and
 * m->credited_sum.  0, or -1.
 */
int cc_money_clearing(cc_money_t *m);

/*
 * 1 when uid's wallet account on the shard holds more credits than its
 * transfers (found by cc_money_ledger): money moved with no transfer.
 */
int cc_money_moved(const cc_money_t *m, uint64_t uid);

#endif /* CC_MONEY_LEDGER_H */
