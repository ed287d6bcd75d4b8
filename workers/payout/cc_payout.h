/*
 * cc-payout's parts (see cc_payout.c for what the worker does):
 *
 *   cc_payout.c        options, the loop, the counts, main;
 *   cc_payout_step.c   the three steps (claims, bulk, outbox) and the lock
 *                      that keeps the claims and a bulk batch off the same
 *                      awards, in one place;
 *   cc_payout_shard.c  one MySQL shard's lane: its rows read, credited
 *                      through the campaign's wallet (cc_wallet.h) and
 *                      notified on the users' Redis shards.
 *
 * A batch of credits goes down: cc_payout_step.c -> cc_payout_shard.c
 * (cc_payout_shard_credit) -> cc_wallet.c -> the wallet -> the ledger.
 */

#ifndef CC_PAYOUT_H
#define CC_PAYOUT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cc_addr.h"
#include "cc_campaign.h"
#include "cc_ledger.h"
#include "cc_ring.h"
#include "cc_store.h"
#include "cc_wallet.h"
#include "cc_worker.h"


#define CC_PAYOUT_REDIS_MAX   64
#define CC_PAYOUT_CLAIMS      256            /* uids per LPOP */
#define CC_PAYOUT_ID_MAX      64             /* awards.award_id */


typedef struct {
    char                *redis[CC_PAYOUT_REDIS_MAX];
    size_t               nredis;
    char                *mysql[CC_STORE_SHARDS_MAX];
    size_t               nmysql;
    const char          *campaign;
    const char          *user;
    const char          *metrics;
    long long            batch;
    long long            claims_batch;   /* the bulk's while claims flow */
    long long            claims_yield_ms;    /* the bulk's wait before a
                                                batch while claims flow */
    long long            claims_idle_ms;
    long long            interval_s;
    long long            idle_ms;
    long long            progress_s;
    long long            alert_timeout_s;
    int                  once;
    int                  shard_of;
    char               **uids;           /* --shard-of's */
    size_t               nuids;
} cc_payout_opts_t;


/*
 * While claims come (one popped in the last second) the bulk waits this
 * long before each batch.  The claims and the bulk share the machine:
 * with the HTTP wallet's batches cheaper (issue 20) the bulk ran at 35k
 * credits/s and a claim's p99 went from 30 to 60-80 ms (2 cores, claims
 * at 200/s; no row lock waits: the machine's, not MySQL's locks); 10 ms
 * a batch of --claims-batch brought it back to 24 ms at 32k credits/s,
 * 5 ms did not (70 ms).  The bulk is paid for the claims' latency only
 * while they come.
 */
#define CC_PAYOUT_CLAIMS_YIELD_MS  20

/* where an award read from MySQL stands, as this lane knows it */
typedef enum {
    CC_PAYOUT_UNPAID = 0,       /* 'pending' or 'crediting' */
    CC_PAYOUT_CREDITED,         /* 'credited', notified = 0 (a claim's, or
                                   cc-draw's sync credit): to notify, then
                                   notified = 1 */
    CC_PAYOUT_CREDITING_NOW,    /* credited in the open transaction, to be
                                   marked and committed */
    CC_PAYOUT_IN_NOTICE         /* 'credited', notified = 1, its notice
                                   owed by the notice row ps->notice
                                   (award_notices): to notify, then that
                                   row told */
} cc_payout_award_e;


typedef struct {
    char                 award_id[CC_PAYOUT_ID_MAX + 1];
    uint64_t             uid;
    uint64_t             amount;
    cc_payout_award_e    state;
    int                  done;           /* CREDITING_NOW: credited by
                                            this credit (DONE), not before
                                            (EXISTS) */
    uint32_t             redis;          /* the uid's Redis shard */
} cc_payout_award_t;


typedef struct {
    char                *addr;
    cc_addr_t            a;
    redisContext        *ctx;
    cc_retry_t           retry;          /* reconnects' backoff */
    char                 sha[41];        /* award_set.lua's */
    size_t               inflight;       /* the bulk's pipelined notices:
                                            calls sent, replies unread */
} cc_payout_redis_t;


