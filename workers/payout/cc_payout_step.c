/*
 * cc-payout: the three steps, and the lock that ties them (see
 * cc_payout.h).  Everything that takes p->mu is in this file.
 *
 *   (a) claims: LPOP cc:claims COUNT 256 on every Redis shard, all the
 *       time, in a thread of its own, into a queue per MySQL shard that
 *       the shard's claims' thread credits on its own connections (the
 *       claim lanes), beside (b);
 *   (b) bulk: the next --batch pending awards of each shard, every shard
 *       in a thread of its own (the bulk lanes), joined before (c);
 *   (c) outbox: notices owed and not sent (a crash between the commit and
 *       Redis leaves some): awards credited with notified = 0 (a claim's,
 *       cc-draw's sync credits), then the open notice rows of bulk
 *       batches (award_notices), each row's range told again.
 *
 * The lock.  p->mu guards p->flight[] (per MySQL shard: the bulk batch
 * in flight, as the award ids (lo, hi], and whether claims are being
 * credited), p->cq[] (the claims popped, per MySQL shard, and its
 * claims' turns), p->claims_drain, p->cstats, p->bad_claims and
 * p->claims_started; p->cv is broadcast when a shard's claims are done
 * and when the claims' first turns are over, p->cq[s].cv signalled when
 * shard s's queue gets claims or the pops end.  The rules, each taken
 * once below:
 *
 *   - a bulk batch publishes (lo, hi] and then waits while that shard's
 *     claims are being credited (cc_payout_step_bulk);
 *   - the claims, under mu, leave out the awards in (lo, hi] of the
 *     batch in flight and mark the shard busy before writing, then clear
 *     it and broadcast (cc_payout_step_claims_shard);
 *   - the loop's bulk starts only after the claims' first turn
 *     (cc_payout_step_claims_thread broadcasts it, cc_payout.c waits).
 *
 * So no award is written by both at once; were it, the ledger's key (the
 * award id) would still credit it once.  A claimed award inside the bulk
 * batch in flight is left to that batch: the batch holds its transfer's
 * lock until its commit, so a claim crediting it would wait for the whole
 * batch, and every claim behind it too; the batch notifies it right after
 * its commit, as soon as the claim could have.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cc_assert.h"
#include "cc_ids.h"
#include "cc_keys.h"
#include "cc_payout.h"
#include "cc_redis.h"


/* ---- (a) claims ----------------------------------------------------- */


/*
 * Pops the claims of every Redis shard into uids[] (and their MySQL
 * shard into shard[]), *n of them; the number popped, or -1 when no
 * Redis shard answered.
 */
static long
cc_payout_step_pop(cc_payout_t *p, uint64_t *uids, uint32_t *shard,
    size_t *n)
{
    size_t         i, r, up;
    uint64_t       uid;
    redisReply    *reply, *e;
    redisContext  *ctx;

    *n = 0;
    up = 0;

    for (r = 0; r < p->o.nredis; r++) {
        ctx = cc_payout_shard_redis(&p->redis[r]);
        if (ctx == NULL) {
            continue;
        }

        reply = redisCommand(ctx, "LPOP %s %d", CC_KEY_CLAIMS,
                             CC_PAYOUT_CLAIMS);

        if (reply == NULL) {
            cc_payout_shard_redis_down(&p->redis[r], ctx->errstr);
            continue;
        }

        up++;

        for (i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements;
             i++)
        {
            e = reply->element[i];

            /*
             * The module pushes uids it parsed, but the list is anyone's
             * who reaches Redis: an entry is a uid in its one form or
             * dropped (strtoull read "-1" as 2^64-1 and " 7", "+7", "07"
             * as 7).
             */
            if (e->type != REDIS_REPLY_STRING
                || cc_parse_uid(e->str, e->len, &uid) != 0)
            {
                cc_log("redis %s: skipping claim \"%.40s\": not a uid",
                       p->redis[r].addr,
                       e->type == REDIS_REPLY_STRING ? e->str : "?");

                pthread_mutex_lock(&p->mu);
                p->bad_claims++;
                pthread_mutex_unlock(&p->mu);
                continue;
            }

            shard[*n] = cc_store_shard_of(&p->cst, uid);
            uids[(*n)++] = uid;
        }

        if (cc_redis_reply_failover(reply)) {
            /* a replica now, or loading: reconnect through Sentinel */
            cc_payout_shard_redis_down(&p->redis[r], reply->str);

        } else if (reply->type == REDIS_REPLY_ERROR) {
            cc_log("redis %s: LPOP %s: %s", p->redis[r].addr, CC_KEY_CLAIMS,
                   reply->str);
        }

        freeReplyObject(reply);
    }

    return up > 0 ? (long) *n : -1;
}


