-- The MySQL users of cardcampaign: one per worker role, each with only the
-- table privileges its SQL uses (issue 22, least privilege).
--
-- Run once on every MySQL server that holds shards, as an administrator:
--
--     mariadb -u root < sql/grants.sql
--
-- then give each user a password (ALTER USER cc_payout IDENTIFIED BY '...')
-- and put it where that worker reads it (README, "Users and secrets").
-- Shard databases must be named cc_* (the owner's grant below); for other
-- names, change the pattern.  Safe to run again.
--
-- This file makes the users and the schema owner's grant.  The roles'
-- table grants (sql/shard_grants.sql) need the tables, so the owner makes
-- them with the tables: `cc-ingest --init-shards` applies shard.sql,
-- money.sql, then shard_grants.sql in every shard.
--
-- role           worker                             default --user
-- cc_owner       cc-ingest --init-shards            (creates, alters, grants)
-- cc_ingest      cc-ingest                          cc_ingest
-- cc_reconcile   cc-reconcile (the draw-log pass)   cc_reconcile
-- cc_draw        cc-draw, the test tool cc-ledger-cli  cc_draw
-- cc_payout      cc-payout                          cc_payout
-- cc_books       cc-reconcile --money               cc_books
-- cc_repair      cc-reconcile --money --repair      cc_repair
--
-- Nobody has DELETE, nor UPDATE on ledger_transfers: the ledger is
-- append-only by its grants as well as by its triggers, and only the owner
-- (TRIGGER) could drop the triggers.  '%' as the host: narrow it to the
-- workers' hosts in production ('cc_payout'@'10.1.2.%').

CREATE USER IF NOT EXISTS cc_owner, cc_ingest, cc_reconcile, cc_draw,
    cc_payout, cc_books, cc_repair;

-- CREATE for the databases and tables, ALTER and INDEX for money.sql's
-- changes, TRIGGER for the ledger's guards, UPDATE for its one fix of old
-- rows; WITH GRANT OPTION to hand the roles their tables.
GRANT SELECT, INSERT, UPDATE, CREATE, ALTER, INDEX, TRIGGER
    ON `cc\_%`.* TO cc_owner WITH GRANT OPTION;
