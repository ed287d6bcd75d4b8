/*
 * cc_restore: see cc_restore.h.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_keys.h"
#include "cc_restore.h"
#include "cc_sqlbuf.h"
#include "cc_worker.h"
#include "cc_restore_lua.h"      /* generated: workers/lib/lua/restore.lua */


typedef struct {
    uint64_t    uid;
    uint64_t    maxseq;             /* MySQL's highest seq */
    uint64_t    s;                  /* the Redis shard's */
    int         has_e;              /* the Redis shard has e */
    char        e[128];             /* MySQL's combine, "" for none */
    char        x[8];               /* its kinds a wildcard replaced */
    uint32_t    redis;              /* the user's Redis shard */
    int         lost;
    size_t      d0, nd;             /* its lost draws in the draw rows */
    size_t      k0, k1, nk;         /* its kind rows, its cards taken */
} cc_restore_user_t;

typedef struct {
    MYSQL_ROW  *rows;               /* into res, which owns the data */
    size_t      n;
    MYSQL_RES  *res;
} cc_restore_rows_t;


static int
cc_restore_fail(cc_restore_t *rs, cc_store_shard_t *sh, const char *what)
{
    snprintf(rs->err, sizeof(rs->err), "shard %s: %s: %s", sh->name, what,
             sh->conn ? mysql_error(sh->conn) : "not connected");

    /* the next connect looks for the primary again (error 1290 too) */
    if (sh->conn != NULL) {
        mysql_close(sh->conn);
        sh->conn = NULL;
    }

    return -1;
}


/* the rows of a query, all in memory: 0, or -1 with rs->err */
static int
cc_restore_query(cc_restore_t *rs, cc_store_shard_t *sh, const cc_sqlbuf_t *b,
    const char *what, cc_restore_rows_t *out)
{
    size_t     i;
    MYSQL_ROW  row;

    memset(out, 0, sizeof(*out));

    if (mysql_real_query(sh->conn, b->p, b->len) != 0
        || (out->res = mysql_store_result(sh->conn)) == NULL)
    {
        return cc_restore_fail(rs, sh, what);
    }

    out->n = mysql_num_rows(out->res);
    out->rows = malloc((out->n + 1) * sizeof(MYSQL_ROW));

    if (out->rows == NULL) {
        mysql_free_result(out->res);
        out->res = NULL;
        snprintf(rs->err, sizeof(rs->err), "out of memory");
        return -1;
    }

    for (i = 0; i < out->n && (row = mysql_fetch_row(out->res)) != NULL; i++)
    {
        out->rows[i] = row;
    }

    out->n = i;

    return 0;
}


static void
cc_restore_free(cc_restore_rows_t *r)
{
    if (r->res != NULL) {
        mysql_free_result(r->res);
    }

    free(r->rows);
    memset(r, 0, sizeof(*r));
}


/* a lost combine: MySQL's eligibility row, no e in Redis */
#define cc_restore_lost_combine(u)  ((u)->e[0] != '\0' && !(u)->has_e)


/* " uid IN (u, ...)" of the users (with lost, those of a lost combine) */
static int
cc_restore_in(cc_sqlbuf_t *b, const cc_restore_user_t *u, size_t n, int lost)
{
    size_t  i, k;

    if (cc_sqlbuf_printf(b, " uid IN (") != 0) {
        return -1;
    }

    for (i = 0, k = 0; i < n; i++) {
        if (lost && !cc_restore_lost_combine(&u[i])) {
            continue;
        }

        if (cc_sqlbuf_printf(b, "%s%" PRIu64, k++ ? "," : "", u[i].uid) != 0) {
            return -1;
        }
    }

    return cc_sqlbuf_printf(b, ")");
}


/* a lost draw's id "uid:seq" into the sample, the first few */
static void
cc_restore_sample(cc_restore_stats_t *st, const char *uid, const char *seq)
{
    size_t  len;

    if (st->nsample == CC_RESTORE_SAMPLE) {
        return;
    }

    len = strlen(st->sample);
    snprintf(st->sample + len, sizeof(st->sample) - len, "%s%s:%s",
             len ? " " : "", uid, seq);
    st->nsample++;
}


