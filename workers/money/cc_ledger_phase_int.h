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
 * The sums of posts of sum > 0 written now: pending -> posted on the
 * pool and clearing:<campaign>.  0, or -1 with err set.
 */
int cc_ledger_phase_post_sums(MYSQL *db, const char *campaign, uint64_t sum,
    cc_sqlbuf_t *b, char *err, size_t errlen);

#endif /* CC_LEDGER_PHASE_INT_H */
