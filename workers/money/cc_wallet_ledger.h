/*
 * cc_wallet_ledger: the ledger's two phases of a credit into an external
 * wallet (sql/money.sql, TigerBeetle's pending and post transfers):
 *
 *   pending  transfer <award id>, kind 'pending', pool:<c> -> wallet:<uid>:
 *            its amount added to both accounts' pending sums
 *            (ledger_pending), the pool's guard counting pending debits;
 *   post     transfer post:<award id>, kind 'post', same accounts and
 *            amount: the amount taken off the pending sums and added to
 *            the posted ones (ledger_accounts).
 *
 * Both are INSERT IGNORE ... RETURNING on the transfer id (the primary
 * key), and only the rows that insert returns move sums, so a retry moves
 * nothing twice.  Both work in the caller's open transaction.
 */

#ifndef CC_WALLET_LEDGER_H
#define CC_WALLET_LEDGER_H

#include <stddef.h>

#include <mysql.h>

#include "cc_ledger.h"

/* the state of one award's two phases after cc_wallet_ledger_pending */
typedef enum {
    CC_WL_NEW = 0,          /* pending written now: call the wallet */
    CC_WL_IN_FLIGHT,        /* pending there before, not posted: call */
    CC_WL_POSTED,           /* posted before: nothing to do */
    CC_WL_OTHER             /* the id is another transfer: MISMATCH */
} cc_wl_state_e;

/*
 * Writes the pending transfers of c[0..n) (ids and amounts checked as
 * cc_ledger_credit_batch does).  st[i] says what each is.  0, or -1 with
 * err filled: MySQL failed, or the pool cannot hold the new ones (then
 * the new entries' rc is CC_LEDGER_NO_FUNDS and the rest's ERROR).
 */
int cc_wallet_ledger_pending(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, cc_wl_state_e *st, char *err,
    size_t errlen);

/*
 * Posts the entries with ok[i] set (their pending transfer must be
 * there): rc DONE for a post written now, EXISTS for one there before.
 * The number posted now, or -1 with err filled (roll back).
 */
long cc_wallet_ledger_post(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, const int *ok, char *err,
    size_t errlen);

#endif /* CC_WALLET_LEDGER_H */
