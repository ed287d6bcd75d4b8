/*
 * cc_wallet_http: `wallet http` (campaign file) behind cc_wallet.h: the
 * credits go to an external wallet over HTTP instead of the ledger's own
 * wallet accounts, with the ledger keeping the books two-phase
 * (cc_ledger_phase.h, sql/money.sql).  Only cc_wallet.c calls it.
 *
 * The protocol.  A credit is one call
 *
 *   POST {wallet_url}/credits                (https; cc_campaign.h)
 *   Idempotency-Key: <award id>
 *   X-CC-Timestamp: <unix ms>
 *   X-CC-Signature: (method, path, key, timestamp, body: cc_wallet_sign.h)
 *   {"award_id":"c:7","uid":"7","amount_cents":100,"currency":"CNY"}
 *
 * answered with X-CC-Timestamp and X-CC-Signature (status, key,
 * timestamp, body, with the answer secret): 200 or 201 with a body that
 * echoes amount_cents (applied; an echo of another amount is a mismatch),
 * 409 (the key was applied with another credit), another 4xx (refused for
 * good), or 5xx (try again).  An answer the wallet did not sign (none,
 * wrong, stale) is no answer, whatever it says: anyone on the path can
 * write "applied".  That, a timeout, a refused or dropped connection, a
 * certificate not of the campaign's CAs, a 5xx, 408 or 429 is "unknown":
 * the credit may have been applied.  It is retried with the
 * SAME key (exponential backoff with full jitter, 50 ms doubling to 2 s,
 * 10 tries); after the last the award stays 'crediting' with its pending
 * transfer, and the next pass of cc-payout (or cc-reconcile --money
 * --statement --repair) tries the same key again.  Never a new key, so
 * the wallet's idempotency makes any number of tries one credit.
 *
 * Mismatches and refusals are logged and handed, as one JSON document per
 * batch, to the campaign's alert command; those awards stay 'crediting'
 * (their pending transfer keeps the money reserved) for a person to
 * decide.
 */

#ifndef CC_WALLET_HTTP_H
#define CC_WALLET_HTTP_H

#include <stddef.h>

#include <mysql.h>

#include "cc_campaign.h"
#include "cc_ledger.h"
#include "cc_wallet.h"

#define CC_WALLET_HTTP_INFLIGHT  64     /* credits in flight at once */
#define CC_WALLET_HTTP_TRIES     10     /* calls per credit and batch */

typedef struct cc_wallet_http_s  cc_wallet_http_t;

typedef struct {
    unsigned long long   calls;         /* HTTP calls made */
    unsigned long long   retries;       /* of them, tries again */
    unsigned long long   applied;       /* answered applied (200/201) */
    unsigned long long   unknown;       /* left crediting: no answer */
    unsigned long long   mismatch;      /* 409 or another amount echoed */
    unsigned long long   rejected;      /* another 4xx */
    unsigned long long   forged;        /* answers not signed by the
                                           wallet (none, wrong, stale):
                                           taken as no answer */
    unsigned long long   batches;       /* batch mode: batches accepted */
    unsigned long long   inflight;      /* batch mode: batches in flight
                                           now (a gauge) */
    unsigned long long   details_failed;  /* batch mode: details the
                                           wallet failed (sent again) */
    unsigned long long   voided;        /* batch mode: their pending
                                           transfers voided */
    unsigned long long   overdue;       /* batch mode: batches without a
                                           result past wallet_batch_age_ms
                                           (alerted, still in flight) */
    unsigned long long   single;        /* batch mode: credits sent as
                                           single calls */
} cc_wallet_http_stats_t;

/*
 * Reads the secret file, sets up libcurl (its global init, a multi handle
 * and CC_WALLET_HTTP_INFLIGHT easy handles).  NULL with err filled when the
 * secret cannot be read or libcurl fails.
 */
cc_wallet_http_t *cc_wallet_http_open(const cc_campaign_t *camp, char *err,
    size_t errlen);

/* NULL is fine */
void cc_wallet_http_close(cc_wallet_http_t *w);

/* the alert command's deadline (cc_alert.h), CC_ALERT_TIMEOUT_S unless set */
void cc_wallet_http_set_alert_timeout(cc_wallet_http_t *w,
    long long seconds);

const cc_wallet_http_stats_t *cc_wallet_http_stats(cc_wallet_http_t *w);

/* stats.forged, read from any thread (the metrics') */
unsigned long long cc_wallet_http_forged(cc_wallet_http_t *w);

/*
 * The posts' sums (the pool's and the clearing account's rows) left for
 * cc_wallet_http_finish, which the caller calls after writing the
 * awards' status, just before its commit: those rows, which a claim's
 * credit updates too, are then locked only for the commit.
 */
void cc_wallet_http_defer_sums(cc_wallet_http_t *w);
int cc_wallet_http_finish(cc_wallet_http_t *w, MYSQL *db, char *err,
    size_t errlen);

/* batch mode: the credits as single calls (cc_wallet_single_calls) */
void cc_wallet_http_single_calls(cc_wallet_http_t *w);

/* the counts the metrics show, added to *out (cc_wallet.h), any thread */
void cc_wallet_http_counts(cc_wallet_http_t *w, cc_wallet_counts_t *out);

/*
 * Credits a batch of awards of the campaign on one MySQL shard
 * (cc_wallet_credit's contract, cc_wallet.h):
 *
 *   1. in the caller's open transaction: the pending transfers (INSERT
 *      IGNORE, so a retry finds its own), the pending sums, the pool's
 *      guard, the awards to 'crediting'; COMMIT;
 *   2. the HTTP calls, CC_WALLET_HTTP_INFLIGHT at a time (libcurl multi);
 *   3. in a new transaction, left OPEN for the caller: the post transfers
 *      of the credits the wallet applied and their sums moved from
 *      pending to posted.  The caller sets those awards 'credited' and
 *      commits, so the post and the status commit together.
 *
 * Each c[i].rc: DONE (posted now), EXISTS (posted before), MISMATCH (the
 * ledger holds the award id as another transfer: not called), ERROR (in
 * flight: unknown, refused or mismatched at the wallet; stays 'crediting';
 * logged here).  Returns the number posted now, or -1 with err filled:
 * MySQL failed (roll back), or NO_FUNDS in the rc of the new ones.
 */
long cc_wallet_http_credit(cc_wallet_http_t *w, MYSQL *db,
    cc_ledger_credit_t *c, size_t n, char *err, size_t errlen);

#endif /* CC_WALLET_HTTP_H */
