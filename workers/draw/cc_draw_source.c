/*
 * cc_draw_source: the eligible set checked at its source before the plan.
 *
 * MySQL's eligibility table is only as trustworthy as the Kafka topic
 * that fills it: whoever can write to the topic can make a uid eligible
 * with a back-dated combine.  The combine itself is the field e of the
 * user's Redis hash ("request_id:ms"), written by the module's combine
 * script, once, before the cutoff.  So before the plan:
 *
 *   1. every eligible row of every MySQL shard (combined_at < cutoff),
 *      streamed in uid order, is asked of its user's Redis shard (HGET e,
 *      pipelined, CC_DRAW_SOURCE_BATCH rows a round over every Redis
 *      shard): no e, another request id or time, or a time from the
 *      cutoff on is a mismatch;
 *   2. every user hash of every Redis shard (SCAN) whose e is before the
 *      cutoff must be eligible in its MySQL shard (one IN query per
 *      MySQL shard a batch): one that is not was left out (the drain
 *      before the draw should have brought it), a mismatch too.
 *
 * Any mismatch refuses the draw before anything is written: the first
 * CC_DRAW_SOURCE_LIST are logged by uid, then their count.  The rows
 * counted must also be the plan's, or the set changed meanwhile.
 */

#define _GNU_SOURCE

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "cc_draw.h"
#include "cc_ids.h"
#include "cc_keys.h"
#include "cc_logtext.h"
#include "cc_redis.h"
#include "cc_worker.h"


#define CC_DRAW_SOURCE_BATCH  1000    /* rows asked of Redis a round */


typedef struct {
    uint64_t  uid;
    int64_t   at;                     /* combined_at, ms */
    uint32_t  r;                      /* the uid's Redis shard */
    char      rid[CC_REQUEST_ID_MAX + 1];     /* request_id */
} cc_draw_source_row_t;


typedef struct {
    cc_draw_run_t         *d;
    redisContext          *c[CC_DRAW_REDIS_MAX];
    cc_draw_source_row_t  *rows;
    size_t                 n;
    uint64_t               scan[CC_DRAW_SOURCE_BATCH];  /* a SCAN's uids */
    uint64_t               uids[CC_DRAW_SOURCE_BATCH];  /* ... with e */
    int64_t                ats[CC_DRAW_SOURCE_BATCH];
    char                   sql[64 + 22 * CC_DRAW_SOURCE_BATCH];
} cc_draw_source_t;


/* a mismatch: one of the first CC_DRAW_SOURCE_LIST is logged */
static void
cc_draw_source_bad(cc_draw_source_t *sc, uint64_t uid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cc_draw_source_bad(cc_draw_source_t *sc, uint64_t uid, const char *fmt, ...)
{
    char     why[1024];
    va_list  ap;

    if (sc->d->source_mismatches++ >= CC_DRAW_SOURCE_LIST) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);

    cc_log("source check: uid %" PRIu64 ": %s", uid, why);
}


/*
 * A field e, "request_id:ms": 0 with the request id (NUL-terminated in
 * rid) and the time, or -1 when it is not that.
 */
static int
cc_draw_source_parse_e(const char *s, size_t len, char *rid, int64_t *ms)
{
    char        *end;
    const char  *colon;
    long long    v;

    colon = memrchr(s, ':', len);

    if (colon == NULL || colon == s || (size_t) (colon - s) > CC_REQUEST_ID_MAX
        || colon + 1 == s + len)
    {
        return -1;
    }

    memcpy(rid, s, (size_t) (colon - s));
    rid[colon - s] = '\0';

    v = strtoll(colon + 1, &end, 10);
    if (end != s + len || v < 0) {
        return -1;
    }

    *ms = v;
    return 0;
}


