/*
 * cc_cardcheck: see cc_cardcheck.h.
 *
 * Three reads, then the sums:
 *
 *   1. each MySQL shard's totals per kind: drawn (user_cards), given and
 *      received (gift_counts), the combines (eligibility), its users;
 *   2. each Redis shard's user hashes (SCAN), a batch at a time: s, e and
 *      k0..k15 pipelined, then the batch's MySQL rows (one IN query a
 *      MySQL shard for the cards, one for the combines), compared per
 *      user and kind;
 *   3. each Redis shard's outbox (ZSCAN cc:outbox: the members
 *      "giver:request_id:to:kind" and their ms; then HSCAN cc:outbox:g,
 *      the old bare gift ids' values, left by an upgrade with gifts in
 *      flight), each gift's id asked of its receiver's shard (SISMEMBER
 *      cc:{to}:gi, pipelined);
 *   4. when the gifts do not add up, every gift's halves paired
 *      (cc_cardcheck_gifts.c).
 *
 * Each MySQL shard is read in one transaction (REPEATABLE READ: one
 * snapshot for its totals and its users), ended at the end.  The Redis
 * reads are not one snapshot: under traffic a card moving during the
 * check shows as a difference that the next check does not find, and a
 * shard rehashing its keys (writes) may return a hash twice to SCAN.  On
 * a quiet system (the campaign closed, a test, the chaos run's end) the
 * check is exact.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_cardcheck.h"
#include "cc_cardcheck_rules.h"
#include "cc_keys.h"
#include "cc_outbox.h"
#include "cc_sqlbuf.h"
#include "cc_worker.h"


/* the gift keys, until cc_keys.h has them (the gift branch adds them by
 * these names): the outbox's gifts, and a receiver's applied gift ids */


/* one Redis user hash and its MySQL rows */
typedef struct {
    uint64_t                uid;
    int64_t                 s;              /* Redis: draws */
    int                     e;              /* Redis: combined */
    int                     in_mysql;       /* MySQL has rows of it */
    int                     combined;       /* MySQL: eligibility row */
    cc_cardcheck_combine_t  combine;
    int64_t                 held[CC_KINDS_MAX];       /* Redis */
    int64_t                 drawn[CC_KINDS_MAX];      /* MySQL */
    int64_t                 given[CC_KINDS_MAX];
    int64_t                 received[CC_KINDS_MAX];
} cc_cardcheck_user_t;


static int
cc_cardcheck_fail(cc_cardcheck_t *cc, cc_store_shard_t *sh, const char *what)
{
    snprintf(cc->err, sizeof(cc->err), "shard %s: %s: %s", sh->name, what,
             sh->conn ? mysql_error(sh->conn) : "not connected");

    if (sh->conn != NULL) {
        mysql_close(sh->conn);
        sh->conn = NULL;
    }

    return -1;
}


/* a query's rows, all in memory: the result, or NULL with cc->err */
static MYSQL_RES *
cc_cardcheck_query(cc_cardcheck_t *cc, cc_store_shard_t *sh, const char *sql,
    size_t len, const char *what)
{
    MYSQL_RES  *res;

    if (mysql_real_query(sh->conn, sql, len) != 0
        || (res = mysql_store_result(sh->conn)) == NULL)
    {
        cc_cardcheck_fail(cc, sh, what);
        return NULL;
    }

    return res;
}


/* a kind from MySQL or Redis: 0..CC_KINDS_MAX-1, else -1 */
static int
cc_cardcheck_kind(const char *s)
{
    char  *end;
    long   k;

    k = strtol(s, &end, 10);

    return end != s && *end == '\0' && k >= 0 && k < CC_KINDS_MAX
           ? (int) k : -1;
}


