/*
 * cc_wallet: the campaign's wallet, ledger or http (see cc_wallet.h): the
 * one place that picks the implementation, and the one place that checks
 * what every implementation promises about a batch's results.
 */

#include <stdio.h>
#include <stdlib.h>

#include "cc_assert.h"
#include "cc_wallet.h"
#include "cc_wallet_http.h"
#include "cc_wallet_ledger.h"


struct cc_wallet_s {
    cc_wallet_e          kind;       /* the campaign's `wallet` */
    cc_wallet_ledger_t  *ledger;     /* kind CC_WALLET_LEDGER */
    cc_wallet_http_t    *http;       /* kind CC_WALLET_HTTP */
};


cc_wallet_t *
cc_wallet_open(const cc_campaign_t *camp, char *err, size_t errlen)
{
    cc_wallet_t  *w;

    w = calloc(1, sizeof(cc_wallet_t));
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    w->kind = camp->wallet;

    switch (w->kind) {

    case CC_WALLET_HTTP:
        w->http = cc_wallet_http_open(camp, err, errlen);
        if (w->http == NULL) {
            free(w);
            return NULL;
        }
        break;

    default: /* CC_WALLET_LEDGER */
        w->ledger = cc_wallet_ledger_open(camp, err, errlen);
        if (w->ledger == NULL) {
            free(w);
            return NULL;
        }
        break;
    }

    return w;
}


void
cc_wallet_close(cc_wallet_t *w)
{
    if (w == NULL) {
        return;
    }

    cc_wallet_http_close(w->http);
    cc_wallet_ledger_close(w->ledger);
    free(w);
}


long
cc_wallet_credit(cc_wallet_t *w, MYSQL *db, cc_ledger_credit_t *c, size_t n,
    char *err, size_t errlen)
{
    long    added;
    size_t  i, done;

    added = w->kind == CC_WALLET_HTTP
            ? cc_wallet_http_credit(w->http, db, c, n, err, errlen)
            : cc_wallet_ledger_credit(w->ledger, db, c, n, err, errlen);

    if (added < 0) {
        return added;
    }

    /* the contract: the number returned is the number DONE, none short */
    for (i = 0, done = 0; i < n; i++) {
        CC_ASSERT(c[i].rc == CC_LEDGER_DONE || c[i].rc == CC_LEDGER_EXISTS
                  || c[i].rc == CC_LEDGER_MISMATCH
                  || c[i].rc == CC_LEDGER_ERROR);
        done += c[i].rc == CC_LEDGER_DONE;
    }

    CC_ASSERT(done == (size_t) added);

    return added;
}


void
cc_wallet_defer_sums(cc_wallet_t *w)
{
    if (w->http != NULL) {
        cc_wallet_http_defer_sums(w->http);
    }
}


void
cc_wallet_single_calls(cc_wallet_t *w)
{
    if (w->http != NULL) {
        cc_wallet_http_single_calls(w->http);
    }
}


int
cc_wallet_finish(cc_wallet_t *w, MYSQL *db, char *err, size_t errlen)
{
    return w->http != NULL ? cc_wallet_http_finish(w->http, db, err, errlen)
                           : 0;
}


int
cc_wallet_one_txn(const cc_wallet_t *w)
{
    return w->kind != CC_WALLET_HTTP;
}


unsigned long long
cc_wallet_forged(const cc_wallet_t *w)
{
    return w != NULL && w->http != NULL ? cc_wallet_http_forged(w->http)
                                        : 0;
}


void
cc_wallet_counts(const cc_wallet_t *w, cc_wallet_counts_t *out)
{
    if (w != NULL && w->http != NULL) {
        cc_wallet_http_counts(w->http, out);
    }
}


void
cc_wallet_set_alert_timeout(cc_wallet_t *w, long long seconds)
{
    if (w->http != NULL) {
        cc_wallet_http_set_alert_timeout(w->http, seconds);
    }
}
