/*
 * cc-payout: one MySQL shard's lane (see cc_payout.h): its connections,
 * its rows read, credited through the campaign's wallet and notified.
 *
 * A credit is cc_wallet_credit() and the awards' UPDATE to credited
 * (WHERE status IN ('pending', 'crediting')) in one transaction, so the
 * award and its transfer commit together.  A notice is award_set.lua on
 * the user's Redis shard; what says it is owed is written in the credit's
 * transaction and cleared once Redis holds it: for a bulk batch one row of
 * award_notices (the range of its award ids; the awards notified = 1 in
 * the UPDATE that credits them), told_at set after Redis; for a claim
 * notified = 0, set to 1 after Redis by the claims' lane's next
 * transaction (see sql/money.sql).
 */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_assert.h"
#include "cc_award_set.h"
#include "cc_ids.h"
#include "cc_keys.h"
#include "cc_logtext.h"
#include "cc_payout.h"
#include "cc_redis.h"


static long cc_payout_shard_told_add(cc_payout_shard_t *ps, size_t n,
    const int *ok);
static void cc_payout_shard_told_done(cc_payout_shard_t *ps);


/* ---- Redis ---------------------------------------------------------- */


/* said: "redis ADDR: why" */
static void
cc_payout_shard_redis_backoff(cc_payout_redis_t *r, const char *said)
{
    int64_t  ms;

    ms = cc_retry_later(&r->retry, cc_now_ms());
    cc_log("%s; retrying in %lld ms", said, (long long) ms);

    if (r->ctx != NULL) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}


void
cc_payout_shard_redis_down(cc_payout_redis_t *r, const char *why)
{
    char  said[512];

    snprintf(said, sizeof(said), "redis %s: %s", r->addr, why);
    cc_payout_shard_redis_backoff(r, said);
}


/*
 * A connection with award_set.lua loaded: every (re)connect loads it, so
 * a Redis that restarted and lost its script cache gets it back.  NULL
 * while the shard is down or backing off.  A connection still there when
 * asked for again served its last turn: the backoff starts over.
 */
redisContext *
cc_payout_shard_redis(cc_payout_redis_t *r)
{
    char  err[256];

    if (r->ctx != NULL) {
        cc_retry_ok(&r->retry);
        return r->ctx;
    }

    if (!cc_retry_due(&r->retry, cc_now_ms())) {
        return NULL;
    }

    r->ctx = cc_redis_connect(&r->a, r->addr, 5000, err, sizeof(err));

    if (r->ctx == NULL) {
        cc_payout_shard_redis_backoff(r, err);
        return NULL;
    }

    if (cc_award_set_load(r->ctx, r->sha, err, sizeof(err)) != 0) {
        cc_payout_shard_redis_down(r, err);
        return NULL;
    }

    return r->ctx;
}


/* ---- MySQL ---------------------------------------------------------- */


static int
cc_payout_shard_fail(cc_payout_shard_t *ps, const char *what, const char *why)
{
    int64_t            ms;
    cc_store_shard_t  *sh = ps->db;

    /* from a shard's thread, with the other shards' (cc_retry_t is safe) */
    ms = cc_retry_later(ps->retry, cc_now_ms());

    cc_log("mysql shard %s: %s: %s; retrying in %lld ms", sh->name, what,
           why ? why : (sh->conn ? mysql_error(sh->conn) : "not connected"),
           (long long) ms);

    /* the transaction is gone with the connection: nothing half done */
    if (sh->conn != NULL) {
        mysql_close(sh->conn);
        sh->conn = NULL;
    }

    return -1;
}


/*
 * After a try to connect (rc 0: it did; err: why not): the backoff
 * started over, or taken a step further and said (the first failure in a
 * row, then one line in ten); "mysqlWHO: AGAIN connected again" after
 * failures.
 */
static void
cc_payout_shard_tried(int rc, const char *err, cc_retry_t *retry,
    unsigned *fails, const char *who, const char *again)
{
    int64_t  ms;

    if (rc != 0) {
        ms = cc_retry_later(retry, cc_now_ms());

        if ((*fails)++ % 10 == 0) {
            cc_log("mysql%s: %s; retrying in %lld ms", who, err,
                   (long long) ms);
        }

        return;
    }

    if (*fails > 0) {
        cc_log("mysql%s: %s connected again", who, again);
        *fails = 0;
    }
}


/*
 * Connects the shards of st that are not, once the backoff says so (the
 * bulk's store, from the loop).  Every shard still connected since the
 * last turn: the backoff starts over.
 */
void
cc_payout_shard_connect(cc_store_t *st, cc_retry_t *retry, unsigned *fails,
    const char *who)
{
    size_t  s;

    for (s = 0; s < st->nshards; s++) {
        if (st->shards[s].conn == NULL) {
            break;
        }
    }

    if (s == st->nshards) {
        cc_retry_ok(retry);
        return;
    }

    if (cc_retry_due(retry, cc_now_ms())) {
        cc_payout_shard_tried(cc_store_connect(st), st->err, retry, fails,
                              who, "every shard");
    }
}


