/*
 * cc_ledger_phase_int: what cc_ledger_phase.c shares with the other
 * files of the two phases (cc_ledger_round.c), not with their callers.
 */

#ifndef CC_LEDGER_PHASE_INT_H
#define CC_LEDGER_PHASE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "cc_ledger.h"
#include "cc_sqlbuf.h"

/*
 * The awards of the entries with sel[] set locked (FOR UPDATE, in the
 * caller's open transaction, order[] their award id order) and each one
 * already credited taken out: sel[i] = 0, rc EXISTS.  Posted is a post
 * transfer's commit with its award credited, whichever payer wrote it (a
 * single call's post:<award id>, a batch's round post); with the rows
 * locked until the commit, no other payer can credit them in between.
 * The number taken out, or -1 with err set.
 */
int cc_ledger_phase_credited(MYSQL *db, cc_ledger_credit_t *c, size_t n,
    const size_t *order, int *sel, cc_sqlbuf_t *b, char *err,
    size_t errlen);

/*
 * The sums of posts of sum > 0 written now: pending -> posted on the
 * pool and clearing:<campaign>.  0, or -1 with err set.
 */
int cc_ledger_phase_post_sums(MYSQL *db, const char *campaign, uint64_t sum,
    cc_sqlbuf_t *b, char *err, size_t errlen);

#endif /* CC_LEDGER_PHASE_INT_H */