/* 1. a MySQL shard's totals per kind, and its users */
static int
cc_cardcheck_totals(cc_cardcheck_t *cc, cc_store_shard_t *sh,
    uint64_t *users)
{
    int                    k;
    MYSQL_ROW              row;
    MYSQL_RES             *res;
    cc_cardcheck_stats_t  *s;

    static const char  drawn[] =
        "SELECT card, SUM(n) FROM user_cards GROUP BY card";
    static const char  gifts[] =
        "SELECT card, SUM(given), SUM(received) FROM gift_counts "
        "GROUP BY card";
    static const char  all[] =
        "SELECT COUNT(*) FROM (SELECT uid FROM user_cards UNION "
        "SELECT uid FROM gift_counts) u";

    s = &cc->stats;

    res = cc_cardcheck_query(cc, sh, drawn, sizeof(drawn) - 1, "drawn");
    if (res == NULL) {
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        if ((k = cc_cardcheck_kind(row[0])) >= 0) {
            s->drawn[k] += strtoll(row[1], NULL, 10);
        }
    }

    mysql_free_result(res);

    res = cc_cardcheck_query(cc, sh, gifts, sizeof(gifts) - 1, "gifts");
    if (res == NULL) {
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        if ((k = cc_cardcheck_kind(row[0])) >= 0) {
            s->given[k] += strtoll(row[1], NULL, 10);
            s->received[k] += strtoll(row[2], NULL, 10);
        }
    }

    mysql_free_result(res);

    res = cc_cardcheck_query(cc, sh, all, sizeof(all) - 1, "users");
    if (res == NULL) {
        return -1;
    }

    row = mysql_fetch_row(res);
    *users += row != NULL ? strtoull(row[0], NULL, 10) : 0;
    mysql_free_result(res);

    return 0;
}


/* 1. a MySQL shard's combines, once the kinds are known */
static int
cc_cardcheck_combined(cc_cardcheck_t *cc, cc_store_shard_t *sh)
{
    int64_t                 n;
    unsigned                k;
    MYSQL_ROW               row;
    MYSQL_RES              *res;
    cc_cardcheck_combine_t  c;

    static const char  sql[] =
        "SELECT " CC_CARDCHECK_COMBINE_COLS ", COUNT(*) FROM eligibility "
        "GROUP BY " CC_CARDCHECK_COMBINE_COLS;

    res = cc_cardcheck_query(cc, sh, sql, sizeof(sql) - 1, "combines");
    if (res == NULL) {
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        cc_cardcheck_combine_read((const char *const *) row, &c);
        n = strtoll(row[CC_CARDCHECK_COMBINE_NCOLS], NULL, 10);

        for (k = 0; k < CC_KINDS_MAX; k++) {
            cc->stats.combined[k] += n
                * cc_cardcheck_consumed(&c, k, cc->stats.nkinds);
        }
    }

    mysql_free_result(res);

    return 0;
}


static int
cc_cardcheck_user_cmp(const void *a, const void *b)
{
    const cc_cardcheck_user_t  *ua = a, *ub = b;

    return ua->uid < ub->uid ? -1 : ua->uid > ub->uid;
}


static cc_cardcheck_user_t *
cc_cardcheck_find(cc_cardcheck_user_t *u, size_t n, const char *uid)
{
    cc_cardcheck_user_t  key;

    key.uid = strtoull(uid, NULL, 10);

    return bsearch(&key, u, n, sizeof(cc_cardcheck_user_t),
                   cc_cardcheck_user_cmp);
}


/* " uid IN (uid, ...)" of the batch's users on MySQL shard s, their
 * number added to *k; -1 out of memory */
static int
cc_cardcheck_in(cc_cardcheck_t *cc, cc_sqlbuf_t *b,
    const cc_cardcheck_user_t *u, size_t n, uint32_t s, size_t *k)
{
    size_t  i, j;

    if (cc_sqlbuf_printf(b, " uid IN (") != 0) {
        return -1;
    }

    for (i = 0, j = 0; i < n; i++) {
        if (cc_store_shard_of(cc->st, u[i].uid) == s
            && cc_sqlbuf_printf(b, "%s%" PRIu64, j++ ? "," : "", u[i].uid)
               != 0)
        {
            return -1;
        }
    }

    *k += j;

    /* none: an IN list MySQL accepts, that matches nothing */
    return cc_sqlbuf_printf(b, "%s)", j ? "" : "NULL");
}