/* the batch's HGETs sent, the replies compared with the rows */
static int
cc_draw_source_ask(cc_draw_source_t *sc)
{
    int                    rc;
    char                   key[CC_KEY_MAX], rid[CC_REQUEST_ID_MAX + 1];
    char                   mrid[4 * CC_REQUEST_ID_MAX + 4];
    char                   erid[4 * CC_REQUEST_ID_MAX + 4], text[84];
    void                  *v;
    size_t                 i;
    int64_t                ms, cut;
    redisReply            *reply;
    cc_draw_source_row_t  *row;

    cut = sc->d->c.cutoff * 1000;

    for (i = 0; i < sc->n; i++) {
        cc_key_user(key, sc->rows[i].uid);
        if (redisAppendCommand(sc->c[sc->rows[i].r], "HGET %s %s", key,
                               CC_FIELD_COMBINE) != REDIS_OK)
        {
            cc_log("source check: out of memory; not drawing");
            return CC_DRAW_FAILED;
        }
    }

    rc = CC_DRAW_OK;

    /* each connection answers in the order it was asked: the rows' order */
    for (i = 0; i < sc->n; i++) {
        row = &sc->rows[i];

        if (redisGetReply(sc->c[row->r], &v) != REDIS_OK) {
            cc_log("source check: redis %s: HGET: %s; not drawing",
                   sc->d->o.redis[row->r], sc->c[row->r]->errstr);
            return CC_DRAW_FAILED;
        }

        reply = v;

        /*
         * Both request ids are outside text: the one in Redis is what the
         * hash holds, the one in MySQL came off the Kafka topic.  Escaped,
         * neither can write a log line of its own.
         */
        (void) cc_logtext(mrid, sizeof(mrid), row->rid, strlen(row->rid));

        if (reply->type == REDIS_REPLY_NIL) {
            cc_draw_source_bad(sc, row->uid, "eligible in MySQL (request "
                               "\"%s\", combined at %" PRId64 " ms), no "
                               "combine in Redis", mrid, row->at);

        } else if (reply->type != REDIS_REPLY_STRING) {
            if (rc == CC_DRAW_OK) {
                cc_log("source check: redis %s: HGET: %s; not drawing",
                       sc->d->o.redis[row->r],
                       reply->type == REDIS_REPLY_ERROR ? reply->str
                                                        : "not a string");
            }
            rc = CC_DRAW_FAILED;

        } else if (cc_draw_source_parse_e(reply->str, reply->len, rid, &ms)
                   != 0)
        {
            (void) cc_logtext(text, sizeof(text), reply->str, reply->len);
            cc_draw_source_bad(sc, row->uid, "eligible in MySQL (request "
                               "\"%s\", combined at %" PRId64 " ms), Redis "
                               "holds an unreadable combine \"%s\"",
                               mrid, row->at, text);

        } else if (ms >= cut || ms != row->at || strcmp(rid, row->rid) != 0) {
            (void) cc_logtext(erid, sizeof(erid), rid, strlen(rid));
            cc_draw_source_bad(sc, row->uid, "eligible in MySQL (request "
                               "\"%s\", combined at %" PRId64 " ms), Redis "
                               "says request \"%s\" at %" PRId64 " ms%s",
                               mrid, row->at, erid, ms,
                               ms >= cut ? ", after the cutoff" : "");
        }

        freeReplyObject(reply);
    }

    sc->n = 0;
    return rc;
}


/* step 1 on MySQL shard s: its eligible rows against Redis */
static int
cc_draw_source_mysql(cc_draw_source_t *sc, size_t s)
{
    int                    rc;
    char                   sql[256];
    MYSQL                 *db;
    MYSQL_RES             *res;
    MYSQL_ROW              row;
    uint64_t               count;
    unsigned long         *len;
    cc_draw_run_t         *d = sc->d;
    cc_draw_source_row_t  *r;

    db = d->st.shards[s].conn;

    snprintf(sql, sizeof(sql), "SELECT uid, request_id, combined_at FROM "
             "eligibility WHERE combined_at < %" PRId64 " ORDER BY uid",
             d->c.cutoff * 1000);

    if (mysql_query(db, sql) != 0 || (res = mysql_use_result(db)) == NULL) {
        cc_log("source check: mysql %s: read the eligible: %s; not drawing",
               d->st.shards[s].name, mysql_error(db));
        return CC_DRAW_FAILED;
    }

    rc = CC_DRAW_OK;
    count = 0;

    while ((row = mysql_fetch_row(res)) != NULL) {
        len = mysql_fetch_lengths(res);
        r = &sc->rows[sc->n++];
        r->uid = strtoull(row[0], NULL, 10);
        r->at = strtoll(row[2], NULL, 10);
        r->r = cc_ring_shard(&d->ring, r->uid);
        snprintf(r->rid, sizeof(r->rid), "%.*s", (int) len[1], row[1]);
        count++;

        if (sc->n == CC_DRAW_SOURCE_BATCH) {
            rc = cc_draw_source_ask(sc);
            if (rc != CC_DRAW_OK) {
                break;
            }
        }
    }

    if (rc == CC_DRAW_OK && mysql_errno(db) != 0) {
        cc_log("source check: mysql %s: read the eligible: %s; not drawing",
               d->st.shards[s].name, mysql_error(db));
        rc = CC_DRAW_FAILED;
    }

    mysql_free_result(res);
    (void) mysql_commit(db);

    if (rc == CC_DRAW_OK && sc->n > 0) {
        rc = cc_draw_source_ask(sc);
    }

    if (rc == CC_DRAW_OK && count != d->sh[s].n) {
        cc_log("source check: mysql %s: %" PRIu64 " eligible, the plan "
               "counted %" PRIu64 ": the eligible set changed meanwhile; "
               "not drawing", d->st.shards[s].name, count, d->sh[s].n);
        rc = CC_DRAW_REFUSED;
    }

    d->source_checked += count;
    return rc;
}


