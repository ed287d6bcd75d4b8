/*
 * cc_ledger_phase: the ledger's two phases of a credit into an external
 * wallet (sql/money.sql, TigerBeetle's pending and post transfers), what
 * cc_wallet_http.c keeps the books with:
 *
 *   pending  transfer <award id>, kind 'pending', pool:<c> -> clearing:<c>:
 *            its amount added to both accounts' pending sums
 *            (ledger_pending), the pool's guard counting pending debits;
 *   post     transfer post:<award id>, kind 'post', same accounts and
 *            amount: the amount taken off the pending sums and added to
 *            the posted ones (ledger_accounts).
 *
 * The clearing account (issue 20): a payer that does not hold its users'
 * balances books one account of funds in transit to the platform, not a
 * wallet per user: clearing:<campaign> (guard 0: credits only), pending
 * until the wallet confirms, then posted.  Each user's money stays
 * findable and exact through the transfers keyed by award id, the award
 * id "<campaign>:<uid>" naming the user (and, in batch mode, the batch
 * number on each of its pending transfers).  Books of a campaign written
 * in the per-user shape before (pool -> wallet:<uid>), or with batch
 * details of their own rows, are refused, not mixed:
 * cc_ledger_phase_shape.
 *
 * Both are INSERT IGNORE ... RETURNING on the transfer id (the primary
 * key), and only the rows that insert returns move sums, so a retry moves
 * nothing twice.  Both work in the caller's open transaction and commit
 * nothing.  They call only cc_ledger.c's guards and cc_ledger_bulk.c
 * below them.
 */

#ifndef CC_LEDGER_PHASE_H
#define CC_LEDGER_PHASE_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "cc_ledger.h"

/* the state of one award's two phases after cc_ledger_phase_pending */
typedef enum {
    CC_LEDGER_PHASE_NEW = 0,        /* pending written now: call the wallet */
    CC_LEDGER_PHASE_IN_FLIGHT,      /* pending there before, not posted:
                                       call */
    CC_LEDGER_PHASE_POSTED,         /* posted before: nothing to do */
    CC_LEDGER_PHASE_OTHER           /* the id is another transfer:
                                       MISMATCH */
} cc_ledger_phase_e;

/*
 * Writes the pending transfers of c[0..n) (ids and amounts checked as
 * cc_ledger_credit_batch does).  st[i] says what each is, and c[i].rc:
 * DONE (NEW, IN_FLIGHT), EXISTS (POSTED), MISMATCH (OTHER).  0, or -1
 * with err filled: a bad id, MySQL failed, the campaign's books in the
 * per-user shape (cc_ledger_phase_shape), or the pool cannot hold the
 * new ones (then the new entries' rc is CC_LEDGER_NO_FUNDS and the
 * rest's ERROR).  On every other -1 each entry's rc is ERROR, none left
 * from an earlier batch.
 */
int cc_ledger_phase_pending(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, cc_ledger_phase_e *st, char *err,
    size_t errlen);

/*
 * The same in two steps, so that a caller with more to write in the
 * transaction takes the pool's and the clearing account's rows (which
 * every credit of the shard updates, a claim's too) last, just before
 * its commit: cc_ledger_phase_transfers writes the transfers and fills
 * st[] and the rc's as cc_ledger_phase_pending does, without the sums;
 * cc_ledger_phase_reserve then moves the sums of the NEW ones (0, or -1
 * with err: MySQL failed, or the pool cannot hold them, NO_FUNDS in the
 * new ones' rc and ERROR in the others').  batch (NULL: none): each
 * entry's batch number, written with its pending transfer when it is
 * NEW (batch mode: the transfer is the batch's detail, sql/money.sql);
 * campaign ids and digits, fit for SQL text as they are.
 */
int cc_ledger_phase_transfers(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, char *const *batch,
    cc_ledger_phase_e *st, char *err, size_t errlen);
int cc_ledger_phase_reserve(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, const cc_ledger_phase_e *st, char *err,
    size_t errlen);

/*
 * The campaign's books' shape: 0 the clearing account's (or nothing
 * pending yet); 1 pending transfers in the per-user shape and no
 * clearing account, or batches whose details are rows of
 * wallet_batch_details (before they were the pending transfers), err
 * saying so (cc_ledger_phase_pending refuses the campaign then: -1 with
 * that err); -1 MySQL failed, err set.
 */
int cc_ledger_phase_shape(MYSQL *db, const char *campaign, char *err,
    size_t errlen);

/*
 * Posts the entries with ok[i] set (their pending transfer must be
 * there), post:<award id> each: rc DONE for a post written now, EXISTS
 * for one there before or an award credited (by a batch's round post:
 * the awards are locked first, cc_ledger_phase_credited); the others'
 * rc is left alone.  The number posted now, or -1 with err
 * filled (roll back).
 */
long cc_ledger_phase_post(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, const int *ok, char *err,
    size_t errlen);