/* 2. the batch's rows of MySQL shard s into its users */
static int
cc_cardcheck_mysql_users(cc_cardcheck_t *cc, uint32_t s,
    cc_cardcheck_user_t *u, size_t n, cc_sqlbuf_t *b)
{
    int                   k;
    size_t                m;
    MYSQL_ROW             row;
    MYSQL_RES            *res;
    cc_store_shard_t     *sh;
    cc_cardcheck_user_t  *x;

    sh = &cc->st->shards[s];
    b->len = 0;
    m = 0;

    if (cc_sqlbuf_printf(b, "SELECT uid, card, n, 0, 0 FROM user_cards "
                         "WHERE") != 0
        || cc_cardcheck_in(cc, b, u, n, s, &m) != 0
        || cc_sqlbuf_printf(b, " UNION ALL SELECT uid, card, 0, given, "
                            "received FROM gift_counts WHERE") != 0
        || cc_cardcheck_in(cc, b, u, n, s, &m) != 0)
    {
        snprintf(cc->err, sizeof(cc->err), "out of memory");
        return -1;
    }

    if (m == 0) {
        return 0;
    }

    if ((res = cc_cardcheck_query(cc, sh, b->p, b->len, "cards")) == NULL) {
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        x = cc_cardcheck_find(u, n, row[0]);

        if (x != NULL && (k = cc_cardcheck_kind(row[1])) >= 0) {
            x->in_mysql = 1;
            x->drawn[k] += strtoll(row[2], NULL, 10);
            x->given[k] += strtoll(row[3], NULL, 10);
            x->received[k] += strtoll(row[4], NULL, 10);
        }
    }

    mysql_free_result(res);

    b->len = 0;
    m = 0;

    if (cc_sqlbuf_printf(b, "SELECT uid, " CC_CARDCHECK_COMBINE_COLS
                         " FROM eligibility WHERE") != 0
        || cc_cardcheck_in(cc, b, u, n, s, &m) != 0)
    {
        snprintf(cc->err, sizeof(cc->err), "out of memory");
        return -1;
    }

    if ((res = cc_cardcheck_query(cc, sh, b->p, b->len, "combines")) == NULL)
    {
        return -1;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        if ((x = cc_cardcheck_find(u, n, row[0])) != NULL) {
            x->combined = 1;
            cc_cardcheck_combine_read((const char *const *) row + 1,
                                      &x->combine);
        }
    }

    mysql_free_result(res);

    return 0;
}


/* 2. one user compared: each difference logged and counted */
static void
cc_cardcheck_user(cc_cardcheck_t *cc, const cc_cardcheck_user_t *u)
{
    int64_t   drawn, took, mysql;
    unsigned  k;

    drawn = 0;

    for (k = 0; k < CC_KINDS_MAX; k++) {
        drawn += u->drawn[k];
        cc->stats.held[k] += u->held[k];
    }

    cc->stats.users++;

    if (drawn != u->s) {
        cc_log("cards: uid %" PRIu64 ": Redis counts %lld draws, MySQL "
               "holds %lld (a draw not drained, or lost)", u->uid,
               (long long) u->s, (long long) drawn);
        cc->stats.user_diffs++;
    }

    if (u->e != u->combined) {
        cc_log("cards: uid %" PRIu64 ": %s", u->uid,
               u->e ? "combined in Redis, no eligibility row in MySQL"
                    : "an eligibility row in MySQL, no combine in Redis");
        cc->stats.user_diffs++;
    }

    for (k = 0; k < CC_KINDS_MAX; k++) {
        took = u->combined
               ? cc_cardcheck_consumed(&u->combine, k, cc->stats.nkinds) : 0;
        mysql = u->drawn[k] + u->received[k] - u->given[k] - took;

        if (mysql != u->held[k]) {
            cc_log("cards: uid %" PRIu64 " kind %u: Redis holds %lld, MySQL "
                   "%lld (drawn %lld + received %lld - given %lld - "
                   "combined %lld): Redis %+lld", u->uid, k,
                   (long long) u->held[k], (long long) mysql,
                   (long long) u->drawn[k], (long long) u->received[k],
                   (long long) u->given[k], (long long) took,
                   (long long) (u->held[k] - mysql));
            cc->stats.user_diffs++;
        }
    }
}


