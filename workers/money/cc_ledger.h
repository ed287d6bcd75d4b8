/*
 * cc_ledger: the embedded wallet, a double-entry ledger in the user's
 * MySQL shard (sql/money.sql).  Every function works inside a transaction
 * the caller opened on that shard's connection, so a credit commits with
 * the award's status change (and, in sync mode, with the award itself).
 *
 * A credit is one transfer pool:<campaign> -> wallet:<uid> whose id is the
 * award id.  The id is the idempotency key, enforced by the primary key:
 * a retried credit writes nothing and reports "exists"; the same id with
 * another amount is CC_LEDGER_MISMATCH (an alert, never a second row).
 * The pool's debit is a guarded UPDATE (credits - debits >= amount in its
 * WHERE), so no balance goes negative and no read precedes the write.
 */

#ifndef CC_LEDGER_H
#define CC_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

typedef enum {
    CC_LEDGER_DONE = 0,        /* written now */
    CC_LEDGER_EXISTS,          /* the same transfer was already there */
    CC_LEDGER_MISMATCH,        /* the id exists with another amount/side */
    CC_LEDGER_NO_FUNDS,        /* the guarded debit found too little */
    CC_LEDGER_ERROR            /* MySQL failed: roll back, retry later */
} cc_ledger_rc_e;

typedef struct {
    const char  *award_id;
    uint64_t     uid;
    uint64_t     amount_cents;
    cc_ledger_rc_e rc;         /* out */
} cc_ledger_credit_t;

/*
 * Funds this shard's pool from the sponsor with transfer
 * "fund:<campaign>:<shard>".  DONE, EXISTS, MISMATCH or ERROR.
 */
cc_ledger_rc_e cc_ledger_fund(MYSQL *db, const char *campaign,
    unsigned shard, uint64_t amount_cents, char *err, size_t errlen);

/*
 * Credits a batch of awards of one campaign on one shard: one multi-row
 * INSERT IGNORE ... RETURNING of the transfers, the wallets' credits in
 * one upsert, the pool's debit of the new transfers' sum in one guarded
 * UPDATE.  Each c[i].rc says what happened to it.  Returns -1 when the
 * transaction must be rolled back (ERROR or NO_FUNDS; err filled), else
 * the number of new transfers.  MISMATCH entries are left out of the
 * money and reported in their rc.
 */
long cc_ledger_credit_batch(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, char *err, size_t errlen);

const char *cc_ledger_rc_name(cc_ledger_rc_e rc);

/*
 * The guards of what goes into the ledger's SQL text unquoted
 * (cc_ids.h's validators): a campaign of 1..32 of [A-Za-z0-9_-]; a credit
 * whose award id is 1..64 of those and ':', its uid and amount above 0.
 * 1 fit, 0 not.
 */
int cc_ledger_campaign_ok(const char *campaign);
int cc_ledger_award_ok(const cc_ledger_credit_t *c);

#endif /* CC_LEDGER_H */
