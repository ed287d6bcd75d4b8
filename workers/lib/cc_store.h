/*
 * cc_store: the sharded MySQL that draws end in.
 *
 * A shard is named "host:port/db", or "host:port,host:port/db": the
 * candidates that may hold its primary (a semi-synchronous replica that a
 * failover promotes).  The names as written are the ring's keys, so a
 * uid's shard is cc_ring_shard() over them, as in the module, and a
 * failover, which changes no name, moves no user.  With more than one
 * candidate, each connect takes the first that is writable (@@read_only
 * = 0; a replica runs read_only = 1), starting from the one that was last
 * time; any error closes the connection (error 1290, read-only, included:
 * the old primary fenced), so the next connect looks again.  Writes are
 * idempotent on the draw id (PRIMARY KEY (uid, seq)) and keep the per-user
 * card counts in the same transaction, counted from the rows the INSERT
 * really added (INSERT IGNORE ... RETURNING), so a batch may be written any
 * number of times.
 */

#ifndef CC_STORE_H
#define CC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "cc_addr.h"
#include "cc_ring.h"
#include "cc_event.h"

#define CC_STORE_SHARDS_MAX      CC_RING_SHARDS_MAX
#define CC_STORE_CANDIDATES_MAX  4

typedef struct {
    char        *name;              /* "host:port[,host:port]/db", owned */
    const char  *host;              /* cand[primary]'s */
    unsigned     port;
    char        *db;                /* owned */
    MYSQL       *conn;              /* NULL when not connected */
    cc_addr_t    cand[CC_STORE_CANDIDATES_MAX];
    size_t       ncand;
    size_t       primary;           /* the candidate tried first */
} cc_store_shard_t;

typedef struct {
    cc_store_shard_t   shards[CC_STORE_SHARDS_MAX];
    size_t             nshards;
    cc_ring_t          ring;
    cc_ring_point_t   *points;      /* owned */
    const char        *user;
    const char        *password;
    uint64_t           reused;      /* draw ids MySQL holds for another
                                       request (cc_store_write logs each) */
    uint64_t           gift_conflicts;   /* gift halves MySQL holds for
                                       another gift (cc_store_write_gifts
                                       logs each) */
    char               err[512];
} cc_store_t;

/* Parses the names and builds the ring; connects nothing.  0 or -1. */
int cc_store_open(cc_store_t *st, char *const *names, size_t n,
    const char *user, const char *password);
void cc_store_close(cc_store_t *st);

uint32_t cc_store_shard_of(const cc_store_t *st, uint64_t uid);

/* Connects every shard not connected.  0, or -1 with st->err set. */
int cc_store_connect(cc_store_t *st);

/*
 * Creates each shard's database, tables and triggers (sql/shard.sql, then
 * sql/money.sql) and grants each worker role its tables
 * (sql/shard_grants.sql): the schema owner's work (sql/grants.sql);
 * idempotent.
 */
int cc_store_init_schema(cc_store_t *st);

/*
 * Writes draws and combines, one transaction per shard.  *inserted counts
 * the rows that were new.  On -1 some shards may have committed: writing
 * the same events again is safe and completes the rest.
 */
int cc_store_write(cc_store_t *st, const cc_draw_t *draws, size_t n,
    const cc_combine_t *combines, size_t nc, size_t *inserted);

/*
 * Writes gift halves (cc_event.h), one transaction per shard, each half
 * on its own user's shard (g->uid): INSERT IGNORE into gift_moves, whose
 * key (gift_id, side) makes a half written again insert nothing, and the
 * given / received counts of gift_counts kept in the same transaction
 * from the rows that really inserted.  *inserted counts them.  On -1 some
 * shards may have committed: writing the same halves again completes the
 * rest.  (cc_store_gift.c)
 */
int cc_store_write_gifts(cc_store_t *st, const cc_gift_t *gifts, size_t n,
    size_t *inserted);

/* for cc_store_gift.c: a shard's connection, and a failure that closes it */
int cc_store_connect_shard(cc_store_t *st, cc_store_shard_t *sh, int use_db);
/*
 * The same, the reason into err (not st->err): for threads that connect
 * shards of one store at once, each its own shard (sh is theirs alone;
 * st is only read).
 */
int cc_store_connect_shard_err(cc_store_t *st, cc_store_shard_t *sh,
    int use_db, char *err, size_t errlen);
void cc_store_fail(cc_store_t *st, cc_store_shard_t *sh, const char *what);

/* Keeps a message that could not be read, in the first shard. */
int cc_store_dead_letter(cc_store_t *st, const char *topic, int part,
    int64_t off, const char *reason, const void *payload, size_t len);

#endif /* CC_STORE_H */
