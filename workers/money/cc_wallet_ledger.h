/*
 * cc_wallet_ledger: `wallet ledger`, the embedded wallet behind
 * cc_wallet.h: a credit is cc_ledger_credit_batch() on the campaign, in
 * the caller's open transaction, nothing committed here.  Only
 * cc_wallet.c calls it.
 */

#ifndef CC_WALLET_LEDGER_H
#define CC_WALLET_LEDGER_H

#include <stddef.h>

#include <mysql.h>

#include "cc_campaign.h"
#include "cc_ledger.h"

typedef struct cc_wallet_ledger_s  cc_wallet_ledger_t;

/* NULL with err filled when out of memory */
cc_wallet_ledger_t *cc_wallet_ledger_open(const cc_campaign_t *camp,
    char *err, size_t errlen);
void cc_wallet_ledger_close(cc_wallet_ledger_t *l);

/* cc_wallet_credit's contract, all of it in the caller's transaction */
long cc_wallet_ledger_credit(cc_wallet_ledger_t *l, MYSQL *db,
    cc_ledger_credit_t *c, size_t n, char *err, size_t errlen);

#endif /* CC_WALLET_LEDGER_H */
