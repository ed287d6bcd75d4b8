/*
 * cc_money_run.h: the state of one `cc-reconcile --money` run,
 * shared by its parts (cc_money*.c): the break classes, the
 * rows waiting for Redis, the awards as they are read, and cc_money_t.
 * cc_money.c owns a run (it opens and closes it); the other
 * parts read and add to it.
 */

#ifndef CC_MONEY_RUN_H
#define CC_MONEY_RUN_H

#include <stdint.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "cc_addr.h"
#include "cc_campaign.h"
#include "cc_stmt.h"
#include "cc_ring.h"
#include "cc_store.h"


#define CC_MONEY_REDIS_MAX      64
#define CC_MONEY_JSON_MAX       10000   /* breaks kept in the document */
#define CC_MONEY_REPAIR_BATCH   500
#define CC_MONEY_ID_MAX         64      /* awards.award_id */
#define CC_MONEY_W_MAX          128     /* a w value kept for a report */
#define CC_MONEY_PROGRESS_MS    5000


typedef enum {
    CC_MONEY_MISSING_CREDIT = 0,
    CC_MONEY_DUPLICATE_CREDIT,
    CC_MONEY_AMOUNT_MISMATCH,
    CC_MONEY_TRANSFER_WITHOUT_AWARD,
    CC_MONEY_STALE_PENDING,
    CC_MONEY_STATUS_MISMATCH,
    CC_MONEY_ELIGIBLE_MISMATCH,
    CC_MONEY_POOL_SUM,
    CC_MONEY_LEDGER_UNBALANCED,
    CC_MONEY_POOL_NOT_EMPTY,
    CC_MONEY_STATEMENT,             /* + cc_stmt_class_e: --statement's */
    CC_MONEY_NCLASS = CC_MONEY_STATEMENT + CC_STMT_NCLASS
} cc_money_class_e;


/* in cc_money_class_e order (cc_money_report.c) */
extern const char  *const cc_money_class_names[CC_MONEY_NCLASS];


/* a missing credit, kept for --repair */
typedef struct {
    char       award_id[CC_MONEY_ID_MAX + 1];
    uint64_t   uid;
    uint64_t   amount;
    uint32_t   shard;
    int        pending;
    cJSON     *json;           /* its break in the document, or NULL */
} cc_money_missing_t;


/* an award field w to write again, kept for --repair (cc_money_fields.c) */
typedef struct {
    uint64_t   uid;
    uint64_t   amount;
    char       award_id[CC_MONEY_ID_MAX + 1];
    int        credited;
} cc_money_field_t;


/* a row of a MySQL stream waiting for its user's Redis fields */
typedef struct {
    uint64_t   uid;
    uint64_t   amount;
    char       award_id[CC_MONEY_ID_MAX + 1];
    char       want;           /* w: 'p', 'c', or '?' (either) */
    int        has_e;          /* SCAN pass: Redis has e */
    char       w[CC_MONEY_W_MAX + 1];   /* SCAN pass: w, "" when none */
    int        in_elig;        /* SCAN pass: eligible in MySQL */
    int        in_awards;      /* SCAN pass: award in MySQL */
    int64_t    combined_at;    /* SCAN pass: -1 when no row */
} cc_money_look_t;


/* one award and its credit transfers, gathered from consecutive rows */
typedef struct {
    char       award_id[CC_MONEY_ID_MAX + 1];
    uint64_t   uid;
    uint64_t   amount;
    int        pending;
    int        notified;
    int64_t    created_at;
    unsigned   transfers;
    uint64_t   transfer_sum;
    uint64_t   transfer_amount;     /* of the first */
    int64_t    combined_at;         /* -1: not eligible */
} cc_money_award_t;


typedef struct {
    const char          *campaign_path;
    char                *redis_names[CC_MONEY_REDIS_MAX];
    cc_addr_t            redis_addrs[CC_MONEY_REDIS_MAX];
    size_t               nredis;
    char                *mysql[CC_STORE_SHARDS_MAX];
    size_t               nmysql;
    const char          *user;
    const char          *json_path;
    const char          *metrics_path;
    const char          *statement_path;
    cc_stmt_t           *stmt;
    long long            alert_timeout_s;
    long long            batch;
    int                  repair;

    cc_campaign_t        camp;
    cc_store_t           st;
    int                  st_open;
    redisContext        *redis[CC_MONEY_REDIS_MAX];
    cc_ring_t            ring;
    cc_ring_point_t     *points;
    int64_t              started_ms;
    int64_t              cutoff_ms;
    int64_t              progress_ms;

    unsigned long long   counts[CC_MONEY_NCLASS];
    unsigned long long   rows;
    unsigned long long   omitted;
    unsigned long long   repaired;
    cc_money_field_t    *fields;            /* w to write again */
    size_t               nfields, fields_cap;
    unsigned long long   fields_repaired;
    unsigned long long   pending_all;  /* awards not credited, every shard */
    size_t               njson;
    cJSON               *doc;
    cJSON               *breaks;

    cc_money_missing_t  *missing;
    size_t               nmissing;
    size_t               missing_cap;

    /*
     * The shard's wallet accounts whose posted credits exceed their
     * transfers' (cc_money_ledger, read before the awards): a missing
     * credit of such a uid already moved money, and --repair leaves it.
     */
    uint64_t            *moved;
    size_t               nmoved;
    size_t               moved_cap;
    int                  moved_all;    /* too many to keep: all of them */

    cc_money_look_t     *look;
    size_t               nlook;
    char                *sql;          /* room for a batch's IN list */
    size_t               sql_len;

    /* the shard being read */
    uint32_t             shard;
    uint64_t             award_sum;
    unsigned long long   pending;
    unsigned long long   plan_sum;
    uint64_t             clearing_sum;  /* wallet http: posted to clearing,
                                           every shard */
    uint64_t             credited_sum;  /* the credited awards', every
                                           shard */
    uint64_t             stmt_sum;      /* the statement lines' amounts */
    int                  per_user;      /* wallet http: books in the
                                           per-user shape seen */
} cc_money_t;


#endif /* CC_MONEY_RUN_H */
