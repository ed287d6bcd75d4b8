-- The money half of one MySQL shard: the awards of the scheduled draw and
-- the embedded wallet, a double-entry ledger.  Applied with shard.sql by
-- `cc-ingest --init-shards` (both are compiled into the workers); every
-- statement is idempotent.

-- The draw's plan, once per campaign and shard: what this shard's users
-- get in total.  A re-run of the draw compares its plan with this row and
-- refuses when they differ (the eligible set changed after the draw).
CREATE TABLE IF NOT EXISTS draw_plans (
    campaign     VARCHAR(32)       NOT NULL,
    shard        INT UNSIGNED      NOT NULL,
    eligible     BIGINT UNSIGNED   NOT NULL,
    total_cents  BIGINT UNSIGNED   NOT NULL,
    extra        BIGINT UNSIGNED   NOT NULL,
    pool_cents   BIGINT UNSIGNED   NOT NULL,
    split        VARCHAR(16)       NOT NULL,
    seed_key     BIGINT UNSIGNED   NOT NULL,
    done_upto    BIGINT UNSIGNED   NOT NULL DEFAULT 0
                 COMMENT 'users in uid order whose award is written',
    digest       CHAR(64)          NULL COMMENT 'set once the shard is done',
    created_at   BIGINT            NOT NULL COMMENT 'unix time, ms',
    PRIMARY KEY (campaign, shard)
) ENGINE=InnoDB;

-- One award per user and campaign (the unique key): the order number is
-- award_id = "<campaign>:<uid>", also the id of its ledger transfer.
-- status: pending -> credited, never back.  notified: 1 when the credited
-- status reached the user's Redis shard, or is owed by an open row of
-- award_notices that covers the award (set by the UPDATE that credits a
-- bulk batch; see award_notices below); 0 on a credited award: its notice
-- is owed, award by award (a claim's credit, cc-draw's sync credit, a
-- repair).  A claim's award is set 1 by the next transaction of the
-- claims on its shard (their credit; or one of its own when none came in
-- that turn), not by a commit of its own.  An outbox flag; moves no money.
CREATE TABLE IF NOT EXISTS awards (
    award_id     VARCHAR(64)       NOT NULL,
    campaign     VARCHAR(32)       NOT NULL,
    uid          BIGINT UNSIGNED   NOT NULL,
    amount_cents BIGINT UNSIGNED   NOT NULL,
    status       ENUM('pending','credited') NOT NULL,
    notified     TINYINT UNSIGNED  NOT NULL DEFAULT 0,
    created_at   BIGINT            NOT NULL COMMENT 'unix time, ms',
    credited_at  BIGINT            NOT NULL DEFAULT 0
                 COMMENT 'unix time, ms; 0 until credited',
    PRIMARY KEY (award_id),
    UNIQUE KEY one_per_user (campaign, uid),
    KEY by_status (campaign, status, notified)
) ENGINE=InnoDB;

-- Accounts, TigerBeetle style: posted debits and credits, never a stored
-- balance.  guard = 1: debits may not exceed credits (the pool, a wallet);
-- the guard is the WHERE of the UPDATE that debits, not a read before it.
--   sponsor:<campaign>   who funds the pool (may go negative: outside money)
--   pool:<campaign>      this shard's share of the pool
--   wallet:<uid>         a user's wallet
CREATE TABLE IF NOT EXISTS ledger_accounts (
    account      VARCHAR(80)       NOT NULL,
    debits       BIGINT UNSIGNED   NOT NULL DEFAULT 0,
    credits      BIGINT UNSIGNED   NOT NULL DEFAULT 0,
    guard        TINYINT UNSIGNED  NOT NULL,
    PRIMARY KEY (account)
) ENGINE=InnoDB;