/*
 * cc_ledger_phase_post in two steps, for a caller with more to write in
 * the transaction (the awards' status): the post transfers written, the
 * sum of those written now in *deferred (the sums not moved); then,
 * just before the commit, cc_ledger_phase_post_move moves that sum
 * (the pool's and the clearing account's rows, locked until the
 * commit).  Both in the caller's open transaction.
 */
long cc_ledger_phase_post_rows(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, const int *ok, uint64_t *deferred,
    char *err, size_t errlen);
int cc_ledger_phase_post_move(MYSQL *db, const char *campaign, uint64_t sum,
    char *err, size_t errlen);

/*
 * ---- round posts: a batch's SUCCESS details (batch mode) -----------------
 *
 * A batch's details the wallet applied are posted by ONE post transfer a
 * batch and call (a round), not one a detail: the post row a credit was
 * a third of the batch mode's MySQL rows (issue 20's R).  The round:
 *
 *   id       bpost:<the pending id of its first detail in award id
 *            order> (a pending is posted once: no second round takes it)
 *   kind     'post', award_id NULL, pool:<c> -> clearing:<c>, the sum
 *            of the details it posts;
 *
 * committed by the caller with those awards set credited, by an UPDATE
 * that must flip every one of them from pending (or crediting), else
 * the caller rolls back: an award a single call credited meanwhile would
 * be posted twice (cc_wallet.h).  So what a round posted is implied, not
 * listed: an award's live pending transfer is posted when its award is
 * credited (or its post:<award id> is there: a single call's, per_credit
 * and the claims).  cc-reconcile --money
 * checks the sums this shape must keep: Σ post transfers = Σ live
 * pending transfers of the credited awards = clearing's posted credits.
 */

#define CC_LEDGER_ROUND_PREFIX  "bpost:"

/*
 * Posts the entries with round[i] > 0, one post transfer for each round
 * number (the entries with the same round[] post together), each entry
 * posting its attempt[i]'s pending transfer (live, written by
 * cc_ledger_phase_transfers or cc_ledger_phase_retry).  Each is DONE,
 * and the caller must flip each one's award to credited in this
 * transaction (an UPDATE guarded by its status), rolling back when one
 * does not flip.  The sum posted in *deferred when given (the caller moves
 * it with cc_ledger_phase_post_move before its commit), else moved now.
 * The number posted, or -1 with err filled (roll back).
 */
long cc_ledger_phase_post_rounds(MYSQL *db, const char *campaign,
    cc_ledger_credit_t *c, size_t n, const unsigned *round,
    const unsigned *attempt, uint64_t *deferred, char *err, size_t errlen);

/*
 * ---- voids: a detail the wallet failed (batch mode) ----------------------
 *
 * A detail the wallet answered FAIL was not applied (the wallet says so;
 * an unknown, which may have been, is never voided): its attempt's
 * pending transfer is voided and the award goes out again under the
 * pending transfer of its next attempt, with the same detail key (the
 * award id) at the wallet (cc_wallet_batch.h).  The ids:
 *
 *   pending  attempt 1: <award id> (as before voids, and as per_credit);
 *            attempt a > 1: <award id>#<a> ('#' is in no award id);
 *   void     void:<that pending's id>, kind 'void', the pending's
 *            accounts and amount (TigerBeetle's void_pending_transfer):
 *            its amount off both pending sums, onto no posted sum;
 *   post     post:<award id> (a single call) or a round post (a batch),
 *            whatever the attempt: it posts the award's live pending
 *            transfer, the one not voided, once (the award credited in
 *            the post's transaction, its row locked before).
 *
 * cc-reconcile --money finds an award with other than one live pending
 * transfer (ledger_unbalanced); voided ones count in no sum.
 */

#define CC_LEDGER_PHASE_ID_MAX  80          /* ledger_transfers' ids */

/* attempt's pending transfer id into buf (CC_LEDGER_PHASE_ID_MAX + 1) */
void cc_ledger_phase_attempt_id(char *buf, size_t len, const char *award_id,
    unsigned attempt);

/*
 * For each c[i] with sel[i] set, in the caller's open transaction: the
 * void of attempt failed[i]'s pending transfer and the pending transfer
 * of attempt failed[i] + 1.  The ids are the keys (INSERT IGNORE): a
 * void there before is not written again.  The failed attempt's pending
 * must be there, of c[i]'s amount, to clearing:<campaign>, and the award
 * not posted; the next attempt's id must be free (it is written with its
 * batch detail, in one transaction: were it there, another payer wrote
 * that attempt).  The pending sums move by what the new pendings take
 * less what the new voids give back: nothing when both of each pair are
 * written now, so the pool's and the clearing's rows are not touched.
 * batch (NULL: none): each next attempt's batch number, written with
 * its pending transfer (its detail in that batch).
 * The number of voids written now, or -1 with err filled (roll back):
 * a bad id, MySQL failed, a pending not as said, the next id taken, the
 * pool short.
 */
long cc_ledger_phase_retry(MYSQL *db, const char *campaign,
    const cc_ledger_credit_t *c, const unsigned *failed, const int *sel,
    char *const *batch, size_t n, char *err, size_t errlen);

#endif /* CC_LEDGER_PHASE_H */
