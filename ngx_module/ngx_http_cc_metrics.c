/*
 * ngx_http_cc_metrics: counters shared by all workers (a shared memory
 * zone of atomics) and GET /cc/metrics, which prints them in Prometheus's
 * text format: the counters, then the latency histograms (the flips', the
 * claims'), from the request's start to its answer, in the same zone.
 */


#include "ngx_http_cc_module.h"


#define NGX_HTTP_CC_LATENCY_BUCKETS  12


typedef struct {
    char                     *name;
    char                     *help;        /* the first of its family */
    ngx_uint_t                gauge;       /* else a counter */
} ngx_http_cc_metric_desc_t;


typedef struct {
    ngx_atomic_t              bucket[NGX_HTTP_CC_LATENCY_BUCKETS];
    ngx_atomic_t              sum_ms;
} ngx_http_cc_hist_t;


/* the primary of each shard as a worker last confirmed it (ROLE) */
#define NGX_HTTP_CC_PRIMARIES_MAX    64
#define NGX_HTTP_CC_PRIMARY_LEN      (NGX_SOCKADDR_STRLEN + 8)

typedef struct {
    ngx_atomic_t              len;         /* 0: none yet */
    u_char                    addr[NGX_HTTP_CC_PRIMARY_LEN];
} ngx_http_cc_primary_t;


/* the zone: the counters, then the histograms, the primaries */
typedef struct {
    ngx_atomic_t              counter[NGX_HTTP_CC_METRICS];
    ngx_http_cc_hist_t        hist[NGX_HTTP_CC_HISTS];
    ngx_http_cc_primary_t     primary[NGX_HTTP_CC_PRIMARIES_MAX];
} ngx_http_cc_metrics_t;


