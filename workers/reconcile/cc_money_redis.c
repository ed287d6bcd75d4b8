/*
 * cc_money_redis.c: the Redis side of the money checks.  The
 * rows a MySQL stream left waiting (m->look) are asked of their users'
 * Redis shards, pipelined: field w against the award's status
 * (status_mismatch), field e of the users eligible in MySQL
 * (eligible_mismatch).  Then the SCAN pass over every user hash of each
 * Redis shard finds the users with e or w that MySQL lacks.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_award.h"
#include "cc_ids.h"
#include "cc_keys.h"
#include "cc_money_fields.h"
#include "cc_money_mysql.h"
#include "cc_money_redis.h"
#include "cc_money_report.h"
#include "cc_worker.h"


/*
 * HGET field of every waiting row's user hash, pipelined: each command
 * goes to the user's Redis shard, and the replies of one connection come
 * back in the order sent, so reading them in the rows' order pairs each
 * reply with its row.  r[i] is row i's reply (the caller frees each, and
 * r), or NULL when a Redis shard failed (every reply freed) or out of
 * memory.  Called with m->nlook > 0.
 */
static redisReply **
cc_money_hget(cc_money_t *m, const char *field)
{
    char            key[CC_KEY_MAX];
    void           *reply;
    size_t          i, j;
    redisReply    **r;
    redisContext   *c;

    r = calloc(m->nlook, sizeof(redisReply *));
    if (r == NULL) {
        return NULL;
    }

    for (i = 0; i < m->nlook; i++) {
        cc_key_user(key, m->look[i].uid);
        c = m->redis[cc_ring_shard(&m->ring, m->look[i].uid)];
        redisAppendCommand(c, "HGET %s %s", key, field);
    }

    for (i = 0; i < m->nlook; i++) {
        j = cc_ring_shard(&m->ring, m->look[i].uid);
        c = m->redis[j];

        if (redisGetReply(c, &reply) != REDIS_OK) {
            cc_log("redis %s: HGET: %s", m->redis_names[j], c->errstr);
            goto failed;
        }

        r[i] = reply;

        if (r[i]->type != REDIS_REPLY_STRING && r[i]->type != REDIS_REPLY_NIL)
        {
            cc_log("redis %s: HGET: %s", m->redis_names[j],
                   r[i]->type == REDIS_REPLY_ERROR ? r[i]->str
                   : "not a string");
            i++;
            goto failed;
        }
    }

    return r;

failed:

    for (j = 0; j < i; j++) {
        freeReplyObject(r[j]);
    }

    free(r);

    return NULL;
}


/*
 * The Redis side of a batch of awards: w = "<p|c>:<amount>:<award_id>"
 * (cc_keys.h), read by cc_award_parse (the one reader of that format), with
 * the status MySQL says (want), its amount and its award id.  A w that
 * does not parse is a mismatch as well, shown as Redis holds it.
 */
int
cc_money_flush_awards(cc_money_t *m)
{
    char              expected[160], found[CC_MONEY_W_MAX + 8];
    size_t            i;
    cc_award_t        aw;
    redisReply      **r;
    cc_money_look_t  *l;

    if (m->nlook == 0) {
        return 0;
    }

    r = cc_money_hget(m, CC_FIELD_AWARD);
    if (r == NULL) {
        return -1;
    }

    for (i = 0; i < m->nlook; i++) {
        l = &m->look[i];

        snprintf(expected, sizeof(expected), "%s:%" PRIu64 ":%s",
                 l->want == 'p' ? "p" : l->want == 'c' ? "c" : "p|c",
                 l->amount, l->award_id);

        if (r[i]->type == REDIS_REPLY_NIL) {
            cc_money_break(m, CC_MONEY_STATUS_MISMATCH, m->shard,
                           l->award_id, l->uid, expected, "none");

            /* lost (a failover): written again from MySQL by --repair */
            if (m->repair && cc_money_add_field(m, l, l->want != 'p') != 0) {
                return -1;
            }

        } else if (cc_award_parse(r[i]->str, r[i]->len, &aw) == 0
                   && l->want == 'c' && !aw.credited
                   && aw.amount == l->amount
                   && aw.id_len == strlen(l->award_id)
                   && memcmp(aw.id, l->award_id, aw.id_len) == 0)
        {
            /* behind MySQL: pending in Redis, credited and notified */
            snprintf(found, sizeof(found), "%.*s", CC_MONEY_W_MAX,
                     r[i]->str);
            cc_money_break(m, CC_MONEY_STATUS_MISMATCH, m->shard,
                           l->award_id, l->uid, expected, found);

            if (m->repair && cc_money_add_field(m, l, 1) != 0) {
                return -1;
            }

        } else if (cc_award_parse(r[i]->str, r[i]->len, &aw) != 0
                   || (l->want != '?' && aw.credited != (l->want == 'c'))
                   || aw.amount != l->amount
                   || aw.id_len != strlen(l->award_id)
                   || memcmp(aw.id, l->award_id, aw.id_len) != 0)
        {
            snprintf(found, sizeof(found), "%.*s", CC_MONEY_W_MAX,
                     r[i]->str);
            cc_money_break(m, CC_MONEY_STATUS_MISMATCH, m->shard,
                           l->award_id, l->uid, expected, found);
        }

        freeReplyObject(r[i]);
    }

    free(r);
    m->nlook = 0;

    return 0;
}