-- Transfers: append-only (the triggers below refuse UPDATE and DELETE); a
-- mistake is fixed by a correcting transfer.  The id is the idempotency
-- key: the award id for a credit, "fund:<campaign>:<shard>" for the pool's
-- funding.  award_id links a credit to its award (NULL for others), so a
-- second transfer for one award is visible to the reconciler.
CREATE TABLE IF NOT EXISTS ledger_transfers (
    transfer_id  VARCHAR(80)       NOT NULL,
    debit        VARCHAR(80)       NOT NULL,
    credit       VARCHAR(80)       NOT NULL,
    amount_cents BIGINT UNSIGNED   NOT NULL,
    campaign     VARCHAR(32)       NOT NULL,
    kind         ENUM('fund','credit','correct') NOT NULL,
    award_id     VARCHAR(64)       NULL,
    created_at   BIGINT            NOT NULL COMMENT 'unix time, ms',
    PRIMARY KEY (transfer_id),
    KEY by_award (award_id),
    KEY by_campaign (campaign, kind),
    CONSTRAINT positive CHECK (amount_cents > 0),
    CONSTRAINT two_sides CHECK (debit <> credit)
) ENGINE=InnoDB;

CREATE TRIGGER IF NOT EXISTS ledger_transfers_no_update
    BEFORE UPDATE ON ledger_transfers FOR EACH ROW
    SIGNAL SQLSTATE '45000'
        SET MESSAGE_TEXT = 'ledger_transfers is append-only';

CREATE TRIGGER IF NOT EXISTS ledger_transfers_no_delete
    BEFORE DELETE ON ledger_transfers FOR EACH ROW
    SIGNAL SQLSTATE '45000'
        SET MESSAGE_TEXT = 'ledger_transfers is append-only';

-- ---- The external wallet (campaign file: wallet http; issue 13) ----------
--
-- A credit into a wallet the ledger does not own is two-phase, as in
-- TigerBeetle: first a pending transfer (id = the award id, kind
-- 'pending') reserves the amount, committed before the HTTP call, with
-- the award's status 'crediting'; once the wallet confirms, a post
-- transfer (id "post:<award id>", kind 'post', same accounts and amount)
-- moves it to the posted sums, with the award's status 'credited', in one
-- transaction.  So the books show what is in flight, and a crash between
-- the call and the post leaves a 'crediting' award with its pending
-- transfer: the payout retries the SAME key until the wallet answers.
-- Statements are additive (ALTER ... MODIFY appends enum values only).
ALTER TABLE awards
    MODIFY status ENUM('pending','credited','crediting') NOT NULL;

ALTER TABLE ledger_transfers
    MODIFY kind ENUM('fund','credit','correct','pending','post') NOT NULL;

-- The pending sums of an account (TigerBeetle's debits_pending and
-- credits_pending), next to ledger_accounts' posted sums so that table
-- keeps its shape.  A pending transfer adds its amount here; its post
-- takes it off here and adds it to ledger_accounts.  Invariants (checked
-- by cc-reconcile --money): Σ debits = Σ credits over ledger_accounts, the
-- same over this table, and an account's pending sums = the amounts of its
-- pending transfers not posted.  The pool's guard counts its pending debits:
-- credits >= debits + pending debits.
CREATE TABLE IF NOT EXISTS ledger_pending (
    account      VARCHAR(80)       NOT NULL,
    debits       BIGINT UNSIGNED   NOT NULL DEFAULT 0,
    credits      BIGINT UNSIGNED   NOT NULL DEFAULT 0,
    PRIMARY KEY (account)
) ENGINE=InnoDB;

