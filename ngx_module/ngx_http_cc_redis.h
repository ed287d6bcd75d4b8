/*
 * ngx_http_cc_redis: a worker's Redis shards, in four parts:
 *
 *   ngx_http_cc_redis_adapter.c   hiredis's socket on nginx's event loop
 *   ngx_http_cc_redis_conn.c      each shard's connection: open, lost,
 *                                 backoff, whether the shard is usable
 *   ngx_http_cc_redis_batch.c     the requests' entries, sent as batches
 *   ngx_http_cc_redis_sentinel.c  with cc_redis_sentinels: each shard's
 *                                 primary found and followed (its states)
 *   ngx_http_cc_claim_sub.c       each shard's cc:credited subscription,
 *                                 which wakes the waiting claims
 *
 * Private to those files; the handlers see ngx_http_cc_redis_eval().
 */

#ifndef NGX_HTTP_CC_REDIS_H
#define NGX_HTTP_CC_REDIS_H


#include "ngx_http_cc_module.h"

#include <hiredis/async.h>


typedef struct {
    ngx_queue_t                queue;
    ngx_uint_t                 n;
} ngx_http_cc_pending_t;


/* one shard, in one worker */
typedef struct {
    ngx_http_cc_shard_conf_t  *conf;
    ngx_uint_t                 index;        /* in cc_redis_shards */
    redisAsyncContext         *ac;
    ngx_uint_t                 failures;     /* in a row */
    ngx_msec_t                 retry_at;
    ngx_http_cc_pending_t      pending[NGX_HTTP_CC_SCRIPTS];
    ngx_event_t                flush;        /* posted: send the batches */
    ngx_uint_t                 in_flight;    /* batches sent, not answered */
    ngx_http_cc_pending_t      detached[NGX_HTTP_CC_SCRIPTS];
    ngx_event_t                detached_timer; /* the queued ones' time */
    ngx_uint_t                 detached_held;  /* queued or in flight */
    unsigned                   down_logged:1;
    unsigned                   writing:1;
    unsigned                   failed:1;     /* dropped for not answering */

    /* with cc_redis_sentinels (ngx_http_cc_redis_sentinel.c) */
    unsigned                   up:1;         /* ROLE said master */
    unsigned                   rediscover:1; /* dropped: READONLY, LOADING,
                                                a switch, not a master */
    ngx_uint_t                 waiting;      /* entries waiting for it */
    ngx_msec_t                 wait_logged;  /* a WAIT shortfall, last */
    redisAsyncContext         *sac;          /* asking a Sentinel */
    ngx_uint_t                 sentinel;     /* the one to ask next */
    ngx_uint_t                 asked;        /* in this round */
    ngx_event_t                discover;     /* ask timeout; next round */
    u_char                     host[NGX_SOCKADDR_STRLEN + 1];
    in_port_t                  port;         /* 0: none known */
    u_char                     followed[NGX_SOCKADDR_STRLEN + 8];
    size_t                     followed_len; /* last primary confirmed */
} ngx_http_cc_redis_t;

/* the worker's Sentinel pub/sub connection is not a shard's */
#define NGX_HTTP_CC_REDIS_SUB  ((ngx_uint_t) -1)

/* nor is a shard's cc:credited subscriber (ngx_http_cc_claim_sub.c) */
#define NGX_HTTP_CC_REDIS_CLAIM_SUB  ((ngx_uint_t) -2)


/* ngx_http_cc_redis_conn.c */
ngx_http_cc_redis_t *ngx_http_cc_redis_shard(ngx_http_cc_main_conf_t *cmcf,
    uint64_t uid);
ngx_uint_t ngx_http_cc_redis_usable(ngx_http_cc_redis_t *redis);
redisAsyncContext *ngx_http_cc_redis_get(ngx_http_cc_redis_t *redis,
    ngx_log_t *log);
void ngx_http_cc_redis_fail(ngx_http_cc_redis_t *redis);
void ngx_http_cc_redis_closed(redisAsyncContext *ac);

ngx_uint_t ngx_http_cc_redis_sentinel_mode(void);
ngx_http_cc_redis_t *ngx_http_cc_redis_by_name(u_char *name, size_t len);

/* ngx_http_cc_redis_sentinel.c */
void ngx_http_cc_sentinel_init(ngx_http_cc_redis_t *redis, ngx_log_t *log);
void ngx_http_cc_sentinel_exit(ngx_http_cc_redis_t *redis);
void ngx_http_cc_sentinel_discover(ngx_http_cc_redis_t *redis);
void ngx_http_cc_sentinel_role(redisAsyncContext *ac);
void ngx_http_cc_sentinel_closed(redisAsyncContext *ac);
void ngx_http_cc_sentinel_sub_start(ngx_cycle_t *cycle);
void ngx_http_cc_sentinel_sub_exit(void);
ngx_uint_t ngx_http_cc_redis_moved(ngx_http_cc_redis_t *redis,
    redisReply *r);

/* ngx_http_cc_redis_batch.c */
void ngx_http_cc_redis_batch_wait(ngx_http_cc_redis_t *redis);

/* ngx_http_cc_claim_sub.c */
void ngx_http_cc_claim_sub_start(ngx_cycle_t *cycle,
    ngx_http_cc_redis_t *shards, ngx_uint_t n);
void ngx_http_cc_claim_sub_exit(void);
void ngx_http_cc_claim_sub_follow(ngx_http_cc_redis_t *redis);
void ngx_http_cc_claim_sub_closed(redisAsyncContext *ac);

/* ngx_http_cc_redis_adapter.c */
ngx_int_t ngx_http_cc_redis_attach(redisAsyncContext *ac);

/* ngx_http_cc_redis_batch.c */
void ngx_http_cc_redis_batch_init(ngx_http_cc_redis_t *redis,
    ngx_log_t *log);
void ngx_http_cc_redis_batch_exit(ngx_http_cc_redis_t *redis);


#endif /* NGX_HTTP_CC_REDIS_H */