int
cc_money_flush_eligible(cc_money_t *m)
{
    size_t        i;
    redisReply  **r;

    if (m->nlook == 0) {
        return 0;
    }

    r = cc_money_hget(m, CC_FIELD_COMBINE);
    if (r == NULL) {
        return -1;
    }

    for (i = 0; i < m->nlook; i++) {
        if (r[i]->type == REDIS_REPLY_NIL) {
            cc_money_break(m, CC_MONEY_ELIGIBLE_MISMATCH, m->shard, NULL,
                           m->look[i].uid, "field e in Redis",
                           "none (eligible in MySQL)");
        }

        freeReplyObject(r[i]);
    }

    free(r);
    m->nlook = 0;

    return 0;
}


static int
cc_money_look_cmp(const void *a, const void *b)
{
    const cc_money_look_t  *x = a, *y = b;

    if (x->amount != y->amount) {       /* the MySQL shard, in the SCAN */
        return x->amount < y->amount ? -1 : 1;
    }

    return x->uid < y->uid ? -1 : x->uid > y->uid;
}


static cc_money_look_t *
cc_money_look_find(cc_money_t *m, uint64_t uid)
{
    cc_money_look_t  key;

    key.amount = m->shard;
    key.uid = uid;

    return bsearch(&key, m->look, m->nlook, sizeof(cc_money_look_t),
                   cc_money_look_cmp);
}


/* SELECT col FROM ... WHERE uid IN (the look rows of the shard) */
static MYSQL_RES *
cc_money_in_query(cc_money_t *m, const char *head)
{
    size_t  i, len;

    len = (size_t) snprintf(m->sql, m->sql_len, "%s", head);

    for (i = 0; i < m->nlook; i++) {
        if (m->look[i].amount == m->shard) {
            len += (size_t) snprintf(m->sql + len, m->sql_len - len,
                                     "%s%" PRIu64, len && m->sql[len - 1]
                                     == '(' ? "" : ",", m->look[i].uid);
        }
    }

    snprintf(m->sql + len, m->sql_len - len, ")");

    return cc_money_query(m, m->sql, 0);
}


/*
 * The users of a SCAN batch that have e or w: are they eligible (before
 * the cutoff) and awarded in their MySQL shard?  The look rows are sorted
 * by (shard, uid) (the shard kept in .amount) and each shard asked once
 * with an IN list of its uids.
 */
static int
cc_money_scan_resolve(cc_money_t *m)
{
    char              head[256], found[CC_MONEY_W_MAX + 64], id[80];
    size_t            i;
    uint32_t          s;
    MYSQL_ROW         row;
    MYSQL_RES        *res;
    cc_money_look_t  *l;

    if (m->nlook == 0) {
        return 0;
    }

    qsort(m->look, m->nlook, sizeof(cc_money_look_t), cc_money_look_cmp);

    for (i = 0; i < m->nlook; i = i + 1) {
        if (i > 0 && m->look[i].amount == m->look[i - 1].amount) {
            continue;
        }

        s = (uint32_t) m->look[i].amount;
        m->shard = s;

        res = cc_money_in_query(m, "SELECT uid, combined_at FROM "
                                   "eligibility WHERE uid IN (");
        if (res == NULL) {
            return -1;
        }

        while ((row = mysql_fetch_row(res)) != NULL) {
            l = cc_money_look_find(m, cc_money_u64(row[0]));
            if (l != NULL) {
                l->in_elig = 1;
                l->combined_at = strtoll(row[1], NULL, 10);
            }
        }

        mysql_free_result(res);

        snprintf(head, sizeof(head), "SELECT uid FROM awards WHERE "
                 "campaign = '%s' AND uid IN (", m->camp.id);

        res = cc_money_in_query(m, head);
        if (res == NULL) {
            return -1;
        }

        while ((row = mysql_fetch_row(res)) != NULL) {
            l = cc_money_look_find(m, cc_money_u64(row[0]));
            if (l != NULL) {
                l->in_awards = 1;
            }
        }

        mysql_free_result(res);
    }

    for (i = 0; i < m->nlook; i++) {
        l = &m->look[i];
        s = (uint32_t) l->amount;

        if (l->has_e && (!l->in_elig || l->combined_at >= m->cutoff_ms)) {
            if (l->in_elig) {
                snprintf(found, sizeof(found), "e in Redis; MySQL combined "
                         "at %" PRId64 " ms", l->combined_at);
            } else {
                snprintf(found, sizeof(found), "e in Redis; no eligibility "
                         "row");
            }
            cc_money_break(m, CC_MONEY_ELIGIBLE_MISMATCH, s, NULL, l->uid,
                           "combined before the cutoff in MySQL", found);
        }

        if (l->w[0] != '\0' && !l->in_awards) {
            snprintf(id, sizeof(id), "%s:%" PRIu64, m->camp.id, l->uid);
            snprintf(found, sizeof(found), "%s", l->w);
            cc_money_break(m, CC_MONEY_STATUS_MISMATCH, s, id, l->uid,
                           "none (no award in MySQL)", found);
        }
    }

    m->nlook = 0;

    return 0;
}


