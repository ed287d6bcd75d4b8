-- Each role's table privileges in one shard, exactly what its SQL uses
-- (see sql/grants.sql for the roles).  Applied by `cc-ingest
-- --init-shards`, as the schema owner, in the shard's database, after
-- shard.sql and money.sql; idempotent.
--
-- INSERT ... ON DUPLICATE KEY UPDATE needs INSERT and UPDATE; INSERT ...
-- RETURNING, UPDATE ... WHERE and reading a column in an update need
-- SELECT.

-- the draws and combines: cc_store_write(), by cc-ingest and by the
-- draw-log pass (cc_drain) of cc-reconcile and cc-draw
GRANT SELECT, INSERT ON draws TO cc_ingest, cc_reconcile, cc_draw;
GRANT SELECT, INSERT ON eligibility TO cc_ingest, cc_reconcile, cc_draw;
GRANT SELECT, INSERT, UPDATE ON user_cards
    TO cc_ingest, cc_reconcile, cc_draw;
GRANT INSERT ON dead_letters TO cc_ingest;

-- the gifts' halves and the counts they keep: cc_store_write_gifts(), by
-- the same three; cc-reconcile --cards reads them
GRANT SELECT, INSERT ON gift_moves TO cc_ingest, cc_reconcile, cc_draw;
GRANT SELECT, INSERT, UPDATE ON gift_counts
    TO cc_ingest, cc_reconcile, cc_draw;

-- the draw: its plan, the awards, the ledger's funding (and credit sync)
GRANT SELECT, INSERT, UPDATE ON draw_plans TO cc_draw;
GRANT SELECT, INSERT ON awards TO cc_draw;
GRANT SELECT, INSERT ON ledger_transfers TO cc_draw;
GRANT SELECT, INSERT, UPDATE ON ledger_accounts TO cc_draw;

-- the payout and the repair: awards credited, transfers added, balances
GRANT SELECT, UPDATE ON awards TO cc_payout, cc_repair;
GRANT SELECT, INSERT ON ledger_transfers TO cc_payout, cc_repair;
GRANT SELECT, INSERT, UPDATE ON ledger_accounts TO cc_payout, cc_repair;
GRANT SELECT, INSERT, UPDATE ON ledger_pending TO cc_payout, cc_repair;
GRANT SELECT, INSERT, UPDATE ON award_notices TO cc_payout;
GRANT SELECT, INSERT ON wallet_batches TO cc_payout, cc_repair;
GRANT SELECT, INSERT ON wallet_batch_details TO cc_payout, cc_repair;

-- the books: read everything the money check compares
GRANT SELECT ON eligibility TO cc_books, cc_repair;
GRANT SELECT ON draw_plans TO cc_books, cc_repair;
GRANT SELECT ON awards TO cc_books;
GRANT SELECT ON ledger_transfers TO cc_books;
GRANT SELECT ON ledger_accounts TO cc_books;
GRANT SELECT ON ledger_pending TO cc_books;
GRANT SELECT ON award_notices TO cc_books, cc_repair;
GRANT SELECT ON wallet_batches TO cc_books;
GRANT SELECT ON wallet_batch_details TO cc_books;