/* an integer reply element, or 0 for nil */
static int64_t
cc_cardcheck_int(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
}


/* 2. the hashes of a SCAN reply's keys into u: their number, or -1 */
static long
cc_cardcheck_hashes(cc_cardcheck_t *cc, size_t r, const redisReply *keys,
    cc_cardcheck_user_t *u)
{
    char           fields[CC_KINDS_MAX][8];
    size_t         i, j, n;
    uint64_t       uid;
    redisReply    *h;
    const char    *argv[4 + CC_KINDS_MAX];     /* HMGET key s e k0 .. */
    redisContext  *c;

    c = cc->redis[r];
    argv[0] = "HMGET";
    argv[2] = CC_FIELD_SEQ;
    argv[3] = CC_FIELD_COMBINE;

    for (j = 0; j < CC_KINDS_MAX; j++) {
        snprintf(fields[j], sizeof(fields[j]), "k%zu", j);
        argv[4 + j] = fields[j];
    }

    for (i = 0, n = 0; i < keys->elements; i++) {
        if (keys->element[i]->type != REDIS_REPLY_STRING
            || cc_key_user_uid(keys->element[i]->str, keys->element[i]->len,
                               &uid) != 0)
        {
            continue;
        }

        memset(&u[n], 0, sizeof(cc_cardcheck_user_t));
        u[n++].uid = uid;
        argv[1] = keys->element[i]->str;

        if (redisAppendCommandArgv(c, 4 + CC_KINDS_MAX, argv, NULL)
            != REDIS_OK)
        {
            snprintf(cc->err, sizeof(cc->err), "redis %s: out of memory",
                     cc->names[r]);
            return -1;
        }
    }

    for (i = 0; i < n; i++) {
        if (redisGetReply(c, (void **) &h) != REDIS_OK) {
            snprintf(cc->err, sizeof(cc->err), "redis %s: HMGET: %s",
                     cc->names[r], c->errstr);
            return -1;
        }

        if (h->type != REDIS_REPLY_ARRAY || h->elements != 2 + CC_KINDS_MAX) {
            snprintf(cc->err, sizeof(cc->err), "redis %s: HMGET: %s",
                     cc->names[r],
                     h->type == REDIS_REPLY_ERROR ? h->str : "bad reply");
            freeReplyObject(h);
            return -1;
        }

        u[i].s = cc_cardcheck_int(h->element[0]);
        u[i].e = h->element[1]->type == REDIS_REPLY_STRING;

        for (j = 0; j < CC_KINDS_MAX; j++) {
            u[i].held[j] = cc_cardcheck_int(h->element[2 + j]);
        }

        freeReplyObject(h);
    }

    return (long) n;
}


/* 2. a batch of users: their MySQL rows, then each compared */
static int
cc_cardcheck_batch(cc_cardcheck_t *cc, cc_cardcheck_user_t *u, size_t n,
    uint64_t *matched)
{
    size_t       i;
    uint32_t     s;
    cc_sqlbuf_t  b = { NULL, 0, 0 };

    qsort(u, n, sizeof(cc_cardcheck_user_t), cc_cardcheck_user_cmp);

    for (s = 0; s < cc->st->nshards; s++) {
        if (cc_cardcheck_mysql_users(cc, s, u, n, &b) != 0) {
            free(b.p);
            return -1;
        }
    }

    free(b.p);

    for (i = 0; i < n; i++) {
        *matched += u[i].in_mysql;
        cc_cardcheck_user(cc, &u[i]);
    }

    return 0;
}


