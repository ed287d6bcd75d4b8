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


#define NGX_HTTP_CC_IDENTITY_TRUSTED_HEADER  1
#define NGX_HTTP_CC_IDENTITY_TOKEN           2

#define NGX_HTTP_CC_GRANT_MAX  100000


typedef enum {
    NGX_HTTP_CC_FLIP_OK = 0,
    NGX_HTTP_CC_FLIP_REPLAYED,
    NGX_HTTP_CC_FLIP_NO_CHANCES,
    NGX_HTTP_CC_FLIP_BAD_REQUEST,
    NGX_HTTP_CC_FLIP_UNAVAILABLE,
    NGX_HTTP_CC_GRANT_OK,
    NGX_HTTP_CC_GRANT_BAD_REQUEST,
    NGX_HTTP_CC_GRANT_UNAVAILABLE,
    NGX_HTTP_CC_COMBINE_OK,
    NGX_HTTP_CC_COMBINE_REPLAYED,
    NGX_HTTP_CC_COMBINE_MISSING,
    NGX_HTTP_CC_COMBINE_UNAVAILABLE,
    NGX_HTTP_CC_CLOSED,
    NGX_HTTP_CC_REDIS_TIMEOUT,
    NGX_HTTP_CC_REDIS_CONNECT_FAIL,
    NGX_HTTP_CC_KAFKA_PRODUCED,
    NGX_HTTP_CC_KAFKA_DELIVERED,
    NGX_HTTP_CC_KAFKA_FAILED,
    NGX_HTTP_CC_KAFKA_QUEUE_FULL,
    NGX_HTTP_CC_METRIC_N
} ngx_http_cc_metric_e;


#define NGX_HTTP_CC_SCRIPT_FLIP     0
#define NGX_HTTP_CC_SCRIPT_GRANT    1
#define NGX_HTTP_CC_SCRIPT_ELIG     2
#define NGX_HTTP_CC_SCRIPT_COMBINE  3
#define NGX_HTTP_CC_SCRIPTS         4


/*
 * A Lua script run with EVALSHA (EVAL when Redis answers NOSCRIPT) over a
 * batch of entries, one per request: KEYS are the shared keys, then nkeys
 * keys an entry; ARGV the shard's shared arguments (nshared_args, from
 * ngx_http_cc_redis.c), then nargs arguments an entry; the reply is an
 * array with one element an entry.
 */
typedef struct {
    ngx_str_t                 text;
    u_char                    sha[41];
    ngx_uint_t                index;        /* NGX_HTTP_CC_SCRIPT_* */
    ngx_uint_t                nshared;
    ngx_str_t                *shared;
    ngx_uint_t                nshared_args;
    ngx_uint_t                nkeys;
    ngx_uint_t                nargs;
} ngx_http_cc_script_t;


/* cc_card_stock: at most total cards of a kind, over all shards */
typedef struct {
    ngx_uint_t                kind;
    ngx_uint_t                total;
} ngx_http_cc_stock_t;


typedef struct {
    ngx_str_t                 name;          /* "host:port", the ring key */
    ngx_str_t                 host;          /* NUL-terminated */
    in_port_t                 port;
} ngx_http_cc_shard_conf_t;


typedef struct {
    ngx_array_t              *shards;        /* ngx_http_cc_shard_conf_t */
    cc_ring_t                 ring;
    ngx_msec_t                redis_timeout;
    time_t                    request_ttl;
    cc_cards_t                cards;
    unsigned                  cards_set:1;
    unsigned                  handlers:1;   /* a cc_ handler is in use */

    ngx_http_cc_script_t      scripts[NGX_HTTP_CC_SCRIPTS];

    ngx_array_t              *stock;          /* ngx_http_cc_stock_t */

    time_t                    start;           /* the campaign window */
    time_t                    end;
    time_t                    cutoff;          /* the last combine */

    ngx_str_t                 kafka_brokers;   /* empty: no Kafka leg */
    ngx_str_t                 kafka_topic;
    ngx_msec_t                kafka_flush_timeout;
} ngx_http_cc_main_conf_t;


typedef struct {
    ngx_uint_t                identity;
    ngx_str_t                 uid_header;
    ngx_int_t                 uid_var_index;
    ngx_str_t                 secret;        /* token mode: HMAC key */
} ngx_http_cc_loc_conf_t;


/* called with the request still alive; reply NULL: Redis unavailable */
typedef void (*ngx_http_cc_reply_pt)(ngx_http_request_t *r,
    redisReply *reply);


extern ngx_module_t  ngx_http_cc_module;


/* ngx_http_cc_script.c */
ngx_int_t ngx_http_cc_scripts_build(ngx_conf_t *cf,
    ngx_http_cc_main_conf_t *cmcf);

/* ngx_http_cc_redis.c */
ngx_int_t ngx_http_cc_redis_init_process(ngx_cycle_t *cycle);
void ngx_http_cc_redis_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_cc_redis_eval(ngx_http_request_t *r, uint64_t uid,
    ngx_uint_t script, ngx_str_t *keys, ngx_str_t *args,
    ngx_http_cc_reply_pt handler);

/* ngx_http_cc_metrics.c */
ngx_int_t ngx_http_cc_metrics_add_zone(ngx_conf_t *cf);
void ngx_http_cc_metric_inc(ngx_uint_t metric);
ngx_int_t ngx_http_cc_metrics_handler(ngx_http_request_t *r);

/* ngx_http_cc_kafka.c */
ngx_int_t ngx_http_cc_kafka_init_process(ngx_cycle_t *cycle,
    ngx_http_cc_main_conf_t *cmcf);
void ngx_http_cc_kafka_exit_process(ngx_cycle_t *cycle);
void ngx_http_cc_kafka_publish(const cc_draw_t *d);
void ngx_http_cc_kafka_publish_combine(const cc_combine_t *c);

/* ngx_http_cc_util.c; access of ngx_http_cc_begin() */
#define NGX_HTTP_CC_READ     0      /* any time */
#define NGX_HTTP_CC_WRITE    1      /* within the campaign window */
#define NGX_HTTP_CC_COMBINE  2      /* ... and before the combine cutoff */

ngx_int_t ngx_http_cc_begin(ngx_http_request_t *r, ngx_uint_t method,
    ngx_uint_t access, ngx_uint_t bad, uint64_t *uid, ngx_int_t *rc);
ngx_int_t ngx_http_cc_get_uid(ngx_http_request_t *r, uint64_t *uid);
ngx_int_t ngx_http_cc_get_id_arg(ngx_http_request_t *r, char *name,
    size_t len, ngx_str_t *value);
ngx_int_t ngx_http_cc_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len);
ngx_int_t ngx_http_cc_send_error(ngx_http_request_t *r, ngx_uint_t status,
    char *code);
ngx_int_t ngx_http_cc_send_uid_error(ngx_http_request_t *r, ngx_int_t rc);
ngx_int_t ngx_http_cc_call(ngx_http_request_t *r, uint64_t uid,
    ngx_uint_t script, ngx_str_t *keys, ngx_str_t *args,
    ngx_http_cc_reply_pt handler, ngx_uint_t unavailable);
void ngx_http_cc_finalize_cards(ngx_http_request_t *r, redisReply *reply,
    ngx_uint_t combined);
void ngx_http_cc_finalize_error(ngx_http_request_t *r, ngx_uint_t status,
    char *code);

/* the location handlers */
ngx_int_t ngx_http_cc_flip_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_cc_grant_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_cc_eligibility_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_cc_combine_handler(ngx_http_request_t *r);


#endif /* NGX_HTTP_CC_MODULE_H */
