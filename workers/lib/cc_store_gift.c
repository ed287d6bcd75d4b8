/*
 * cc_store_gift: the halves of gifts (送福) into sharded MySQL.
 *
 * A gift moves one card between two users who may live on two shards, so
 * it is two rows, each on its own user's shard: the giver's half (side
 * 'o') and the receiver's (side 'i'), keyed by (gift_id, side).  A shard's
 * halves of a batch are one transaction:
 *
 *   INSERT IGNORE INTO gift_moves ... RETURNING uid, card, side
 *   INSERT INTO gift_counts ... ON DUPLICATE KEY UPDATE given = given + ..
 *   COMMIT
 *
 * so the counts move only by the rows that really inserted: a half
 * redelivered by Kafka, replayed from the draw log by cc-reconcile, or
 * both, changes nothing.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_sqlbuf.h"
#include "cc_store.h"
#include "cc_worker.h"


typedef struct {
    uint64_t  uid;
    uint32_t  card;
    uint32_t  given;
    uint32_t  received;
} cc_store_gift_count_t;


static int
cc_store_gift_count_cmp(const void *a, const void *b)
{
    const cc_store_gift_count_t  *pa = a, *pb = b;

    if (pa->uid != pb->uid) {
        return pa->uid < pb->uid ? -1 : 1;
    }

    return (int) pa->card - (int) pb->card;
}


/*
 * INSERT IGNORE INTO gift_moves ... RETURNING uid, card, side: the new
 * rows, one count each, into *counts (malloc'd, the caller's to free) and
 * their number into *rows.  0, 1 out of memory (not sent), -1 failed.
 */
static int
cc_store_gift_insert(cc_store_t *st, cc_store_shard_t *sh, cc_sqlbuf_t *b,
    const cc_gift_t *const *gifts, size_t n, cc_store_gift_count_t **counts,
    size_t *rows)
{
    char        id[CC_GIFT_ID_MAX + 1];
    size_t      i;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    b->len = 0;

    if (cc_sqlbuf_printf(b, "INSERT IGNORE INTO gift_moves "
                         "(gift_id, side, uid, peer, card, moved_at) VALUES ")
        != 0)
    {
        return 1;
    }

    for (i = 0; i < n; i++) {
        /* the request id is [A-Za-z0-9_-] (checked on decode): no quoting */
        cc_gift_id(gifts[i], id);

        if (cc_sqlbuf_printf(b, "%s('%s','%c',%llu,%llu,%u,%lld)",
                             i ? "," : "", id, gifts[i]->in ? 'i' : 'o',
                             (unsigned long long) gifts[i]->uid,
                             (unsigned long long) gifts[i]->peer,
                             gifts[i]->card, (long long) gifts[i]->ts_ms)
            != 0)
        {
            return 1;
        }
    }

    if (cc_sqlbuf_printf(b, " RETURNING uid, card, side") != 0) {
        return 1;
    }

    if (mysql_real_query(sh->conn, b->p, b->len) != 0
        || (res = mysql_store_result(sh->conn)) == NULL)
    {
        cc_store_fail(st, sh, "insert gift_moves");
        return -1;
    }

    *rows = mysql_num_rows(res);

    if (*rows > 0) {
        *counts = calloc(*rows, sizeof(cc_store_gift_count_t));
        if (*counts == NULL) {
            mysql_free_result(res);
            return 1;
        }
    }

    for (i = 0; i < *rows && (row = mysql_fetch_row(res)) != NULL; i++) {
        (*counts)[i].uid = strtoull(row[0], NULL, 10);
        (*counts)[i].card = (uint32_t) strtoul(row[1], NULL, 10);
        (*counts)[i].given = row[2][0] == 'o';
        (*counts)[i].received = row[2][0] == 'i';
    }

    mysql_free_result(res);

    return 0;
}


/* INSERT INTO gift_counts: the new halves summed by (uid, card) */
static int
cc_store_gift_count(cc_store_t *st, cc_store_shard_t *sh, cc_sqlbuf_t *b,
    cc_store_gift_count_t *c, size_t rows)
{
    size_t    i, j, k;
    uint32_t  given, received;

    qsort(c, rows, sizeof(cc_store_gift_count_t), cc_store_gift_count_cmp);

    b->len = 0;

    if (cc_sqlbuf_printf(b, "INSERT INTO gift_counts "
                         "(uid, card, given, received) VALUES ") != 0)
    {
        return 1;
    }

    for (i = 0, k = 0; i < rows; i = j, k++) {
        given = 0;
        received = 0;

        for (j = i; j < rows && cc_store_gift_count_cmp(&c[i], &c[j]) == 0;
             j++)
        {
            given += c[j].given;
            received += c[j].received;
        }

        if (cc_sqlbuf_printf(b, "%s(%llu,%u,%u,%u)", k ? "," : "",
                             (unsigned long long) c[i].uid, c[i].card,
                             given, received) != 0)
        {
            return 1;
        }
    }

    if (cc_sqlbuf_printf(b, " ON DUPLICATE KEY UPDATE "
                         "given = given + VALUES(given), "
                         "received = received + VALUES(received)") != 0)
    {
        return 1;
    }

    if (mysql_real_query(sh->conn, b->p, b->len) != 0) {
        cc_store_fail(st, sh, "count gifts");
        return -1;
    }

    return 0;
}


/* a half of the batch by its key (gift_id, side), to find a row's half */
typedef struct {
    char              id[CC_GIFT_ID_MAX + 1];
    unsigned          in;
    const cc_gift_t  *g;
} cc_store_gift_key_t;


