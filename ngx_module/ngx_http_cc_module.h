/*
 * ngx_http_cc_module: the card campaign's request handlers.
 *
 * Shared types of the module's files: the configuration and the entry
 * points each file gives the others.
 */

#ifndef NGX_HTTP_CC_MODULE_H
#define NGX_HTTP_CC_MODULE_H


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "cc_ring.h"
#include "cc_cards.h"
#include "cc_ids.h"
#include "cc_event.h"
#include "cc_token.h"
#include "cc_secretfile.h"
#include "cc_keys.h"
#include "cc_award.h"
#include "cc_rand.h"


#define NGX_HTTP_CC_IDENTITY_TRUSTED_HEADER  1
#define NGX_HTTP_CC_IDENTITY_TOKEN           2

#define NGX_HTTP_CC_GRANT_MAX  100000


/*
 * The counters of GET /cc/metrics, in the order printed (a family's
 * labels together); the names are in ngx_http_cc_metrics.c.  NONE is no
 * counter: an endpoint's outcome it has not (answering one is a bug).
 */
typedef enum {
    NGX_HTTP_CC_METRIC_NONE = 0,
    NGX_HTTP_CC_METRIC_FLIP_OK,
    NGX_HTTP_CC_METRIC_FLIP_REPLAYED,
    NGX_HTTP_CC_METRIC_FLIP_NO_CHANCES,
    NGX_HTTP_CC_METRIC_FLIP_BAD_REQUEST,
    NGX_HTTP_CC_METRIC_FLIP_UNAVAILABLE,
    NGX_HTTP_CC_METRIC_FLIP_METHOD,
    NGX_HTTP_CC_METRIC_GRANT_OK,
    NGX_HTTP_CC_METRIC_GRANT_REPLAYED,
    NGX_HTTP_CC_METRIC_GRANT_BAD_REQUEST,
    NGX_HTTP_CC_METRIC_GRANT_UNAVAILABLE,
    NGX_HTTP_CC_METRIC_GRANT_METHOD,
    NGX_HTTP_CC_METRIC_COMBINE_OK,
    NGX_HTTP_CC_METRIC_COMBINE_REPLAYED,
    NGX_HTTP_CC_METRIC_COMBINE_MISSING,
    NGX_HTTP_CC_METRIC_COMBINE_UNAVAILABLE,
    NGX_HTTP_CC_METRIC_COMBINE_BAD_REQUEST,
    NGX_HTTP_CC_METRIC_COMBINE_METHOD,
    NGX_HTTP_CC_METRIC_ELIG_OK,
    NGX_HTTP_CC_METRIC_ELIG_BAD_REQUEST,
    NGX_HTTP_CC_METRIC_ELIG_UNAVAILABLE,
    NGX_HTTP_CC_METRIC_ELIG_METHOD,
    NGX_HTTP_CC_METRIC_AWARD_NONE,
    NGX_HTTP_CC_METRIC_AWARD_PENDING,
    NGX_HTTP_CC_METRIC_AWARD_CREDITED,
    NGX_HTTP_CC_METRIC_AWARD_BAD_REQUEST,
    NGX_HTTP_CC_METRIC_AWARD_UNAVAILABLE,
    NGX_HTTP_CC_METRIC_AWARD_METHOD,
    NGX_HTTP_CC_METRIC_CLAIM_CREDITED,
    NGX_HTTP_CC_METRIC_CLAIM_PENDING,
    NGX_HTTP_CC_METRIC_CLAIM_NO_AWARD,
    NGX_HTTP_CC_METRIC_CLAIM_BAD_REQUEST,
    NGX_HTTP_CC_METRIC_CLAIM_UNAVAILABLE,
    NGX_HTTP_CC_METRIC_CLAIM_METHOD,
    NGX_HTTP_CC_METRIC_CLAIM_WAITING,      /* a gauge: claims waiting now */
    NGX_HTTP_CC_METRIC_CLAIM_POLLS,        /* re-reads for waiting claims */
    NGX_HTTP_CC_METRIC_CLAIM_WAITERS_FULL, /* 202 at once: cc_claim_waiters */
    NGX_HTTP_CC_METRIC_CLAIM_WAKEUPS,      /* cc:credited woke a group */
    NGX_HTTP_CC_METRIC_CLAIM_WAKE_UNMATCHED, /* ... no group waiting */
    NGX_HTTP_CC_METRIC_CLAIM_WAKE_MALFORMED, /* ... not a uid */
    NGX_HTTP_CC_METRIC_CLAIM_WAKE_SUBSCRIBED, /* a gauge: subscribers up */
    NGX_HTTP_CC_METRIC_CLAIM_WAKE_RECONNECTS, /* ... subscribed again */
    /* issue 19: gifts and asks (ngx_http_cc_gift.c) */
    NGX_HTTP_CC_METRIC_GIFT_DELIVERED,
    NGX_HTTP_CC_METRIC_GIFT_SENT,           /* the receiver's half pending */
    NGX_HTTP_CC_METRIC_GIFT_REPLAYED,
    NGX_HTTP_CC_METRIC_GIFT_NO_CARD,
    NGX_HTTP_CC_METRIC_GIFT_LIMIT,
    NGX_HTTP_CC_METRIC_GIFT_ASK_NOT_FOUND,
    NGX_HTTP_CC_METRIC_GIFT_ASK_ANSWERED,
    NGX_HTTP_CC_METRIC_GIFT_ASK_EXPIRED,
    NGX_HTTP_CC_METRIC_GIFT_BAD_REQUEST,
    NGX_HTTP_CC_METRIC_GIFT_UNAVAILABLE,
    NGX_HTTP_CC_METRIC_GIFT_METHOD,
    NGX_HTTP_CC_METRIC_GIFT_REDELIVERED,    /* a retry delivered a 'sent' */
    NGX_HTTP_CC_METRIC_ASK_OK,
    NGX_HTTP_CC_METRIC_ASK_REPLAYED,
    NGX_HTTP_CC_METRIC_ASK_LIMIT,
    NGX_HTTP_CC_METRIC_ASK_BAD_REQUEST,
    NGX_HTTP_CC_METRIC_ASK_UNAVAILABLE,
    NGX_HTTP_CC_METRIC_ASK_METHOD,
    NGX_HTTP_CC_METRIC_GIFTS_OK,
    NGX_HTTP_CC_METRIC_GIFTS_BAD_REQUEST,
    NGX_HTTP_CC_METRIC_GIFTS_UNAVAILABLE,
    NGX_HTTP_CC_METRIC_GIFTS_METHOD,
    NGX_HTTP_CC_METRIC_CLOSED,
    NGX_HTTP_CC_METRIC_REDIS_TIMEOUT,
    NGX_HTTP_CC_METRIC_REDIS_CONNECT_FAIL,
    /* issue 18: Sentinel and WAIT (ngx_http_cc_redis_sentinel.c) */
    NGX_HTTP_CC_METRIC_REDIS_WAIT,          /* WAIT round trips */
    NGX_HTTP_CC_METRIC_REDIS_WAIT_SHORT,    /* ... fewer replicas than N */
    NGX_HTTP_CC_METRIC_REDIS_FAILOVERS,     /* a shard's primary moved */
    NGX_HTTP_CC_METRIC_REDIS_PRIMARY_WAITING,  /* a gauge */
    NGX_HTTP_CC_METRIC_REDIS_PRIMARY_REFUSED,
    NGX_HTTP_CC_METRIC_REDIS_SENTINEL_FAIL, /* a Sentinel that did not say */
    NGX_HTTP_CC_METRIC_GIFT_DONE_DONE,      /* a detached gift_done's gift */
    NGX_HTTP_CC_METRIC_GIFT_DONE_DROPPED,   /* ... left to cc-redrive */
    NGX_HTTP_CC_METRIC_GIFT_DONE_BATCHES,   /* their EVALSHAs */
    NGX_HTTP_CC_METRIC_KAFKA_PRODUCED,
    NGX_HTTP_CC_METRIC_KAFKA_DELIVERED,
    NGX_HTTP_CC_METRIC_KAFKA_FAILED,
    NGX_HTTP_CC_METRIC_KAFKA_QUEUE_FULL,
    NGX_HTTP_CC_METRIC_KAFKA_START_FAILED, /* a worker without producer */
    NGX_HTTP_CC_METRIC_KAFKA_DOWN,         /* a gauge: such workers now */

    /* the 401s by reason (ngx_http_cc_identity.c) */
    NGX_HTTP_CC_METRIC_UNAUTH_MISSING,
    NGX_HTTP_CC_METRIC_UNAUTH_MALFORMED,
    NGX_HTTP_CC_METRIC_UNAUTH_BAD_SIGNATURE,
    NGX_HTTP_CC_METRIC_UNAUTH_EXPIRED,
    NGX_HTTP_CC_METRIC_UNAUTH_TOO_LONG_LIVED,
    NGX_HTTP_CC_METRIC_UNAUTH_UNKNOWN_KEY,

    NGX_HTTP_CC_METRICS
} ngx_http_cc_metric_e;