void
cc_payout_shard_connect_one(cc_store_t *st, size_t s, cc_retry_t *retry,
    unsigned *fails, const char *who)
{
    int   rc;
    char  err[512], again[300];

    if (st->shards[s].conn != NULL) {
        cc_retry_ok(retry);
        return;
    }

    if (!cc_retry_due(retry, cc_now_ms())) {
        return;
    }

    rc = cc_store_connect_shard_err(st, &st->shards[s], 1, err, sizeof(err));
    snprintf(again, sizeof(again), "shard %s", st->shards[s].name);
    cc_payout_shard_tried(rc, err, retry, fails, who, again);
}


int
cc_payout_shard_sql(cc_payout_shard_t *ps, size_t *len, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    CC_ASSERT(*len < ps->sql_max);

    va_start(ap, fmt);
    n = vsnprintf(ps->sql + *len, ps->sql_max - *len, fmt, ap);
    va_end(ap);

    if (n < 0 || (size_t) n >= ps->sql_max - *len) {
        /* sql_max is sized for rows_max ids: not seen, but never written
           past; the connection goes, so no half statement is run */
        return cc_payout_shard_fail(ps, "build a statement",
                                    "longer than its buffer");
    }

    *len += (size_t) n;

    return 0;
}


int
cc_payout_shard_end_read(cc_payout_shard_t *ps)
{
    if (mysql_rollback(ps->db->conn) != 0) {
        return cc_payout_shard_fail(ps, "rollback", NULL);
    }

    return 0;
}


long
cc_payout_shard_select(cc_payout_t *p, cc_payout_shard_t *ps, size_t len)
{
    MYSQL              *db = ps->db->conn;
    size_t              n;
    MYSQL_ROW           row;
    MYSQL_RES          *res;
    cc_payout_award_t  *a;

    if (mysql_real_query(db, ps->sql, len) != 0
        || (res = mysql_store_result(db)) == NULL)
    {
        return cc_payout_shard_fail(ps, "read awards", NULL);
    }

    n = 0;

    while (n < p->rows_max && (row = mysql_fetch_row(res)) != NULL) {
        /*
         * The ids go into SQL text again (the id lists, the cursor): one
         * not fit for it stops the shard, retried and logged until a
         * person mends the row, rather than run as SQL.
         */
        if (cc_check_award_id(row[0], strlen(row[0])) != 0
            || strlen(row[0]) >= sizeof(a->award_id))
        {
            char  text[96];

            (void) cc_logtext(text, sizeof(text), row[0], strlen(row[0]));
            mysql_free_result(res);
            snprintf(ps->bad_id, sizeof(ps->bad_id), "award id \"%s\" not "
                     "fit for SQL", text);
            return cc_payout_shard_fail(ps, "read awards", ps->bad_id);
        }

        a = &ps->rows[n++];
        snprintf(a->award_id, sizeof(a->award_id), "%s", row[0]);
        a->uid = strtoull(row[1], NULL, 10);
        a->amount = strtoull(row[2], NULL, 10);
        a->state = strcmp(row[3], "credited") == 0 ? CC_PAYOUT_CREDITED
                                                   : CC_PAYOUT_UNPAID;
        a->redis = cc_ring_shard(&p->ring, a->uid);
    }

    mysql_free_result(res);

    return (long) n;
}


/*
 * Appends "'id','id',..." of the rows in this state (and with ok[] set,
 * when ok is given) to the lane's statement; the number appended, or -1
 * (cc_payout_shard_sql's).
 */
static long
cc_payout_shard_ids(cc_payout_shard_t *ps, size_t *len, size_t n,
    cc_payout_award_e state, const int *ok)
{
    long    k;
    size_t  i;

    for (i = 0, k = 0; i < n; i++) {
        if (ps->rows[i].state != state || (ok != NULL && !ok[i])) {
            continue;
        }

        if (cc_payout_shard_sql(ps, len, "%s'%s'", k ? "," : "",
                                ps->rows[i].award_id) != 0)
        {
            return -1;
        }

        k++;
    }

    return k;
}


/* ---- credit --------------------------------------------------------- */


/*
 * The awards of the rows in this state set credited, in the open
 * transaction, and notified = 1 when notice (the batch's notice row
 * stands for their notices: the flag costs nothing in this UPDATE, where
 * a second UPDATE of each award after Redis cost 23% of the payout's
 * MySQL time): the number of them (none: no statement), or -1 (rolled
 * back, the connection dropped).
 */
