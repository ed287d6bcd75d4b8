/*
 * cc_wallet: the one way the campaign's money is credited.  cc-payout
 * (its bulk batches and its claims), cc-draw in sync mode and cc-reconcile
 * --statement --repair all call cc_wallet_credit() on the wallet the
 * campaign file selects (`wallet`, cc_campaign.h):
 *
 *   ledger  the embedded wallet (cc_wallet_ledger.c): the users' wallet
 *           accounts of the ledger in their MySQL shard, one transfer
 *           pool -> wallet per award (cc_ledger.h);
 *   http    an external wallet over HTTP, the ledger keeping the books
 *           two-phase into one clearing account (cc_ledger_phase.h):
 *           wallet_mode batch (the default; cc_wallet_batch.h: signed
 *           batches read back by querying) or per_credit (a call a
 *           credit; cc_wallet_http.h), both behind cc_wallet_http.c.
 *
 * A batch of credits goes down, never back: the caller -> cc_wallet.c ->
 * the implementation -> the ledger (cc_ledger.c or cc_ledger_phase.c) ->
 * cc_ledger_bulk.c.  Nothing below calls anything above it.
 *
 * Ownership: cc_wallet_open's wallet is the caller's until
 * cc_wallet_close; one thread at a time (the http one holds libcurl
 * handles, which are not shared between threads: open one a thread).  The
 * credits c[] stay the caller's; the wallet only reads their ids, uids
 * and amounts during the call and writes their rc.
 */

#ifndef CC_WALLET_H
#define CC_WALLET_H

#include <stddef.h>

#include <mysql.h>

#include "cc_campaign.h"
#include "cc_ledger.h"

typedef struct cc_wallet_s  cc_wallet_t;

/*
 * The wallet camp->wallet selects, set up for camp (copied: camp may go).
 * NULL with err filled: out of memory, or for http the secret cannot be
 * read or libcurl fails.
 */
cc_wallet_t *cc_wallet_open(const cc_campaign_t *camp, char *err,
    size_t errlen);

/* NULL is fine */
void cc_wallet_close(cc_wallet_t *w);

/*
 * Credits a batch of awards of the campaign on one MySQL shard, db being
 * that shard's connection with a transaction open.  Each c[i].rc:
 *
 *   CC_LEDGER_DONE      credited now (the wallet's transfer written);
 *   CC_LEDGER_EXISTS    credited before: a retry, or another payer;
 *   CC_LEDGER_MISMATCH  the ledger holds the award id as another transfer
 *                       (amount, wallet or kind): not credited, the
 *                       caller logs it and leaves the award unpaid;
 *   CC_LEDGER_NO_FUNDS  only with -1: the pool cannot pay the new ones;
 *   CC_LEDGER_ERROR     not credited now: with -1 MySQL failed; with
 *                       >= 0 (http) the wallet gave no answer, refused or
 *                       applied another amount, logged (and alerted) by
 *                       the wallet, the award stays in flight (its
 *                       pending transfer kept; 'crediting' per_credit,
 *                       'pending' in batch mode).
 *
 * Returns the number DONE, or -1 with err filled: roll the transaction
 * back (NO_FUNDS in the rc of the new ones when the pool was short, a
 * break, not an outage; else MySQL failed).
 *
 * The transaction: with ledger everything is in the caller's open
 * transaction and nothing is committed (so an award's status change
 * commits with its credit); with http the first phase (pending transfers,
 * and per_credit's awards to 'crediting', batch mode's batches) is
 * committed here before any call, and the
 * posts are left in a new open transaction for the caller to commit with
 * the awards' status.  cc_wallet_one_txn says which.
 *
 * The caller's UPDATE of the awards' status is a guard, not a
 * formality: it must flip each DONE award from pending (or crediting)
 * to credited (WHERE status IN ('pending', 'crediting')) and roll back
 * when fewer flip than are DONE.  With http in batch mode a round post
 * (cc_ledger_phase.h) takes its awards unlocked, so an award a claim's
 * single call credited between the two phases is DONE again; that
 * UPDATE finds it credited, and the rollback keeps it from being posted
 * twice (the next pass finds it credited: nothing to do).
 */
long cc_wallet_credit(cc_wallet_t *w, MYSQL *db, cc_ledger_credit_t *c,
    size_t n, char *err, size_t errlen);

/*
 * http: a caller that writes more in the transaction after a credit (the
 * payout: the awards' status) may have the posts' sums moved by
 * cc_wallet_finish instead, called after those writes, just before the
 * commit, so the pool's and the clearing account's rows stay locked only
 * for the commit.  Once set, every credit of this wallet needs its
 * cc_wallet_finish before its commit.  Nothing for ledger.
 */
void cc_wallet_defer_sums(cc_wallet_t *w);

/*
 * http in batch mode: this wallet's credits go as single calls (the
 * per_credit API, answered at once) instead of batches, for a caller
 * whose credits are few and waited for: cc-payout's claims, which would
 * otherwise wait for the wallet to process a batch and for the polls
 * that read it (issue 20).  The award id is the key of both APIs, one
 * namespace at the wallet, so an award sent both ways (a batch left
 * unknown, then claimed) is applied once.  Nothing for ledger or
 * per_credit.
 */
void cc_wallet_single_calls(cc_wallet_t *w);

/* the sums the last credit deferred, moved: 0, or -1 with err (roll
   back); 0 for ledger or when nothing was deferred */
int cc_wallet_finish(cc_wallet_t *w, MYSQL *db, char *err, size_t errlen);

/* 1: a credit is wholly inside the caller's transaction (ledger); 0: the
   wallet commits a first phase of its own (http) */
int cc_wallet_one_txn(const cc_wallet_t *w);

/*
 * http: the answers not signed by the wallet (none, wrong or stale), each
 * taken as no answer; 0 for ledger.  Any thread may read it.
 */
unsigned long long cc_wallet_forged(const cc_wallet_t *w);

/* what the metrics show of a wallet (0 for ledger), any thread */
typedef struct {
    unsigned long long   forged;         /* answers not signed */
    unsigned long long   batches;        /* batches the wallet accepted */
    unsigned long long   inflight;       /* batches in flight now */
    unsigned long long   failed;         /* details failed (sent again) */
    unsigned long long   unknown;        /* credits left crediting without
                                            an answer */
    unsigned long long   voided;         /* failed details' pending
                                            transfers voided */
    unsigned long long   overdue;        /* batches alerted past
                                            wallet_batch_age_ms */
    unsigned long long   single;         /* batch mode: credits sent as
                                            single calls (the claims') */
} cc_wallet_counts_t;

/* w's counts added to *out; NULL is fine */
void cc_wallet_counts(const cc_wallet_t *w, cc_wallet_counts_t *out);

/* the alert command's deadline (cc_alert.h) for http's breaks */
void cc_wallet_set_alert_timeout(cc_wallet_t *w, long long seconds);

#endif /* CC_WALLET_H */