/* what a request to an endpoint comes to: one of these, counted once */
typedef enum {
    NGX_HTTP_CC_OUTCOME_OK = 0,
    NGX_HTTP_CC_OUTCOME_REPLAYED,          /* a retry: the first answer */
    NGX_HTTP_CC_OUTCOME_REFUSED,           /* 409: no chances, cards missing */
    NGX_HTTP_CC_OUTCOME_BAD_UID,
    NGX_HTTP_CC_OUTCOME_UNAUTHORIZED,
    NGX_HTTP_CC_OUTCOME_BAD_ID,            /* the request or grant id */
    NGX_HTTP_CC_OUTCOME_BAD_N,
    NGX_HTTP_CC_OUTCOME_METHOD,
    NGX_HTTP_CC_OUTCOME_BODY,              /* 413: no endpoint takes one */
    NGX_HTTP_CC_OUTCOME_CLOSED,
    NGX_HTTP_CC_OUTCOME_UNAVAILABLE,
    NGX_HTTP_CC_OUTCOME_NONE,              /* 200: no award (yet) */
    NGX_HTTP_CC_OUTCOME_PENDING,           /* 200: an award, not paid */
    NGX_HTTP_CC_OUTCOME_CREDITED,          /* 200: an award, paid */
    NGX_HTTP_CC_OUTCOME_ACCEPTED,          /* 202: claimed, paid later */
    NGX_HTTP_CC_OUTCOME_NO_AWARD,          /* 404: nothing to claim */
    /* issue 19: gifts and asks (ngx_http_cc_gift.c) */
    NGX_HTTP_CC_OUTCOME_SENT,              /* 200: the receiver's half not
                                              known applied yet */
    NGX_HTTP_CC_OUTCOME_BAD_TO,            /* 400 bad_to, bad_from */
    NGX_HTTP_CC_OUTCOME_BAD_KIND,          /* 400 bad_kind */
    NGX_HTTP_CC_OUTCOME_SELF,              /* 400 gift_to_self ... */
    NGX_HTTP_CC_OUTCOME_NOT_GIVABLE,       /* 400 kind_not_givable */
    NGX_HTTP_CC_OUTCOME_BAD_ASK,           /* 400 bad_ask_id */
    NGX_HTTP_CC_OUTCOME_GIFT_LIMIT,        /* 429 gift_limit */
    NGX_HTTP_CC_OUTCOME_ASK_LIMIT,         /* 429 ask_limit */
    NGX_HTTP_CC_OUTCOME_ASK_NOT_FOUND,     /* 404 ask_not_found */
    NGX_HTTP_CC_OUTCOME_ASK_ANSWERED,      /* 409 ask_answered */
    NGX_HTTP_CC_OUTCOME_ASK_EXPIRED,       /* 410 ask_expired */
    NGX_HTTP_CC_OUTCOMES
} ngx_http_cc_outcome_e;


