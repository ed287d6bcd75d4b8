/*
 * cc_wallet_ledger: the embedded wallet (see cc_wallet_ledger.h).
 */

#include <stdio.h>
#include <stdlib.h>

#include "cc_wallet_ledger.h"


struct cc_wallet_ledger_s {
    cc_campaign_t  camp;
};


cc_wallet_ledger_t *
cc_wallet_ledger_open(const cc_campaign_t *camp, char *err, size_t errlen)
{
    cc_wallet_ledger_t  *l;

    l = calloc(1, sizeof(cc_wallet_ledger_t));
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    l->camp = *camp;

    return l;
}


void
cc_wallet_ledger_close(cc_wallet_ledger_t *l)
{
    free(l);
}


long
cc_wallet_ledger_credit(cc_wallet_ledger_t *l, MYSQL *db,
    cc_ledger_credit_t *c, size_t n, char *err, size_t errlen)
{
    return cc_ledger_credit_batch(db, l->camp.id, c, n, err, errlen);
}
