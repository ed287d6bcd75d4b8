/*
 * cc_wallet_batch: `wallet http` with `wallet_mode batch` (the default),
 * the way payment platforms are paid at scale (WeChat Pay's merchant
 * transfer batches, Alipay's batch transfers, PayPal Payouts): the
 * credits go in batches, processed by the wallet asynchronously and read
 * back by querying.  Behind cc_wallet_http_credit (cc_wallet_http.h),
 * with the same contract and the same two-phase books (cc_ledger_phase.h).
 *
 * The protocol, signed both ways as a credit is (cc_wallet_sign.h):
 *
 *   POST {wallet_url}/batches
 *   Idempotency-Key: <out_batch_no>
 *   {"out_batch_no":"c:b1765100000000.4242.1","currency":"CNY",
 *    "total_num":2,"total_amount":300,
 *    "details":[{"out_detail_no":"c:7","uid":"7","amount_cents":100},
 *               {"out_detail_no":"c:9","uid":"9","amount_cents":200}]}
 *
 * answered 201 (accepted now) or 200 (that batch, accepted before) with
 * the batch's status, 409 (the number holds another batch), another 4xx
 * (refused for good); and
 *
 *   GET {wallet_url}/batches/<out_batch_no>            (polled)
 *   GET {wallet_url}/batches/<out_batch_no>/details    (once FINISHED)
 *   Idempotency-Key: <out_batch_no>     (signed with method GET, no body)
 *
 * answered 200 with {"out_batch_no", "status": "PROCESSING"|"FINISHED",
 * its counts, and for /details
 * "details": [{"out_detail_no", "uid", "amount_cents", "status":
 * "SUCCESS"|"FAIL"|"PROCESSING", "fail_reason"}]}, or 404 (no such batch:
 * the wallet never accepted it).  The detail number is the award id, an
 * idempotency key at the wallet across batches.
 *
 * A call of cc_wallet_batch_credit:
 *
 *   1. in one transaction: the pending transfers of the awards new to
 *      the books, each written with the number of its batch (the
 *      transfer is the batch's detail: sql/money.sql), batches of at
 *      most wallet_batch_max details, and their wallet_batches rows;
 *      COMMIT.  Nothing is sent before, so a crash anywhere leaves
 *      either nothing or a batch written whole.  An award in flight
 *      whose pending names no batch (a claim's single call left
 *      unknown) is called again as a single call, the same key: an
 *      append-only transfer is not given a batch later;
 *   2. the new batches submitted, and the last batch of each award that
 *      was in one already queried (a signed 404: submitted again, its
 *      contents read back from MySQL: the same batch), all of them in
 *      flight at once, polled (2 ms doubling to 50 ms) until FINISHED
 *      and then its details read, or the deadline
 *      (wallet_timeout_ms x CC_WALLET_HTTP_TRIES), or its age: a batch
 *      without its result wallet_batch_age_ms after its writing is
 *      asked no more in this pass and alerted (wallet_batch_overdue),
 *      in flight.  That is the batches' age bound: cc-payout sends each
 *      pass's batches at once (no detail waits for a batch to fill), so
 *      the wait there is to bound is the wallet's;
 *   3. the SUCCESS details posted, one round post a batch (bpost:...,
 *      cc_ledger_phase.h: a post row a credit was a third of this mode's
 *      rows; the awards set credited by the caller in the same
 *      transaction say which it posted); each FAIL voided and re-sent in a new
 *      batch as the award's next attempt, under the same detail number,
 *      up to CC_WALLET_HTTP_TRIES rounds (below); each unknown (no
 *      answer, PROCESSING at the deadline, an unsigned answer) left in
 *      flight with its pending transfer, queried again by the next pass;
 *      a refused batch, a detail answered with another uid or amount, a
 *      key_conflict, and a detail the batch did not hold are logged and
 *      alerted, left in flight for a person.
 *
 * In flight: unlike per_credit, the awards are not set 'crediting' (an
 * UPDATE of every award, a third of the batch's MySQL time, measured):
 * an award stays 'pending' until it is credited, its pending transfer
 * saying it is in flight and in which batch (batch_no).
 *
 * A detail that failed: the wallet says it did not apply it, so its
 * attempt's pending transfer is voided (the money back to the pool's
 * available sum) and the next attempt gets a pending transfer of its own
 * (<award id>#<attempt>, cc_ledger_phase.h), in ONE transaction with the
 * next attempt's batch rows, committed before that batch is sent.  So a
 * crash before that commit leaves the failed attempt live, its batch
 * queried again by the next pass (FAIL again: voided then), and a crash
 * after it the next attempt written whole, its batch sent (a signed 404:
 * the wallet lacks it) or queried by whoever resumes it.  Nothing is
 * paid twice: the detail number is the award id at the wallet, and an
 * award is credited once in the ledger.  After the last round a
 * failed detail is left unvoided, for the next pass.  (An award is posted
 * once: the caller's UPDATE must flip each award of a round, or it rolls
 * back, and a claim's single call posts post:<award id> only under its
 * award's lock, not credited.)  Only a FAIL is
 * voided: an unknown, a refusal or a mismatch may have been applied (or
 * needs a person), so it keeps its pending transfer, as per_credit keeps
 * a 'crediting' award's (per_credit has no FAIL: its answers are
 * applied, unknown, refused or mismatched).
 */

#ifndef CC_WALLET_BATCH_H
#define CC_WALLET_BATCH_H

#define CC_WALLET_BATCH_NO_MAX     80       /* an out_batch_no's bytes */
#define CC_WALLET_BATCH_POLL_MS    2        /* the first query's wait */
#define CC_WALLET_BATCH_POLL_MAX   50       /* queries' wait, at most */
#define CC_WALLET_BATCH_ANSWER_MAX (4 * 1024 * 1024)

#endif /* CC_WALLET_BATCH_H */