/*
 * Step 2 for a SCAN batch: the uids combined in Redis before the cutoff
 * (sc->uids[0..n), their times in sc->ats) eligible in MySQL?  One IN
 * query per MySQL shard holding some of them.
 */
static int
cc_draw_source_resolve(cc_draw_source_t *sc, size_t n)
{
    size_t          s, i, len, k;
    uint64_t        uid;
    MYSQL          *db;
    MYSQL_RES      *res;
    MYSQL_ROW       row;
    cc_draw_run_t  *d = sc->d;
    unsigned char   seen[CC_DRAW_SOURCE_BATCH];

    memset(seen, 0, n);

    for (s = 0; s < d->st.nshards; s++) {
        len = (size_t) snprintf(sc->sql, sizeof(sc->sql), "SELECT uid FROM "
                                "eligibility WHERE combined_at < %" PRId64
                                " AND uid IN (", d->c.cutoff * 1000);
        k = 0;

        for (i = 0; i < n; i++) {
            if (cc_store_shard_of(&d->st, sc->uids[i]) == s) {
                len += (size_t) snprintf(sc->sql + len, sizeof(sc->sql) - len,
                                         "%s%" PRIu64, k++ ? "," : "",
                                         sc->uids[i]);
            }
        }

        if (k == 0) {
            continue;
        }

        snprintf(sc->sql + len, sizeof(sc->sql) - len, ")");
        db = d->st.shards[s].conn;

        if (mysql_query(db, sc->sql) != 0
            || (res = mysql_store_result(db)) == NULL)
        {
            cc_log("source check: mysql %s: %s; not drawing",
                   d->st.shards[s].name, mysql_error(db));
            return CC_DRAW_FAILED;
        }

        while ((row = mysql_fetch_row(res)) != NULL) {
            uid = strtoull(row[0], NULL, 10);
            for (i = 0; i < n; i++) {
                if (sc->uids[i] == uid) {
                    seen[i] = 1;
                }
            }
        }

        mysql_free_result(res);
        (void) mysql_commit(db);
    }

    for (i = 0; i < n; i++) {
        if (!seen[i]) {
            cc_draw_source_bad(sc, sc->uids[i], "combined in Redis at %"
                               PRId64 " ms, before the cutoff, but not "
                               "eligible in MySQL (%s): left out",
                               sc->ats[i],
                               d->st.shards[cc_store_shard_of(&d->st,
                                   sc->uids[i])].name);
        }
    }

    return CC_DRAW_OK;
}


/*
 * Step 2 for keys[from, to) of a SCAN reply (to - from <= the batch): e
 * of each user hash of this shard's ring, pipelined; those before the
 * cutoff resolved against MySQL.
 */