#define NGX_HTTP_CC_SCRIPT_FLIP     0
#define NGX_HTTP_CC_SCRIPT_GRANT    1
#define NGX_HTTP_CC_SCRIPT_ELIG     2
#define NGX_HTTP_CC_SCRIPT_COMBINE  3
#define NGX_HTTP_CC_SCRIPT_AWARD    4
#define NGX_HTTP_CC_SCRIPT_CLAIM    5
#define NGX_HTTP_CC_SCRIPT_GIFT_OUT  6     /* issue 19: ngx_http_cc_gift.c */
#define NGX_HTTP_CC_SCRIPT_GIFT_IN   7
#define NGX_HTTP_CC_SCRIPT_GIFT_DONE 8
#define NGX_HTTP_CC_SCRIPT_ASK_OUT   9
#define NGX_HTTP_CC_SCRIPT_ASK_IN    10
#define NGX_HTTP_CC_SCRIPT_GIFTS     11
#define NGX_HTTP_CC_SCRIPTS          12


/* the latency histograms of GET /cc/metrics; an endpoint observes one */
#define NGX_HTTP_CC_HIST_NONE       0
#define NGX_HTTP_CC_HIST_FLIP       1      /* cc_flip_latency_seconds */
#define NGX_HTTP_CC_HIST_CLAIM      2      /* cc_claim_wait_seconds */
#define NGX_HTTP_CC_HIST_WAIT       3      /* cc_redis_wait_seconds */
#define NGX_HTTP_CC_HISTS           4


