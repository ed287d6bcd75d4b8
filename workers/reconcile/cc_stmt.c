/*
 * cc_stmt: the three-way reconcile (see the header).
 *
 * The statement's lines of the campaign are held in memory, sorted by key
 * (about 120 bytes a line: O(statement) memory, the awards are streamed).
 * Each shard's awards are read in one stream, each joined with its
 * pending transfer (id = the award id) and its post (post:<id>; a
 * batch's round post names no award: a pending transfer of a credited
 * award is posted, cc_ledger_phase.h); an award
 * looks its key up (binary search), marks the key's lines seen and is
 * classified:
 *
 *   statement lines  ledger            break
 *   >= 1             posted            none (or amount / duplicate)
 *   >= 1             pending or none   long_at_wallet
 *   0                posted            short_at_wallet
 *   0                pending           short_at_wallet (repairable)
 *   0                none              none: not paid yet (a stale one
 *                                      is --money's missing_credit)
 *
 * plus wallet_amount_mismatch and duplicate_at_wallet on the lines
 * themselves.  Lines never marked are unknown_key.  A ledger-mode credit
 * transfer (kind 'credit') counts as posted.  "pending" is the award's
 * first attempt's pending transfer without the post; after a detail the
 * wallet failed it may be voided, but then a later attempt's is live
 * (both are written in one transaction, cc_ledger_phase.h, and
 * cc-reconcile --money's phases check finds an award without one), so
 * it still means "in flight"; voids count nowhere here.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cc_ids.h"
#include "cc_ledger.h"
#include "cc_logtext.h"
#include "cc_stmt.h"
#include "cc_stmt_line.h"
#include "cc_sqlbuf.h"
#include "cc_wallet.h"
#include "cc_worker.h"


#define CC_STMT_REPAIR_MAX  500


/* a break a retry of the same key mends */
typedef struct {
    char       award_id[CC_STMT_KEY_MAX + 1];
    uint64_t   uid;
    uint64_t   amount;
    uint32_t   shard;
    cJSON     *json;
} cc_stmt_fix_t;


struct cc_stmt_s {
    cc_campaign_t        camp;
    char                 prefix[CC_CAMPAIGN_ID_MAX + 2];    /* "<id>:" */
    cc_stmt_line_t      *line;
    size_t               n;
    size_t               other;          /* lines of other campaigns */
    cc_stmt_fix_t       *fix;
    size_t               nfix;
    size_t               fix_cap;
};


static const char  *cc_stmt_names[CC_STMT_NCLASS] = {
    "long_at_wallet", "short_at_wallet", "wallet_amount_mismatch",
    "duplicate_at_wallet", "unknown_key"
};


const char *
cc_stmt_class_name(cc_stmt_class_e cls)
{
    return cc_stmt_names[cls];
}


static int
cc_stmt_cmp(const void *a, const void *b)
{
    return strcmp(((const cc_stmt_line_t *) a)->key,
                  ((const cc_stmt_line_t *) b)->key);
}


cc_stmt_t *
cc_stmt_load(const char *path, const cc_campaign_t *camp, char *err,
    size_t errlen)
{
    FILE            *f;
    char            *buf;
    size_t           cap, lineno, plen;
    ssize_t          len;
    cc_stmt_t       *t;
    const char      *why;
    cc_stmt_line_t   l, *nl;

    t = calloc(1, sizeof(cc_stmt_t));
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    t->camp = *camp;
    snprintf(t->prefix, sizeof(t->prefix), "%s:", camp->id);
    plen = strlen(t->prefix);

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(t);
        return NULL;
    }

    buf = NULL;
    cap = 0;
    lineno = 0;

    while ((len = getline(&buf, &cap, f)) != -1) {
        lineno++;

        if (cc_stmt_line_parse(buf, (size_t) len, &l, &why) != 0) {
            snprintf(err, errlen, "%s: line %zu is not key,uid,amount_cents,"
                     "currency,applied_at_ms: %s", path, lineno, why);
            goto failed;
        }

        if (strncmp(l.key, t->prefix, plen) != 0) {
            t->other++;
            continue;
        }

        if ((t->n & (t->n - 1)) == 0) {          /* 0, 1, 2, 4, ... */
            nl = realloc(t->line, (t->n ? t->n * 2 : 1024)
                                  * sizeof(cc_stmt_line_t));
            if (nl == NULL) {
                snprintf(err, errlen, "out of memory");
                goto failed;
            }

            t->line = nl;
        }

        t->line[t->n++] = l;
    }

    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto failed;
    }

    free(buf);
    fclose(f);

    if (t->n > 1) {                 /* an empty statement has no array */
        qsort(t->line, t->n, sizeof(cc_stmt_line_t), cc_stmt_cmp);
    }

    cc_log("statement %s: %zu lines of campaign %s, %zu of others skipped",
           path, t->n, camp->id, t->other);

    return t;

