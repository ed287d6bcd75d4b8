/*
 * cc_draw.h: what cc-draw's files share (cc-draw only; not a library):
 * the options, a shard's state and the run's.  cc_draw.c has the options,
 * the whole draw (steps 1 to 3 of its comment) and the summary;
 * cc_draw_source.c the eligible set checked against Redis (step 3a);
 * cc_draw_shard.c one shard's thread (steps 4 to 7); cc_draw_redis.c the
 * pipelines into Redis.
 */

#ifndef CC_DRAW_H
#define CC_DRAW_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "cc_addr.h"
#include "cc_campaign.h"
#include "cc_draw_redis.h"
#include "cc_ring.h"
#include "cc_split.h"
#include "cc_store.h"


#define CC_DRAW_ROW_MAX       256     /* bytes of one award's VALUES tuple */
#define CC_DRAW_ID_MAX        64      /* awards.award_id */
#define CC_DRAW_SOURCE_LIST   20      /* mismatches logged by uid */

/* exit codes: a refusal (bad input, a plan that cannot be) is 2 */
#define CC_DRAW_OK            0
#define CC_DRAW_FAILED        1
#define CC_DRAW_REFUSED       2


typedef struct {
    char               *redis[CC_DRAW_REDIS_MAX];
    size_t              nredis;
    char               *mysql[CC_STORE_SHARDS_MAX];
    size_t              nmysql;
    const char         *campaign;
    const char         *user;
    const char         *metrics_file;
    long long           shard;        /* -1: every shard */
    long long           batch;
} cc_draw_opts_t;


typedef struct {
    uint64_t  uid;
} cc_draw_user_t;


/* a user's place in the split: rank (cc_split_rank), then uid order */
typedef struct {
    uint64_t  rank;
    uint64_t  pos;                    /* in users[], which is uid order */
} cc_draw_rank_t;


typedef struct cc_draw_run_s  cc_draw_run_t;




typedef struct {
    cc_draw_run_t          *d;
    size_t              shard;
    MYSQL              *db;
    pthread_t           tid;

    cc_draw_user_t     *users;        /* uid order: the order written */
    uint64_t           *amounts;      /* users[i]'s award */
    unsigned char      *credited;     /* read back: 1 credited, 0 pending */
    uint64_t            n;
    uint64_t           *index;        /* uid -> position + 1, see find */
    uint64_t            index_mask;
    unsigned            index_shift;

    uint64_t            done_upto;    /* from draw_plans */
    uint64_t            written;      /* users whose batch is committed */
    uint64_t            inserted;     /* award rows this run added */
    uint64_t            loaded;       /* Redis fields this run changed */
    int                 finished;     /* the thread is done */

    /* the loader thread, Redis beside the writes (cc_draw_loader_main) */
    pthread_t           loader;
    uint64_t            load_from;    /* done_upto when this run began */
    uint64_t            loaded_upto;  /* the loader sent [load_from, this) */
    int                 write_end;    /* the writer is done, set last */
    int                 pipe_ok;
    cc_draw_pipe_t      pipe;
    char                digest[65];   /* stored by an earlier run, or "" */
    char                plan_digest[65];  /* of users and amounts */

    int                 rc;           /* CC_DRAW_* */
    char                err[1024];
} cc_draw_shard_t;


struct cc_draw_run_s {
    cc_draw_opts_t      o;
    cc_campaign_t       c;
    cc_split_plan_t     plan;
    cc_split_shard_t    sh[CC_STORE_SHARDS_MAX];
    cc_draw_shard_t     shards[CC_STORE_SHARDS_MAX];
    uint64_t            key;          /* cc_split_key(seed) */
    int64_t             now_ms;
    cc_store_t          st;
    cc_ring_t           ring;         /* over the --redis names */
    cc_ring_point_t    *points;
    cc_addr_t           addrs[CC_DRAW_REDIS_MAX];

    /* the source check (cc_draw_source.c), for the log and the metrics */
    int                 source_ran;
    uint64_t            source_checked;   /* eligible rows of MySQL */
    uint64_t            source_scanned;   /* combined in Redis, in time */
    uint64_t            source_mismatches;

    /* eligibility rows combined at or after the cutoff (cc_draw_plan) */
    uint64_t            late;
    int64_t             late_max;         /* the latest combined_at, ms */
};



/*
 * The eligible set at its source: every eligible row of every MySQL shard
 * against its user's combine record in Redis (field e), and every combine
 * in Redis before the cutoff against MySQL (cc_draw_source.c).
 * CC_DRAW_OK; CC_DRAW_REFUSED on any mismatch (logged, the first
 * CC_DRAW_SOURCE_LIST by uid) or an eligible count that is not the
 * plan's; CC_DRAW_FAILED when a store could not be read.
 */
int cc_draw_check_source(cc_draw_run_t *d);

/*
 * The two cutoffs agree: no eligibility row of any MySQL shard combined at
 * or after the campaign file's cutoff (d->late, counted with the plan).
 * Such a row means the module's cc_combine_cutoff (or cc_campaign_end) is
 * later than the file's cutoff, so users who combined in time by the
 * module's rule would be left out.  CC_DRAW_OK; CC_DRAW_REFUSED (the first
 * CC_DRAW_SOURCE_LIST uids logged, then the count); CC_DRAW_FAILED when
 * MySQL could not be read.
 */
int cc_draw_check_late(cc_draw_run_t *d);

/* one shard's thread, pthread's: steps 4 to 7 (cc_draw_shard.c) */
void *cc_draw_shard_main(void *arg);

/* what cc_draw_plan_row found of a shard's plan row */
typedef enum {
    CC_DRAW_PLAN_NONE = -1,           /* no row: not drawn yet */
    CC_DRAW_PLAN_DIFFERS = 0,         /* a row of another plan: why says how */
    CC_DRAW_PLAN_SAME = 1             /* a row of this run's plan */
} cc_draw_plan_found_e;

/*
 * The shard's plan row (lock: FOR UPDATE) compared with the run's plan,
 * into *found.  0, or -1 on a MySQL failure (s->err set).
 */
int cc_draw_plan_row(cc_draw_shard_t *s, int lock,
    cc_draw_plan_found_e *found, char *why, size_t whylen);

#endif /* CC_DRAW_H */