/*
 * A Lua script run with EVALSHA (EVAL when Redis answers NOSCRIPT) over a
 * batch of entries, one per request: KEYS are the shared keys, then nkeys
 * keys an entry; ARGV the shard's arguments (nshard_args of them, the
 * shard's row of shard_args), then nargs arguments an entry; the reply is
 * an array with one element an entry.  text is the configuration as Lua
 * locals, then ngx_module/lua/<name>.lua (ngx_http_cc_script.c).
 */
typedef struct {
    ngx_str_t                 text;
    u_char                    sha[41];
    ngx_uint_t                index;        /* NGX_HTTP_CC_SCRIPT_* */
    ngx_uint_t                nshared;
    ngx_str_t                *shared;
    ngx_uint_t                nshard_args;
    ngx_str_t                *shard_args;   /* nshard_args a shard */
    ngx_uint_t                nkeys;
    ngx_uint_t                nargs;
} ngx_http_cc_script_t;


typedef struct {
    ngx_str_t                 name;          /* "host:port", the ring key;
                                                with cc_redis_sentinels the
                                                Sentinel master name */
    ngx_str_t                 host;          /* NUL-terminated */
    in_port_t                 port;
    const char               *why;           /* not "host:port": why */
} ngx_http_cc_shard_conf_t;


/* a Sentinel: its IP address as text, resolved by the master process */
typedef struct {
    ngx_str_t                 host;          /* NUL-terminated */
    in_port_t                 port;
} ngx_http_cc_sentinel_conf_t;


