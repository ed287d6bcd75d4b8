/*
 * cc_cardcheck_gifts: the gifts that explain a kind whose sums disagree
 * (cc_cardcheck.h, step 4).
 *
 * When a kind's MySQL given - received is not its gifts in transit, some
 * gift's halves do not pair up.  Every half of every MySQL shard is read
 * in gift id order, a page at a time, and its other half asked of the
 * other user's shard (one IN query a shard a page):
 *
 *   a giver's half with no receiver's half, and in no outbox (ZSCORE of
 *   its member "giver:request_id:to:kind" on the giver's Redis shard, and
 *   HEXISTS of cc:outbox:g for an old gift): a card lost;
 *   a receiver's half with no giver's half: a card created (a forged
 *   gift_in on the topic, or a half lost);
 *   two halves of one gift with two kinds.
 *
 * Each is logged by gift id, with both users and the kind, and counted.
 * The reads are those of the check's MySQL snapshots.  Only run on a
 * disagreement: it reads every gift.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_cardcheck.h"
#include "cc_keys.h"
#include "cc_sqlbuf.h"
#include "cc_worker.h"


#define CC_CARDCHECK_GIFT_PAGE  500


typedef struct {
    char      id[CC_GIFT_ID_MAX + 1];
    uint64_t  uid;
    uint64_t  peer;
    int       card;
    int       other;                /* the other half's card, -1 none */
} cc_cardcheck_half_t;


static int
cc_cardcheck_gift_fail(cc_cardcheck_t *cc, cc_store_shard_t *sh,
    const char *what)
{
    snprintf(cc->err, sizeof(cc->err), "shard %s: %s: %s", sh->name, what,
             sh->conn ? mysql_error(sh->conn) : "not connected");

    if (sh->conn != NULL) {
        mysql_close(sh->conn);
        sh->conn = NULL;
    }

    return -1;
}


/* 'id' quoted for shard sh into b: 0, or -1 out of memory */
static int
cc_cardcheck_gift_quote(cc_store_shard_t *sh, cc_sqlbuf_t *b, const char *id)
{
    char  q[2 * CC_GIFT_ID_MAX + 1];

    mysql_real_escape_string(sh->conn, q, id, strlen(id));

    return cc_sqlbuf_printf(b, "'%s'", q);
}


/* a page of shard sh's halves of side after *last: their number, or -1 */
static long
cc_cardcheck_gift_page(cc_cardcheck_t *cc, cc_store_shard_t *sh, char side,
    char *last, cc_cardcheck_half_t *h)
{
    size_t        n;
    MYSQL_ROW     row;
    MYSQL_RES    *res;
    cc_sqlbuf_t   b = { NULL, 0, 0 };

    if (cc_sqlbuf_printf(&b, "SELECT gift_id, uid, peer, card FROM "
                         "gift_moves WHERE side = '%c' AND gift_id > ", side)
        != 0
        || cc_cardcheck_gift_quote(sh, &b, last) != 0
        || cc_sqlbuf_printf(&b, " ORDER BY gift_id LIMIT %d",
                            CC_CARDCHECK_GIFT_PAGE) != 0)
    {
        free(b.p);
        snprintf(cc->err, sizeof(cc->err), "out of memory");
        return -1;
    }

    if (mysql_real_query(sh->conn, b.p, b.len) != 0
        || (res = mysql_store_result(sh->conn)) == NULL)
    {
        free(b.p);
        return cc_cardcheck_gift_fail(cc, sh, "gifts");
    }

    free(b.p);

    for (n = 0; (row = mysql_fetch_row(res)) != NULL; n++) {
        snprintf(h[n].id, sizeof(h[n].id), "%s", row[0]);
        h[n].uid = strtoull(row[1], NULL, 10);
        h[n].peer = strtoull(row[2], NULL, 10);
        h[n].card = (int) strtol(row[3], NULL, 10);
        h[n].other = -1;
    }

    mysql_free_result(res);

    if (n > 0) {
        memcpy(last, h[n - 1].id, sizeof(h[n - 1].id));
    }

    return (long) n;
}


/* the other halves of a page: one IN query a MySQL shard that holds some */
static int
cc_cardcheck_gift_other(cc_cardcheck_t *cc, char side,
    cc_cardcheck_half_t *h, size_t n)
{
    int                rc;
    size_t             i, k;
    uint32_t           s;
    MYSQL_ROW          row;
    MYSQL_RES         *res;
    cc_sqlbuf_t        b = { NULL, 0, 0 };
    cc_store_shard_t  *sh;

    rc = 0;

    for (s = 0; s < cc->st->nshards && rc == 0; s++) {
        sh = &cc->st->shards[s];
        b.len = 0;

        if (cc_sqlbuf_printf(&b, "SELECT gift_id, card FROM gift_moves "
                             "WHERE side = '%c' AND gift_id IN (",
                             side == 'o' ? 'i' : 'o') != 0)
        {
            goto nomem;
        }

        /* the other half is on the other user's shard */
        for (i = 0, k = 0; i < n; i++) {
            if (cc_store_shard_of(cc->st, h[i].peer) == s
                && ((k++ && cc_sqlbuf_printf(&b, ",") != 0)
                    || cc_cardcheck_gift_quote(sh, &b, h[i].id) != 0))
            {
                goto nomem;
            }
        }

        if (k == 0) {
            continue;
        }

        if (cc_sqlbuf_printf(&b, ")") != 0) {
            goto nomem;
        }

        if (mysql_real_query(sh->conn, b.p, b.len) != 0
            || (res = mysql_store_result(sh->conn)) == NULL)
        {
            rc = cc_cardcheck_gift_fail(cc, sh, "other halves");
            break;
        }

        while ((row = mysql_fetch_row(res)) != NULL) {
            for (i = 0; i < n; i++) {
                if (strcmp(h[i].id, row[0]) == 0) {
                    h[i].other = (int) strtol(row[1], NULL, 10);
                }
            }
        }

        mysql_free_result(res);
    }

    free(b.p);
    return rc;

nomem:

    free(b.p);
    snprintf(cc->err, sizeof(cc->err), "out of memory");
    return -1;
}