static int
cc_draw_source_keys(cc_draw_source_t *sc, size_t r, redisReply *keys,
    size_t from, size_t to)
{
    int             rc;
    char            rid[CC_REQUEST_ID_MAX + 1];
    void           *v;
    size_t          i, n, k;
    int64_t         ms;
    uint64_t        uid;
    redisReply     *e, *key;
    redisContext   *c = sc->c[r];
    cc_draw_run_t  *d = sc->d;

    n = 0;

    for (i = from; i < to; i++) {
        key = keys->element[i];

        if (key->type != REDIS_REPLY_STRING
            || cc_key_user_uid(key->str, key->len, &uid) != 0
            || cc_ring_shard(&d->ring, uid) != r)
        {
            continue;
        }

        sc->scan[n++] = uid;
        if (redisAppendCommand(c, "HGET %b %s", key->str, (size_t) key->len,
                               CC_FIELD_COMBINE) != REDIS_OK)
        {
            cc_log("source check: out of memory; not drawing");
            return CC_DRAW_FAILED;
        }
    }

    rc = CC_DRAW_OK;
    k = 0;

    for (i = 0; i < n; i++) {
        if (redisGetReply(c, &v) != REDIS_OK) {
            cc_log("source check: redis %s: HGET: %s; not drawing",
                   d->o.redis[r], c->errstr);
            return CC_DRAW_FAILED;
        }

        e = v;

        if (e->type == REDIS_REPLY_STRING
            && cc_draw_source_parse_e(e->str, e->len, rid, &ms) == 0
            && ms < d->c.cutoff * 1000)
        {
            sc->uids[k] = sc->scan[i];
            sc->ats[k] = ms;
            k++;

        } else if (e->type == REDIS_REPLY_ERROR) {
            if (rc == CC_DRAW_OK) {
                cc_log("source check: redis %s: HGET: %s; not drawing",
                       d->o.redis[r], e->str);
            }
            rc = CC_DRAW_FAILED;
        }

        freeReplyObject(e);
    }

    d->source_scanned += k;

    if (rc == CC_DRAW_OK && k > 0) {
        rc = cc_draw_source_resolve(sc, k);
    }

    return rc;
}


/* step 2 on Redis shard r: every user hash with e before the cutoff */
static int
cc_draw_source_scan(cc_draw_source_t *sc, size_t r)
{
    int             rc;
    char            cursor[32];
    size_t          i, to;
    redisReply     *scan;
    redisContext   *c = sc->c[r];
    cc_draw_run_t  *d = sc->d;

    snprintf(cursor, sizeof(cursor), "0");
    rc = CC_DRAW_OK;

    do {
        scan = redisCommand(c, "SCAN %s MATCH %s COUNT %d", cursor,
                            CC_KEY_USER_MATCH, CC_DRAW_SOURCE_BATCH);

        if (scan == NULL || scan->type != REDIS_REPLY_ARRAY
            || scan->elements != 2
            || scan->element[0]->type != REDIS_REPLY_STRING
            || scan->element[1]->type != REDIS_REPLY_ARRAY)
        {
            cc_log("source check: redis %s: SCAN: %s; not drawing",
                   d->o.redis[r], scan == NULL ? c->errstr
                   : scan->type == REDIS_REPLY_ERROR ? scan->str
                   : "unexpected reply");
            freeReplyObject(scan);
            return CC_DRAW_FAILED;
        }

        snprintf(cursor, sizeof(cursor), "%s", scan->element[0]->str);

        /* SCAN may answer more keys than COUNT: a batch at a time */
        for (i = 0; i < scan->element[1]->elements && rc == CC_DRAW_OK;
             i = to)
        {
            to = i + CC_DRAW_SOURCE_BATCH;
            if (to > scan->element[1]->elements) {
                to = scan->element[1]->elements;
            }

            rc = cc_draw_source_keys(sc, r, scan->element[1], i, to);
        }

        freeReplyObject(scan);

    } while (rc == CC_DRAW_OK && strcmp(cursor, "0") != 0);

    return rc;
}