/*
 * The claims of MySQL shard s, uids[0..n): their awards read
 * whatever their status (a credited one may lack its notice), credited
 * when pending in one small transaction, and notified at once.  Those in
 * the bulk batch in flight are left to it.
 */
static void
cc_payout_step_claims_shard(cc_payout_t *p, size_t s, const uint64_t *uids,
    size_t n)
{
    int                  inflight;
    char                 id[CC_PAYOUT_ID_MAX + 1];
    long                 rc;
    size_t               i, len, found;
    cc_payout_shard_t   *ps = &p->claim[s];
    cc_payout_flight_t  *f = &p->flight[s];

    len = 0;
    found = 0;

    if (ps->db->conn == NULL) {
        return;             /* a shard down: the bulk pass pays these later */
    }

    if (cc_payout_shard_sql(ps, &len, "SELECT award_id, uid, amount_cents, "
                            "status FROM awards WHERE notified = 0 AND "
                            "award_id IN (") != 0)
    {
        return;
    }

    pthread_mutex_lock(&p->mu);

    inflight = f->bulk;

    for (i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%s:%" PRIu64, p->camp.id, uids[i]);

        /* ids of one campaign: strcmp orders them as MySQL does */
        if (inflight && strcmp(id, f->lo) > 0 && strcmp(id, f->hi) <= 0) {
            continue;               /* the batch in flight pays it */
        }

        if (cc_payout_shard_sql(ps, &len, "%s'%s'", found++ ? "," : "", id)
            != 0)
        {
            pthread_mutex_unlock(&p->mu);
            return;
        }
    }

    if (found == 0 || cc_payout_shard_sql(ps, &len, ")") != 0) {
        pthread_mutex_unlock(&p->mu);
        return;
    }

    f->claims = 1;
    pthread_mutex_unlock(&p->mu);

    rc = cc_payout_shard_select(p, ps, len);

    if (rc > 0) {
        if (cc_payout_shard_credit(ps, (size_t) rc, 1) >= 0) {
            (void) cc_payout_shard_notify(p, ps, (size_t) rc);
        }

    } else if (rc == 0) {
        (void) cc_payout_shard_end_read(ps);
    }

    pthread_mutex_lock(&p->mu);
    f->claims = 0;
    p->cstats[s] = ps->stats;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}


/*
 * The notified = 1 owed by a claims' lane whose MySQL shard had no claim
 * this turn to carry it (cc_payout_shard_told_fold): in a transaction of
 * its own, so that no award waits for its flag longer than a turn.
 */
static void
cc_payout_step_told_flush(cc_payout_t *p, size_t s)
{
    cc_payout_shard_t  *ps = &p->claim[s];

    if (ps->told_n == 0) {
        return;
    }

    (void) cc_payout_shard_told_flush(ps);

    pthread_mutex_lock(&p->mu);
    p->cstats[s] = ps->stats;
    pthread_mutex_unlock(&p->mu);
}


/* a wait on cv under mu: ms 0, until signalled; else at most ms */
static void
cc_payout_step_wait(pthread_cond_t *cv, pthread_mutex_t *mu, long ms)
{
    struct timespec  ts;

    if (ms == 0) {
        pthread_cond_wait(cv, mu);
        return;
    }

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    (void) pthread_cond_timedwait(cv, mu, &ts);
}