/*
 * The giver's halves of a page with no receiver's half: each asked of its
 * giver's Redis shard's outbox (pipelined: its member's ZSCORE, then its
 * gift id's HEXISTS in the old layout's cc:outbox:g); the ones in neither
 * are logged.
 */
static int
cc_cardcheck_gift_lost(cc_cardcheck_t *cc, cc_cardcheck_half_t *h, size_t n)
{
    int            in;
    size_t         i, j;
    uint32_t       r;
    redisReply    *x;
    redisContext  *c;

    for (i = 0; i < n; i++) {
        if (h[i].other != -1) {
            continue;
        }

        r = cc_ring_shard(cc->ring, h[i].uid);

        if (redisAppendCommand(cc->redis[r], "ZSCORE %s %s:%" PRIu64 ":%d",
                               CC_KEY_OUTBOX, h[i].id, h[i].peer, h[i].card)
            != REDIS_OK
            || redisAppendCommand(cc->redis[r], "HEXISTS %s %s",
                                  CC_KEY_OUTBOX_GIFTS, h[i].id) != REDIS_OK)
        {
            snprintf(cc->err, sizeof(cc->err), "out of memory");
            return -1;
        }
    }

    for (i = 0; i < n; i++) {
        if (h[i].other != -1) {
            continue;
        }

        r = cc_ring_shard(cc->ring, h[i].uid);
        c = cc->redis[r];
        in = 0;

        for (j = 0; j < 2; j++) {
            if (redisGetReply(c, (void **) &x) != REDIS_OK) {
                snprintf(cc->err, sizeof(cc->err), "redis %s: %s: %s",
                         cc->names[r], j ? "HEXISTS" : "ZSCORE", c->errstr);
                return -1;
            }

            if (x->type != (j ? REDIS_REPLY_INTEGER : REDIS_REPLY_STRING)
                && !(j == 0 && x->type == REDIS_REPLY_NIL))
            {
                snprintf(cc->err, sizeof(cc->err), "redis %s: %s: %s",
                         cc->names[r], j ? "HEXISTS" : "ZSCORE",
                         x->type == REDIS_REPLY_ERROR ? x->str
                         : "bad reply");
                freeReplyObject(x);
                return -1;
            }

            in |= j ? (x->integer != 0) : (x->type == REDIS_REPLY_STRING);
            freeReplyObject(x);
        }

        if (!in) {
            cc_log("cards: gift %s: uid %" PRIu64 " gave a card of kind %d "
                   "to uid %" PRIu64 ", who never received it, and it is in "
                   "no outbox (a card lost)", h[i].id, h[i].uid, h[i].card,
                   h[i].peer);
            cc->stats.gift_diffs++;
        }
    }

    return 0;
}


/* one side of one MySQL shard, page by page */
static int
cc_cardcheck_gift_side(cc_cardcheck_t *cc, cc_store_shard_t *sh, char side,
    cc_cardcheck_half_t *h)
{
    long    n;
    char    last[CC_GIFT_ID_MAX + 1];
    size_t  i;

    last[0] = '\0';

    while ((n = cc_cardcheck_gift_page(cc, sh, side, last, h)) > 0) {
        if (cc_cardcheck_gift_other(cc, side, h, (size_t) n) != 0) {
            return -1;
        }

        for (i = 0; i < (size_t) n; i++) {
            if (side == 'i' && h[i].other == -1) {
                cc_log("cards: gift %s: uid %" PRIu64 " received a card of "
                       "kind %d from uid %" PRIu64 ", who never gave it (a "
                       "card created)", h[i].id, h[i].uid, h[i].card,
                       h[i].peer);
                cc->stats.gift_diffs++;

            } else if (side == 'o' && h[i].other != -1
                       && h[i].other != h[i].card)
            {
                cc_log("cards: gift %s: uid %" PRIu64 " gave a card of kind "
                       "%d, uid %" PRIu64 " received one of kind %d", h[i].id,
                       h[i].uid, h[i].card, h[i].peer, h[i].other);
                cc->stats.gift_diffs++;
            }
        }

        if (side == 'o' && cc_cardcheck_gift_lost(cc, h, (size_t) n) != 0) {
            return -1;
        }
    }

    return n < 0 ? -1 : 0;
}


int
cc_cardcheck_gifts(cc_cardcheck_t *cc)
{
    int                   rc;
    size_t                s;
    cc_cardcheck_half_t  *h;

    h = malloc(CC_CARDCHECK_GIFT_PAGE * sizeof(cc_cardcheck_half_t));
    if (h == NULL) {
        snprintf(cc->err, sizeof(cc->err), "out of memory");
        return -1;
    }

    rc = 0;

    /* the snapshots of step 1, every one (an id is quoted for its shard) */
    for (s = 0; s < cc->st->nshards; s++) {
        if (cc->st->shards[s].conn == NULL) {
            snprintf(cc->err, sizeof(cc->err), "shard %s: not connected",
                     cc->st->shards[s].name);
            free(h);
            return -1;
        }
    }

    for (s = 0; s < cc->st->nshards && rc == 0; s++) {
        rc = cc_cardcheck_gift_side(cc, &cc->st->shards[s], 'o', h);

        if (rc == 0) {
            rc = cc_cardcheck_gift_side(cc, &cc->st->shards[s], 'i', h);
        }
    }

    free(h);

    return rc;
}
