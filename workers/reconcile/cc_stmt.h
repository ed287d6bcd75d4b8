/*
 * cc_stmt: the three-way reconcile (三方对账) of
 * `cc-reconcile --money --statement FILE`: the awards, the ledger's
 * two-phase transfers and the external wallet's statement.
 *
 * The statement is the wallet's, one line per credit it applied:
 *
 *   key,uid,amount_cents,currency,applied_at_ms
 *
 * where key is the Idempotency-Key (the award id "<campaign>:<uid>").
 * Lines of other campaigns' keys are skipped.  Each break's class:
 *
 *   long_at_wallet (长款)   the wallet credited the key, the ledger has not
 *                           posted it (pending, or no transfer at all)
 *   short_at_wallet (短款)  the ledger posted it or holds it pending, the
 *                           statement lacks it
 *   wallet_amount_mismatch  the statement's uid, amount or currency differ
 *                           from the award's
 *   duplicate_at_wallet     more than one statement line for one key (the
 *                           wallet applied one credit twice)
 *   unknown_key             a key of the campaign no award has
 *
 * --repair re-drives the breaks a retry of the same key mends: short at
 * the wallet with the transfer pending in the ledger, and long at the
 * wallet whose amount matches (the wallet answers the replay, the ledger
 * posts) -- through cc_wallet_credit(), the payout's own path, so never a
 * new key.  Nothing else is touched.
 */

#ifndef CC_STMT_H
#define CC_STMT_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "cc_campaign.h"
#include "cc_store.h"

typedef enum {
    CC_STMT_LONG = 0,
    CC_STMT_SHORT,
    CC_STMT_AMOUNT,
    CC_STMT_DUPLICATE,
    CC_STMT_UNKNOWN,
    CC_STMT_NCLASS
} cc_stmt_class_e;

/*
 * The caller's break reporter: counts, prints and documents a break;
 * returns its JSON object (a cJSON *, or NULL), where the repair writes
 * "repaired".  repair says whether --repair mends it (CC_STMT_REPAIR_*).
 */
typedef void *(*cc_stmt_break_pt)(void *ctx, cc_stmt_class_e cls,
    long shard, const char *award_id, uint64_t uid, const char *expected,
    const char *found, const char *repair);

/* what --repair does with a statement break (the repair argument) */
#define CC_STMT_REPAIR_YES  "repair: re-drives it with its own key " \
    "(wallet http)"
#define CC_STMT_REPAIR_NO   "repair: no; a person settles it with the " \
    "wallet, then a correcting transfer if the ledger is wrong: see " \
    "README \"Correcting transfers\""

typedef struct cc_stmt_s  cc_stmt_t;

/* the class's JSON name */
const char *cc_stmt_class_name(cc_stmt_class_e cls);

/*
 * Reads the statement (the lines of this campaign's keys, sorted by key).
 * NULL with err filled ("line 7: ...") when unreadable or malformed.
 */
cc_stmt_t *cc_stmt_load(const char *path, const cc_campaign_t *camp,
    char *err, size_t errlen);

void cc_stmt_free(cc_stmt_t *t);

/*
 * Compares one MySQL shard's awards and ledger with the statement
 * (one stream over the awards).  0, or -1 after logging a MySQL error.
 */
int cc_stmt_shard(cc_stmt_t *t, MYSQL *db, uint32_t shard,
    cc_stmt_break_pt brk, void *ctx);

/* the amounts of the campaign's statement lines, each line counted */
uint64_t cc_stmt_sum(const cc_stmt_t *t);

/* once every shard was compared: the keys no award has */
void cc_stmt_finish(cc_stmt_t *t, cc_stmt_break_pt brk, void *ctx);

/*
 * --repair: the repairable breaks through the wallet adapter (wallet http
 * only).  The number repaired; each repairable break's JSON gets
 * "repaired": true|false.
 */
unsigned long long cc_stmt_repair(cc_stmt_t *t, cc_store_t *st);

#endif /* CC_STMT_H */