typedef struct {
    ngx_array_t              *shards;        /* ngx_http_cc_shard_conf_t */
    cc_ring_t                 ring;
    ngx_msec_t                redis_timeout;
    time_t                    request_ttl;
    cc_cards_t                cards;
    unsigned                  cards_set:1;
    unsigned                  handlers:1;   /* a cc_ handler is in use */

    ngx_http_cc_script_t      scripts[NGX_HTTP_CC_SCRIPTS];

    ngx_array_t              *stock;          /* ngx_http_cc_stock.c's */
    ngx_int_t                 wildcard;       /* cc_wildcard_kind; -1: none */

    time_t                    start;           /* the campaign window */
    time_t                    end;
    time_t                    cutoff;          /* the last combine */

    ngx_msec_t                claim_poll;      /* a claim re-reads w */
    ngx_msec_t                claim_wait;      /* then answers 202 */
    ngx_msec_t                claim_poll_max;  /* the poll's backoff cap */
    ngx_int_t                 claim_waiters;   /* waiting, per worker */
    ngx_flag_t                claim_wake;      /* cc:credited subscribed */
    unsigned                  claims:1;        /* some location cc_claim */

    ngx_str_t                 kafka_brokers;   /* empty: no Kafka leg */
    ngx_str_t                 kafka_topic;
    ngx_msec_t                kafka_flush_timeout;
    ngx_array_t              *kafka_properties;  /* ngx_keyval_t, or NULL */

    ngx_str_t                 redis_user;      /* cc_redis_auth; empty: none */
    ngx_str_t                 redis_password;  /* read from its file */

    /* issue 18 (ngx_http_cc_redis_sentinel.c): failover and WAIT */
    ngx_array_t              *sentinels;       /* ngx_http_cc_sentinel_conf_t */
    ngx_int_t                 failover_waiters;  /* a shard, per worker */
    ngx_msec_t                failover_wait;
    ngx_int_t                 wait_replicas;     /* 0: no WAIT */
    ngx_msec_t                wait_timeout;

    /* issue 19 (ngx_http_cc_gift.c): gifts and asks */
    ngx_int_t                 gift_limit;      /* a user's gifts a day */
    ngx_flag_t                gift_rare;       /* stocked kinds givable */
    ngx_int_t                 ask_limit;       /* a user's open asks */
    time_t                    ask_ttl;
} ngx_http_cc_main_conf_t;


typedef struct {
    ngx_uint_t                identity;
    ngx_str_t                 uid_header;
    ngx_int_t                 uid_var_index;

    /* token identity: the verifying keys by id, the longest lifetime */
    ngx_array_t              *keys;          /* cc_token_key_t */
    time_t                    max_ttl;
} ngx_http_cc_loc_conf_t;


/* called with the request still alive; reply NULL: Redis unavailable */
typedef void (*ngx_http_cc_reply_pt)(ngx_http_request_t *r,
    redisReply *reply);


/* the access of an endpoint */
#define NGX_HTTP_CC_ACCESS_READ     0      /* any time */
#define NGX_HTTP_CC_ACCESS_WRITE    1      /* within the campaign window */
#define NGX_HTTP_CC_ACCESS_COMBINE  2      /* ... and before the cutoff */


/*
 * An endpoint: what its requests must be, its script, and the table of
 * its outcomes: the counter of each, and the error of the two whose body
 * is its own.  Every answer goes through ngx_http_cc_answer(), which
 * takes the status and body of each outcome from one table for all
 * endpoints (ngx_http_cc_util.c) and counts it here, once.
 */
typedef struct {
    ngx_uint_t                method;        /* NGX_HTTP_GET or _POST */
    ngx_uint_t                access;        /* NGX_HTTP_CC_ACCESS_* */
    ngx_uint_t                script;        /* NGX_HTTP_CC_SCRIPT_* */
    ngx_http_cc_reply_pt      reply;
    ngx_uint_t                latency;       /* NGX_HTTP_CC_HIST_* */
    char                     *bad_id;        /* the 400 of a bad id */
    char                     *refused;       /* the 409 */
    ngx_uint_t                metric[NGX_HTTP_CC_OUTCOMES];
} ngx_http_cc_endpoint_t;