static ngx_http_cc_metric_desc_t  ngx_http_cc_metric_desc[] = {

    [NGX_HTTP_CC_METRIC_NONE] = { NULL, NULL },

    [NGX_HTTP_CC_METRIC_FLIP_OK] =
        { "cc_flips_total{result=\"ok\"}", "Flip requests by result." },
    [NGX_HTTP_CC_METRIC_FLIP_REPLAYED] =
        { "cc_flips_total{result=\"replayed\"}", NULL },
    [NGX_HTTP_CC_METRIC_FLIP_NO_CHANCES] =
        { "cc_flips_total{result=\"no_chances\"}", NULL },
    [NGX_HTTP_CC_METRIC_FLIP_BAD_REQUEST] =
        { "cc_flips_total{result=\"bad_request\"}", NULL },
    [NGX_HTTP_CC_METRIC_FLIP_UNAVAILABLE] =
        { "cc_flips_total{result=\"unavailable\"}", NULL },
    [NGX_HTTP_CC_METRIC_FLIP_METHOD] =
        { "cc_flips_total{result=\"method_not_allowed\"}", NULL },

    [NGX_HTTP_CC_METRIC_GRANT_OK] =
        { "cc_grants_total{result=\"ok\"}", "Grant requests by result." },
    [NGX_HTTP_CC_METRIC_GRANT_REPLAYED] =
        { "cc_grants_total{result=\"replayed\"}", NULL },
    [NGX_HTTP_CC_METRIC_GRANT_BAD_REQUEST] =
        { "cc_grants_total{result=\"bad_request\"}", NULL },
    [NGX_HTTP_CC_METRIC_GRANT_UNAVAILABLE] =
        { "cc_grants_total{result=\"unavailable\"}", NULL },
    [NGX_HTTP_CC_METRIC_GRANT_METHOD] =
        { "cc_grants_total{result=\"method_not_allowed\"}", NULL },

    [NGX_HTTP_CC_METRIC_COMBINE_OK] =
        { "cc_combines_total{result=\"ok\"}", "Combine requests by result." },
    [NGX_HTTP_CC_METRIC_COMBINE_REPLAYED] =
        { "cc_combines_total{result=\"replayed\"}", NULL },
    [NGX_HTTP_CC_METRIC_COMBINE_MISSING] =
        { "cc_combines_total{result=\"missing_cards\"}", NULL },
    [NGX_HTTP_CC_METRIC_COMBINE_UNAVAILABLE] =
        { "cc_combines_total{result=\"unavailable\"}", NULL },
    [NGX_HTTP_CC_METRIC_COMBINE_BAD_REQUEST] =
        { "cc_combines_total{result=\"bad_request\"}", NULL },
    [NGX_HTTP_CC_METRIC_COMBINE_METHOD] =
        { "cc_combines_total{result=\"method_not_allowed\"}", NULL },

    [NGX_HTTP_CC_METRIC_ELIG_OK] =
        { "cc_eligibility_checks_total{result=\"ok\"}",
          "Eligibility requests by result." },
    [NGX_HTTP_CC_METRIC_ELIG_BAD_REQUEST] =
        { "cc_eligibility_checks_total{result=\"bad_request\"}", NULL },
    [NGX_HTTP_CC_METRIC_ELIG_UNAVAILABLE] =
        { "cc_eligibility_checks_total{result=\"unavailable\"}", NULL },
    [NGX_HTTP_CC_METRIC_ELIG_METHOD] =
        { "cc_eligibility_checks_total{result=\"method_not_allowed\"}",
          NULL },

    [NGX_HTTP_CC_METRIC_AWARD_NONE] =
        { "cc_awards_total{result=\"none\"}", "Award requests by result." },
    [NGX_HTTP_CC_METRIC_AWARD_PENDING] =
        { "cc_awards_total{result=\"pending\"}", NULL },
    [NGX_HTTP_CC_METRIC_AWARD_CREDITED] =
        { "cc_awards_total{result=\"credited\"}", NULL },
    [NGX_HTTP_CC_METRIC_AWARD_BAD_REQUEST] =
        { "cc_awards_total{result=\"bad_request\"}", NULL },
    [NGX_HTTP_CC_METRIC_AWARD_UNAVAILABLE] =
        { "cc_awards_total{result=\"unavailable\"}", NULL },
    [NGX_HTTP_CC_METRIC_AWARD_METHOD] =
        { "cc_awards_total{result=\"method_not_allowed\"}", NULL },

    [NGX_HTTP_CC_METRIC_CLAIM_CREDITED] =
        { "cc_claims_total{result=\"credited\"}",
          "Claim requests by result." },
    [NGX_HTTP_CC_METRIC_CLAIM_PENDING] =
        { "cc_claims_total{result=\"pending\"}", NULL },
    [NGX_HTTP_CC_METRIC_CLAIM_NO_AWARD] =
        { "cc_claims_total{result=\"no_award\"}", NULL },
    [NGX_HTTP_CC_METRIC_CLAIM_BAD_REQUEST] =
        { "cc_claims_total{result=\"bad_request\"}", NULL },
    [NGX_HTTP_CC_METRIC_CLAIM_UNAVAILABLE] =
        { "cc_claims_total{result=\"unavailable\"}", NULL },
    [NGX_HTTP_CC_METRIC_CLAIM_METHOD] =
        { "cc_claims_total{result=\"method_not_allowed\"}", NULL },
    [NGX_HTTP_CC_METRIC_CLAIM_WAITING] =
        { "cc_claim_waiting",
          "Claims waiting for their credit now (cc_claim_waiters a worker).",
          1 },
    [NGX_HTTP_CC_METRIC_CLAIM_POLLS] =
        { "cc_claim_polls_total",
          "Re-reads of an award for its waiting claims (one a uid)." },
    [NGX_HTTP_CC_METRIC_CLAIM_WAITERS_FULL] =
        { "cc_claim_waiters_full_total",
          "Claims answered 202 at once: cc_claim_waiters were waiting." },
    [NGX_HTTP_CC_METRIC_CLAIM_WAKEUPS] =
        { "cc_claim_wakeups_total",
          "cc:credited messages for a uid waiting here: it re-reads now." },
    [NGX_HTTP_CC_METRIC_CLAIM_WAKE_UNMATCHED] =
        { "cc_claim_wake_unmatched_total",
          "cc:credited messages for a uid not waiting in the worker." },
    [NGX_HTTP_CC_METRIC_CLAIM_WAKE_MALFORMED] =
        { "cc_claim_wake_malformed_total",
          "cc:credited messages ignored: not a uid." },
    [NGX_HTTP_CC_METRIC_CLAIM_WAKE_SUBSCRIBED] =
        { "cc_claim_wake_subscribed",
          "Workers' shard connections subscribed to cc:credited now.", 1 },
    [NGX_HTTP_CC_METRIC_CLAIM_WAKE_RECONNECTS] =
        { "cc_claim_wake_reconnects_total",
          "Subscriptions to cc:credited made again after a loss." },

    [NGX_HTTP_CC_METRIC_GIFT_DELIVERED] =
        { "cc_gifts_total{result=\"delivered\"}",
          "Gift requests by result (sent: the receiver's half pending)." },
    [NGX_HTTP_CC_METRIC_GIFT_SENT] =
        { "cc_gifts_total{result=\"sent\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFT_REPLAYED] =
        { "cc_gifts_total{result=\"replayed\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFT_NO_CARD] =
        { "cc_gifts_total{result=\"no_card\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFT_LIMIT] =
        { "cc_gifts_total{result=\"gift_limit\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFT_ASK_NOT_FOUND] =
        { "cc_gifts_total{result=\"ask_not_found\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFT_ASK_ANSWERED] =
        { "cc_gifts_total{result=\"ask_answered\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFT_ASK_EXPIRED] =
        { "cc_gifts_total{result=\"ask_expired\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFT_BAD_REQUEST] =
        { "cc_gifts_total{result=\"bad_request\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFT_UNAVAILABLE] =
        { "cc_gifts_total{result=\"unavailable\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFT_METHOD] =
        { "cc_gifts_total{result=\"method_not_allowed\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFT_REDELIVERED] =
        { "cc_gifts_redelivered_total",
          "Retries of a sent gift whose receiver's half they applied." },
    [NGX_HTTP_CC_METRIC_ASK_OK] =
        { "cc_asks_total{result=\"ok\"}", "Ask requests by result." },
    [NGX_HTTP_CC_METRIC_ASK_REPLAYED] =
        { "cc_asks_total{result=\"replayed\"}", NULL },
    [NGX_HTTP_CC_METRIC_ASK_LIMIT] =
        { "cc_asks_total{result=\"ask_limit\"}", NULL },
    [NGX_HTTP_CC_METRIC_ASK_BAD_REQUEST] =
        { "cc_asks_total{result=\"bad_request\"}", NULL },
    [NGX_HTTP_CC_METRIC_ASK_UNAVAILABLE] =
        { "cc_asks_total{result=\"unavailable\"}", NULL },
    [NGX_HTTP_CC_METRIC_ASK_METHOD] =
        { "cc_asks_total{result=\"method_not_allowed\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFTS_OK] =
        { "cc_gift_lists_total{result=\"ok\"}",
          "GET /cc/gifts requests by result." },
    [NGX_HTTP_CC_METRIC_GIFTS_BAD_REQUEST] =
        { "cc_gift_lists_total{result=\"bad_request\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFTS_UNAVAILABLE] =
        { "cc_gift_lists_total{result=\"unavailable\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFTS_METHOD] =
        { "cc_gift_lists_total{result=\"method_not_allowed\"}", NULL },

    [NGX_HTTP_CC_METRIC_CLOSED] =
        { "cc_closed_total", "Writes refused outside the campaign window." },
    [NGX_HTTP_CC_METRIC_REDIS_TIMEOUT] =
        { "cc_redis_timeouts_total",
          "Redis calls not answered within cc_redis_timeout." },
    [NGX_HTTP_CC_METRIC_REDIS_CONNECT_FAIL] =
        { "cc_redis_connect_failures_total",
          "Failed connections to a Redis shard." },
    [NGX_HTTP_CC_METRIC_REDIS_WAIT] =
        { "cc_redis_wait_total",
          "WAIT round trips after batches that write (cc_redis_wait)." },
    [NGX_HTTP_CC_METRIC_REDIS_WAIT_SHORT] =
        { "cc_redis_wait_short_total",
          "Batches answered 503: WAIT saw fewer replicas than cc_redis_wait." },
    [NGX_HTTP_CC_METRIC_REDIS_FAILOVERS] =
        { "cc_redis_failovers_total",
          "A shard's primary moved to another address (per worker)." },
    [NGX_HTTP_CC_METRIC_REDIS_PRIMARY_WAITING] =
        { "cc_redis_primary_waiting",
          "Requests waiting for their shard's primary now.", 1 },
    [NGX_HTTP_CC_METRIC_REDIS_PRIMARY_REFUSED] =
        { "cc_redis_primary_refused_total",
          "Requests answered 503: no primary within cc_redis_failover_wait." },
    [NGX_HTTP_CC_METRIC_REDIS_SENTINEL_FAIL] =
        { "cc_redis_sentinel_failures_total",
          "Sentinels that did not name a shard's primary when asked." },
    [NGX_HTTP_CC_METRIC_GIFT_DONE_DONE] =
        { "cc_gift_done_total{result=\"done\"}",
          "Delivered gifts taken out of the outbox after the answer "
          "(dropped: left to cc-redrive)." },
    [NGX_HTTP_CC_METRIC_GIFT_DONE_DROPPED] =
        { "cc_gift_done_total{result=\"dropped\"}", NULL },
    [NGX_HTTP_CC_METRIC_GIFT_DONE_BATCHES] =
        { "cc_gift_done_batches_total",
          "gift_done.lua calls sent (a batch of delivered gifts each)." },
    [NGX_HTTP_CC_METRIC_KAFKA_PRODUCED] =
        { "cc_kafka_produced_total", "Draws handed to the Kafka producer." },
    [NGX_HTTP_CC_METRIC_KAFKA_DELIVERED] =
        { "cc_kafka_delivered_total",
          "Draws the Kafka brokers acknowledged." },
    [NGX_HTTP_CC_METRIC_KAFKA_FAILED] =
        { "cc_kafka_failed_total",
          "Draws Kafka did not take (left to the reconciler)." },
    [NGX_HTTP_CC_METRIC_KAFKA_QUEUE_FULL] =
        { "cc_kafka_queue_full_total",
          "Draws not queued: the producer's local queue was full." },
    [NGX_HTTP_CC_METRIC_KAFKA_START_FAILED] =
        { "cc_kafka_start_failures_total",
          "Workers whose Kafka producer did not start (no draw published)." },
    [NGX_HTTP_CC_METRIC_KAFKA_DOWN] =
        { "cc_kafka_producers_down",
          "Workers running now without a Kafka producer.", 1 },

    [NGX_HTTP_CC_METRIC_UNAUTH_MISSING] =
        { "cc_unauthorized_total{reason=\"missing\"}",
          "401 answers by reason (cc_identity token)." },
    [NGX_HTTP_CC_METRIC_UNAUTH_MALFORMED] =
        { "cc_unauthorized_total{reason=\"malformed\"}", NULL },
    [NGX_HTTP_CC_METRIC_UNAUTH_BAD_SIGNATURE] =
        { "cc_unauthorized_total{reason=\"bad_signature\"}", NULL },
    [NGX_HTTP_CC_METRIC_UNAUTH_EXPIRED] =
        { "cc_unauthorized_total{reason=\"expired\"}", NULL },
    [NGX_HTTP_CC_METRIC_UNAUTH_TOO_LONG_LIVED] =
        { "cc_unauthorized_total{reason=\"too_long_lived\"}", NULL },
    [NGX_HTTP_CC_METRIC_UNAUTH_UNKNOWN_KEY] =
        { "cc_unauthorized_total{reason=\"unknown_key\"}", NULL },
};


/* the buckets' upper bounds in ms, and as printed; the last is +Inf */
static ngx_msec_t  ngx_http_cc_latency_le[NGX_HTTP_CC_LATENCY_BUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, NGX_MAX_INT32_VALUE
};

static char  *ngx_http_cc_latency_le_text[NGX_HTTP_CC_LATENCY_BUCKETS] = {
    "0.001", "0.002", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1", "2.5", "+Inf"
};

/* each histogram's name and help */
static ngx_http_cc_metric_desc_t  ngx_http_cc_hist_desc[NGX_HTTP_CC_HISTS] = {
    [NGX_HTTP_CC_HIST_NONE] = { NULL, NULL },
    [NGX_HTTP_CC_HIST_FLIP] =
        { "cc_flip_latency_seconds",
          "Flip requests by the time to their answer." },
    [NGX_HTTP_CC_HIST_CLAIM] =
        { "cc_claim_wait_seconds",
          "Claim requests by the time to their answer." },
    [NGX_HTTP_CC_HIST_WAIT] =
        { "cc_redis_wait_seconds",
          "Batches that write, by the time from their send to WAIT's "
          "answer (the replication lag seen)." },
};



static ngx_int_t ngx_http_cc_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static u_char *ngx_http_cc_hist_print(u_char *p, ngx_uint_t h,
    ngx_http_cc_hist_t *hist);
static u_char *ngx_http_cc_primary_print(ngx_http_request_t *r, u_char *p,
    ngx_http_cc_metrics_t *m);


static ngx_http_cc_metrics_t  *ngx_http_cc_metrics;
static ngx_slab_pool_t        *ngx_http_cc_metrics_pool;
static ngx_http_cc_metrics_t   ngx_http_cc_metrics_none;


ngx_int_t
ngx_http_cc_metrics_add_zone(ngx_conf_t *cf)
{
    ngx_str_t        name = ngx_string("cc_metrics");
    ngx_shm_zone_t  *zone;

    zone = ngx_shared_memory_add(cf, &name, 8 * ngx_pagesize,
                                 &ngx_http_cc_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_cc_metrics_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cc_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    ngx_http_cc_metrics_pool = (ngx_slab_pool_t *) zone->shm.addr;

    if (data) {
        /* a reload keeps the counters */
        zone->data = data;
        ngx_http_cc_metrics = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    ngx_http_cc_metrics_pool = shpool;

    ngx_http_cc_metrics = ngx_slab_calloc(shpool,
                                          sizeof(ngx_http_cc_metrics_t));
    if (ngx_http_cc_metrics == NULL) {
        return NGX_ERROR;
    }

    zone->data = (void *) ngx_http_cc_metrics;

    return NGX_OK;
}


void
ngx_http_cc_metric_inc(ngx_uint_t metric)
{
    ngx_http_cc_metrics_t  *m;

    m = ngx_http_cc_metrics ? ngx_http_cc_metrics : &ngx_http_cc_metrics_none;

    (void) ngx_atomic_fetch_add(&m->counter[metric], 1);
}


/* a gauge up or down; each worker takes back what it added */
void
ngx_http_cc_metric_add(ngx_uint_t metric, ngx_atomic_int_t delta)
{
    ngx_http_cc_metrics_t  *m;

    m = ngx_http_cc_metrics ? ngx_http_cc_metrics : &ngx_http_cc_metrics_none;

    (void) ngx_atomic_fetch_add(&m->counter[metric], delta);
}


/* cc_redis_primary{shard,addr}: a shard's primary, confirmed by ROLE */
void
ngx_http_cc_metric_primary(ngx_uint_t shard, u_char *addr, size_t len)
{
    ngx_http_cc_primary_t  *p;

    if (ngx_http_cc_metrics == NULL || shard >= NGX_HTTP_CC_PRIMARIES_MAX
        || len > NGX_HTTP_CC_PRIMARY_LEN)
    {
        return;
    }

    p = &ngx_http_cc_metrics->primary[shard];

    ngx_shmtx_lock(&ngx_http_cc_metrics_pool->mutex);
    ngx_memcpy(p->addr, addr, len);
    p->len = len;
    ngx_shmtx_unlock(&ngx_http_cc_metrics_pool->mutex);
}


/* one request answered after ms: its bucket of the histogram and the sum */
void
ngx_http_cc_latency_observe(ngx_uint_t hist, ngx_msec_t ms)
{
    ngx_uint_t              i;
    ngx_http_cc_metrics_t  *m;

    m = ngx_http_cc_metrics ? ngx_http_cc_metrics : &ngx_http_cc_metrics_none;

    for (i = 0; ms > ngx_http_cc_latency_le[i]; i++) { /* void */ }

    (void) ngx_atomic_fetch_add(&m->hist[hist].bucket[i], 1);
    (void) ngx_atomic_fetch_add(&m->hist[hist].sum_ms, ms);
}


ngx_int_t
ngx_http_cc_metrics_handler(ngx_http_request_t *r)
{
    u_char                 *p;
    size_t                  len;
    ngx_int_t               rc;
    ngx_uint_t              i;
    ngx_buf_t              *b;
    ngx_chain_t             out;
    ngx_http_cc_metrics_t  *m;
    ngx_http_cc_main_conf_t   *cmcf;
    ngx_http_cc_shard_conf_t  *shard;

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_cc_refuse_body(r, NULL);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    m = ngx_http_cc_metrics ? ngx_http_cc_metrics : &ngx_http_cc_metrics_none;

    len = 0;

    for (i = NGX_HTTP_CC_HIST_NONE + 1; i < NGX_HTTP_CC_HISTS; i++) {
        len += sizeof("# HELP  \n# TYPE  histogram\n")
               + 2 * ngx_strlen(ngx_http_cc_hist_desc[i].name)
               + ngx_strlen(ngx_http_cc_hist_desc[i].help)
               + (NGX_HTTP_CC_LATENCY_BUCKETS + 2)
                 * (ngx_strlen(ngx_http_cc_hist_desc[i].name)
                    + sizeof("_bucket{le=\"\"} \n") + 8
                    + NGX_ATOMIC_T_LEN + 4);
    }

    for (i = NGX_HTTP_CC_METRIC_NONE + 1; i < NGX_HTTP_CC_METRICS; i++) {
        len += ngx_strlen(ngx_http_cc_metric_desc[i].name) * 3
               + NGX_ATOMIC_T_LEN + 32;

        if (ngx_http_cc_metric_desc[i].help) {
            len += ngx_strlen(ngx_http_cc_metric_desc[i].help);
        }
    }

    len += sizeof("# HELP cc_redis_primary \n# TYPE cc_redis_primary gauge\n")
           + 80 + NGX_HTTP_CC_PRIMARIES_MAX
                  * (sizeof("cc_redis_primary{shard=\"\",addr=\"\"} 1\n")
                     + NGX_HTTP_CC_PRIMARY_LEN);

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);

    if (cmcf->shards) {
        shard = cmcf->shards->elts;

        for (i = 0; i < cmcf->shards->nelts; i++) {
            len += shard[i].name.len;
        }
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;

    for (i = NGX_HTTP_CC_METRIC_NONE + 1; i < NGX_HTTP_CC_METRICS; i++) {
        if (ngx_http_cc_metric_desc[i].help) {
            len = strcspn(ngx_http_cc_metric_desc[i].name, "{");
            p = ngx_sprintf(p, "# HELP %*s %s\n# TYPE %*s %s\n",
                            len, ngx_http_cc_metric_desc[i].name,
                            ngx_http_cc_metric_desc[i].help,
                            len, ngx_http_cc_metric_desc[i].name,
                            ngx_http_cc_metric_desc[i].gauge
                            ? "gauge" : "counter");
        }

        p = ngx_sprintf(p, "%s %uA\n", ngx_http_cc_metric_desc[i].name,
                        m->counter[i]);
    }

    for (i = NGX_HTTP_CC_HIST_NONE + 1; i < NGX_HTTP_CC_HISTS; i++) {
        p = ngx_http_cc_hist_print(p, i, &m->hist[i]);
    }

    p = ngx_http_cc_primary_print(r, p, m);

    b->last = p;
    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * A histogram in Prometheus's text.  The buckets are kept apart and
 * printed cumulative; the count is their sum, so it equals the +Inf bucket
 * even while workers add.
 */
static u_char *
ngx_http_cc_hist_print(u_char *p, ngx_uint_t h, ngx_http_cc_hist_t *hist)
{
    char               *name;
    ngx_uint_t          i;
    ngx_atomic_uint_t   n;

    name = ngx_http_cc_hist_desc[h].name;

    p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s histogram\n",
                    name, ngx_http_cc_hist_desc[h].help, name);

    n = 0;

    for (i = 0; i < NGX_HTTP_CC_LATENCY_BUCKETS; i++) {
        n += hist->bucket[i];
        p = ngx_sprintf(p, "%s_bucket{le=\"%s\"} %uA\n",
                        name, ngx_http_cc_latency_le_text[i], n);
    }

    return ngx_sprintf(p, "%s_sum %uA.%03uA\n%s_count %uA\n",
                       name, hist->sum_ms / 1000, hist->sum_ms % 1000,
                       name, n);
}


/* a gauge of 1 per shard with a confirmed primary, labelled by address */
static u_char *
ngx_http_cc_primary_print(ngx_http_request_t *r, u_char *p,
    ngx_http_cc_metrics_t *m)
{
    size_t                     len;
    ngx_uint_t                 i;
    ngx_http_cc_main_conf_t   *cmcf;
    ngx_http_cc_shard_conf_t  *shard;

    p = ngx_sprintf(p, "# HELP cc_redis_primary The primary each shard "
                    "follows (last confirmed by ROLE).\n"
                    "# TYPE cc_redis_primary gauge\n");

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);

    if (cmcf->shards == NULL || m == &ngx_http_cc_metrics_none) {
        return p;
    }

    shard = cmcf->shards->elts;

    for (i = 0; i < cmcf->shards->nelts && i < NGX_HTTP_CC_PRIMARIES_MAX; i++)
    {
        ngx_shmtx_lock(&ngx_http_cc_metrics_pool->mutex);

        len = m->primary[i].len;

        if (len) {
            p = ngx_sprintf(p, "cc_redis_primary{shard=\"%V\",addr=\"%*s\"} 1\n",
                            &shard[i].name, len, m->primary[i].addr);
        }

        ngx_shmtx_unlock(&ngx_http_cc_metrics_pool->mutex);
    }

    return p;
}