typedef struct {
    unsigned long long   credited;
    unsigned long long   claimed;        /* of credited: on a claim */
    unsigned long long   exists;
    unsigned long long   mismatch;
    unsigned long long   no_funds;
    unsigned long long   raced;          /* credited by another payer
                                            meanwhile: rolled back */
    unsigned long long   notified;
    unsigned long long   bad_claims;     /* cc:claims entries not a uid */
    unsigned long long   forged;         /* wallet http: answers not
                                            signed by the wallet */
    cc_wallet_counts_t   wallet;         /* wallet http: the totals' */
} cc_payout_stats_t;


/*
 * The claims popped for one MySQL shard and not yet served (uids), filled
 * by the popping thread and emptied by the shard's claims' thread, under
 * p->mu; cv is signalled when it gets claims or the pops end.
 */
typedef struct {
    uint64_t            *uids;
    size_t               n;
    size_t               cap;
    pthread_cond_t       cv;
    unsigned long long   turns;          /* the shard's claims' turns */
} cc_payout_claimq_t;


/* what a MySQL shard's claims' thread is started with */
typedef struct {
    void                *p;              /* the cc_payout_t */
    size_t               s;
    uint64_t            *uids;           /* a turn's, taken from the queue */
    pthread_t            tid;
    int                  started;
} cc_payout_lane_t;


/*
 * What is being credited on a MySQL shard right now, so that no award is
 * worked on by the claims and a bulk batch at once: the bulk's batch is
 * the award ids in (lo, hi] (it reads in id order from its cursor), and
 * the claims skip those; a bulk batch starts only once the shard's claims
 * in flight are done (one small transaction).  See cc_payout_step.c.
 */
typedef struct {
    int                  bulk;           /* a bulk batch in (lo, hi] */
    char                 lo[CC_PAYOUT_ID_MAX + 1];
    char                 hi[CC_PAYOUT_ID_MAX + 1];
    int                  claims;         /* claims being credited */
} cc_payout_flight_t;


/*
 * A MySQL shard's own state, a lane.  The bulk step runs a thread per
 * shard (the shards are separate databases: nothing to share), so
 * everything a shard's work touches is here: its rows, its statement
 * buffer, its own connections to the Redis shards for the notices, its
 * wallet, its counts.  Each shard has two lanes: the bulk's and the
 * claims'.
 */
typedef struct {
    char                 cursor[CC_PAYOUT_ID_MAX + 1];   /* bulk pass */
    char                 ocursor[CC_PAYOUT_ID_MAX + 1];  /* outbox pass */
    char                 bad_id[160];   /* the last id refused, said */
    const char          *campaign;       /* p->camp.id */
    uint64_t             notice;         /* the bulk batch's notice row,
                                            0: none */
    /* the bulk's notices in flight (cc_payout_shard_notices_send) */
    uint64_t             pnotice;        /* their notice row, 0: none */
    size_t               prows;          /* rows sent, */
    size_t               pmissed;        /* rows not sent (a shard down) */
    size_t               folded;         /* rows of pnotice told in the
                                            open transaction */
    /* the claims' lane: awards told, notified = 1 owed (folded into the
       lane's next transaction, cc_payout_shard_told_fold) */
    char                *told_ids;       /* "'id','id'...", NULL: a bulk
                                            lane */
    size_t               told_len;
    size_t               told_n;
    unsigned long long   told_set;       /* set notified in the open
                                            transaction: counted at its
                                            commit */
    size_t               nredis;         /* of redis[] */
    size_t               told;           /* rows IN_NOTICE the last notify
                                            told, */
    size_t               missed;         /* and did not */
    /* the outbox pass over an open notice row onotice: its range, paged */
    uint64_t             onotice;        /* 0: none being told */
    char                 nlast[CC_PAYOUT_ID_MAX + 1];
    char                 ncursor[CC_PAYOUT_ID_MAX + 1];
    int                  npage;          /* pages told: ncursor is the
                                            last id told, else the first */
    unsigned long long   ntold;          /* its rows told so far */
    int                  nmissed;        /* a page of it not all told */
    int                  notices_empty;  /* none open at the last look */
    int                  pass_done;
    int                  outbox_empty;
    cc_payout_award_t   *rows;           /* room for rows_max */
    cc_ledger_credit_t  *credits;
    char                *sql;            /* room for a statement over rows */
    size_t               sql_max;
    cc_payout_redis_t   *redis;          /* nredis: this shard's notices */
    cc_payout_stats_t    stats;
    int                  unpaid;         /* this pass left awards unpaid */
    cc_wallet_t         *wallet;         /* the campaign's (one a lane:
                                            libcurl handles are not shared
                                            between threads) */
    long                 rc;             /* the bulk step's */
    pthread_t            tid;
    int                  threaded;       /* tid is to be joined */
    cc_store_shard_t    *db;             /* its connection: the bulk's or
                                            the claims' */
    cc_retry_t          *retry;          /* when db may connect again */
} cc_payout_shard_t;