/* an award as the field w of the user hash says: "p|c:amount:award_id" */
typedef struct {
    ngx_uint_t                credited;      /* 'c'; else 'p', pending */
    uint64_t                  amount;        /* cents, 1..10^15 */
    ngx_str_t                 id;            /* 1..64 of [A-Za-z0-9_:-] */
} ngx_http_cc_award_t;


/* a write's context: whose, which request id, when */
typedef struct {
    uint64_t                  uid;
    int64_t                   ts_ms;
    ngx_str_t                 rid;
} ngx_http_cc_ctx_t;


extern ngx_module_t  ngx_http_cc_module;


/* ngx_http_cc_script.c */
ngx_int_t ngx_http_cc_scripts_build(ngx_conf_t *cf,
    ngx_http_cc_main_conf_t *cmcf);

/* ngx_http_cc_stock.c */
char *ngx_http_cc_card_stock(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_cc_stock_check(ngx_conf_t *cf,
    ngx_http_cc_main_conf_t *cmcf);
ngx_int_t ngx_http_cc_stock_flip_script(ngx_conf_t *cf,
    ngx_http_cc_main_conf_t *cmcf, ngx_http_cc_script_t *sc,
    ngx_str_t *prelude);
u_char *ngx_http_cc_stock_flip_arg(ngx_http_request_t *r,
    ngx_http_cc_main_conf_t *cmcf, u_char *p, ngx_str_t *arg);
ngx_uint_t ngx_http_cc_stocked(ngx_http_cc_main_conf_t *cmcf,
    ngx_uint_t kind);
ngx_uint_t ngx_http_cc_givable(ngx_http_cc_main_conf_t *cmcf,
    ngx_uint_t kind);

/* ngx_http_cc_redis_conn.c, ngx_http_cc_redis_batch.c */
ngx_int_t ngx_http_cc_redis_init_process(ngx_cycle_t *cycle);
void ngx_http_cc_redis_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_cc_redis_eval(ngx_http_request_t *r, uint64_t uid,
    ngx_uint_t script, ngx_str_t *keys, ngx_str_t *args,
    ngx_http_cc_reply_pt handler);
ngx_int_t ngx_http_cc_redis_detach(ngx_http_cc_main_conf_t *cmcf,
    uint64_t uid, ngx_uint_t script, ngx_str_t *keys, ngx_str_t *args);

/* ngx_http_cc_redis_sentinel.c */
char *ngx_http_cc_redis_sentinels(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cc_redis_failover_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cc_redis_failover_check(ngx_conf_t *cf,
    ngx_http_cc_main_conf_t *cmcf);

/* ngx_http_cc_metrics.c */
ngx_int_t ngx_http_cc_metrics_add_zone(ngx_conf_t *cf);
void ngx_http_cc_metric_inc(ngx_uint_t metric);
void ngx_http_cc_metric_add(ngx_uint_t metric, ngx_atomic_int_t delta);
void ngx_http_cc_latency_observe(ngx_uint_t hist, ngx_msec_t ms);
ngx_int_t ngx_http_cc_metrics_handler(ngx_http_request_t *r);
void ngx_http_cc_metric_primary(ngx_uint_t shard, u_char *addr, size_t len);

/* ngx_http_cc_kafka.c */
ngx_int_t ngx_http_cc_kafka_check(ngx_conf_t *cf,
    ngx_http_cc_main_conf_t *cmcf);
void ngx_http_cc_kafka_init_process(ngx_cycle_t *cycle,
    ngx_http_cc_main_conf_t *cmcf);
void ngx_http_cc_kafka_exit_process(ngx_cycle_t *cycle);
void ngx_http_cc_kafka_publish(const cc_draw_t *d);
void ngx_http_cc_kafka_publish_combine(const cc_combine_t *c);
void ngx_http_cc_kafka_publish_gift(const cc_gift_t *g);
char *ngx_http_cc_kafka_property(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_cc_identity.c */
ngx_int_t ngx_http_cc_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_cc_identity_uid(ngx_http_request_t *r, uint64_t *uid,
    ngx_uint_t *reason);
void ngx_http_cc_identity_refused(ngx_http_request_t *r, ngx_uint_t reason);

/* ngx_http_cc_util.c */
ngx_int_t ngx_http_cc_begin(ngx_http_request_t *r,
    const ngx_http_cc_endpoint_t *ep, uint64_t *uid, ngx_int_t *rc);
ngx_int_t ngx_http_cc_refuse_body(ngx_http_request_t *r,
    const ngx_http_cc_endpoint_t *ep);
ngx_int_t ngx_http_cc_get_arg(ngx_http_request_t *r, char *name,
    size_t len, ngx_str_t *value);
ngx_int_t ngx_http_cc_get_id_arg(ngx_http_request_t *r, char *name,
    size_t len, ngx_str_t *value);
ngx_int_t ngx_http_cc_write_ctx(ngx_http_request_t *r,
    const ngx_http_cc_endpoint_t *ep, uint64_t uid, ngx_http_cc_ctx_t **ctx,
    ngx_int_t *rc);
ngx_int_t ngx_http_cc_call(ngx_http_request_t *r,
    const ngx_http_cc_endpoint_t *ep, uint64_t uid, ngx_str_t *keys,
    ngx_str_t *args);
ngx_int_t ngx_http_cc_answer(ngx_http_request_t *r,
    const ngx_http_cc_endpoint_t *ep, ngx_uint_t outcome, u_char *body,
    size_t len);
void ngx_http_cc_finalize(ngx_http_request_t *r,
    const ngx_http_cc_endpoint_t *ep, ngx_uint_t outcome, u_char *body,
    size_t len);
void ngx_http_cc_finalize_invalid(ngx_http_request_t *r,
    const ngx_http_cc_endpoint_t *ep, redisReply *reply);
ngx_int_t ngx_http_cc_user_keys(ngx_http_request_t *r, uint64_t uid,
    ngx_str_t *user, ngx_str_t *grants, ngx_str_t *dec);
ngx_int_t ngx_http_cc_random(ngx_log_t *log, uint64_t *v);

/* ngx_http_cc_eligibility.c */
ngx_int_t ngx_http_cc_cards_body(ngx_http_request_t *r, redisReply *reply,
    ngx_uint_t combined, ngx_uint_t combine, ngx_str_t *body);

/* ngx_http_cc_wildcard.c */
ngx_int_t ngx_http_cc_wildcard_check(ngx_conf_t *cf,
    ngx_http_cc_main_conf_t *cmcf);
size_t ngx_http_cc_wildcard_len(ngx_http_cc_main_conf_t *cmcf);
u_char *ngx_http_cc_wildcard_fields(u_char *p, ngx_http_cc_main_conf_t *cmcf,
    redisReply *reply, ngx_int_t replaced);
ngx_int_t ngx_http_cc_wildcard_replaced(ngx_http_cc_main_conf_t *cmcf,
    redisReply *reply, uint32_t *replaced);

/* ngx_http_cc_award.c */
ngx_int_t ngx_http_cc_award_read(ngx_http_request_t *r, uint64_t uid,
    redisReply *reply, ngx_http_cc_award_t *aw);
ngx_int_t ngx_http_cc_award_body(ngx_http_request_t *r,
    ngx_http_cc_award_t *aw, ngx_str_t *body);

/* the location handlers */
ngx_int_t ngx_http_cc_flip_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_cc_grant_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_cc_eligibility_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_cc_combine_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_cc_award_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_cc_claim_handler(ngx_http_request_t *r);
ngx_uint_t ngx_http_cc_claim_wake(uint64_t uid);
ngx_int_t ngx_http_cc_gift_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_cc_ask_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_cc_gifts_handler(ngx_http_request_t *r);


#endif /* NGX_HTTP_CC_MODULE_H */