static long
cc_payout_shard_mark_ok(cc_payout_shard_t *ps, size_t n,
    cc_payout_award_e state, const int *ok, int64_t now, int notice,
    unsigned long long *flipped)
{
    long    k;
    size_t  len;

    len = 0;
    *flipped = 0;

    if (cc_payout_shard_sql(ps, &len, "UPDATE awards SET status = "
                            "'credited', credited_at = %" PRId64 "%s WHERE "
                            "status IN ('pending', 'crediting') AND "
                            "award_id IN (", now,
                            notice ? ", notified = 1" : "") != 0
        || (k = cc_payout_shard_ids(ps, &len, n, state, ok)) < 0
        || cc_payout_shard_sql(ps, &len, ")") != 0)
    {
        return -1;
    }

    if (k > 0 && mysql_real_query(ps->db->conn, ps->sql, len) != 0) {
        (void) mysql_rollback(ps->db->conn);
        return cc_payout_shard_fail(ps, "mark awards credited", NULL);
    }

    *flipped = k > 0 ? mysql_affected_rows(ps->db->conn) : 0;

    return k;
}


static long
cc_payout_shard_mark(cc_payout_shard_t *ps, size_t n,
    cc_payout_award_e state, int64_t now, int notice)
{
    unsigned long long  flipped;

    return cc_payout_shard_mark_ok(ps, n, state, NULL, now, notice,
                                   &flipped);
}


/*
 * The awards the wallet credited in the open transaction (the rows
 * CREDITING_NOW) set credited, the guard cc_wallet.h asks of the caller:
 * every one it credited now (DONE) must flip from pending or crediting,
 * else another payer credited one in between (a claim's single call
 * while a batch was out: its round post would pay it twice): rolled
 * back, left to the next pass (1).  Those credited before (EXISTS) are
 * marked after, unchecked.  0, 1, or -1 (rolled back, the connection
 * dropped).
 */
static int
cc_payout_shard_mark_now(cc_payout_shard_t *ps, size_t n, int64_t now,
    int notice)
{
    int                 *done;
    long                 k;
    size_t               i;
    unsigned long long   flipped;

    done = calloc(n ? n : 1, sizeof(int));
    if (done == NULL) {
        (void) mysql_rollback(ps->db->conn);
        return cc_payout_shard_fail(ps, "mark awards credited",
                                    "out of memory");
    }

    for (i = 0; i < n; i++) {
        done[i] = ps->rows[i].done;
    }

    k = cc_payout_shard_mark_ok(ps, n, CC_PAYOUT_CREDITING_NOW, done, now,
                                notice, &flipped);

    for (i = 0; k >= 0 && i < n; i++) {
        done[i] = !done[i];
    }

    if (k >= 0 && flipped != (unsigned long long) k) {
        cc_log("mysql shard %s: %llu of %ld awards credited now were "
               "credited by another payer meanwhile; rolled back, the next "
               "pass pays the rest", ps->db->name,
               (unsigned long long) k - flipped, k);
        ps->stats.raced += (unsigned long long) k - flipped;
        ps->unpaid = 1;
        ps->folded = 0;
        free(done);

        for (i = 0; i < n; i++) {
            if (ps->rows[i].state == CC_PAYOUT_CREDITING_NOW) {
                ps->rows[i].state = CC_PAYOUT_UNPAID;
            }
        }

        if (mysql_rollback(ps->db->conn) != 0) {
            return cc_payout_shard_fail(ps, "rollback", NULL);
        }

        return 1;
    }

    if (k >= 0) {
        k = cc_payout_shard_mark_ok(ps, n, CC_PAYOUT_CREDITING_NOW, done,
                                    now, notice, &flipped);
    }

    free(done);

    return k < 0 ? -1 : 0;
}


/*
 * The wallet failed the batch of k (added < 0): when the pool could not
 * pay it (NO_FUNDS), a break, not an outage: said, counted, rolled back,
 * left pending (0); else MySQL failed (-1, the connection dropped).
 */
static long
cc_payout_shard_unpaid(cc_payout_shard_t *ps, size_t k, const char *err)
{
    size_t               i;
    MYSQL               *db = ps->db->conn;
    cc_ledger_credit_t  *c = ps->credits;

    for (i = 0; i < k; i++) {
        if (c[i].rc == CC_LEDGER_NO_FUNDS) {
            break;
        }
    }

    if (i == k) {
        (void) mysql_rollback(db);
        return cc_payout_shard_fail(ps, "credit", err);
    }

    cc_log("mysql shard %s: NO_FUNDS: %s; %zu awards from %s left "
           "pending", ps->db->name, err, k, c[0].award_id);
    ps->stats.no_funds += k;
    ps->unpaid = 1;

    if (mysql_rollback(db) != 0) {
        return cc_payout_shard_fail(ps, "rollback", NULL);
    }

    return 0;
}


/*
 * What the wallet said of each unpaid row (rows and credits are in the
 * same order: walk both): DONE and EXISTS to be marked, MISMATCH logged
 * and left unpaid, ERROR (http: logged there) left unpaid.
 */