/* 2. every user hash of Redis shard r, a SCAN at a time */
static int
cc_cardcheck_users(cc_cardcheck_t *cc, size_t r, uint64_t *matched)
{
    int                   rc;
    long                  n;
    char                  cursor[32];
    int64_t               last;
    redisReply           *sr;
    redisContext         *c;
    cc_cardcheck_user_t  *u;

    c = cc->redis[r];
    strcpy(cursor, "0");
    last = cc_now_ms();
    rc = -1;

    do {
        sr = redisCommand(c, "SCAN %s MATCH %s COUNT %d", cursor,
                          CC_KEY_USER_MATCH, CC_CARDCHECK_BATCH);

        if (sr == NULL || sr->type != REDIS_REPLY_ARRAY || sr->elements != 2
            || sr->element[0]->type != REDIS_REPLY_STRING
            || sr->element[0]->len >= sizeof(cursor)
            || sr->element[1]->type != REDIS_REPLY_ARRAY)
        {
            snprintf(cc->err, sizeof(cc->err), "redis %s: SCAN: %s",
                     cc->names[r],
                     sr == NULL ? c->errstr
                     : sr->type == REDIS_REPLY_ERROR ? sr->str : "bad reply");
            freeReplyObject(sr);
            return -1;
        }

        memcpy(cursor, sr->element[0]->str, sr->element[0]->len + 1);

        /* COUNT is a hint: a reply may hold more keys */
        u = malloc((sr->element[1]->elements + 1)
                   * sizeof(cc_cardcheck_user_t));

        if (u == NULL) {
            snprintf(cc->err, sizeof(cc->err), "out of memory");
            freeReplyObject(sr);
            return -1;
        }

        n = cc_cardcheck_hashes(cc, r, sr->element[1], u);
        freeReplyObject(sr);

        rc = n < 0 ? -1 : cc_cardcheck_batch(cc, u, (size_t) n, matched);
        free(u);

        if (rc != 0) {
            return -1;
        }

        if (cc_now_ms() - last >= 5000) {
            last = cc_now_ms();
            cc_log("cards: redis %s: %llu users compared so far, %llu "
                   "differences", cc->names[r],
                   (unsigned long long) cc->stats.users,
                   (unsigned long long) cc->stats.user_diffs);
        }

    } while (strcmp(cursor, "0") != 0 && cc_worker_run);

    if (!cc_worker_run) {
        snprintf(cc->err, sizeof(cc->err), "stopped");
        return -1;
    }

    return 0;
}


/* an outbox entry, its member g and score or old value v, as cc-redrive
   reads it (cc_outbox.h): 0, or -1 */
static int
cc_cardcheck_outbox_entry(const redisReply *g, const redisReply *v,
    cc_outbox_gift_t *og)
{
    const char  *why;

    if (g->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING
        || cc_outbox_parse(g->str, g->len, v->str, v->len, og, &why) != 0)
    {
        return -1;
    }

    return 0;
}


/*
 * 3. a ZSCAN (zset set) or HSCAN reply of an outbox: each gift asked of
 * its receiver's shard.  The ZSCAN's old bare gift ids are skipped: the
 * HSCAN of cc:outbox:g, their values, counts them.
 */