typedef struct {
    cc_payout_opts_t     o;
    cc_campaign_t        camp;
    cc_store_t           st;
    cc_payout_shard_t    shard[CC_STORE_SHARDS_MAX];
    cc_payout_redis_t    redis[CC_PAYOUT_REDIS_MAX];    /* the claims' */
    cc_ring_t            ring;           /* uid -> Redis shard, the module's */
    cc_ring_point_t     *points;
    cc_retry_t           mysql_retry;
    unsigned             mysql_fails;

    /*
     * The claims: a thread that pops (p->redis is its alone: the LPOPs)
     * and a thread per MySQL shard that credits, each on its own lane
     * (claim[s]: rows, statement, Redis connections for the notices,
     * wallet, retry time) and its own connection of cst.
     */
    cc_store_t           cst;
    cc_payout_shard_t    claim[CC_STORE_SHARDS_MAX];
    cc_retry_t           cretry[CC_STORE_SHARDS_MAX];
    unsigned             cfails[CC_STORE_SHARDS_MAX];
    pthread_t            claims_tid;
    int                  claims_threaded;
    cc_payout_lane_t     clane[CC_STORE_SHARDS_MAX];

    /* shared by the claims' threads and the bulk's: under mu */
    pthread_mutex_t      mu;
    pthread_cond_t       cv;             /* a shard's claims are done */
    cc_payout_flight_t   flight[CC_STORE_SHARDS_MAX];
    cc_payout_claimq_t   cq[CC_STORE_SHARDS_MAX];   /* popped, for shard
                                                       s's claims' thread */
    int                  claims_drain;   /* the pops are over: serve the
                                            queues, then end */
    cc_payout_stats_t    cstats[CC_STORE_SHARDS_MAX];   /* the claims' */
    int                  claims_stop;
    int64_t              claim_at_ms;    /* when a claim was last popped */
    int                  claims_started; /* its first turns are over;
                                            -1: it could not start */
    size_t               rows_max;       /* of each shard's rows */
    size_t               sql_max;
    int64_t              last_ok_ms;     /* a turn with every shard up */
    unsigned long long   bad_claims;     /* cc:claims entries not a uid */
} cc_payout_t;


/* ---- cc_payout_step.c: the three steps ------------------------------ */

/*
 * (a) the claims' popping thread, started by the loop (it starts and
 * joins the shards' claims' threads); arg is the cc_payout_t
 */
void *cc_payout_step_claims_thread(void *arg);

/* (b) the next bulk batch of every shard at once; the number credited */
long cc_payout_step_bulk_all(cc_payout_t *p);

/*
 * (c) shard s's credited awards without their notice (notified = 0, then
 * a page of an open notice row's range); the number told
 */
long cc_payout_step_outbox(cc_payout_t *p, size_t s);


/* ---- cc_payout_shard.c: one lane ------------------------------------ */

/*
 * A connection with award_set.lua loaded, NULL while the Redis shard is
 * down or backing off; and the one to drop after a failure (why logged).
 */