/* each user's s and e on its Redis shard, one pipeline a shard */
static int
cc_restore_redis_read(cc_restore_t *rs, cc_restore_user_t *u, size_t n)
{
    char          key[CC_KEY_MAX];
    size_t        i;
    redisReply   *r;
    redisContext *c;

    for (i = 0; i < n; i++) {
        u[i].redis = cc_ring_shard(rs->ring, u[i].uid);
        cc_key_user(key, u[i].uid);

        if (redisAppendCommand(rs->redis[u[i].redis], "HMGET %s %s %s", key,
                               CC_FIELD_SEQ, CC_FIELD_COMBINE)
            != REDIS_OK)
        {
            snprintf(rs->err, sizeof(rs->err), "redis %s: out of memory",
                     rs->names[u[i].redis]);
            return -1;
        }
    }

    /* a shard's replies come in the order its commands went */
    for (i = 0; i < n; i++) {
        c = rs->redis[u[i].redis];

        if (redisGetReply(c, (void **) &r) != REDIS_OK) {
            snprintf(rs->err, sizeof(rs->err), "redis %s: HMGET: %s",
                     rs->names[u[i].redis], c->errstr);
            return -1;
        }

        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            snprintf(rs->err, sizeof(rs->err), "redis %s: HMGET: %s",
                     rs->names[u[i].redis],
                     r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
            freeReplyObject(r);
            return -1;
        }

        u[i].s = r->element[0]->type == REDIS_REPLY_STRING
                 ? strtoull(r->element[0]->str, NULL, 10) : 0;
        u[i].has_e = r->element[1]->type == REDIS_REPLY_STRING;
        freeReplyObject(r);
    }

    return 0;
}


/*
 * The ONE script call of a Redis shard's lost users of a page: KEYS their
 * hashes, ARGV as restore.lua reads it.  Its five counts into the stats.
 */
static int
cc_restore_call(cc_restore_t *rs, uint32_t shard, const cc_restore_user_t *u,
    size_t n, const cc_restore_rows_t *d, const cc_restore_rows_t *k)
{
    int          rc;
    char       **argv, num[CC_KEY_MAX];    /* a user key or a number */
    size_t       i, j, nk, na, cap, *lens;
    uint64_t     t;
    redisReply  *r;

    nk = 0;
    cap = 4;

    for (i = 0; i < n; i++) {
        if (u[i].lost && u[i].redis == shard) {
            nk++;
            cap += 1 + 4 + 4 * u[i].nd + u[i].nk;
        }
    }

    if (nk == 0) {
        return 0;
    }

    argv = calloc(cap, sizeof(char *));
    lens = calloc(cap, sizeof(size_t));
    rc = -1;

    if (argv == NULL || lens == NULL) {
        goto nomem;
    }

    na = 0;

#define CC_RESTORE_ARG(s)                                                    \
    do {                                                                     \
        if ((argv[na] = strdup(s)) == NULL) {                                \
            goto nomem;                                                      \
        }                                                                    \
        lens[na] = strlen(argv[na]);                                         \
        na++;                                                                \
    } while (0)

    CC_RESTORE_ARG("EVAL");
    CC_RESTORE_ARG(cc_restore_lua);
    snprintf(num, sizeof(num), "%zu", nk);
    CC_RESTORE_ARG(num);

    for (i = 0; i < n; i++) {
        if (u[i].lost && u[i].redis == shard) {
            cc_key_user(num, u[i].uid);
            CC_RESTORE_ARG(num);
        }
    }

    snprintf(num, sizeof(num), "%lld", rs->ttl_s);
    CC_RESTORE_ARG(num);

    for (i = 0; i < n; i++) {
        if (!u[i].lost || u[i].redis != shard) {
            continue;
        }

        snprintf(num, sizeof(num), "%zu", u[i].nd);
        CC_RESTORE_ARG(num);
        snprintf(num, sizeof(num), "%zu", u[i].nk);
        CC_RESTORE_ARG(num);
        CC_RESTORE_ARG(u[i].e);
        CC_RESTORE_ARG(u[i].x[0] != '\0' ? u[i].x : "0");

        /* seq, card, request_id, drawn_at */
        for (j = u[i].d0; j < u[i].d0 + u[i].nd; j++) {
            CC_RESTORE_ARG(d->rows[j][1]);
            CC_RESTORE_ARG(d->rows[j][2]);
            CC_RESTORE_ARG(d->rows[j][3]);
            CC_RESTORE_ARG(d->rows[j][4]);
        }

        for (j = u[i].k0; j < u[i].k1; j++) {
            for (t = strtoull(k->rows[j][2], NULL, 10); t > 0; t--) {
                CC_RESTORE_ARG(k->rows[j][1]);
            }
        }
    }

#undef CC_RESTORE_ARG

    r = redisCommandArgv(rs->redis[shard], (int) na, (const char **) argv,
                         lens);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 5) {
        snprintf(rs->err, sizeof(rs->err), "redis %s: restore.lua: %s",
                 rs->names[shard],
                 r == NULL ? rs->redis[shard]->errstr
                 : r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        freeReplyObject(r);
        goto done;
    }

    rs->stats.restored += (uint64_t) r->element[0]->integer;
    rs->stats.overissued += (uint64_t) r->element[1]->integer;
    rs->stats.gaps += (uint64_t) r->element[2]->integer;
    rs->stats.combines += (uint64_t) r->element[3]->integer;
    rs->stats.short_cards += (uint64_t) r->element[4]->integer;
    freeReplyObject(r);
    rc = 0;
    goto done;

nomem:

    snprintf(rs->err, sizeof(rs->err), "out of memory");

done:

    for (i = 0; argv != NULL && i < cap; i++) {
        free(argv[i]);
    }

    free(argv);
    free(lens);

    return rc;
}


