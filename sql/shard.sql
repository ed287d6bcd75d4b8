-- The schema of one MySQL shard (one database; shards may share a server).
-- Users are spread over shards by common/cc_ring.c on the uid, the same
-- ring the module uses for Redis, over the shards' names ("host:port/db").
-- Applied by `cc-ingest --init-shards`, which runs this file on every shard
-- (it is compiled into the binary); every statement is idempotent.

-- One row per draw.  (uid, seq) is the draw id "uid:seq": the idempotency
-- key, so a redelivered or replayed draw inserts nothing.
CREATE TABLE IF NOT EXISTS draws (
    uid         BIGINT UNSIGNED   NOT NULL,
    seq         INT UNSIGNED      NOT NULL,
    card        TINYINT UNSIGNED  NOT NULL,
    request_id  VARCHAR(64)       NOT NULL,
    drawn_at    BIGINT            NOT NULL COMMENT 'unix time, ms',
    PRIMARY KEY (uid, seq)
) ENGINE=InnoDB;

-- Cards drawn per user and kind, kept in the transaction that inserts the
-- draws and counted from the rows that insert really added.  These are
-- facts: neither a combine nor a gift lowers them.  Cards held by a user,
-- per kind: n + gift_counts.received - gift_counts.given, less what the
-- user's eligibility row (if any) says its combine took of the kind: 1 of
-- every kind when wildcard_kind is NULL; else wildcards_used of the
-- wildcard kind, none of a kind in replaced_kinds, 1 of any other.
-- cc-reconcile --cards checks this against the Redis user hash.
CREATE TABLE IF NOT EXISTS user_cards (
    uid         BIGINT UNSIGNED   NOT NULL,
    card        TINYINT UNSIGNED  NOT NULL,
    n           INT UNSIGNED      NOT NULL,
    PRIMARY KEY (uid, card)
) ENGINE=InnoDB;

-- Messages cc-ingest could not read, kept instead of crashing or looping.
-- (topic, part, off) makes a redelivered bad message one row.
CREATE TABLE IF NOT EXISTS dead_letters (
    id          BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    topic       VARCHAR(249)      NOT NULL,
    part        INT               NOT NULL,
    off         BIGINT            NOT NULL,
    reason      VARCHAR(128)      NOT NULL,
    payload     VARBINARY(4096)   NOT NULL,
    seen_at     TIMESTAMP         NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY by_offset (topic, part, off)
) ENGINE=InnoDB;

-- Users who combined a full set (合成): eligible for the split.  Once per
-- user, so the uid is the key; the scheduled draw reads this table.
-- With a wildcard kind (万能福, nginx's cc_wildcard_kind) the row says
-- which cards the combine took: wildcards_used cards of wildcard_kind
-- stood in for the kinds of replaced_kinds (bit k: kind k), and one card
-- of each other kind was taken.  wildcard_kind NULL: none configured,
-- one card of every kind (every row from before these columns).  The
-- three are INVISIBLE: SELECT * and an INSERT without a column list see
-- the table as it was, so what was written against it keeps working;
-- name them to read them.
CREATE TABLE IF NOT EXISTS eligibility (
    uid             BIGINT UNSIGNED    NOT NULL,
    request_id      VARCHAR(64)        NOT NULL,
    combined_at     BIGINT             NOT NULL COMMENT 'unix time, ms',
    wildcard_kind   TINYINT UNSIGNED   NULL INVISIBLE,
    wildcards_used  TINYINT UNSIGNED   NOT NULL DEFAULT 0 INVISIBLE,
    replaced_kinds  SMALLINT UNSIGNED  NOT NULL DEFAULT 0 INVISIBLE
                                       COMMENT 'bit k: kind k',
    PRIMARY KEY (uid)
) ENGINE=InnoDB;

-- A shard made before the wildcard: its rows read as none (additive).
ALTER TABLE eligibility
    ADD COLUMN IF NOT EXISTS wildcard_kind TINYINT UNSIGNED NULL INVISIBLE,
    ADD COLUMN IF NOT EXISTS wildcards_used TINYINT UNSIGNED NOT NULL
        DEFAULT 0 INVISIBLE,
    ADD COLUMN IF NOT EXISTS replaced_kinds SMALLINT UNSIGNED NOT NULL
        DEFAULT 0 INVISIBLE COMMENT 'bit k: kind k';

-- One row per half of a gift (送福, common/cc_event.h): side 'o' the
-- giver's half (uid gave a card of kind card to peer), 'i' the receiver's
-- (uid received it from peer).  Each half lives on its own user's shard
-- (the ring on uid, as draws), so a gift's two rows are on two shards when
-- its users are.  (gift_id, side) is the idempotency key: a half
-- redelivered by Kafka, replayed by cc-reconcile or redriven inserts
-- nothing.  A giver's half without its receiver's half anywhere is a gift
-- in transit (in its Redis shard's outbox) or a card lost.  Request ids
-- are case-sensitive ("7:abc" and "7:ABC" are two gifts): the id compares
-- as bytes (ascii_bin), never by a case-insensitive collation.
CREATE TABLE IF NOT EXISTS gift_moves (
    gift_id     VARCHAR(85)       CHARACTER SET ascii COLLATE ascii_bin
                                  NOT NULL COMMENT 'giver:request_id',
    side        CHAR(1)           CHARACTER SET ascii COLLATE ascii_bin
                                  NOT NULL COMMENT 'o given, i received',
    uid         BIGINT UNSIGNED   NOT NULL,
    peer        BIGINT UNSIGNED   NOT NULL,
    card        TINYINT UNSIGNED  NOT NULL,
    moved_at    BIGINT            NOT NULL COMMENT 'unix time, ms',
    PRIMARY KEY (gift_id, side),
    KEY by_user (uid)               -- a user's gifts, for whoever looks
                                    -- into a cards check's difference
) ENGINE=InnoDB;

-- Cards given and received per user and kind, kept in the transaction
-- that inserts gift_moves and counted from the rows that insert really
-- added (as user_cards from draws).
CREATE TABLE IF NOT EXISTS gift_counts (
    uid         BIGINT UNSIGNED   NOT NULL,
    card        TINYINT UNSIGNED  NOT NULL,
    given       INT UNSIGNED      NOT NULL DEFAULT 0,
    received    INT UNSIGNED      NOT NULL DEFAULT 0,
    PRIMARY KEY (uid, card)
) ENGINE=InnoDB;