/* shard s's claims' connection, once its backoff allows (its thread's) */
static void
cc_payout_step_lane_connect(cc_payout_t *p, size_t s)
{
    cc_payout_shard_connect_one(&p->cst, s, &p->cretry[s], &p->cfails[s],
                                " (claims)");
}


/*
 * How long shard s's claims' thread waits (ms, 0: until a claim comes;
 * -1: not at all): its connection lost, until the backoff lets it
 * connect again; notified = 1 owed, not at all, or 100 ms after a failed
 * flush.
 */
static long
cc_payout_step_lane_idle(cc_payout_t *p, size_t s, int owed_failed)
{
    int64_t  due;

    if (p->cst.shards[s].conn == NULL) {
        due = cc_retry_at(&p->cretry[s]) - cc_now_ms();
        return due > 0 ? (long) due : -1;
    }

    if (p->claim[s].told_n > 0) {
        return owed_failed ? 100 : -1;
    }

    return 0;
}


/* one turn of shard s's claims' thread: connected, uids[0..n) credited */
static void
cc_payout_step_claims_lane_turn(cc_payout_t *p, size_t s,
    const uint64_t *uids, size_t n)
{
    cc_payout_step_lane_connect(p, s);
    cc_payout_step_claims_shard(p, s, uids, n);
    __atomic_store_n(&p->claim_at_ms, cc_now_ms(), __ATOMIC_RELAXED);

    pthread_mutex_lock(&p->mu);
    p->cq[s].turns++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}


/*
 * A MySQL shard's claims' thread: it credits the claims popped for its
 * shard (cc_payout_step_claims_shard), all those queued at each turn, on
 * its own lane and connection, until the pops are over and its queue is
 * empty.  With none queued it flushes the notified = 1 its lane owes
 * (nothing else would carry it), then waits for the popping thread's
 * signal.  A thread per shard, not one for all: a claim waits for its own
 * shard's turn in progress, never for another shard's (issue 20, the
 * claim's p99; a turn with the HTTP wallet holds a call).
 */
static void *
cc_payout_step_claims_lane(void *arg)
{
    int                  owed_failed, held;
    long                 idle;
    size_t               n;
    uint64_t            *uids;
    cc_payout_lane_t    *l = arg;
    cc_payout_t         *p = l->p;
    cc_payout_claimq_t  *q = &p->cq[l->s];
    cc_payout_shard_t   *ps = &p->claim[l->s];

    mysql_thread_init();

    uids = l->uids;
    owed_failed = 0;

    cc_payout_step_lane_connect(p, l->s);   /* before the first claim */

    for ( ;; ) {
        pthread_mutex_lock(&p->mu);

        /*
         * Its connection lost and the backoff not over: the claims stay
         * queued until it may connect again (then served, or, MySQL still
         * down, left to the bulk), so that a claim that comes as MySQL
         * returns is not dropped for the backoff's sake.
         */
        idle = cc_payout_step_lane_idle(p, l->s, owed_failed);
        held = p->cst.shards[l->s].conn == NULL && idle > 0;

        if (held || (q->n == 0 && !p->claims_drain && idle >= 0)) {
            cc_payout_step_wait(&q->cv, &p->mu, idle);
        }

        if (held && !cc_retry_due(&p->cretry[l->s], cc_now_ms())) {
            pthread_mutex_unlock(&p->mu);
            continue;
        }

        /* a turn's claims fit its statement and rows (rows_max) */
        n = q->n < p->rows_max ? q->n : p->rows_max;
        if (n > 0) {
            memcpy(uids, q->uids, n * sizeof(uint64_t));
            memmove(q->uids, q->uids + n, (q->n - n) * sizeof(uint64_t));
            q->n -= n;
        }

        pthread_mutex_unlock(&p->mu);

        if (n > 0) {
            cc_payout_step_claims_lane_turn(p, l->s, uids, n);
            owed_failed = 0;
            continue;
        }

        if (__atomic_load_n(&p->claims_drain, __ATOMIC_ACQUIRE)) {
            break;
        }

        /* a connection lost: again once due, not at the next claim only */
        cc_payout_step_lane_connect(p, l->s);

        if (ps->told_n > 0) {                   /* nothing to carry it */
            cc_payout_step_told_flush(p, l->s);
        }
        owed_failed = ps->told_n > 0;
    }

    /* the last claims' notified = 1 (else the outbox's, next run) */
    if (ps->told_n > 0) {
        cc_payout_step_lane_connect(p, l->s);
        cc_payout_step_told_flush(p, l->s);
    }

    mysql_thread_end();

    return NULL;
}