redisContext *cc_payout_shard_redis(cc_payout_redis_t *r);
void cc_payout_shard_redis_down(cc_payout_redis_t *r, const char *why);

/*
 * Connects the shards of st that are not, once the backoff says so (who:
 * "" or " (claims)", for the log); _one: shard s alone, from the thread
 * that owns it (st->err untouched: the claims' threads, one a shard).
 */
void cc_payout_shard_connect(cc_store_t *st, cc_retry_t *retry,
    unsigned *fails, const char *who);
void cc_payout_shard_connect_one(cc_store_t *st, size_t s, cc_retry_t *retry,
    unsigned *fails, const char *who);

/*
 * Appends to the lane's statement at *len: 0, or -1 when it would not
 * fit in sql_max (then the lane's connection is dropped, logged).
 */
int cc_payout_shard_sql(cc_payout_shard_t *ps, size_t *len,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Reads rows of (award_id, uid, amount_cents, status) with the lane's
 * statement of len bytes into its rows (at most p->rows_max); the number
 * read, or -1 (the connection dropped, logged).
 */
long cc_payout_shard_select(cc_payout_t *p, cc_payout_shard_t *ps,
    size_t len);

/* ends a transaction that wrote nothing, so the next read sees new rows */
int cc_payout_shard_end_read(cc_payout_shard_t *ps);

/*
 * Credits rows[0..n) not credited yet through the lane's wallet and marks
 * them credited, committed together; claims: they were claimed (counted
 * so), marked notified = 0 and told award by award; else (the bulk)
 * marked notified = 1 with one notice row for the batch in the same
 * transaction (ps->notice, the rows IN_NOTICE).  The number credited now,
 * or -1 (rolled back, connection dropped).
 */
long cc_payout_shard_credit(cc_payout_shard_t *ps, size_t n, int claims);

/*
 * Tells the users' Redis shards which of rows[0..n) are credited, then
 * notified = 1 for those told that were CREDITED, committed (the claims'
 * lane: owed in ps->told_ids, set by its next transaction); ps->missed:
 * the rows IN_NOTICE not told.  The number set notified (or owed), or -1
 * when MySQL failed.
 */
long cc_payout_shard_notify(cc_payout_t *p, cc_payout_shard_t *ps,
    size_t n);

/*
 * The claims' lane's notified = 1 owed, set in its open transaction
 * (_fold: counted at the caller's commit) or in one of its own, committed
 * (_flush: when no claim of the shard came to carry it).  0, or -1 (rolled
 * back, the connection dropped: the awards stay notified = 0 and the
 * outbox tells them again).
 */
int cc_payout_shard_told_fold(cc_payout_shard_t *ps);
int cc_payout_shard_told_flush(cc_payout_shard_t *ps);

/*
 * The bulk's notices pipelined: the calls of the rows IN_NOTICE (rows[0..n),
 * notice row ps->notice) written to their Redis shards, replies unread,
 * so that Redis runs them while the lane does the next batch's MySQL
 * work; the next batch's credit reads the replies before its commit and
 * tells the row in its transaction (all arrived) or leaves it owed.
 * _flush: the replies read now, the row told at once when all arrived.
 * A lane's Redis connections serve nothing else while notices are in
 * flight: flush first.
 */
void cc_payout_shard_notices_send(cc_payout_shard_t *ps, size_t n);
void cc_payout_shard_notices_flush(cc_payout_shard_t *ps);

/*
 * The notice row id told (told_at set), committed, its count of rows
 * added to the notices sent: 0, or -1 when MySQL failed.
 */
int cc_payout_shard_notice_told(cc_payout_shard_t *ps, uint64_t id,
    unsigned long long told);

/*
 * The oldest notice row of the campaign still owed but the row but (the
 * lane's in flight; 0: none), into ps->onotice, its first award id into
 * first and its last into ps->nlast: 1, 0 when none, -1 when MySQL
 * failed.
 */
int cc_payout_shard_notice_open(cc_payout_shard_t *ps, char *first,
    uint64_t but);

#endif /* CC_PAYOUT_H */