/*
 * The lost users of a page: their draws past s (uid, seq, card,
 * request_id, drawn_at, in uid and seq order) and, for a lost combine,
 * their kinds (uid, card); each user's slice of them; the counts and the
 * sample; then, with restore, one call a Redis shard.
 */
static int
cc_restore_lost(cc_restore_t *rs, cc_store_shard_t *sh, cc_restore_user_t *u,
    size_t n)
{
    int                 rc;
    size_t              i, j, nlost, ncombine;
    uint64_t            uid;
    cc_sqlbuf_t         b = { NULL, 0, 0 };
    cc_restore_rows_t   d, k;

    memset(&d, 0, sizeof(d));
    memset(&k, 0, sizeof(k));
    rc = -1;

    for (i = 0, nlost = 0, ncombine = 0; i < n; i++) {
        nlost += u[i].lost;
        ncombine += cc_restore_lost_combine(&u[i]);
    }

    if (nlost == 0) {
        return 0;
    }

    if (cc_sqlbuf_printf(&b, "SELECT uid, seq, card, request_id, drawn_at "
                         "FROM draws WHERE ") != 0)
    {
        goto nomem;
    }

    for (i = 0, j = 0; i < n; i++) {
        if (u[i].lost && u[i].maxseq > u[i].s
            && cc_sqlbuf_printf(&b, "%s(uid = %" PRIu64 " AND seq > %" PRIu64
                                ")", j++ ? " OR " : "", u[i].uid, u[i].s)
               != 0)
        {
            goto nomem;
        }
    }

    if (j > 0) {
        if (cc_sqlbuf_printf(&b, " ORDER BY uid, seq") != 0) {
            goto nomem;
        }

        if (cc_restore_query(rs, sh, &b, "read the lost draws", &d) != 0) {
            goto done;
        }
    }

    /*
     * The cards a lost combine took, as its eligibility row says (sql/
     * shard.sql): one of every kind, or, with a wildcard, one of each kind
     * it did not replace and wildcards_used of the wildcard; all of them
     * among the kinds the user drew.  Per kind: uid, card, how many.
     */
    b.len = 0;

    if (ncombine > 0
        && (cc_sqlbuf_printf(&b, "SELECT uid, card, CASE "
                             "WHEN wildcard_kind IS NULL THEN 1 "
                             "WHEN card = wildcard_kind THEN wildcards_used "
                             "ELSE 1 - ((replaced_kinds >> card) & 1) END "
                             "AS took FROM user_cards JOIN eligibility "
                             "USING (uid) WHERE n > 0 AND") != 0
            || cc_restore_in(&b, u, n, 1) != 0
            || cc_sqlbuf_printf(&b, " HAVING took > 0 ORDER BY uid, card")
               != 0))
    {
        goto nomem;
    }

    if (ncombine > 0
        && cc_restore_query(rs, sh, &b, "read the cards held", &k) != 0)
    {
        goto done;
    }

    /* both in uid order, as the users: each user's slices */
    for (i = 0, j = 0; i < n; i++) {
        for ( ; j < d.n && strtoull(d.rows[j][0], NULL, 10) < u[i].uid; j++) {
            /* void */
        }

        u[i].d0 = j;

        for ( ; j < d.n && strtoull(d.rows[j][0], NULL, 10) == u[i].uid; j++)
        {
            cc_restore_sample(&rs->stats, d.rows[j][0], d.rows[j][1]);
        }

        u[i].nd = j - u[i].d0;
        rs->stats.lost_draws += u[i].nd;
    }

    for (i = 0, j = 0; i < n; i++) {
        uid = u[i].uid;

        for ( ; j < k.n && strtoull(k.rows[j][0], NULL, 10) < uid; j++) {
            /* void */
        }

        u[i].k0 = j;

        /* nk: the cards, a kind counted as many times as it was taken */
        for ( ; j < k.n && strtoull(k.rows[j][0], NULL, 10) == uid; j++) {
            u[i].nk += strtoull(k.rows[j][2], NULL, 10);
        }

        u[i].k1 = j;
    }

    for (i = 0; rs->restore && i < rs->nredis; i++) {
        if (cc_restore_call(rs, (uint32_t) i, u, n, &d, &k) != 0) {
            goto done;
        }
    }

    rc = 0;
    goto done;

nomem:

    snprintf(rs->err, sizeof(rs->err), "out of memory");

done:

    cc_restore_free(&d);
    cc_restore_free(&k);
    free(b.p);

    return rc;
}


