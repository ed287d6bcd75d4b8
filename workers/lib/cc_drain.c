/*
 * cc_drain: one Redis shard's draw log into sharded MySQL, then trimmed.
 *
 * The flip script appends every draw and combine to its shard's stream in
 * the same atomic step that spends the chance, and each half of a gift is
 * appended by its own script on its user's shard; Kafka is only the fast
 * path.  A pass reads the log in id order, batch entries at a time, up to
 * the cutoff (the Redis clock less the grace: stream ids are Redis times,
 * so no clock skew between hosts matters), writes what it read with the
 * idempotent cc_store_write and cc_store_write_gifts (rows already there
 * insert nothing), and only
 * then trims the log up to the last entry written.  A crash between the
 * write and the trim writes the same rows again next pass, inserting
 * nothing.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_drain.h"
#include "cc_keys.h"
#include "cc_log.h"
#include "cc_redis.h"
#include "cc_worker.h"


typedef struct {
    redisContext       *rc;
    char                name[300];      /* "host:port" for the log lines */
    cc_draw_t          *draws;          /* batch * CC_LOG_BATCH_MAX */
    size_t              n;
    cc_combine_t       *combines;       /* batch */
    size_t              nc;
    cc_gift_t          *gifts;          /* batch * CC_LOG_BATCH_MAX, either
                                           half */
    size_t              ng;
    cc_drain_stats_t    stats;
} cc_drain_t;


/* the text of a failed reply, or of the connection's error */
static const char *
cc_drain_error(const redisContext *rc, const redisReply *r)
{
    if (r == NULL) {
        return rc->err ? rc->errstr : "no reply";
    }

    return r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply";
}


/*
 * The gift halves of a gifts entry (one gift_out or gift_in batch), each
 * line on its own: a bad line is logged, counted and skipped alone.
 */
static void
cc_drain_gifts(cc_drain_t *dr, cc_log_entry_t *le, const char *id)
{
    int          rc;
    const char  *why;

    while ((rc = cc_log_next_gift(le, &dr->gifts[dr->ng], &why)) != 0) {
        if (rc == 1) {
            dr->ng++;

        } else if (rc == CC_LOG_TOO_MANY) {
            cc_log("redis %s: log entry %s holds over %d gifts; the rest "
                   "are skipped", dr->name, id, CC_LOG_BATCH_MAX);
            dr->stats.bad++;

        } else {
            cc_log("redis %s: skipping gift %zu of log entry %s: %s",
                   dr->name, le->lines, id, why);
            dr->stats.bad++;
        }
    }
}


/*
 * One stream entry [id, [field, value, ...]] into the batch: a combine, a
 * gift's half, or the draws of a flip batch, each unreadable line logged
 * and counted.
 */
static void
cc_drain_entry(cc_drain_t *dr, const redisReply *e)
{
    int                rc;
    size_t             i;
    const char        *id, *why;
    cc_log_entry_t     le;
    const redisReply  *kv, *f, *v;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING
        || e->element[1]->type != REDIS_REPLY_ARRAY)
    {
        cc_log("redis %s: skipping a log entry: not a stream entry",
               dr->name);
        dr->stats.bad++;
        return;
    }

    id = e->element[0]->str;
    kv = e->element[1];

    cc_log_entry_init(&le);

    for (i = 0; i + 1 < kv->elements; i += 2) {
        f = kv->element[i];
        v = kv->element[i + 1];

        if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING) {
            cc_log_entry_field(&le, f->str, f->len, v->str, v->len);
        }
    }

    if (cc_log_entry_end(&le, &why) != 0) {
        cc_log("redis %s: skipping log entry %s: %s", dr->name, id, why);
        dr->stats.bad++;
        return;
    }

    if (le.kind == CC_LOG_COMBINE) {
        dr->combines[dr->nc++] = le.combine;
        return;
    }

    if (le.kind == CC_LOG_GIFT) {
        dr->gifts[dr->ng++] = le.gift;
        return;
    }

    if (le.kind == CC_LOG_GIFTS) {
        cc_drain_gifts(dr, &le, id);
        return;
    }

    while ((rc = cc_log_next_draw(&le, &dr->draws[dr->n], &why)) != 0) {
        if (rc == 1) {
            dr->n++;

        } else if (rc == CC_LOG_TOO_MANY) {
            cc_log("redis %s: log entry %s holds over %d draws; the rest "
                   "are skipped", dr->name, id, CC_LOG_BATCH_MAX);
            dr->stats.bad++;

        } else {
            cc_log("redis %s: skipping draw %zu of log entry %s: %s",
                   dr->name, le.lines, id, why);
            dr->stats.bad++;
        }
    }
}


/* the cutoff "ms" by the Redis clock, grace_ms ago */
static int
cc_drain_cutoff(cc_drain_t *dr, int64_t grace_ms, char *cutoff, size_t len,
    char *err, size_t errlen)
{
    int64_t  now;

    if (cc_redis_time_ms(dr->rc, dr->name, &now, err, errlen) != 0) {
        return -1;
    }

    snprintf(cutoff, len, "%lld", (long long) (now - grace_ms));

    return 0;
}