static int
cc_cardcheck_transit(cc_cardcheck_t *cc, size_t r, const redisReply *kv,
    int zset)
{
    char               key[CC_KEY_MAX];
    size_t             i;
    uint32_t           rs;
    redisReply        *m;
    cc_outbox_gift_t   og;
    const redisReply  *g, *v;

    /* first every question, each on its receiver's shard ... */
    for (i = 0; i + 1 < kv->elements; i += 2) {
        g = kv->element[i];
        v = kv->element[i + 1];

        if (g->type != REDIS_REPLY_STRING
            || (zset && cc_outbox_is_old(g->str, g->len))
            || cc_cardcheck_outbox_entry(g, v, &og) != 0)
        {
            continue;
        }

        (void) cc_key_user_sub(key, og.to, "gi");
        rs = cc_ring_shard(cc->ring, og.to);

        if (redisAppendCommand(cc->redis[rs], "SISMEMBER %s %b", key, g->str,
                               og.idlen) != REDIS_OK)
        {
            snprintf(cc->err, sizeof(cc->err), "out of memory");
            return -1;
        }
    }

    /* ... then the answers: each shard's come in the order asked */
    for (i = 0; i + 1 < kv->elements; i += 2) {
        g = kv->element[i];
        v = kv->element[i + 1];

        if (g->type == REDIS_REPLY_STRING && zset
            && cc_outbox_is_old(g->str, g->len))
        {
            continue;
        }

        if (g->type != REDIS_REPLY_STRING
            || cc_cardcheck_outbox_entry(g, v, &og) != 0)
        {
            cc_log("cards: redis %s: outbox gift %.*s: \"%.*s\" is not %s",
                   cc->names[r],
                   g->type == REDIS_REPLY_STRING ? (int) g->len : 1,
                   g->type == REDIS_REPLY_STRING ? g->str : "?",
                   v->type == REDIS_REPLY_STRING ? (int) v->len : 1,
                   v->type == REDIS_REPLY_STRING ? v->str : "?",
                   zset ? "giver:request_id:to:kind by its ms"
                        : "to:kind:ms");
            cc->stats.outbox_bad++;
            continue;
        }

        rs = cc_ring_shard(cc->ring, og.to);

        if (redisGetReply(cc->redis[rs], (void **) &m) != REDIS_OK
            || m->type != REDIS_REPLY_INTEGER)
        {
            snprintf(cc->err, sizeof(cc->err), "redis %s: SISMEMBER: %s",
                     cc->names[rs], cc->redis[rs]->err
                     ? cc->redis[rs]->errstr : "bad reply");
            if (cc->redis[rs]->err == 0) {
                freeReplyObject(m);
            }
            return -1;
        }

        if (m->integer == 0) {
            cc->stats.in_transit[og.kind]++;
            cc->stats.transit++;
        }

        freeReplyObject(m);
    }

    return 0;
}


/* 3. Redis shard r's outbox, a ZSCAN at a time, then the old gifts' hash,
   a HSCAN at a time */
static int
cc_cardcheck_outbox(cc_cardcheck_t *cc, size_t r)
{
    int            zset;
    char           cursor[32];
    const char    *scan, *key;
    redisReply    *sr;
    redisContext  *c;

    c = cc->redis[r];

    for (zset = 1; zset >= 0; zset--) {
        scan = zset ? "ZSCAN" : "HSCAN";
        key = zset ? CC_KEY_OUTBOX : CC_KEY_OUTBOX_GIFTS;
        strcpy(cursor, "0");

        do {
            sr = redisCommand(c, "%s %s %s COUNT %d", scan, key, cursor,
                              CC_CARDCHECK_BATCH);

            if (sr == NULL || sr->type != REDIS_REPLY_ARRAY
                || sr->elements != 2
                || sr->element[0]->type != REDIS_REPLY_STRING
                || sr->element[0]->len >= sizeof(cursor)
                || sr->element[1]->type != REDIS_REPLY_ARRAY)
            {
                snprintf(cc->err, sizeof(cc->err), "redis %s: %s %s: %s",
                         cc->names[r], scan, key,
                         sr == NULL ? c->errstr
                         : sr->type == REDIS_REPLY_ERROR ? sr->str
                         : "bad reply");
                freeReplyObject(sr);
                return -1;
            }

            memcpy(cursor, sr->element[0]->str, sr->element[0]->len + 1);

            if (cc_cardcheck_transit(cc, r, sr->element[1], zset) != 0) {
                freeReplyObject(sr);
                return -1;
            }

            freeReplyObject(sr);

        } while (strcmp(cursor, "0") != 0);
    }

    return 0;
}