static void
cc_payout_shard_tally(cc_payout_shard_t *ps, size_t n, size_t k)
{
    size_t              i, j;
    cc_payout_award_t  *a;

    for (i = 0, j = 0; i < n; i++) {
        a = &ps->rows[i];

        if (a->state != CC_PAYOUT_UNPAID) {
            continue;
        }

        CC_ASSERT(j < k);

        a->done = ps->credits[j].rc == CC_LEDGER_DONE;

        switch (ps->credits[j++].rc) {
        case CC_LEDGER_DONE:
            a->state = CC_PAYOUT_CREDITING_NOW;     /* marked below */
            break;

        case CC_LEDGER_EXISTS:
            a->state = CC_PAYOUT_CREDITING_NOW;
            ps->stats.exists++;
            break;

        case CC_LEDGER_ERROR:               /* wallet http: logged there */
            ps->unpaid = 1;
            break;

        default:                            /* CC_LEDGER_MISMATCH */
            cc_log("award %s: MISMATCH: the ledger holds transfer %s with "
                   "another amount or wallet; not paid (%" PRIu64
                   " cents to uid %" PRIu64 " stays pending)",
                   a->award_id, a->award_id, a->amount, a->uid);
            ps->stats.mismatch++;
            ps->unpaid = 1;
            break;
        }
    }

    CC_ASSERT(j == k);
}


/* the unpaid rows as the wallet's credits, in the rows' order */
static size_t
cc_payout_shard_batch(cc_payout_shard_t *ps, size_t n)
{
    size_t               i, k;
    cc_ledger_credit_t  *c = ps->credits;

    for (i = 0, k = 0; i < n; i++) {
        if (ps->rows[i].state == CC_PAYOUT_UNPAID) {
            c[k].award_id = ps->rows[i].award_id;
            c[k].uid = ps->rows[i].uid;
            c[k].amount_cents = ps->rows[i].amount;
            k++;
        }
    }

    return k;
}


/* every credit of the batch paid: DONE or EXISTS */
static int
cc_payout_shard_all_paid(const cc_ledger_credit_t *c, size_t k)
{
    size_t  i;

    for (i = 0; i < k; i++) {
        if (c[i].rc != CC_LEDGER_DONE && c[i].rc != CC_LEDGER_EXISTS) {
            return 0;
        }
    }

    return 1;
}


/* ---- the bulk's notices, pipelined ---------------------------------- */


void
cc_payout_shard_notices_send(cc_payout_shard_t *ps, size_t n)
{
    int                   done;
    size_t                i, r;
    redisContext         *ctx;
    cc_payout_award_t    *a;
    cc_payout_redis_t    *rs;
    cc_award_set_call_t  *call;

    CC_ASSERT(ps->pnotice == 0);

    ps->pnotice = ps->notice;
    ps->prows = 0;
    ps->pmissed = 0;

    call = malloc(sizeof(cc_award_set_call_t));
    if (call == NULL) {
        cc_log("out of memory");
        ps->pmissed = n;
        return;
    }

    for (r = 0; r < ps->nredis; r++) {
        rs = &ps->redis[r];
        ctx = NULL;
        call->n = 0;

        for (i = 0; i < n; i++) {
            a = &ps->rows[i];

            if (a->state != CC_PAYOUT_IN_NOTICE || a->redis != r) {
                continue;
            }

            if (ctx == NULL && (ctx = cc_payout_shard_redis(rs)) == NULL) {
                ps->pmissed++;                  /* down: the outbox's */
                continue;
            }

            cc_award_set_add(call, a->uid, 1, a->amount, a->award_id);
            ps->prows++;

            if (call->n == CC_AWARD_SET_MAX) {
                if (cc_award_set_append(ctx, rs->sha, call) != 0) {
                    ps->pmissed++;
                    break;
                }
                rs->inflight++;
            }
        }

        if (ctx != NULL && call->n > 0) {
            if (cc_award_set_append(ctx, rs->sha, call) != 0) {
                ps->pmissed++;
            } else {
                rs->inflight++;
            }
        }

        /* written now, the replies read by the next batch */
        for (done = 0; ctx != NULL && rs->inflight > 0 && !done; ) {
            if (redisBufferWrite(ctx, &done) != REDIS_OK) {
                cc_payout_shard_redis_down(rs, ctx->errstr);
                rs->inflight = 0;
                ps->pmissed++;
            }
        }
    }

    free(call);
}


/*
 * The replies of the notices in flight: 1 when every row of ps->pnotice
 * is in Redis, else 0 (a reply failed, a shard down: the row stays owed
 * and the outbox tells it again).  Nothing is in flight after.
 */
static int
cc_payout_shard_notices_wait(cc_payout_shard_t *ps)
{
    int                 all, reload;
    char                err[256];
    size_t              r, c;
    redisReply         *reply;
    cc_payout_redis_t  *rs;

    all = ps->pmissed == 0;

    for (r = 0; r < ps->nredis; r++) {
        rs = &ps->redis[r];
        reload = 0;

        if (rs->ctx == NULL) {
            all = all && rs->inflight == 0;     /* dropped meanwhile */
            rs->inflight = 0;
            continue;
        }

        for (c = 0; c < rs->inflight; c++) {
            if (redisGetReply(rs->ctx, (void **) &reply) != REDIS_OK) {
                cc_payout_shard_redis_down(rs, rs->ctx->errstr);
                all = 0;
                break;
            }

            if (cc_award_set_reply(reply, &reload, err, sizeof(err)) < 0) {
                if (all) {
                    /* NOSCRIPT after a restart, or worse: one line */
                    cc_log("redis %s: %s", rs->addr, err);
                }
                all = 0;
            }

            /* -READONLY, -LOADING: a failover; the reconnect asks */
            reload |= cc_redis_reply_failover(reply);

            freeReplyObject(reply);
        }

        rs->inflight = 0;

        if (reload && rs->ctx != NULL) {
            redisFree(rs->ctx);
            rs->ctx = NULL;
        }
    }

    return all;
}