-- credited_at: 0 until credited, not NULL.  A credit's UPDATE then keeps
-- the row's size and InnoDB rewrites it in place; NULL -> a value grew
-- every award row at its credit (measured: that UPDATE took 26% longer,
-- the payout's mariadbd 14% more CPU).  For shards made before.
UPDATE awards SET credited_at = 0 WHERE credited_at IS NULL;
ALTER TABLE awards
    MODIFY credited_at BIGINT NOT NULL DEFAULT 0
        COMMENT 'unix time, ms; 0 until credited';

-- ---- The notices' outbox (issue 20) -------------------------------------
--
-- A credited award's notice is "c:..." in field w of the user's Redis hash,
-- set after the commit that credits it; what says it is owed must commit
-- with the credit, or a crash between the two would lose it.  That was
-- notified = 0 in the credit and an UPDATE of every award to 1 after
-- Redis: a second write of each award row and of its by_status entry, 2.6
-- of 11.3 s of the payout's MySQL time (per 200k credits).  Now a bulk
-- batch of cc-payout writes, in its credit's transaction, its awards with
-- notified = 1 (in the UPDATE that credits them: no extra row work) and
-- ONE row here: the range of the award ids it credited.  Once Redis holds
-- every notice of the batch, told_at is set (in the next batch's
-- transaction: the notices are pipelined, their replies read by the next
-- batch; the pass's last batch tells its row at once).  A crash or a Redis shard
-- down in between leaves the row with told_at = 0: cc-payout's outbox
-- tells every credited award of its range again (award_set.lua never
-- moves "c" back to "p"), then sets told_at.  So:
--
--   an award's notice is in Redis  <=>  status = 'credited', notified = 1
--   and no row here with told_at = 0 covers it (first_id <= award_id <=
--   last_id, same campaign)
--
-- which cc-reconcile --money checks (status_mismatch).  Told rows are kept
-- (one per batch: when each batch's notices went out); nobody deletes.
CREATE TABLE IF NOT EXISTS award_notices (
    notice_id    BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    campaign     VARCHAR(32)       NOT NULL,
    first_id     VARCHAR(64)       NOT NULL,
    last_id      VARCHAR(64)       NOT NULL,
    created_at   BIGINT            NOT NULL COMMENT 'unix time, ms',
    told_at      BIGINT            NOT NULL DEFAULT 0
                 COMMENT 'unix time, ms; 0 while its notices are owed',
    PRIMARY KEY (notice_id),
    KEY owed (campaign, told_at, first_id)
) ENGINE=InnoDB;

-- ---- Batch transfers (wallet http, wallet_mode batch; issue 20) ----------
--
-- The external wallet is paid in batches (cc_wallet_batch.h): a batch
-- number (out_batch_no) and, in it, a detail per award whose number
-- (out_detail_no) is the award id.  A batch's rows are written with the
-- awards' pending transfers, in one transaction, before the batch is
-- sent, so a retry after any crash sends the same batch with the same
-- contents (read back from here, in award id order).  A detail that the
-- wallet failed is voided and sent again in a later batch under the same
-- detail number, as the award's next attempt with a pending transfer of
-- its own (Voids, below); never a new key for an old award.
-- Both tables are append-only: what a batch held never changes.  In this
-- mode an award in flight stays 'pending' (not 'crediting'): its pending
-- transfer and its details here say it is in flight, and in which batch.
CREATE TABLE IF NOT EXISTS wallet_batches (
    batch_no     VARCHAR(80)       NOT NULL,
    campaign     VARCHAR(32)       NOT NULL,
    details      INT UNSIGNED      NOT NULL,
    total_cents  BIGINT UNSIGNED   NOT NULL,
    created_at   BIGINT            NOT NULL COMMENT 'unix time, ms',
    PRIMARY KEY (batch_no),
    KEY by_campaign (campaign, created_at)
) ENGINE=InnoDB;

-- attempt: 1 for an award's first batch, one more for each batch after a
-- failed detail; the primary key lets only one payer write an attempt.
CREATE TABLE IF NOT EXISTS wallet_batch_details (
    award_id     VARCHAR(64)       NOT NULL,
    attempt      INT UNSIGNED      NOT NULL,
    batch_no     VARCHAR(80)       NOT NULL,
    uid          BIGINT UNSIGNED   NOT NULL,
    amount_cents BIGINT UNSIGNED   NOT NULL,
    PRIMARY KEY (award_id, attempt),
    UNIQUE KEY by_batch (batch_no, award_id)
) ENGINE=InnoDB;

CREATE TRIGGER IF NOT EXISTS wallet_batch_details_no_update
    BEFORE UPDATE ON wallet_batch_details FOR EACH ROW
    SIGNAL SQLSTATE '45000'
        SET MESSAGE_TEXT = 'wallet_batch_details is append-only';

CREATE TRIGGER IF NOT EXISTS wallet_batch_details_no_delete
    BEFORE DELETE ON wallet_batch_details FOR EACH ROW
    SIGNAL SQLSTATE '45000'
        SET MESSAGE_TEXT = 'wallet_batch_details is append-only';

-- ---- Voids (issue 20): a detail the wallet failed --------------------------
--
-- A detail the wallet answered FAIL was not applied: its attempt's pending
-- transfer is voided (void:<its id>, kind 'void', the pending's accounts
-- and amount: the amount off both pending sums, onto no posted sum) and
-- the award goes out again with the pending transfer of its next attempt
-- (<award id>#<attempt>; attempt 1's is the award id) and the next
-- attempt's row above, under the same detail key, all in one transaction
-- (cc_ledger_phase.h).  The primary key makes a void, like a post, at most
-- one per pending transfer; post:<award id> stays one per award.
ALTER TABLE ledger_transfers
    MODIFY kind ENUM('fund','credit','correct','pending','post','void')
        NOT NULL;

-- ---- Round posts (issue 20): a batch's applied details, one post --------
--
-- In batch mode the details a batch's answer says the wallet applied are
-- posted by ONE post transfer (kind 'post', award_id NULL, pool ->
-- clearing, their sum), id bpost:<the pending id of the first of them in
-- award id order>, committed with those awards set 'credited' by an
-- UPDATE that must flip each of them from pending or crediting, or the
-- payer rolls back (cc_wallet.h): an award a single call's post,
-- post:<award id>, credited meanwhile is not posted twice; a single call
-- locks the award and takes it only while it is not credited.  A post
-- row a credit was a third of the batch's rows.  So an award's live
-- pending transfer is posted  <=>  its award is 'credited' (or its
-- post:<award id> is there), and cc-reconcile --money checks the sums:
-- Σ post transfers to clearing = Σ credited awards = clearing's posted
-- credits.  No schema change: the statement above already allows it.

-- ---- A batch's details are its pending transfers (issue 20) -------------
--
-- Each attempt of an award in a batch was two rows written together: its
-- pending transfer and its wallet_batch_details row (award id, attempt,
-- batch, uid, amount), the detail repeating the transfer but for the
-- batch number.  A third of the batch mode's rows (measured: with the
-- post a credit, two thirds).  Now the pending transfer carries its
-- batch number, written in the same INSERT, and is the detail: the
-- award id its out_detail_no ("<campaign>:<uid>": the user), the
-- attempt its id's "#n" (none: 1), the amount its own, the batch here.
-- A batch is read back by (campaign, kind, batch_no): the key
-- by_campaign (campaign, kind) grown by the batch number, not a key of
-- its own (an index entry more a transfer cost 0.1 s of mariadbd per
-- 100k credits, measured).  NULL: a single call's pending (a
-- claim's, per_credit's), which is retried by single calls, never put
-- in a batch (an append-only row does not get a batch later).
-- wallet_batch_details stays for books written before; cc-payout
-- refuses a campaign that has rows there (one shape a campaign).
ALTER TABLE ledger_transfers
    ADD COLUMN IF NOT EXISTS batch_no VARCHAR(80) NULL
        COMMENT 'batch mode: the out_batch_no of this pending attempt',
    ADD KEY IF NOT EXISTS by_campaign_batch (campaign, kind, batch_no),
    DROP KEY IF EXISTS by_campaign;