/*
 * A page of a MySQL shard's users after uid *last, in uid order: their
 * highest seq (draws) and their combine (eligibility), compared with
 * their Redis shards.  The number read (0: the shard is done), or -1.
 */
static long
cc_restore_page(cc_restore_t *rs, cc_store_shard_t *sh, uint64_t *last,
    cc_restore_user_t *u)
{
    long                rc;
    size_t              i, j, n;
    cc_sqlbuf_t         b = { NULL, 0, 0 };
    cc_restore_rows_t   r;

    rc = -1;

    if (cc_sqlbuf_printf(&b, "SELECT uid, MAX(seq) FROM draws WHERE uid > %"
                         PRIu64 " GROUP BY uid ORDER BY uid LIMIT %d", *last,
                         CC_RESTORE_PAGE) != 0)
    {
        goto nomem;
    }

    if (cc_restore_query(rs, sh, &b, "read the users", &r) != 0) {
        goto done;
    }

    n = r.n;

    for (i = 0; i < n; i++) {
        memset(&u[i], 0, sizeof(cc_restore_user_t));
        u[i].uid = strtoull(r.rows[i][0], NULL, 10);
        u[i].maxseq = strtoull(r.rows[i][1], NULL, 10);
    }

    cc_restore_free(&r);

    if (n == 0) {
        rc = 0;
        goto done;
    }

    *last = u[n - 1].uid;

    b.len = 0;

    if (cc_sqlbuf_printf(&b, "SELECT uid, request_id, combined_at, "
                         "replaced_kinds FROM eligibility WHERE") != 0
        || cc_restore_in(&b, u, n, 0) != 0
        || cc_sqlbuf_printf(&b, " ORDER BY uid") != 0)
    {
        goto nomem;
    }

    if (cc_restore_query(rs, sh, &b, "read the combines", &r) != 0) {
        goto done;
    }

    for (i = 0, j = 0; j < r.n; j++) {
        while (i < n && u[i].uid < strtoull(r.rows[j][0], NULL, 10)) {
            i++;
        }

        if (i < n && u[i].uid == strtoull(r.rows[j][0], NULL, 10)) {
            snprintf(u[i].e, sizeof(u[i].e), "%s:%s", r.rows[j][1],
                     r.rows[j][2]);
            snprintf(u[i].x, sizeof(u[i].x), "%s", r.rows[j][3]);
        }
    }

    cc_restore_free(&r);

    if (cc_restore_redis_read(rs, u, n) != 0) {
        goto done;
    }

    for (i = 0; i < n; i++) {
        u[i].lost = u[i].maxseq > u[i].s || cc_restore_lost_combine(&u[i]);
        rs->stats.lost_combines += cc_restore_lost_combine(&u[i]);
    }

    rs->stats.users += n;

    if (cc_restore_lost(rs, sh, u, n) != 0) {
        goto done;
    }

    rc = (long) n;
    goto done;

nomem:

    snprintf(rs->err, sizeof(rs->err), "out of memory");

done:

    free(b.p);

    return rc;
}


int
cc_restore_run(cc_restore_t *rs)
{
    long                n;
    size_t              s;
    uint64_t            last;
    cc_restore_user_t  *u;

    memset(&rs->stats, 0, sizeof(rs->stats));

    u = malloc(CC_RESTORE_PAGE * sizeof(cc_restore_user_t));
    if (u == NULL) {
        snprintf(rs->err, sizeof(rs->err), "out of memory");
        return -1;
    }

    for (s = 0; s < rs->st->nshards; s++) {
        if (cc_store_connect(rs->st) != 0) {
            snprintf(rs->err, sizeof(rs->err), "%s", rs->st->err);
            free(u);
            return -1;
        }

        last = 0;

        do {
            n = cc_restore_page(rs, &rs->st->shards[s], &last, u);
        } while (n > 0 && cc_worker_run);

        if (n < 0) {
            free(u);
            return -1;
        }
    }

    free(u);

    return 0;
}