/*
 * The notices in flight, read before the commit of the next batch: their
 * row told in the open transaction when all arrived (ps->folded, counted
 * at the commit).  0, or -1 (rolled back, the connection dropped).
 */
static int
cc_payout_shard_fold(cc_payout_shard_t *ps, int64_t now)
{
    size_t    len;
    uint64_t  id;

    ps->folded = 0;
    id = ps->pnotice;

    if (id == 0) {
        return 0;
    }

    ps->pnotice = 0;

    if (!cc_payout_shard_notices_wait(ps)) {
        return 0;
    }

    len = 0;

    if (cc_payout_shard_sql(ps, &len, "UPDATE award_notices SET told_at = "
                            "%" PRId64 " WHERE notice_id = %" PRIu64 " AND "
                            "told_at = 0", now, id) != 0)
    {
        return -1;
    }

    if (mysql_real_query(ps->db->conn, ps->sql, len) != 0) {
        (void) mysql_rollback(ps->db->conn);
        return cc_payout_shard_fail(ps, "tell a notice row", NULL);
    }

    ps->folded = ps->prows;

    return 0;
}


void
cc_payout_shard_notices_flush(cc_payout_shard_t *ps)
{
    int       all;
    uint64_t  id;

    id = ps->pnotice;

    if (id == 0) {
        return;
    }

    ps->pnotice = 0;
    all = cc_payout_shard_notices_wait(ps);

    if (all && ps->db->conn != NULL) {
        (void) cc_payout_shard_notice_told(ps, id, ps->prows);
    }
}


/*
 * The notice row of the rows credited now (a bulk batch's), in the open
 * transaction: the range of their award ids, whose notices are owed until
 * the row is told (sql/money.sql, award_notices).  The rows are in award
 * id order (the bulk read's ORDER BY), so the first and the last credited
 * bound them as MySQL compares ids.  0 (ps->notice set; 0 when none), or
 * -1 (rolled back, the connection dropped).
 */
static int
cc_payout_shard_notice_write(cc_payout_shard_t *ps, size_t n, int64_t now)
{
    size_t              i, len;
    cc_payout_award_t  *first, *last;

    first = NULL;
    last = NULL;
    ps->notice = 0;

    for (i = 0; i < n; i++) {
        if (ps->rows[i].state == CC_PAYOUT_CREDITING_NOW) {
            first = first ? first : &ps->rows[i];
            last = &ps->rows[i];
        }
    }

    if (first == NULL) {
        return 0;
    }

    len = 0;

    if (cc_payout_shard_sql(ps, &len, "INSERT INTO award_notices (campaign, "
                            "first_id, last_id, created_at) VALUES ('%s', "
                            "'%s', '%s', %" PRId64 ")", ps->campaign,
                            first->award_id, last->award_id, now) != 0)
    {
        return -1;
    }

    if (mysql_real_query(ps->db->conn, ps->sql, len) != 0) {
        (void) mysql_rollback(ps->db->conn);
        return cc_payout_shard_fail(ps, "write the batch's notice row", NULL);
    }

    ps->notice = mysql_insert_id(ps->db->conn);

    return 0;
}


/*
 * Credits the rows not credited yet, in the shard's open transaction, and
 * marks them credited in the same one.  The number credited now, or -1
 * (rolled back).
 *
 * When the wallet works wholly in the caller's transaction (the ledger)
 * the awards are marked first, then credited: the pool's row, which
 * every credit of the shard updates, is then the last row the
 * transaction locks, just before its commit, so a claim's credit waits
 * on a bulk batch for its commit only, not for the UPDATE of its
 * thousands of awards as well.  Should the ledger refuse some
 * (MISMATCH), that is rolled back and done again the other way round,
 * marking only the awards it credited.  (The wallet http commits its
 * first phase on its own: marked after.)
 */