/* HMGET e w of n keys of one Redis shard, pipelined, then resolved */
static int
cc_money_scan_keys(cc_money_t *m, size_t r, redisReply **keys, size_t n)
{
    int               failed;
    void             *reply;
    size_t            i;
    uint64_t          uid;
    redisReply       *v;
    redisContext     *c;
    cc_money_look_t  *l;

    c = m->redis[r];

    for (i = 0; i < n; i++) {
        redisAppendCommand(c, "HMGET %b %s %s", keys[i]->str,
                           (size_t) keys[i]->len, CC_FIELD_COMBINE,
                           CC_FIELD_AWARD);
    }

    failed = 0;

    for (i = 0; i < n; i++) {
        if (redisGetReply(c, &reply) != REDIS_OK) {
            cc_log("redis %s: HMGET: %s", m->redis_names[r], c->errstr);
            return -1;
        }

        v = reply;

        if (failed || v->type != REDIS_REPLY_ARRAY || v->elements != 2) {
            if (!failed) {
                cc_log("redis %s: HMGET: %s", m->redis_names[r],
                       v->type == REDIS_REPLY_ERROR ? v->str : "bad reply");
            }
            failed = 1;
            freeReplyObject(v);
            continue;
        }

        if (cc_key_user_uid(keys[i]->str, keys[i]->len, &uid) != 0
            || (v->element[0]->type != REDIS_REPLY_STRING
                && v->element[1]->type != REDIS_REPLY_STRING))
        {
            freeReplyObject(v);
            continue;
        }

        m->rows++;
        l = &m->look[m->nlook++];
        memset(l, 0, sizeof(*l));
        l->uid = uid;
        l->amount = cc_store_shard_of(&m->st, uid);
        l->has_e = v->element[0]->type == REDIS_REPLY_STRING;
        l->combined_at = -1;

        if (v->element[1]->type == REDIS_REPLY_STRING) {
            snprintf(l->w, sizeof(l->w), "%s", v->element[1]->str);
        }

        freeReplyObject(v);
    }

    if (failed) {
        return -1;
    }

    return cc_money_scan_resolve(m);
}


/*
 * Every user hash of one Redis shard (SCAN: a key that lives through the
 * whole scan is returned at least once; a key returned twice is checked
 * twice, harmlessly, as nothing is counted twice unless it is broken).
 */
int
cc_money_scan(cc_money_t *m, size_t r)
{
    char           cursor[32];
    size_t         i, n;
    redisReply    *rr;
    redisContext  *c;

    c = m->redis[r];
    snprintf(cursor, sizeof(cursor), "0");

    do {
        rr = redisCommand(c, "SCAN %s MATCH " CC_KEY_USER_MATCH
                          " COUNT %lld", cursor, m->batch);

        if (rr == NULL || rr->type != REDIS_REPLY_ARRAY || rr->elements != 2
            || rr->element[0]->type != REDIS_REPLY_STRING
            || rr->element[1]->type != REDIS_REPLY_ARRAY)
        {
            cc_log("redis %s: SCAN: %s", m->redis_names[r],
                   rr == NULL ? c->errstr
                   : rr->type == REDIS_REPLY_ERROR ? rr->str : "bad reply");
            freeReplyObject(rr);
            return -1;
        }

        snprintf(cursor, sizeof(cursor), "%s", rr->element[0]->str);

        /* COUNT is a hint: a reply may hold more keys than a batch */
        for (i = 0; i < rr->element[1]->elements; i += n) {
            n = rr->element[1]->elements - i;
            if ((long long) n > m->batch) {
                n = (size_t) m->batch;
            }

            if (cc_money_scan_keys(m, r, rr->element[1]->element + i, n)
                != 0)
            {
                freeReplyObject(rr);
                return -1;
            }
        }

        freeReplyObject(rr);
        cc_money_progress(m, "scanning Redis");

    } while (strcmp(cursor, "0") != 0 && cc_worker_run);

    return cc_worker_run ? 0 : -1;
}