/* the sums per kind: a summary line each, a difference counted */
static void
cc_cardcheck_kinds(cc_cardcheck_t *cc)
{
    int64_t                have, want, open;
    unsigned               k, last;
    cc_cardcheck_stats_t  *s;

    s = &cc->stats;

    for (k = 0, last = s->nkinds; k < CC_KINDS_MAX; k++) {
        if (s->held[k] || s->in_transit[k] || s->drawn[k] || s->given[k]
            || s->received[k] || s->combined[k])
        {
            last = k + 1 > last ? k + 1 : last;
        }
    }

    for (k = 0; k < last; k++) {
        have = s->held[k] + s->in_transit[k];
        want = s->drawn[k] - s->combined[k];
        open = s->given[k] - s->received[k];

        s->gift_kinds += open != s->in_transit[k];

        if (have == want && open == s->in_transit[k]) {
            cc_log("cards: kind %u: held %lld + in transit %lld = drawn %lld "
                   "- combined %lld = %lld; MySQL given %lld - received %lld "
                   "= %lld in transit: ok", k, (long long) s->held[k],
                   (long long) s->in_transit[k], (long long) s->drawn[k],
                   (long long) s->combined[k], (long long) want,
                   (long long) s->given[k], (long long) s->received[k],
                   (long long) open);
            continue;
        }

        cc_log("cards: kind %u: held %lld + in transit %lld = %lld, drawn "
               "%lld - combined %lld = %lld: %+lld cards; MySQL given %lld - "
               "received %lld = %lld, in transit %lld: %+lld: DIFFERENCE",
               k, (long long) s->held[k], (long long) s->in_transit[k],
               (long long) have, (long long) s->drawn[k],
               (long long) s->combined[k], (long long) want,
               (long long) (have - want), (long long) s->given[k],
               (long long) s->received[k], (long long) open,
               (long long) s->in_transit[k],
               (long long) (open - s->in_transit[k]));
        s->kind_diffs++;
    }
}


/* 1. every MySQL shard's totals, then the combines by the kinds known */
static int
cc_cardcheck_mysql(cc_cardcheck_t *cc, uint64_t *users)
{
    size_t    i;
    unsigned  k;

    for (i = 0; i < cc->st->nshards; i++) {
        if (cc_store_connect(cc->st) != 0) {
            snprintf(cc->err, sizeof(cc->err), "%s", cc->st->err);
            return -1;
        }

        /* a new snapshot: nothing read before this check */
        (void) mysql_rollback(cc->st->shards[i].conn);

        if (cc_cardcheck_totals(cc, &cc->st->shards[i], users) != 0) {
            return -1;
        }
    }

    /* the kinds of the campaign: those drawn (a combine needs them all) */
    for (k = 0; k < CC_KINDS_MAX; k++) {
        if (cc->stats.drawn[k] > 0) {
            cc->stats.nkinds = k + 1;
        }
    }

    for (i = 0; i < cc->st->nshards; i++) {
        if (cc_cardcheck_combined(cc, &cc->st->shards[i]) != 0) {
            return -1;
        }
    }

    return 0;
}


int
cc_cardcheck_run(cc_cardcheck_t *cc)
{
    int       rc;
    size_t    r;
    uint64_t  users, matched;

    memset(&cc->stats, 0, sizeof(cc->stats));
    users = 0;
    matched = 0;
    rc = -1;

    if (cc_cardcheck_mysql(cc, &users) != 0) {
        goto done;
    }

    for (r = 0; r < cc->nredis; r++) {
        if (cc_cardcheck_users(cc, r, &matched) != 0
            || cc_cardcheck_outbox(cc, r) != 0)
        {
            goto done;
        }

        cc_log("cards: redis %s: %llu users compared so far, %llu "
               "differences", cc->names[r],
               (unsigned long long) cc->stats.users,
               (unsigned long long) cc->stats.user_diffs);
    }

    if (users > matched) {
        cc->stats.mysql_only = users - matched;
        cc_log("cards: %llu users have cards in MySQL and no hash in any "
               "Redis shard (cc-reconcile --lost names them)",
               (unsigned long long) cc->stats.mysql_only);
    }

    cc_cardcheck_kinds(cc);

    if (cc->stats.gift_kinds > 0 && cc_cardcheck_gifts(cc) != 0) {
        goto done;
    }

    rc = 0;

done:

    /* the snapshots end here: a daemon's next check reads anew */
    for (r = 0; r < cc->st->nshards; r++) {
        if (cc->st->shards[r].conn != NULL) {
            (void) mysql_rollback(cc->st->shards[r].conn);
        }
    }

    return rc;
}