long
cc_payout_shard_credit(cc_payout_shard_t *ps, size_t n, int claims)
{
    int       early;
    char      err[512];
    long      added;
    size_t    i, k;
    int64_t   now;
    MYSQL    *db = ps->db->conn;

    now = cc_now_ms();
    early = cc_wallet_one_txn(ps->wallet);

again:

    k = cc_payout_shard_batch(ps, n);

    if (k == 0) {
        return 0;
    }

    if (early
        && cc_payout_shard_mark(ps, n, CC_PAYOUT_UNPAID, now, !claims) < 0)
    {
        return -1;
    }

    /*
     * The bulk's: the last batch's notices, sent before this one's reads
     * and marks, told in this transaction, before the pool's row (the
     * last lock: a claim waits for the commit only, not for Redis).
     */
    if (!claims && cc_payout_shard_fold(ps, now) != 0) {
        return -1;
    }

    /* the claims': the last claims' notified = 1, in this transaction */
    if (claims && cc_payout_shard_told_fold(ps) != 0) {
        return -1;
    }

    /* the campaign's wallet: the ledger, or http two-phase (cc_wallet.h) */
    added = cc_wallet_credit(ps->wallet, db, ps->credits, k, err,
                             sizeof(err));

    if (added < 0) {
        return cc_payout_shard_unpaid(ps, k, err);
    }

    if (early && !cc_payout_shard_all_paid(ps->credits, k)) {
        /* some not paid: their marks go, and the others' are redone */
        if (mysql_rollback(db) != 0) {
            return cc_payout_shard_fail(ps, "rollback", NULL);
        }

        early = 0;
        goto again;
    }

    cc_payout_shard_tally(ps, n, k);

    if (!early) {
        switch (cc_payout_shard_mark_now(ps, n, now, !claims)) {
        case 0:
            break;
        case 1:                             /* raced: rolled back */
            return 0;
        default:
            return -1;
        }
    }

    /* the bulk's notices owed, committed with the credits */
    if (!claims && cc_payout_shard_notice_write(ps, n, now) != 0) {
        return -1;
    }

    /* http: the posts' sums, the shard's hot rows, last (cc_wallet.h) */
    if (cc_wallet_finish(ps->wallet, db, err, sizeof(err)) != 0) {
        (void) mysql_rollback(db);
        return cc_payout_shard_fail(ps, "credit", err);
    }

    if (mysql_commit(db) != 0) {
        return cc_payout_shard_fail(ps, "commit credits", NULL);
    }

    ps->stats.notified += ps->folded;
    ps->folded = 0;

    if (claims) {
        cc_payout_shard_told_done(ps);
    }

    for (i = 0; i < n; i++) {
        if (ps->rows[i].state == CC_PAYOUT_CREDITING_NOW) {
            ps->rows[i].state = claims ? CC_PAYOUT_CREDITED
                                       : CC_PAYOUT_IN_NOTICE;
        }
    }

    CC_ASSERT((size_t) added <= k);

    ps->stats.credited += added;

    if (claims) {
        ps->stats.claimed += added;
    }

    return added;
}


/* ---- the claims' notices owed ----------------------------------------- */


/*
 * The claims' lane: notified = 1 of the awards told is not a transaction
 * of its own (a commit, a log flush, between one MySQL shard's claims and
 * the next's) but a statement of the lane's next one, the next claims'
 * credit, as the bulk's notice rows are told in its next batch.  Until
 * that commits the awards are credited with notified = 0, as between a
 * commit and Redis: a crash leaves them to the outbox, which tells them
 * again (award_set.lua never moves "c" back).
 */


/* the told CREDITED rows (ok[] set) owed notified = 1; their number */
static long
cc_payout_shard_told_add(cc_payout_shard_t *ps, size_t n, const int *ok)
{
    int                 w;
    long                k;
    size_t              i;
    cc_payout_award_t  *a;

    for (i = 0, k = 0; i < n; i++) {
        a = &ps->rows[i];

        if (a->state != CC_PAYOUT_CREDITED || !ok[i]) {
            continue;
        }

        /* full (claims that found nothing to credit, turn after turn):
           what is owed goes in a transaction of its own first */
        if (ps->sql_max - ps->told_len < sizeof(a->award_id) + 128
            && cc_payout_shard_told_flush(ps) != 0)
        {
            return -1;
        }

        w = snprintf(ps->told_ids + ps->told_len, ps->sql_max - ps->told_len,
                     "%s'%s'", ps->told_n ? "," : "", a->award_id);

        CC_ASSERT(w > 0 && (size_t) w < ps->sql_max - ps->told_len);

        ps->told_len += (size_t) w;
        ps->told_n++;
        k++;
    }

    return k;
}


int
cc_payout_shard_told_fold(cc_payout_shard_t *ps)
{
    size_t  len;

    ps->told_set = 0;

    if (ps->told_n == 0) {
        return 0;
    }

    len = 0;

    if (cc_payout_shard_sql(ps, &len, "UPDATE awards SET notified = 1 "
                            "WHERE status = 'credited' AND award_id IN "
                            "(%s)", ps->told_ids) != 0)
    {
        return -1;
    }

    if (mysql_real_query(ps->db->conn, ps->sql, len) != 0) {
        (void) mysql_rollback(ps->db->conn);
        return cc_payout_shard_fail(ps, "mark awards notified", NULL);
    }

    ps->told_set = mysql_affected_rows(ps->db->conn);

    return 0;
}


/* the transaction that carried the fold committed: nothing owed */
static void
cc_payout_shard_told_done(cc_payout_shard_t *ps)
{
    ps->stats.notified += ps->told_set;
    ps->told_set = 0;
    ps->told_n = 0;
    ps->told_len = 0;
    ps->told_ids[0] = '\0';
}