int
cc_draw_check_source(cc_draw_run_t *d)
{
    int                rc;
    char               err[512];
    size_t             s, r;
    cc_draw_source_t  *sc;

    sc = calloc(1, sizeof(cc_draw_source_t));
    if (sc != NULL) {
        sc->rows = calloc(CC_DRAW_SOURCE_BATCH, sizeof(cc_draw_source_row_t));
    }

    if (sc == NULL || sc->rows == NULL) {
        cc_log("source check: out of memory; not drawing");
        if (sc != NULL) {
            free(sc);
        }
        return CC_DRAW_FAILED;
    }

    sc->d = d;
    rc = CC_DRAW_OK;

    for (r = 0; r < d->o.nredis; r++) {
        sc->c[r] = cc_draw_redis_connect(&d->addrs[r], d->o.redis[r], NULL,
                                         err, sizeof(err));
        if (sc->c[r] == NULL) {
            cc_log("source check: %s; not drawing", err);
            rc = CC_DRAW_FAILED;
            break;
        }
    }

    for (s = 0; s < d->st.nshards && rc == CC_DRAW_OK; s++) {
        rc = cc_draw_source_mysql(sc, s);
    }

    for (r = 0; r < d->o.nredis && rc == CC_DRAW_OK; r++) {
        rc = cc_draw_source_scan(sc, r);
    }

    for (r = 0; r < d->o.nredis; r++) {
        redisFree(sc->c[r]);
    }

    free(sc->rows);
    free(sc);

    if (rc != CC_DRAW_OK) {
        return rc;
    }

    if (d->source_mismatches > 0) {
        if (d->source_mismatches > CC_DRAW_SOURCE_LIST) {
            cc_log("source check: ... and %" PRIu64 " more",
                   d->source_mismatches - CC_DRAW_SOURCE_LIST);
        }

        cc_log("source check: %" PRIu64 " of the eligible users in MySQL "
               "and the combine records in Redis disagree (%" PRIu64
               " eligible in MySQL, %" PRIu64 " combined in Redis before "
               "the cutoff): the eligibility table is not what the users "
               "did; not drawing", d->source_mismatches, d->source_checked,
               d->source_scanned);
        return CC_DRAW_REFUSED;
    }

    cc_log("source check: %" PRIu64 " eligible users in MySQL match the "
           "combine records in Redis (%" PRIu64 " combined before the "
           "cutoff)", d->source_checked, d->source_scanned);

    return CC_DRAW_OK;
}


/* ---- the two cutoffs: nothing combined at or after the file's ---------- */

/* ms as 2027-02-10T15:00:00.123Z (or .000) */
static void
cc_draw_iso_ms(int64_t ms, char *out, size_t len)
{
    char       t[32];
    time_t     sec;
    struct tm  tm;

    sec = (time_t) (ms / 1000);

    if (gmtime_r(&sec, &tm) == NULL
        || strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
    {
        snprintf(out, len, "%" PRId64 " ms", ms);
        return;
    }

    snprintf(out, len, "%s.%03dZ", t, (int) (ms % 1000));
}


int
cc_draw_check_late(cc_draw_run_t *d)
{
    char         sql[256], cut[40], at[40];
    size_t       s;
    int64_t      cut_ms;
    uint64_t     listed;
    MYSQL       *db;
    MYSQL_RES   *res;
    MYSQL_ROW    row;

    if (d->late == 0) {
        return CC_DRAW_OK;
    }

    cut_ms = d->c.cutoff * 1000;
    cc_draw_iso_ms(cut_ms, cut, sizeof(cut));
    listed = 0;

    for (s = 0; s < d->st.nshards && listed < CC_DRAW_SOURCE_LIST; s++) {
        db = d->st.shards[s].conn;

        snprintf(sql, sizeof(sql), "SELECT uid, combined_at FROM eligibility "
                 "WHERE combined_at >= %" PRId64 " ORDER BY uid LIMIT %"
                 PRIu64, cut_ms, CC_DRAW_SOURCE_LIST - listed);

        if (mysql_query(db, sql) != 0
            || (res = mysql_store_result(db)) == NULL)
        {
            cc_log("cutoff check: mysql %s: %s; not drawing",
                   d->st.shards[s].name, mysql_error(db));
            return CC_DRAW_FAILED;
        }

        while ((row = mysql_fetch_row(res)) != NULL) {
            cc_draw_iso_ms(strtoll(row[1], NULL, 10), at, sizeof(at));
            cc_log("cutoff check: uid %s (mysql %s) combined at %s, at or "
                   "after the campaign file's cutoff %s", row[0],
                   d->st.shards[s].name, at, cut);
            listed++;
        }

        mysql_free_result(res);
        (void) mysql_commit(db);
    }

    if (d->late > listed) {
        cc_log("cutoff check: ... and %" PRIu64 " more", d->late - listed);
    }

    cc_draw_iso_ms(d->late_max, at, sizeof(at));
    cc_log("cutoff check: %" PRIu64 " eligibility row(s) combined at or "
           "after the campaign file's cutoff %s (%s: cutoff %" PRId64 "), "
           "the latest at %s: nginx took them, so its cc_combine_cutoff (or "
           "cc_campaign_end) is later than the file's cutoff; the two must "
           "be the same moment.  Users who combined between them would be "
           "left out; not drawing (fix the setting that is wrong, then "
           "decide these users: README \"Closing the window\")",
           d->late, cut, d->o.campaign, d->c.cutoff, at);

    return CC_DRAW_REFUSED;
}
