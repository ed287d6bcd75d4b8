/*
 * cc_store: the sharded MySQL that draws end in.
 */

#define _GNU_SOURCE

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_addr.h"
#include "cc_sqlbuf.h"
#include "cc_store.h"
#include "cc_worker.h"
#include "cc_shard_sql.h"            /* generated from sql/shard.sql */
#include "cc_money_sql.h"            /* generated from sql/money.sql */
#include "cc_shard_grants_sql.h"     /* from sql/shard_grants.sql */


typedef struct {
    uint64_t  uid;
    uint32_t  card;
} cc_store_pair_t;


void
cc_store_fail(cc_store_t *st, cc_store_shard_t *sh, const char *what)
{
    snprintf(st->err, sizeof(st->err), "shard %s: %s: %s", sh->name, what,
             sh->conn ? mysql_error(sh->conn) : "not connected");

    /* whatever went wrong, the next attempt starts on a new connection */
    if (sh->conn != NULL) {
        mysql_close(sh->conn);
        sh->conn = NULL;
    }
}


/*
 * "host:port[,host:port...]/database", the database a plain identifier:
 * the candidates into sh->cand
 */
static int
cc_store_parse_name(const char *name, cc_store_shard_t *sh, const char **db,
    const char **why)
{
    const char  *slash, *p, *comma;

    slash = strchr(name, '/');

    if (slash == NULL) {
        *why = "no /database";
        return -1;
    }

    sh->ncand = 0;

    for (p = name; ; p = comma + 1) {
        comma = memchr(p, ',', (size_t) (slash - p));

        if (sh->ncand == CC_STORE_CANDIDATES_MAX) {
            *why = "more than 4 host:port";
            return -1;
        }

        if (cc_addr_parse(p, (size_t) ((comma ? comma : slash) - p),
                          &sh->cand[sh->ncand], why)
            != 0)
        {
            return -1;
        }

        sh->ncand++;

        if (comma == NULL) {
            break;
        }
    }

    *db = slash + 1;

    if (**db == '\0' || strspn(*db, "abcdefghijklmnopqrstuvwxyz"
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
                        != strlen(*db))
    {
        *why = "bad database name";
        return -1;
    }

    return 0;
}


int
cc_store_open(cc_store_t *st, char *const *names, size_t n,
    const char *user, const char *password)
{
    size_t             i, lens[CC_STORE_SHARDS_MAX];
    const char        *keys[CC_STORE_SHARDS_MAX], *db, *why;
    cc_store_shard_t  *sh;

    memset(st, 0, sizeof(*st));
    st->user = user;
    st->password = password;

    if (n == 0 || n > CC_STORE_SHARDS_MAX) {
        snprintf(st->err, sizeof(st->err), "1..%d MySQL shards, not %zu",
                 CC_STORE_SHARDS_MAX, n);
        return -1;
    }

    for (i = 0; i < n; i++) {
        sh = &st->shards[i];

        if (cc_store_parse_name(names[i], sh, &db, &why) != 0) {
            snprintf(st->err, sizeof(st->err), "bad MySQL shard \"%s\", "
                     "expected host:port/database (%s)", names[i], why);
            cc_store_close(st);
            return -1;
        }

        sh->name = strdup(names[i]);
        sh->db = strdup(db);
        sh->primary = 0;
        sh->host = sh->cand[0].host;
        sh->port = sh->cand[0].port;
        st->nshards++;

        if (sh->name == NULL || sh->db == NULL) {
            snprintf(st->err, sizeof(st->err), "out of memory");
            cc_store_close(st);
            return -1;
        }

        keys[i] = sh->name;
        lens[i] = strlen(sh->name);
    }

    st->points = malloc(cc_ring_npoints(n) * sizeof(cc_ring_point_t));

    if (st->points == NULL
        || cc_ring_build(&st->ring, st->points, keys, lens, n) != 0)
    {
        snprintf(st->err, sizeof(st->err), "cannot build the shard ring");
        cc_store_close(st);
        return -1;
    }

    return 0;
}


void
cc_store_close(cc_store_t *st)
{
    size_t  i;

    for (i = 0; i < st->nshards; i++) {
        if (st->shards[i].conn != NULL) {
            mysql_close(st->shards[i].conn);
        }

        free(st->shards[i].name);
        free(st->shards[i].db);
    }

    free(st->points);
    st->points = NULL;
    st->nshards = 0;
}


uint32_t
cc_store_shard_of(const cc_store_t *st, uint64_t uid)
{
    return cc_ring_shard(&st->ring, uid);
}


/* a connection to candidate a, or NULL with why (the client's error) */
static MYSQL *
cc_store_dial(cc_store_t *st, cc_store_shard_t *sh, const cc_addr_t *a,
    int use_db, char *why, size_t whylen)
{
    MYSQL         *conn;
    unsigned int   timeout;
    my_bool        off;

    conn = mysql_init(NULL);
    if (conn == NULL) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }

    timeout = 5;
    mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    timeout = 60;
    mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(conn, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    off = 0;
    mysql_options(conn, MYSQL_OPT_RECONNECT, &off);

    if (mysql_real_connect(conn, a->host, st->user, st->password,
                           use_db ? sh->db : NULL, a->port, NULL,
                           CLIENT_MULTI_STATEMENTS)
        == NULL)
    {
        snprintf(why, whylen, "connect: %s", mysql_error(conn));
        mysql_close(conn);
        return NULL;
    }

    if (mysql_autocommit(conn, 0) != 0) {
        snprintf(why, whylen, "autocommit off: %s", mysql_error(conn));
        mysql_close(conn);
        return NULL;
    }

    return conn;
}


/* @@global.read_only on conn: 0 writable, 1 read-only, -1 with why */
static int
cc_store_read_only(MYSQL *conn, char *why, size_t whylen)
{
    int         ro;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    if (mysql_query(conn, "SELECT @@global.read_only") != 0
        || (res = mysql_store_result(conn)) == NULL)
    {
        snprintf(why, whylen, "read_only: %s", mysql_error(conn));
        return -1;
    }

    row = mysql_fetch_row(res);
    ro = row == NULL || row[0] == NULL || strcmp(row[0], "0") != 0;
    mysql_free_result(res);

    if (ro) {
        snprintf(why, whylen, "read-only");
    }

    return ro;
}


/*
 * The shard's primary: its one server, or the first writable candidate,
 * starting from the one found last time (a promotion moves it; the
 * move is logged).  0, or -1 with st->err naming each candidate's reason.
 */
int
cc_store_connect_shard(cc_store_t *st, cc_store_shard_t *sh, int use_db)
{
    return cc_store_connect_shard_err(st, sh, use_db, st->err,
                                      sizeof(st->err));
}


int
cc_store_connect_shard_err(cc_store_t *st, cc_store_shard_t *sh, int use_db,
    char *err, size_t errlen)
{
    int       n;
    char      why[256], *p, *end;
    size_t    k, i;
    MYSQL    *conn;

    if (sh->conn != NULL) {
        return 0;
    }

    p = err;
    end = err + errlen;
    n = snprintf(p, (size_t) (end - p), "shard %s: ", sh->name);
    p = n < end - p ? p + n : end - 1;

    for (k = 0; k < sh->ncand; k++) {
        i = (sh->primary + k) % sh->ncand;

        conn = cc_store_dial(st, sh, &sh->cand[i], use_db, why, sizeof(why));

        /* one candidate: its server whatever it says, as ever */
        if (conn != NULL && sh->ncand > 1
            && cc_store_read_only(conn, why, sizeof(why)) != 0)
        {
            mysql_close(conn);
            conn = NULL;
        }

        if (conn == NULL) {
            if (p < end) {
                n = snprintf(p, (size_t) (end - p), "%s%s",
                             k ? "; " : "", sh->ncand > 1 ? "" : why);
                p = n < end - p ? p + n : end - 1;
            }

            if (sh->ncand > 1 && p < end) {
                n = snprintf(p, (size_t) (end - p), "%s:%u: %s",
                             sh->cand[i].host, sh->cand[i].port, why);
                p = n < end - p ? p + n : end - 1;
            }

            continue;
        }

        if (i != sh->primary) {
            cc_log("mysql shard %s: the primary is now %s:%u (was %s:%u)",
                   sh->name, sh->cand[i].host, sh->cand[i].port,
                   sh->cand[sh->primary].host, sh->cand[sh->primary].port);
            sh->primary = i;
            sh->host = sh->cand[i].host;
            sh->port = sh->cand[i].port;
        }

        sh->conn = conn;
        return 0;
    }

    if (sh->ncand > 1 && p < end) {
        snprintf(p, (size_t) (end - p), " (no writable primary)");
    }

    return -1;
}


int
cc_store_connect(cc_store_t *st)
{
    size_t  i;

    for (i = 0; i < st->nshards; i++) {
        if (cc_store_connect_shard(st, &st->shards[i], 1) != 0) {
            return -1;
        }
    }

    return 0;
}


/* runs a multi-statement text and drains its results */
static int
cc_store_exec_all(cc_store_t *st, cc_store_shard_t *sh, const char *sql)
{
    int         rc;
    MYSQL_RES  *res;

    if (mysql_query(sh->conn, sql) != 0) {
        cc_store_fail(st, sh, "query");
        return -1;
    }

    do {
        res = mysql_store_result(sh->conn);
        if (res != NULL) {
            mysql_free_result(res);
        }

        rc = mysql_next_result(sh->conn);
    } while (rc == 0);

    if (rc > 0) {
        cc_store_fail(st, sh, "query");
        return -1;
    }

    return 0;
}


int
cc_store_init_schema(cc_store_t *st)
{
    char               sql[256];
    size_t             i;
    cc_store_shard_t  *sh;

    for (i = 0; i < st->nshards; i++) {
        sh = &st->shards[i];

        if (cc_store_connect_shard(st, sh, 0) != 0) {
            return -1;
        }

        snprintf(sql, sizeof(sql),
                 "CREATE DATABASE IF NOT EXISTS `%s`; USE `%s`", sh->db,
                 sh->db);

        if (cc_store_exec_all(st, sh, sql) != 0
            || cc_store_exec_all(st, sh, cc_shard_sql) != 0
            || cc_store_exec_all(st, sh, cc_money_sql) != 0
            || cc_store_exec_all(st, sh, cc_shard_grants_sql) != 0)
        {
            return -1;
        }

        if (mysql_commit(sh->conn) != 0) {
            cc_store_fail(st, sh, "commit");
            return -1;
        }
    }

    return 0;
}


static int
cc_store_pair_cmp(const void *a, const void *b)
{
    const cc_store_pair_t  *pa = a, *pb = b;

    if (pa->uid != pb->uid) {
        return pa->uid < pb->uid ? -1 : 1;
    }

    return (int) pa->card - (int) pb->card;
}


/* how one statement of a shard's write ended */
typedef enum {
    CC_STORE_STEP_OK = 0,
    CC_STORE_STEP_NOMEM,             /* not sent: the caller rolls back */
    CC_STORE_STEP_FAILED             /* st->err set, the connection closed */
} cc_store_step_e;


/* INSERT IGNORE INTO eligibility: the rows added into *added */
static cc_store_step_e
cc_store_insert_eligibility(cc_store_t *st, cc_store_shard_t *sh,
    cc_sqlbuf_t *b, const cc_combine_t *const *combines, size_t nc,
    my_ulonglong *added)
{
    size_t  i;

    b->len = 0;

    if (cc_sqlbuf_printf(b, "INSERT IGNORE INTO eligibility "
                      "(uid, request_id, combined_at, wildcard_kind, "
                      "wildcards_used, replaced_kinds) VALUES ") != 0)
    {
        return CC_STORE_STEP_NOMEM;
    }

    /* wildcard_kind NULL: no wildcard, one card of every kind taken */

    for (i = 0; i < nc; i++) {
        if (cc_sqlbuf_printf(b, "%s(%llu,'%s',%lld,", i ? "," : "",
                          (unsigned long long) combines[i]->uid,
                          combines[i]->request_id,
                          (long long) combines[i]->ts_ms) != 0
            || (combines[i]->wildcard == 0
                ? cc_sqlbuf_printf(b, "NULL,0,0)")
                : cc_sqlbuf_printf(b, "%u,%u,%u)",
                                   combines[i]->wildcard - 1,
                                   combines[i]->wild,
                                   combines[i]->replaced)) != 0)
        {
            return CC_STORE_STEP_NOMEM;
        }
    }

    if (mysql_real_query(sh->conn, b->p, b->len) != 0) {
        cc_store_fail(st, sh, "insert eligibility");
        return CC_STORE_STEP_FAILED;
    }

    *added = mysql_affected_rows(sh->conn);
    return CC_STORE_STEP_OK;
}


/*
 * INSERT IGNORE INTO draws ... RETURNING uid, card: the new rows' pairs
 * into *pairs (malloc'd, the caller's to free) and their number in *rows.
 */
static cc_store_step_e
cc_store_insert_draws(cc_store_t *st, cc_store_shard_t *sh, cc_sqlbuf_t *b,
    const cc_draw_t *const *draws, size_t n, cc_store_pair_t **pairs,
    size_t *rows)
{
    size_t      i;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    b->len = 0;

    if (cc_sqlbuf_printf(b, "INSERT IGNORE INTO draws "
                      "(uid, seq, card, request_id, drawn_at) VALUES ") != 0)
    {
        return CC_STORE_STEP_NOMEM;
    }

    for (i = 0; i < n; i++) {
        /* request_id is [A-Za-z0-9_-] (checked on decode): no quoting */
        if (cc_sqlbuf_printf(b, "%s(%llu,%u,%u,'%s',%lld)", i ? "," : "",
                          (unsigned long long) draws[i]->uid, draws[i]->seq,
                          draws[i]->card, draws[i]->request_id,
                          (long long) draws[i]->ts_ms) != 0)
        {
            return CC_STORE_STEP_NOMEM;
        }
    }

    if (cc_sqlbuf_printf(b, " RETURNING uid, card") != 0) {
        return CC_STORE_STEP_NOMEM;
    }

    if (mysql_real_query(sh->conn, b->p, b->len) != 0) {
        cc_store_fail(st, sh, "insert draws");
        return CC_STORE_STEP_FAILED;
    }

    res = mysql_store_result(sh->conn);
    if (res == NULL) {
        cc_store_fail(st, sh, "insert draws result");
        return CC_STORE_STEP_FAILED;
    }

    *rows = mysql_num_rows(res);

    if (*rows > 0) {
        *pairs = malloc(*rows * sizeof(cc_store_pair_t));
        if (*pairs == NULL) {
            mysql_free_result(res);
            return CC_STORE_STEP_NOMEM;
        }
    }

    for (i = 0; i < *rows && (row = mysql_fetch_row(res)) != NULL; i++) {
        (*pairs)[i].uid = strtoull(row[0], NULL, 10);
        (*pairs)[i].card = (uint32_t) strtoul(row[1], NULL, 10);
    }

    mysql_free_result(res);
    return CC_STORE_STEP_OK;
}


/* INSERT INTO user_cards: the new draws counted by (uid, card) */
static cc_store_step_e
cc_store_count_cards(cc_store_t *st, cc_store_shard_t *sh, cc_sqlbuf_t *b,
    cc_store_pair_t *pairs, size_t rows)
{
    size_t  i, j, k;

    qsort(pairs, rows, sizeof(cc_store_pair_t), cc_store_pair_cmp);

    b->len = 0;

    if (cc_sqlbuf_printf(b, "INSERT INTO user_cards (uid, card, n) "
                      "VALUES ") != 0)
    {
        return CC_STORE_STEP_NOMEM;
    }

    for (i = 0, k = 0; i < rows; i = j, k++) {
        for (j = i + 1; j < rows
             && cc_store_pair_cmp(&pairs[i], &pairs[j]) == 0; j++)
        {
            /* void */
        }

        if (cc_sqlbuf_printf(b, "%s(%llu,%u,%zu)", k ? "," : "",
                          (unsigned long long) pairs[i].uid,
                          pairs[i].card, j - i) != 0)
        {
            return CC_STORE_STEP_NOMEM;
        }
    }

    if (cc_sqlbuf_printf(b, " ON DUPLICATE KEY UPDATE n = n + VALUES(n)")
        != 0)
    {
        return CC_STORE_STEP_NOMEM;
    }

    if (mysql_real_query(sh->conn, b->p, b->len) != 0) {
        cc_store_fail(st, sh, "count cards");
        return CC_STORE_STEP_FAILED;
    }

    return CC_STORE_STEP_OK;
}


/*
 * The draws of a batch that were there already (a redelivery, or a Redis
 * failover that reused their ids): each compared with the row MySQL
 * holds.  The same request: a redelivery, nothing to say.  Another: the
 * promoted shard drew seq again for a new flip after losing the answered
 * one (cc_redis_wait off), so that flip is not in MySQL: logged with the
 * draw, whole, and counted in st->reused (README, "Losing a server").
 */
static cc_store_step_e
cc_store_check_reused(cc_store_t *st, cc_store_shard_t *sh, cc_sqlbuf_t *b,
    const cc_draw_t *const *draws, size_t n)
{
    size_t      i;
    uint64_t    uid;
    uint32_t    seq;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    b->len = 0;

    if (cc_sqlbuf_printf(b, "SELECT uid, seq, request_id FROM draws WHERE "
                         "(uid, seq) IN (") != 0)
    {
        return CC_STORE_STEP_NOMEM;
    }

    for (i = 0; i < n; i++) {
        if (cc_sqlbuf_printf(b, "%s(%llu,%u)", i ? "," : "",
                             (unsigned long long) draws[i]->uid,
                             draws[i]->seq) != 0)
        {
            return CC_STORE_STEP_NOMEM;
        }
    }

    if (cc_sqlbuf_printf(b, ")") != 0) {
        return CC_STORE_STEP_NOMEM;
    }

    if (mysql_real_query(sh->conn, b->p, b->len) != 0
        || (res = mysql_store_result(sh->conn)) == NULL)
    {
        cc_store_fail(st, sh, "check draw ids");
        return CC_STORE_STEP_FAILED;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        uid = strtoull(row[0], NULL, 10);
        seq = (uint32_t) strtoul(row[1], NULL, 10);

        for (i = 0; i < n; i++) {
            if (draws[i]->uid == uid && draws[i]->seq == seq
                && strcmp(draws[i]->request_id, row[2]) != 0)
            {
                st->reused++;
                cc_log("shard %s: draw %llu:%u reused: MySQL holds request "
                       "%s, this draw is request %s (card %u, at %lld ms), "
                       "not written: a Redis failover lost the first",
                       sh->name, (unsigned long long) uid, seq, row[2],
                       draws[i]->request_id, draws[i]->card,
                       (long long) draws[i]->ts_ms);
            }
        }
    }

    mysql_free_result(res);

    return CC_STORE_STEP_OK;
}


/*
 * One shard's part of a batch, in one transaction:
 *
 *   INSERT IGNORE INTO eligibility ...                 -- the combines
 *   INSERT IGNORE INTO draws ... RETURNING uid, card   -- the new rows only
 *   INSERT INTO user_cards ... ON DUPLICATE KEY UPDATE n = n + VALUES(n)
 *   COMMIT
 */
static int
cc_store_write_shard(cc_store_t *st, cc_store_shard_t *sh,
    const cc_draw_t *const *draws, size_t n,
    const cc_combine_t *const *combines, size_t nc, size_t *inserted)
{
    size_t            rows = 0;
    my_ulonglong      added = 0;
    cc_sqlbuf_t       b = { NULL, 0, 0 };
    cc_store_step_e   step = CC_STORE_STEP_OK;
    cc_store_pair_t  *pairs = NULL;

    if (cc_store_connect_shard(st, sh, 1) != 0) {
        return -1;
    }

    if (nc > 0) {
        step = cc_store_insert_eligibility(st, sh, &b, combines, nc, &added);
    }

    if (step == CC_STORE_STEP_OK && n > 0) {
        step = cc_store_insert_draws(st, sh, &b, draws, n, &pairs, &rows);
    }

    if (step == CC_STORE_STEP_OK && rows > 0) {
        step = cc_store_count_cards(st, sh, &b, pairs, rows);
    }

    if (step == CC_STORE_STEP_OK && rows < n) {
        step = cc_store_check_reused(st, sh, &b, draws, n);
    }

    if (step == CC_STORE_STEP_NOMEM) {
        goto nomem;
    }

    if (step == CC_STORE_STEP_FAILED) {
        goto failed;
    }

    if (mysql_commit(sh->conn) != 0) {
        cc_store_fail(st, sh, "commit");
        goto failed;
    }

    *inserted += rows + added;

    free(pairs);
    free(b.p);
    return 0;

nomem:

    snprintf(st->err, sizeof(st->err), "shard %s: out of memory", sh->name);

    if (sh->conn != NULL) {
        (void) mysql_rollback(sh->conn);
    }

failed:

    free(pairs);
    free(b.p);
    return -1;
}


/*
 * Each event's shard is looked up once, and the events are grouped by
 * shard with a counting sort: one pass over the batch whatever the number
 * of shards.
 */
int
cc_store_write(cc_store_t *st, const cc_draw_t *draws, size_t n,
    const cc_combine_t *combines, size_t nc, size_t *inserted)
{
    int                   rc;
    size_t                i, s, d0, c0, *dstart, *cstart;
    uint32_t             *dshard, *cshard;
    const cc_draw_t     **part;
    const cc_combine_t  **cpart;

    *inserted = 0;

    if (n + nc == 0) {
        return 0;
    }

    part = malloc((n + 1) * sizeof(cc_draw_t *));
    cpart = malloc((nc + 1) * sizeof(cc_combine_t *));
    dshard = malloc((n + 1) * sizeof(uint32_t));
    cshard = malloc((nc + 1) * sizeof(uint32_t));
    dstart = calloc(st->nshards + 1, sizeof(size_t));
    cstart = calloc(st->nshards + 1, sizeof(size_t));

    rc = -1;

    if (part == NULL || cpart == NULL || dshard == NULL || cshard == NULL
        || dstart == NULL || cstart == NULL)
    {
        snprintf(st->err, sizeof(st->err), "out of memory");
        goto done;
    }

    /* count per shard, turn the counts into start offsets, then place */

    for (i = 0; i < n; i++) {
        dshard[i] = cc_store_shard_of(st, draws[i].uid);
        dstart[dshard[i] + 1]++;
    }

    for (i = 0; i < nc; i++) {
        cshard[i] = cc_store_shard_of(st, combines[i].uid);
        cstart[cshard[i] + 1]++;
    }

    for (s = 1; s <= st->nshards; s++) {
        dstart[s] += dstart[s - 1];
        cstart[s] += cstart[s - 1];
    }

    for (i = 0; i < n; i++) {
        part[dstart[dshard[i]]++] = &draws[i];
    }

    for (i = 0; i < nc; i++) {
        cpart[cstart[cshard[i]]++] = &combines[i];
    }

    /* each start now points at the next shard's first event */

    rc = 0;

    for (s = 0; s < st->nshards && rc == 0; s++) {
        d0 = s ? dstart[s - 1] : 0;
        c0 = s ? cstart[s - 1] : 0;

        if (dstart[s] - d0 + cstart[s] - c0 > 0) {
            rc = cc_store_write_shard(st, &st->shards[s], part + d0,
                                      dstart[s] - d0, cpart + c0,
                                      cstart[s] - c0, inserted);
        }
    }

done:

    free(part);
    free(cpart);
    free(dshard);
    free(cshard);
    free(dstart);
    free(cstart);

    return rc;
}


/* appends to [*p, end), NUL-terminated; -1 if it does not fit */
static int
cc_store_sql_add(char **p, const char *end, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(*p, (size_t) (end - *p), fmt, ap);
    va_end(ap);

    if (n < 0 || n >= end - *p) {
        return -1;
    }

    *p += n;
    return 0;
}


/* s escaped for a quoted MySQL string into [*p, end); -1 if no room */
static int
cc_store_sql_escape(cc_store_shard_t *sh, char **p, const char *end,
    const char *s, size_t len)
{
    if ((size_t) (end - *p) <= 2 * len) {
        return -1;
    }

    *p += mysql_real_escape_string(sh->conn, *p, s, len);
    return 0;
}


int
cc_store_dead_letter(cc_store_t *st, const char *topic, int part,
    int64_t off, const char *reason, const void *payload, size_t len)
{
    char              *sql, *p, *end;
    size_t             i, tlen, rlen, size;
    cc_store_shard_t  *sh;
    static const char  hex[] = "0123456789abcdef";

    sh = &st->shards[0];

    if (cc_store_connect_shard(st, sh, 1) != 0) {
        return -1;
    }

    if (len > 4096) {
        len = 4096;
    }

    tlen = strlen(topic);
    rlen = strlen(reason);

    /* 256 for the words and numbers, each text escaped at most doubled */
    size = 256 + 2 * tlen + 2 * rlen + 2 * len;
    sql = malloc(size);
    if (sql == NULL) {
        snprintf(st->err, sizeof(st->err), "out of memory");
        return -1;
    }

    p = sql;
    end = sql + size;

    if (cc_store_sql_add(&p, end, "INSERT IGNORE INTO dead_letters "
                         "(topic, part, off, reason, payload) VALUES ('")
        != 0
        || cc_store_sql_escape(sh, &p, end, topic, tlen) != 0
        || cc_store_sql_add(&p, end, "', %d, %lld, '", part, (long long) off)
           != 0
        || cc_store_sql_escape(sh, &p, end, reason, rlen) != 0
        || cc_store_sql_add(&p, end, "', X'") != 0
        || (size_t) (end - p) <= 2 * len)
    {
        goto toolong;
    }

    for (i = 0; i < len; i++) {
        *p++ = hex[((const unsigned char *) payload)[i] >> 4];
        *p++ = hex[((const unsigned char *) payload)[i] & 0xf];
    }

    if (cc_store_sql_add(&p, end, "')") != 0) {
        goto toolong;
    }

    if (mysql_real_query(sh->conn, sql, p - sql) != 0) {
        cc_store_fail(st, sh, "dead letter");
        free(sql);
        return -1;
    }

    free(sql);

    if (mysql_commit(sh->conn) != 0) {
        cc_store_fail(st, sh, "commit");
        return -1;
    }

    return 0;

toolong:

    /* not reached: the size above holds every piece */
    snprintf(st->err, sizeof(st->err), "dead letter: statement too long");
    free(sql);
    return -1;
}