static int
cc_store_gift_key_cmp(const void *a, const void *b)
{
    int                         rc;
    const cc_store_gift_key_t  *ka = a, *kb = b;

    rc = strcmp(ka->id, kb->id);

    return rc != 0 ? rc : (int) ka->in - (int) kb->in;
}


/*
 * The halves of a batch that were there already: each compared with the
 * row MySQL holds.  The same user, peer and kind: a redelivery, nothing to
 * say.  Another: the gift id was used again for another gift (a Redis
 * failover lost the first giver's half, and a retry with the same request
 * id gave something else), so this half is not in MySQL: logged whole and
 * counted in st->gift_conflicts.  The batch's keys are sorted once, each
 * row's half found by bsearch.  0, 1 out of memory, -1 failed.
 */
static int
cc_store_gift_conflicts(cc_store_t *st, cc_store_shard_t *sh, cc_sqlbuf_t *b,
    const cc_gift_t *const *gifts, size_t n)
{
    int                   rc;
    size_t                i;
    MYSQL_ROW             row;
    MYSQL_RES            *res;
    const cc_gift_t      *g;
    cc_store_gift_key_t   key, *keys, *k;

    keys = malloc(n * sizeof(cc_store_gift_key_t));
    if (keys == NULL) {
        return 1;
    }

    b->len = 0;
    rc = 1;

    if (cc_sqlbuf_printf(b, "SELECT gift_id, side, uid, peer, card FROM "
                         "gift_moves WHERE (gift_id, side) IN (") != 0)
    {
        goto done;
    }

    for (i = 0; i < n; i++) {
        cc_gift_id(gifts[i], keys[i].id);
        keys[i].in = gifts[i]->in;
        keys[i].g = gifts[i];

        if (cc_sqlbuf_printf(b, "%s('%s','%c')", i ? "," : "", keys[i].id,
                             gifts[i]->in ? 'i' : 'o') != 0)
        {
            goto done;
        }
    }

    if (cc_sqlbuf_printf(b, ")") != 0) {
        goto done;
    }

    if (mysql_real_query(sh->conn, b->p, b->len) != 0
        || (res = mysql_store_result(sh->conn)) == NULL)
    {
        cc_store_fail(st, sh, "check gift ids");
        rc = -1;
        goto done;
    }

    qsort(keys, n, sizeof(cc_store_gift_key_t), cc_store_gift_key_cmp);

    while ((row = mysql_fetch_row(res)) != NULL) {
        snprintf(key.id, sizeof(key.id), "%s", row[0]);
        key.in = row[1][0] == 'i';

        k = bsearch(&key, keys, n, sizeof(cc_store_gift_key_t),
                    cc_store_gift_key_cmp);

        if (k == NULL) {
            continue;
        }

        g = k->g;

        if (g->uid != strtoull(row[2], NULL, 10)
            || g->peer != strtoull(row[3], NULL, 10)
            || g->card != strtoul(row[4], NULL, 10))
        {
            st->gift_conflicts++;
            cc_log("shard %s: gift %s side %s reused: MySQL holds uid %s "
                   "peer %s card %s, this half is uid %llu peer %llu card "
                   "%u (at %lld ms), not written", sh->name, k->id, row[1],
                   row[2], row[3], row[4], (unsigned long long) g->uid,
                   (unsigned long long) g->peer, g->card,
                   (long long) g->ts_ms);
        }
    }

    mysql_free_result(res);
    rc = 0;

done:

    free(keys);

    return rc;
}


/* one shard's halves in one transaction: 0, or -1 with st->err */
static int
cc_store_gift_shard(cc_store_t *st, cc_store_shard_t *sh,
    const cc_gift_t *const *gifts, size_t n, size_t *inserted)
{
    int                     rc;
    size_t                  rows;
    cc_sqlbuf_t             b = { NULL, 0, 0 };
    cc_store_gift_count_t  *counts;

    if (cc_store_connect_shard(st, sh, 1) != 0) {
        return -1;
    }

    rows = 0;
    counts = NULL;

    rc = cc_store_gift_insert(st, sh, &b, gifts, n, &counts, &rows);

    if (rc == 0 && rows > 0) {
        rc = cc_store_gift_count(st, sh, &b, counts, rows);
    }

    if (rc == 0 && rows < n) {
        rc = cc_store_gift_conflicts(st, sh, &b, gifts, n);
    }

    free(counts);
    free(b.p);

    if (rc == 1) {
        snprintf(st->err, sizeof(st->err), "shard %s: out of memory",
                 sh->name);
        (void) mysql_rollback(sh->conn);
        return -1;
    }

    if (rc != 0) {
        return -1;
    }

    if (mysql_commit(sh->conn) != 0) {
        cc_store_fail(st, sh, "commit");
        return -1;
    }

    *inserted += rows;

    return 0;
}


int
cc_store_write_gifts(cc_store_t *st, const cc_gift_t *gifts, size_t n,
    size_t *inserted)
{
    int                rc;
    size_t             i, k, s;
    const cc_gift_t  **part;

    *inserted = 0;

    if (n == 0) {
        return 0;
    }

    part = malloc(n * sizeof(cc_gift_t *));
    if (part == NULL) {
        snprintf(st->err, sizeof(st->err), "out of memory");
        return -1;
    }

    rc = 0;

    /* a few shards, a batch's gifts: a pass over the batch per shard */
    for (s = 0; s < st->nshards && rc == 0; s++) {
        for (i = 0, k = 0; i < n; i++) {
            if (cc_store_shard_of(st, gifts[i].uid) == s) {
                part[k++] = &gifts[i];
            }
        }

        if (k > 0) {
            rc = cc_store_gift_shard(st, &st->shards[s], part, k, inserted);
        }
    }

    free(part);

    return rc;
}