int
cc_drain_shard(redisContext *rc, cc_store_t *st, int64_t grace_ms,
    size_t batch, cc_drain_stats_t *stats, char *err, size_t errlen)
{
    int                ret;
    char               cutoff[32], minid[64];
    size_t             i, inserted, gifts;
    int64_t            backoff;
    redisReply        *rr;
    cc_drain_t         dr;
    const redisReply  *last;

    memset(&dr, 0, sizeof(dr));
    dr.rc = rc;
    rr = NULL;
    ret = -1;

    snprintf(dr.name, sizeof(dr.name),
             strchr(rc->tcp.host ? rc->tcp.host : "", ':') ? "[%s]:%d"
                                                             : "%s:%d",
             rc->tcp.host ? rc->tcp.host : "?", rc->tcp.port);

    dr.draws = calloc(batch * CC_LOG_BATCH_MAX, sizeof(cc_draw_t));
    dr.combines = calloc(batch, sizeof(cc_combine_t));
    dr.gifts = calloc(batch * CC_LOG_BATCH_MAX, sizeof(cc_gift_t));

    if (dr.draws == NULL || dr.combines == NULL || dr.gifts == NULL) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }

    if (cc_drain_cutoff(&dr, grace_ms, cutoff, sizeof(cutoff), err, errlen)
        != 0)
    {
        goto cleanup;
    }

    while (cc_worker_run) {
        /* hiredis 0.14 formats no %zu */
        rr = redisCommand(rc, "XRANGE %s - %s COUNT %lld", CC_KEY_LOG,
                          cutoff, (long long) batch);

        if (rr == NULL || rr->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errlen, "redis %s: XRANGE: %s", dr.name,
                     cc_drain_error(rc, rr));
            goto cleanup;
        }

        if (rr->elements == 0) {
            break;
        }

        dr.n = 0;
        dr.nc = 0;
        dr.ng = 0;

        for (i = 0; i < rr->elements; i++) {
            cc_drain_entry(&dr, rr->element[i]);
        }

        dr.stats.entries += rr->elements;

        backoff = 0;

        /* both idempotent: a retry after one committed adds nothing */
        while (cc_store_write(st, dr.draws, dr.n, dr.combines, dr.nc,
                              &inserted)
               != 0
               || cc_store_write_gifts(st, dr.gifts, dr.ng, &gifts) != 0)
        {
            if (cc_retry_wait(&backoff, "mysql", st->err) != 0) {
                snprintf(err, errlen, "mysql: %s", st->err);
                goto cleanup;
            }
        }

        dr.stats.read += dr.n + dr.nc + dr.ng;
        dr.stats.inserted += inserted + gifts;

        /* written: drop the log up to and including the last entry */
        /*
         * Redis writes its ids in one form; one it did not (or the very
         * last id) would trim nothing and read the same entries again
         * forever, so the pass stops instead.
         */
        last = rr->element[rr->elements - 1];
        last = last->type == REDIS_REPLY_ARRAY && last->elements >= 1
               && last->element[0]->type == REDIS_REPLY_STRING
               ? last->element[0] : NULL;

        if (last == NULL
            || cc_log_stream_id_next(last->str, last->len, minid,
                                     sizeof(minid))
               != 0)
        {
            snprintf(err, errlen, "redis %s: XRANGE: the last entry's id "
                     "\"%.40s\" is not MS-SEQ", dr.name,
                     last != NULL ? last->str : "?");
            goto cleanup;
        }

        i = rr->elements;
        freeReplyObject(rr);

        rr = redisCommand(rc, "XTRIM %s MINID %s", CC_KEY_LOG, minid);

        if (rr == NULL || rr->type != REDIS_REPLY_INTEGER) {
            snprintf(err, errlen, "redis %s: XTRIM: %s", dr.name,
                     cc_drain_error(rc, rr));
            goto cleanup;
        }

        freeReplyObject(rr);
        rr = NULL;

        if (i < batch) {
            break;
        }
    }

    if (!cc_worker_run) {
        snprintf(err, errlen, "redis %s: stopped", dr.name);
        goto cleanup;
    }

    freeReplyObject(rr);
    rr = redisCommand(rc, "XLEN %s", CC_KEY_LOG);

    cc_log("redis %s: %llu draws checked, %llu were missing from MySQL "
           "and are now written, %llu unreadable; %lld newer left in the log",
           dr.name, dr.stats.read, dr.stats.inserted, dr.stats.bad,
           rr && rr->type == REDIS_REPLY_INTEGER ? rr->integer : -1LL);

    ret = 0;

cleanup:

    stats->entries += dr.stats.entries;
    stats->read += dr.stats.read;
    stats->inserted += dr.stats.inserted;
    stats->bad += dr.stats.bad;

    freeReplyObject(rr);
    free(dr.draws);
    free(dr.combines);
    free(dr.gifts);

    return ret;
}