failed:

    free(buf);
    fclose(f);
    cc_stmt_free(t);

    return NULL;
}


void
cc_stmt_free(cc_stmt_t *t)
{
    if (t != NULL) {
        free(t->line);
        free(t->fix);
        free(t);
    }
}


/* the first line of key, or NULL; *count its lines */
static cc_stmt_line_t *
cc_stmt_find(cc_stmt_t *t, const char *key, size_t *count)
{
    size_t  lo, hi, mid, k;

    lo = 0;
    hi = t->n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (strcmp(t->line[mid].key, key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }

    for (k = lo; k < t->n && strcmp(t->line[k].key, key) == 0; k++) {
        /* void */
    }

    *count = k - lo;

    return k > lo ? &t->line[lo] : NULL;
}


static int
cc_stmt_add_fix(cc_stmt_t *t, const char *id, uint64_t uid, uint64_t amount,
    uint32_t shard, void *json)
{
    char            text[96];
    cc_stmt_fix_t  *nf;

    /* the repair puts the id into SQL text: one not fit is not mended */
    if (cc_check_award_id(id, strlen(id)) != 0) {
        (void) cc_logtext(text, sizeof(text), id, strlen(id));
        cc_log("statement: award \"%s\": an id not fit for SQL, not "
               "repaired", text);
        return 0;
    }

    if (t->nfix == t->fix_cap) {
        nf = realloc(t->fix, (t->fix_cap ? t->fix_cap * 2 : 256)
                             * sizeof(cc_stmt_fix_t));
        if (nf == NULL) {
            cc_log("out of memory");
            return -1;
        }

        t->fix = nf;
        t->fix_cap = t->fix_cap ? t->fix_cap * 2 : 256;
    }

    nf = &t->fix[t->nfix++];
    snprintf(nf->award_id, sizeof(nf->award_id), "%s", id);
    nf->uid = uid;
    nf->amount = amount;
    nf->shard = shard;
    nf->json = json;

    return 0;
}


/* one award and its key's lines */
static int
cc_stmt_award(cc_stmt_t *t, uint32_t shard, MYSQL_ROW row,
    cc_stmt_break_pt brk, void *ctx)
{
    int              posted, pending, same;
    char             expected[160], found[160];
    void            *json;
    size_t           i, count;
    uint64_t         uid, amount;
    cc_stmt_line_t  *l;

    uid = strtoull(row[1], NULL, 10);
    amount = strtoull(row[2], NULL, 10);
    posted = row[6][0] == '1' || (row[4] != NULL
                                  && strcmp(row[4], "credit") == 0);
    pending = !posted && row[4] != NULL && strcmp(row[4], "pending") == 0;

    l = cc_stmt_find(t, row[0], &count);

    if (l == NULL) {
        if (!posted && !pending) {
            return 0;                       /* not paid yet */
        }

        snprintf(expected, sizeof(expected), "a statement line of %" PRIu64
                 " %s to uid %" PRIu64, amount, t->camp.currency, uid);
        snprintf(found, sizeof(found), "none; the ledger: %s, award %s",
                 posted ? "posted" : "pending", row[3]);
        json = brk(ctx, CC_STMT_SHORT, shard, row[0], uid, expected, found,
                   pending ? CC_STMT_REPAIR_YES : CC_STMT_REPAIR_NO);

        return pending ? cc_stmt_add_fix(t, row[0], uid, amount, shard,
                                         json)
                       : 0;
    }

    same = 1;

    for (i = 0; i < count; i++) {
        l[i].seen = 1;

        if (l[i].uid != uid || l[i].amount != amount
            || strcmp(l[i].currency, t->camp.currency) != 0)
        {
            same = 0;
            snprintf(expected, sizeof(expected), "uid %" PRIu64 " %" PRIu64
                     " %s", uid, amount, t->camp.currency);
            snprintf(found, sizeof(found), "uid %" PRIu64 " %" PRIu64 " %s",
                     l[i].uid, l[i].amount, l[i].currency);
            brk(ctx, CC_STMT_AMOUNT, shard, row[0], uid, expected, found,
                CC_STMT_REPAIR_NO);
        }
    }

    if (count > 1) {
        snprintf(found, sizeof(found), "%zu lines (applied %zu times)",
                 count, count);
        brk(ctx, CC_STMT_DUPLICATE, shard, row[0], uid, "1 line", found,
            CC_STMT_REPAIR_NO);
    }

    if (!posted) {
        snprintf(found, sizeof(found), "%s, award %s",
                 pending ? "pending, not posted" : "no transfer", row[3]);
        json = brk(ctx, CC_STMT_LONG, shard, row[0], uid,
                   "a posted transfer in the ledger", found,
                   same ? CC_STMT_REPAIR_YES : CC_STMT_REPAIR_NO);

        if (same && cc_stmt_add_fix(t, row[0], uid, amount, shard, json)
                    != 0)
        {
            return -1;
        }
    }

    return 0;
}


int
cc_stmt_shard(cc_stmt_t *t, MYSQL *db, uint32_t shard, cc_stmt_break_pt brk,
    void *ctx)
{
    int         rc;
    char        sql[1024];
    MYSQL_RES  *res;
    MYSQL_ROW   row;

    snprintf(sql, sizeof(sql),
             "SELECT a.award_id, a.uid, a.amount_cents, a.status, p.kind, "
             "p.amount_cents, q.transfer_id IS NOT NULL OR (p.kind = "
             "'pending' AND a.status = 'credited') FROM awards a "
             "LEFT JOIN ledger_transfers p ON p.transfer_id = a.award_id "
             "LEFT JOIN ledger_transfers q ON q.transfer_id = "
             "CONCAT('post:', a.award_id) WHERE a.campaign = '%s'",
             t->camp.id);

    if (mysql_query(db, sql) != 0 || (res = mysql_use_result(db)) == NULL) {
        cc_log("statement: shard %u: %s", shard, mysql_error(db));
        return -1;
    }

    rc = 0;

    while ((row = mysql_fetch_row(res)) != NULL) {
        if (rc == 0 && cc_stmt_award(t, shard, row, brk, ctx) != 0) {
            rc = -1;                        /* read the rest, then fail */
        }
    }

    mysql_free_result(res);

    if (mysql_errno(db) != 0) {
        cc_log("statement: shard %u: %s (while reading)", shard,
               mysql_error(db));
        return -1;
    }

    return rc;
}


uint64_t
cc_stmt_sum(const cc_stmt_t *t)
{
    size_t    i;
    uint64_t  sum;

    for (i = 0, sum = 0; i < t->n; i++) {
        sum += t->line[i].amount;
    }

    return sum;
}


void
cc_stmt_finish(cc_stmt_t *t, cc_stmt_break_pt brk, void *ctx)
{
    char    found[160];
    size_t  i;

    for (i = 0; i < t->n; i++) {
        if (!t->line[i].seen) {
            snprintf(found, sizeof(found), "a statement line: uid %" PRIu64
                     " %" PRIu64 " %s", t->line[i].uid, t->line[i].amount,
                     t->line[i].currency);
            brk(ctx, CC_STMT_UNKNOWN, -1, t->line[i].key, t->line[i].uid,
                "an award", found, CC_STMT_REPAIR_NO);
        }
    }
}


/*
 * The awards of the entries whose rc is rc set credited (from pending or
 * crediting): *k of them, *flipped the rows the UPDATE changed.  0, or
 * -1 (sql->p NULL: out of memory; else MySQL's error).
 */
static int
cc_stmt_mark(MYSQL *db, const cc_ledger_credit_t *c, size_t n,
    cc_ledger_rc_e rc, cc_sqlbuf_t *sql, size_t *k, size_t *flipped)
{
    size_t  i;

    *k = 0;
    *flipped = 0;
    sql->len = 0;

    /* the statement grows as needed: no award id list can overrun it */
    if (cc_sqlbuf_printf(sql, "UPDATE awards SET status = 'credited', "
                         "credited_at = %" PRId64 " WHERE status IN "
                         "('pending', 'crediting') AND award_id IN (",
                         cc_now_ms()) != 0)
    {
        goto nomem;
    }

    for (i = 0; i < n; i++) {
        if (c[i].rc == rc
            && cc_sqlbuf_printf(sql, "%s'%s'", (*k)++ ? "," : "",
                                c[i].award_id) != 0)
        {
            goto nomem;
        }
    }

    if (cc_sqlbuf_printf(sql, ")") != 0) {
        goto nomem;
    }

    if (*k > 0) {
        if (mysql_query(db, sql->p) != 0) {
            return -1;
        }

        *flipped = (size_t) mysql_affected_rows(db);
    }

    return 0;

nomem:

    free(sql->p);
    sql->p = NULL;
    sql->cap = 0;
    sql->len = 0;
    return -1;
}


/* one shard's run of fixes through the adapter, as cc-payout credits */
static unsigned long long
cc_stmt_repair_batch(cc_wallet_t *w, MYSQL *db,
    cc_stmt_fix_t *x, size_t n)
{
    int                  rc;
    char                 err[512];
    long                 added;
    size_t               i, k, flipped;
    cc_sqlbuf_t          sql = { NULL, 0, 0 };
    cc_ledger_credit_t   c[CC_STMT_REPAIR_MAX];
    unsigned long long   done;

    for (i = 0; i < n; i++) {
        c[i].award_id = x[i].award_id;
        c[i].uid = x[i].uid;
        c[i].amount_cents = x[i].amount;
        c[i].rc = CC_LEDGER_ERROR;
    }

    added = cc_wallet_credit(w, db, c, n, err, sizeof(err));

    if (added < 0) {
        cc_log("repair on shard %u: %s; rolled back", x[0].shard, err);
        (void) mysql_rollback(db);
        return 0;
    }

    /* the DONE flipped, each of them (cc_wallet.h's guard), then EXISTS */
    rc = cc_stmt_mark(db, c, n, CC_LEDGER_DONE, &sql, &k, &flipped);

    if (rc == 0 && flipped != k) {
        cc_log("repair on shard %u: %zu of %zu awards credited by another "
               "payer meanwhile; rolled back", x[0].shard, k - flipped, k);
        (void) mysql_rollback(db);
        free(sql.p);
        return 0;
    }

    if (rc != 0
        || cc_stmt_mark(db, c, n, CC_LEDGER_EXISTS, &sql, &k, &flipped) != 0
        || mysql_commit(db) != 0)
    {
        cc_log("repair on shard %u: %s; rolled back", x[0].shard,
               sql.p == NULL ? "out of memory" : mysql_error(db));
        (void) mysql_rollback(db);
        free(sql.p);
        return 0;
    }

    free(sql.p);
    done = 0;

    for (i = 0; i < n; i++) {
        int  ok = c[i].rc == CC_LEDGER_DONE || c[i].rc == CC_LEDGER_EXISTS;

        done += ok;
        cc_log("%s %s (uid %" PRIu64 ", %" PRIu64 "): %s",
               ok ? "repaired" : "not repaired", x[i].award_id, x[i].uid,
               x[i].amount, ok ? "the wallet confirmed the same key, posted"
                               : cc_ledger_rc_name(c[i].rc));

        if (x[i].json != NULL) {
            cJSON_AddBoolToObject(x[i].json, "repaired", ok);
        }
    }

    return done;
}


unsigned long long
cc_stmt_repair(cc_stmt_t *t, cc_store_t *st)
{
    char                 err[512];
    size_t               i, j;
    cc_wallet_t         *w;
    unsigned long long   done;

    if (t->nfix == 0) {
        return 0;
    }

    if (t->camp.wallet != CC_WALLET_HTTP) {
        cc_log("repair: %zu statement break(s) a retry would mend, but the "
               "campaign's wallet is not http: not repaired", t->nfix);
        return 0;
    }

    w = cc_wallet_open(&t->camp, err, sizeof(err));
    if (w == NULL) {
        cc_log("repair: wallet http: %s; nothing repaired", err);
        return 0;
    }

    done = 0;

    /* the fixes were found shard by shard: runs of one shard */
    for (i = 0; i < t->nfix; i = j) {
        for (j = i; j < t->nfix && t->fix[j].shard == t->fix[i].shard
                    && j - i < CC_STMT_REPAIR_MAX; j++)
        {
            /* void */
        }

        done += cc_stmt_repair_batch(w, st->shards[t->fix[i].shard].conn,
                                     &t->fix[i], j - i);
    }

    cc_wallet_close(w);

    cc_log("repair: %llu of %zu statement break(s) mended with their own "
           "keys", done, t->nfix);

    return done;
}