/*
 * Queues what a pop brought, each uid for its MySQL shard's thread, and
 * wakes those threads; under p->mu.  The pop asked for no more than every
 * queue has room for.
 */
static void
cc_payout_step_queue(cc_payout_t *p, const uint64_t *uids,
    const uint32_t *shard, size_t n)
{
    size_t               i, s;
    cc_payout_claimq_t  *q;

    for (i = 0; i < n; i++) {
        q = &p->cq[shard[i]];
        CC_ASSERT(q->n < q->cap);
        q->uids[q->n++] = uids[i];
    }

    for (s = 0; s < p->cst.nshards; s++) {
        if (p->cq[s].n > 0) {
            pthread_cond_signal(&p->cq[s].cv);
        }
    }
}


/*
 * Whether every queue has room for a whole pop (nredis x
 * CC_PAYOUT_CLAIMS).  Under p->mu.
 */
static int
cc_payout_step_room(cc_payout_t *p)
{
    int     room;
    size_t  s;

    room = 1;

    for (s = 0; s < p->cst.nshards; s++) {
        room = room
               && p->cq[s].n + p->o.nredis * CC_PAYOUT_CLAIMS <= p->cq[s].cap;
    }

    return room;
}


/*
 * The claims' threads: a queue and a thread for each MySQL shard.  0, or
 * -1 (logged) with those started told to end and joined.
 */
static int
cc_payout_step_lanes_start(cc_payout_t *p)
{
    int      rc, e;
    size_t   s;

    rc = 0;

    for (s = 0; s < p->cst.nshards && rc == 0; s++) {
        p->cq[s].n = 0;
        p->cq[s].cap = 2 * p->o.nredis * CC_PAYOUT_CLAIMS;
        p->cq[s].uids = malloc(p->cq[s].cap * sizeof(uint64_t));
        p->clane[s].uids = malloc(p->cq[s].cap * sizeof(uint64_t));
        p->clane[s].p = p;
        p->clane[s].s = s;

        if (p->cq[s].uids == NULL || p->clane[s].uids == NULL) {
            cc_log("out of memory: no claims' queue");
            rc = -1;

        } else if ((e = pthread_create(&p->clane[s].tid, NULL,
                                       cc_payout_step_claims_lane,
                                       &p->clane[s]))
                   != 0)
        {
            cc_log("cannot start a claims' thread: %s", strerror(e));
            rc = -1;

        } else {
            p->clane[s].started = 1;
        }
    }

    return rc;
}


/* the pops are over: each shard's thread serves its queue, then ends */
static void
cc_payout_step_lanes_stop(cc_payout_t *p)
{
    size_t  s;

    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->claims_drain, 1, __ATOMIC_RELEASE);

    for (s = 0; s < p->cst.nshards; s++) {
        pthread_cond_signal(&p->cq[s].cv);
    }

    pthread_mutex_unlock(&p->mu);

    for (s = 0; s < p->cst.nshards; s++) {
        if (p->clane[s].started) {
            pthread_join(p->clane[s].tid, NULL);
            p->clane[s].started = 0;
        }

        free(p->cq[s].uids);
        free(p->clane[s].uids);
        p->cq[s].uids = NULL;
        p->clane[s].uids = NULL;
    }
}