int
cc_payout_shard_told_flush(cc_payout_shard_t *ps)
{
    if (ps->told_n == 0 || ps->db->conn == NULL) {
        return 0;
    }

    if (cc_payout_shard_told_fold(ps) != 0) {
        return -1;
    }

    if (mysql_commit(ps->db->conn) != 0) {
        return cc_payout_shard_fail(ps, "commit notices", NULL);
    }

    cc_payout_shard_told_done(ps);

    return 0;
}


/* ---- notify --------------------------------------------------------- */


/*
 * The credited rows of Redis shard r, told in a pipeline of award_set.lua
 * calls of up to CC_AWARD_SET_MAX users each (cc_award_set.h): ok[] set
 * for the rows whose call succeeded.  A Redis shard that is down leaves
 * its rows to a later round.
 *
 * The claims' lane (told_ids set) then PUBLISHes each uid told on
 * CC_CHAN_CREDITED, on the same connection after the calls: Redis runs
 * them in order, so an nginx worker hearing the uid reads w credited and
 * answers its waiting claim now rather than at its next re-read.  The
 * bulk's notices publish nothing.  A PUBLISH lost changes nothing: the
 * re-reads remain the truth.
 */
static void
cc_payout_shard_tell(cc_payout_shard_t *ps, size_t n, size_t r, int *ok,
    size_t *rowof, cc_award_set_call_t *call)
{
    int                 reload;
    char                err[256];
    size_t              i, k, c, sent, calls, pubs;
    redisReply         *reply;
    redisContext       *ctx;
    cc_payout_award_t  *a;
    cc_payout_redis_t  *rs = &ps->redis[r];

    ctx = NULL;
    sent = 0;
    calls = 0;
    reload = 0;

    /* rowof[0..sent): the rows in the calls, in the order sent */
    for (i = 0; i < n; i++) {
        a = &ps->rows[i];

        if (a->state == CC_PAYOUT_UNPAID || a->redis != r) {
            continue;
        }

        if (ctx == NULL && (ctx = cc_payout_shard_redis(rs)) == NULL) {
            break;
        }

        cc_award_set_add(call, a->uid, 1, a->amount, a->award_id);
        rowof[sent++] = i;

        if (call->n == CC_AWARD_SET_MAX) {
            if (cc_award_set_append(ctx, rs->sha, call) != 0) {
                sent -= CC_AWARD_SET_MAX;
                break;
            }
            calls++;
        }
    }

    if (call->n > 0) {
        if (ctx != NULL && cc_award_set_append(ctx, rs->sha, call) == 0) {
            calls++;

        } else {
            sent -= call->n;
            call->n = 0;
        }
    }

    pubs = 0;

    for (k = 0; ps->told_ids != NULL && k < sent; k++) {
        if (redisAppendCommand(ctx, "PUBLISH " CC_CHAN_CREDITED " %llu",
                               (unsigned long long) ps->rows[rowof[k]].uid)
            != REDIS_OK)
        {
            break;
        }

        pubs++;
    }

    /* the replies, a call at a time, in the order the calls went */

    for (c = 0; c < calls; c++) {
        if (redisGetReply(ctx, (void **) &reply) != REDIS_OK) {
            cc_payout_shard_redis_down(rs, ctx->errstr);
            break;
        }

        if (cc_award_set_reply(reply, &reload, err, sizeof(err)) >= 0) {
            for (k = c * CC_AWARD_SET_MAX;
                 k < sent && k < (c + 1) * CC_AWARD_SET_MAX;
                 k++)
            {
                ok[rowof[k]] = 1;
            }

        } else if (c == 0) {
            /* NOSCRIPT after a restart, or worse: one line a batch */
            cc_log("redis %s: %s", rs->addr, err);
        }

        /* -READONLY, -LOADING: a failover; the reconnect asks Sentinel */
        reload |= cc_redis_reply_failover(reply);

        freeReplyObject(reply);
    }

    /* the PUBLISHes' replies (receivers counted): read, not needed */

    for (k = 0; c == calls && k < pubs; k++) {
        if (redisGetReply(ctx, (void **) &reply) != REDIS_OK) {
            cc_payout_shard_redis_down(rs, ctx->errstr);
            break;
        }

        freeReplyObject(reply);
    }

    if (reload && rs->ctx != NULL) {
        /* the script cache was lost (a restart) or the master moved */
        redisFree(rs->ctx);
        rs->ctx = NULL;
    }
}


/*
 * Tells the users' Redis shards that the credited rows are credited
 * (cc_payout_shard_tell, shard by shard), then notified = 1 for the rows
 * told that were CREDITED (notified = 0), committed; the rows IN_NOTICE
 * are counted (ps->told, ps->missed) for the caller, which tells their
 * notice row.  The number set notified, or -1 when MySQL failed.
 */
long
cc_payout_shard_notify(cc_payout_t *p, cc_payout_shard_t *ps, size_t n)
{
    int                 *ok;
    long                 k;
    size_t               r, len, *rowof;
    MYSQL               *db = ps->db->conn;
    cc_award_set_call_t *call;

    ps->told = 0;
    ps->missed = n;                     /* until told */

    ok = calloc(n + 1, sizeof(int));
    rowof = malloc((n + 1) * sizeof(size_t));
    call = malloc(sizeof(cc_award_set_call_t));

    if (ok == NULL || rowof == NULL || call == NULL) {
        cc_log("out of memory");
        free(ok);
        free(rowof);
        free(call);
        return 0;
    }

    call->n = 0;

    for (r = 0; r < p->o.nredis; r++) {
        cc_payout_shard_tell(ps, n, r, ok, rowof, call);
    }

    free(rowof);
    free(call);

    ps->told = 0;
    ps->missed = 0;

    for (r = 0; r < n; r++) {
        if (ps->rows[r].state == CC_PAYOUT_IN_NOTICE) {
            ps->told += ok[r] != 0;
            ps->missed += ok[r] == 0;
        }
    }

    if (ps->told_ids != NULL) {
        k = cc_payout_shard_told_add(ps, n, ok);
        free(ok);

        /* the read ends (a claim already credited: nothing committed) */
        return k < 0 || cc_payout_shard_end_read(ps) != 0 ? -1 : k;
    }

    len = 0;

    if (cc_payout_shard_sql(ps, &len, "UPDATE awards SET notified = 1 "
                            "WHERE status = 'credited' AND award_id IN (")
        != 0
        || (k = cc_payout_shard_ids(ps, &len, n, CC_PAYOUT_CREDITED, ok)) < 0
        || cc_payout_shard_sql(ps, &len, ")") != 0)
    {
        free(ok);
        return -1;
    }

    free(ok);

    if (k == 0) {
        /* nothing to mark: end the outbox's read, whose snapshot the
           next SELECT on this connection would otherwise still see */
        return cc_payout_shard_end_read(ps);
    }

    if (mysql_real_query(db, ps->sql, len) != 0) {
        (void) mysql_rollback(db);
        return cc_payout_shard_fail(ps, "mark awards notified", NULL);
    }

    if (mysql_commit(db) != 0) {
        return cc_payout_shard_fail(ps, "commit notices", NULL);
    }

    ps->stats.notified += k;

    return k;
}


int
cc_payout_shard_notice_told(cc_payout_shard_t *ps, uint64_t id,
    unsigned long long told)
{
    size_t  len;
    MYSQL  *db = ps->db->conn;

    len = 0;

    if (cc_payout_shard_sql(ps, &len, "UPDATE award_notices SET told_at = "
                            "%" PRId64 " WHERE notice_id = %" PRIu64 " AND "
                            "told_at = 0", cc_now_ms(), id) != 0)
    {
        return -1;
    }

    if (mysql_real_query(db, ps->sql, len) != 0) {
        (void) mysql_rollback(db);
        return cc_payout_shard_fail(ps, "tell a notice row", NULL);
    }

    if (mysql_commit(db) != 0) {
        return cc_payout_shard_fail(ps, "commit a notice row", NULL);
    }

    ps->stats.notified += told;

    return 0;
}


int
cc_payout_shard_notice_open(cc_payout_shard_t *ps, char *first,
    uint64_t but)
{
    int         i;
    char        text[96];
    size_t      len;
    MYSQL      *db = ps->db->conn;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    len = 0;

    if (cc_payout_shard_sql(ps, &len, "SELECT notice_id, first_id, last_id "
                            "FROM award_notices WHERE campaign = '%s' AND "
                            "told_at = 0 AND notice_id <> %" PRIu64 " ORDER "
                            "BY notice_id LIMIT 1", ps->campaign, but) != 0)
    {
        return -1;
    }

    if (mysql_real_query(db, ps->sql, len) != 0
        || (res = mysql_store_result(db)) == NULL)
    {
        return cc_payout_shard_fail(ps, "read notice rows", NULL);
    }

    row = mysql_fetch_row(res);

    if (row == NULL) {
        mysql_free_result(res);
        return cc_payout_shard_end_read(ps) == 0 ? 0 : -1;
    }

    /* the ids go into SQL text again: as cc_payout_shard_select checks */
    for (i = 1; i <= 2; i++) {
        if (cc_check_award_id(row[i], strlen(row[i])) != 0
            || strlen(row[i]) > CC_PAYOUT_ID_MAX)
        {
            (void) cc_logtext(text, sizeof(text), row[i], strlen(row[i]));
            snprintf(ps->bad_id, sizeof(ps->bad_id), "notice %s: award id "
                     "\"%s\" not fit for SQL", row[0], text);
            mysql_free_result(res);
            return cc_payout_shard_fail(ps, "read notice rows", ps->bad_id);
        }
    }

    ps->onotice = strtoull(row[0], NULL, 10);
    snprintf(first, CC_PAYOUT_ID_MAX + 1, "%s", row[1]);
    snprintf(ps->nlast, sizeof(ps->nlast), "%s", row[2]);

    mysql_free_result(res);

    return 1;
}