/*
 * The claims' first turns: the bulk begins once every shard that had
 * claims at the first pop (want[s] turns) had its turn.  Under p->mu.
 */
static int
cc_payout_step_first_done(cc_payout_t *p, const unsigned long long *want)
{
    size_t  s;

    for (s = 0; s < p->cst.nshards; s++) {
        if (p->cq[s].turns < want[s]) {
            return 0;
        }
    }

    return 1;
}


/* the loop waits for the claims' first turns: over (1) or failed (-1) */
static void
cc_payout_step_started(cc_payout_t *p, int how)
{
    pthread_mutex_lock(&p->mu);
    if (p->claims_started == 0) {
        p->claims_started = how;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}


/*
 * The claims' popping thread: pops cc:claims on every Redis shard into
 * the shards' queues, all the time, until told to stop (the loop ended:
 * SIGTERM, or --once found nothing left) or SIGTERM; when no claim came
 * it sleeps --claims-idle-ms (a Redis shard down: the retry's 100 ms).
 * Then the shards' threads serve what it popped, and end.  None of them
 * waits for a bulk batch (see above), so a claim is paid within its
 * shard's claims' turn and the pool row's lock.
 */
void *
cc_payout_step_claims_thread(void *arg)
{
    int                  first;
    long                 popped;
    size_t               s, got;
    uint32_t            *shard;
    uint64_t            *uids;
    cc_payout_t         *p = arg;
    unsigned long long   want[CC_STORE_SHARDS_MAX];

    uids = malloc(p->o.nredis * CC_PAYOUT_CLAIMS * sizeof(uint64_t));
    shard = malloc(p->o.nredis * CC_PAYOUT_CLAIMS * sizeof(uint32_t));

    if (uids == NULL || shard == NULL || cc_payout_step_lanes_start(p) != 0)
    {
        if (uids == NULL || shard == NULL) {
            cc_log("out of memory: no claims' queue");
        }

        cc_payout_step_lanes_stop(p);
        cc_payout_step_started(p, -1);  /* cc-payout stops: claims unread */
        free(uids);
        free(shard);
        return NULL;
    }

    first = 1;

    while (cc_worker_run
           && !__atomic_load_n(&p->claims_stop, __ATOMIC_RELAXED))
    {
        pthread_mutex_lock(&p->mu);
        popped = 0;
        got = 0;

        if (cc_payout_step_room(p)) {
            pthread_mutex_unlock(&p->mu);
            popped = cc_payout_step_pop(p, uids, shard, &got);
            pthread_mutex_lock(&p->mu);
            cc_payout_step_queue(p, uids, shard, got);
        }

        /* the bulk begins once the claims queued before it had a turn */
        if (first) {
            for (s = 0; s < p->cst.nshards; s++) {
                want[s] = p->cq[s].turns + (p->cq[s].n > 0);
            }
            first = 0;
        }

        if (!p->claims_started && cc_payout_step_first_done(p, want)) {
            p->claims_started = 1;
            pthread_cond_broadcast(&p->cv);
        }

        pthread_mutex_unlock(&p->mu);

        if (got == 0) {
            cc_sleep_ms(popped < 0 ? 100 : p->o.claims_idle_ms);
        }
    }

    cc_payout_step_started(p, 1);       /* stopped before a first turn */
    cc_payout_step_lanes_stop(p);

    free(uids);
    free(shard);

    return NULL;
}


/* ---- (b) bulk ------------------------------------------------------- */


/*
 * The next batch of a shard's pass over its pending awards, in award id
 * order from the cursor.  The index by_status (campaign, status,
 * notified, and InnoDB's award_id after them) serves each status as one
 * ordered range; a status IN (...) would be two ranges, sorted anew over
 * every pending row at each batch (a pass quadratic in the backlog:
 * measured 18k credits/s over 1M awards against 37k/s at its end).  So
 * one ordered range per status, merged.  A short batch ends the pass.
 * The number read, 0 (the pass is over), or -1.
 */
static long
cc_payout_step_bulk_read(cc_payout_t *p, cc_payout_shard_t *ps,
    long long batch)
{
    long    n;
    size_t  len;

    len = 0;

    if (cc_payout_shard_sql(ps, &len,
                            "(SELECT award_id, uid, amount_cents, status "
                            "FROM awards WHERE campaign = '%s' AND status = "
                            "'pending' AND notified = 0 AND award_id > '%s' "
                            "ORDER BY award_id LIMIT %lld) UNION ALL "
                            "(SELECT award_id, uid, amount_cents, status "
                            "FROM awards WHERE campaign = '%s' AND status = "
                            "'crediting' AND notified = 0 AND award_id > "
                            "'%s' ORDER BY award_id LIMIT %lld) ORDER BY "
                            "award_id LIMIT %lld",
                            p->camp.id, ps->cursor, batch,
                            p->camp.id, ps->cursor, batch, batch) != 0)
    {
        return -1;
    }

    n = cc_payout_shard_select(p, ps, len);

    if (n == 0) {
        ps->pass_done = 1;
        ps->cursor[0] = '\0';
        return cc_payout_shard_end_read(ps);
    }

    return n;
}


/* (b) shard s's next bulk batch: the number credited, or -1 */
/* ms milliseconds, unless cc-payout is stopping (then at most one more) */
static void
cc_payout_step_yield(long long ms)
{
    struct timespec  ts;

    ts.tv_sec = (time_t) (ms / 1000);
    ts.tv_nsec = (long) (ms % 1000) * 1000000L;

    if (cc_worker_run) {
        (void) nanosleep(&ts, NULL);
    }
}


static long
cc_payout_step_bulk(cc_payout_t *p, size_t s)
{
    long                 rc, n;
    long long            batch;
    cc_payout_shard_t   *ps = &p->shard[s];
    cc_payout_flight_t  *f = &p->flight[s];

    if (ps->pass_done || p->st.shards[s].conn == NULL) {
        return 0;
    }

    /* claims come: smaller batches, a claim in one waits for less */
    batch = cc_now_ms() - __atomic_load_n(&p->claim_at_ms, __ATOMIC_RELAXED)
            < 1000 && p->o.claims_batch < p->o.batch
            ? p->o.claims_batch : p->o.batch;

    /* and the bulk yields to them: a claim is a user waiting */
    if (batch != p->o.batch && p->o.claims_yield_ms > 0) {
        cc_payout_step_yield(p->o.claims_yield_ms);
    }

    n = cc_payout_step_bulk_read(p, ps, batch);

    if (n <= 0) {
        cc_payout_shard_notices_flush(ps);      /* the pass's last */
        return n;
    }

    /*
     * The batch is in flight: from now on the claims leave its awards to
     * it; and it waits for the claims being credited now (one small
     * transaction), so that it never waits on their rows' locks in MySQL
     * and they never wait on its rows' (only, for a moment, on the pool's
     * row: the last thing a batch writes before its commit).
     */
    pthread_mutex_lock(&p->mu);
    memcpy(f->lo, ps->cursor, sizeof(f->lo));
    memcpy(f->hi, ps->rows[n - 1].award_id, sizeof(f->hi));
    f->bulk = 1;

    while (f->claims) {
        pthread_cond_wait(&p->cv, &p->mu);
    }

    pthread_mutex_unlock(&p->mu);

    rc = cc_payout_shard_credit(ps, (size_t) n, 0);

    if (rc >= 0) {
        if (n < batch) {
            ps->pass_done = 1;
            ps->cursor[0] = '\0';

        } else {
            memcpy(ps->cursor, ps->rows[n - 1].award_id,
                   sizeof(ps->cursor));
        }

        /*
         * The notices at once, pipelined: Redis runs them while the next
         * batch does its MySQL work, whose transaction tells the batch's
         * notice row once all arrived (the last batch's: at once).  Some
         * not sent or failed (a Redis shard down): the row stays owed and
         * the outbox tells its range again, as after a crash.  Those of
         * the batch before, when this one credited nothing: told now.
         */
        cc_payout_shard_notices_flush(ps);

        if (ps->notice != 0) {
            cc_payout_shard_notices_send(ps, (size_t) n);
        }

        if (ps->pass_done) {
            cc_payout_shard_notices_flush(ps);
        }

    } else {
        /* the cursor stays: the batch again; the replies read */
        cc_payout_shard_notices_flush(ps);
    }

    ps->notice = 0;

    pthread_mutex_lock(&p->mu);
    f->bulk = 0;
    pthread_mutex_unlock(&p->mu);

    return rc < 0 ? -1 : rc;
}


typedef struct {
    cc_payout_t  *p;
    size_t        s;
} cc_payout_step_job_t;


static void *
cc_payout_step_bulk_thread(void *arg)
{
    cc_payout_step_job_t  *j = arg;

    mysql_thread_init();
    j->p->shard[j->s].rc = cc_payout_step_bulk(j->p, j->s);
    mysql_thread_end();

    return NULL;
}


/*
 * (b) on every shard at once: a thread per shard with a batch to do, so
 * the shards' transactions, commits and notices overlap instead of
 * queueing behind each other (MySQL's work is most of a credit's).  The
 * threads share nothing but the log, the retry time and the lock.
 * Joined before the turn goes on, so the outbox runs alone.
 */
long
cc_payout_step_bulk_all(cc_payout_t *p)
{
    long                   did;
    size_t                 s, nrun;
    cc_payout_step_job_t   job[CC_STORE_SHARDS_MAX];
    cc_payout_shard_t     *ps;

    nrun = 0;

    for (s = 0; s < p->st.nshards; s++) {
        ps = &p->shard[s];
        ps->rc = 0;

        if (ps->pass_done || p->st.shards[s].conn == NULL) {
            continue;
        }

        nrun++;
    }

    for (s = 0; s < p->st.nshards; s++) {
        ps = &p->shard[s];
        job[s].p = p;
        job[s].s = s;
        ps->threaded = 0;

        if (ps->pass_done || p->st.shards[s].conn == NULL) {
            continue;
        }

        /* one shard to do, or no thread to be had: do it here */
        if (nrun > 1
            && pthread_create(&ps->tid, NULL, cc_payout_step_bulk_thread,
                              &job[s])
               == 0)
        {
            ps->threaded = 1;

        } else {
            ps->rc = cc_payout_step_bulk(p, s);
        }
    }

    did = 0;

    for (s = 0; s < p->st.nshards; s++) {
        ps = &p->shard[s];

        if (ps->threaded) {
            pthread_join(ps->tid, NULL);
        }

        did += ps->rc > 0 ? ps->rc : 0;
    }

    return did;
}


/* ---- (c) outbox ----------------------------------------------------- */


/*
 * (c) An open notice row's notices: every credited award of its range
 * told again, a page a turn from ps->ncursor (award_set.lua never moves
 * "c" back, so the range's awards told before are told harmlessly), then
 * the row told once every page was.  A page not all told (a Redis shard
 * down): the row is taken again from its start on a later turn.  Rows
 * left by a crash, or by a Redis shard down when the batch was told.
 * The number of notices sent, or -1.
 */
static long
cc_payout_step_notices(cc_payout_t *p, size_t s)
{
    int                 rc;
    long                n, told;
    size_t              i, len;
    uint64_t            id;
    cc_payout_shard_t  *ps = &p->shard[s];

    if (ps->onotice == 0) {
        rc = cc_payout_shard_notice_open(ps, ps->ncursor, ps->pnotice);

        ps->notices_empty = rc == 0;

        if (rc <= 0) {
            return rc;
        }

        ps->npage = 0;
        ps->ntold = 0;
        ps->nmissed = 0;
    }

    /* the lane's Redis connections: the bulk's notices in flight first */
    cc_payout_shard_notices_flush(ps);

    /* a Redis shard backing off: the row's notices wait for its retry */
    for (i = 0; i < p->o.nredis; i++) {
        if (ps->redis[i].ctx == NULL
            && !cc_retry_due(&ps->redis[i].retry, cc_now_ms()))
        {
            return cc_payout_shard_end_read(ps);
        }
    }

    len = 0;

    if (cc_payout_shard_sql(ps, &len, "SELECT award_id, uid, amount_cents, "
                            "status FROM awards WHERE campaign = '%s' AND "
                            "status = 'credited' AND award_id %s '%s' AND "
                            "award_id <= '%s' ORDER BY award_id LIMIT %lld",
                            p->camp.id, ps->npage ? ">" : ">=", ps->ncursor,
                            ps->nlast, p->o.batch) != 0)
    {
        ps->onotice = 0;
        return -1;
    }

    n = cc_payout_shard_select(p, ps, len);

    if (n < 0) {
        ps->onotice = 0;
        return -1;
    }

    for (i = 0; i < (size_t) n; i++) {
        ps->rows[i].state = CC_PAYOUT_IN_NOTICE;
    }

    told = 0;

    if (n > 0) {
        (void) cc_payout_shard_notify(p, ps, (size_t) n);
        told = ps->missed ? 0 : (long) ps->told;      /* 0: no progress */
        ps->ntold += ps->told;
        ps->nmissed |= ps->missed > 0;
        memcpy(ps->ncursor, ps->rows[n - 1].award_id, sizeof(ps->ncursor));
        ps->npage++;
    }

    /* told, not read: a Redis shard down is no work done (the loop sleeps) */
    if (n == p->o.batch) {
        return cc_payout_shard_end_read(ps) == 0 ? told : -1;
    }

    id = ps->onotice;
    ps->onotice = 0;

    if (ps->nmissed || ps->db->conn == NULL) {
        return ps->db->conn ? cc_payout_shard_end_read(ps) : -1;
    }

    return cc_payout_shard_notice_told(ps, id, ps->ntold) == 0 ? told : -1;
}


/*
 * (c) Credited awards without their notice: notified = 0 from the outbox
 * cursor, then an open notice row's page.
 */
long
cc_payout_step_outbox(cc_payout_t *p, size_t s)
{
    long                n, k;
    size_t              len;
    cc_payout_shard_t  *ps = &p->shard[s];

    if (p->st.shards[s].conn == NULL) {
        return 0;
    }

    len = 0;

    if (cc_payout_shard_sql(ps, &len, "SELECT award_id, uid, amount_cents, "
                            "status FROM awards WHERE campaign = '%s' AND "
                            "status = 'credited' AND notified = 0 AND "
                            "award_id > '%s' ORDER BY award_id LIMIT %lld",
                            p->camp.id, ps->ocursor, p->o.batch) != 0)
    {
        return -1;
    }

    n = cc_payout_shard_select(p, ps, len);

    if (n < 0) {
        return -1;
    }

    ps->outbox_empty = n == 0 && ps->ocursor[0] == '\0';

    if (n < p->o.batch) {
        ps->ocursor[0] = '\0';

    } else {
        memcpy(ps->ocursor, ps->rows[n - 1].award_id, sizeof(ps->ocursor));
    }

    if (n > 0) {
        /* the lane's Redis connections: the bulk's notices in flight first */
        cc_payout_shard_notices_flush(ps);
    }

    n = n == 0 ? cc_payout_shard_end_read(ps)
               : cc_payout_shard_notify(p, ps, (size_t) n);

    if (n < 0 || p->st.shards[s].conn == NULL) {
        return -1;
    }

    k = cc_payout_step_notices(p, s);

    ps->outbox_empty = ps->outbox_empty && ps->notices_empty;

    return k < 0 ? -1 : n + k;
}
