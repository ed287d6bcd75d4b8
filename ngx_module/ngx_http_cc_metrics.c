/*
 * ngx_http_cc_metrics: counters shared by all workers (a shared memory
 * zone of atomics) and GET /cc/metrics, which prints them in Prometheus's
 * text format.
 */


#include "ngx_http_cc_module.h"


typedef struct {
    char                     *name;
    char                     *help;
} ngx_http_cc_metric_desc_t;


/* in the order of ngx_http_cc_metric_e */
static ngx_http_cc_metric_desc_t  ngx_http_cc_metric_desc[] = {
    { "cc_flips_total{result=\"ok\"}", "Flip requests by result." },
    { "cc_flips_total{result=\"replayed\"}", NULL },
    { "cc_flips_total{result=\"no_chances\"}", NULL },
    { "cc_flips_total{result=\"bad_request\"}", NULL },
    { "cc_flips_total{result=\"unavailable\"}", NULL },
    { "cc_grants_total{result=\"ok\"}", "Grant requests by result." },
    { "cc_grants_total{result=\"bad_request\"}", NULL },
    { "cc_grants_total{result=\"unavailable\"}", NULL },
    { "cc_combines_total{result=\"ok\"}", "Combine requests by result." },
    { "cc_combines_total{result=\"replayed\"}", NULL },
    { "cc_combines_total{result=\"missing_cards\"}", NULL },
    { "cc_combines_total{result=\"unavailable\"}", NULL },
    { "cc_closed_total",
      "Writes refused outside the campaign window." },
    { "cc_redis_timeouts_total",
      "Redis calls not answered within cc_redis_timeout." },
    { "cc_redis_connect_failures_total",
      "Failed connections to a Redis shard." },
    { "cc_kafka_produced_total", "Draws handed to the Kafka producer." },
    { "cc_kafka_delivered_total", "Draws the Kafka brokers acknowledged." },
    { "cc_kafka_failed_total",
      "Draws Kafka did not take (left to the reconciler)." },
    { "cc_kafka_queue_full_total",
      "Draws not queued: the producer's local queue was full." },
};


static ngx_int_t ngx_http_cc_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);


static ngx_atomic_t  *ngx_http_cc_metrics;
static ngx_atomic_t   ngx_http_cc_metrics_none[NGX_HTTP_CC_METRIC_N];


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

    if (data) {
        /* a reload keeps the counters */
        zone->data = data;
        ngx_http_cc_metrics = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    ngx_http_cc_metrics = ngx_slab_calloc(shpool, NGX_HTTP_CC_METRIC_N
                                                  * sizeof(ngx_atomic_t));
    if (ngx_http_cc_metrics == NULL) {
        return NGX_ERROR;
    }

    zone->data = (void *) ngx_http_cc_metrics;

    return NGX_OK;
}


void
ngx_http_cc_metric_inc(ngx_uint_t metric)
{
    ngx_atomic_t  *m;

    if (metric >= NGX_HTTP_CC_METRIC_N) {
        return;
    }

    m = ngx_http_cc_metrics ? ngx_http_cc_metrics : ngx_http_cc_metrics_none;

    (void) ngx_atomic_fetch_add(&m[metric], 1);
}


ngx_int_t
ngx_http_cc_metrics_handler(ngx_http_request_t *r)
{
    u_char        *p;
    size_t         len;
    ngx_int_t      rc;
    ngx_uint_t     i;
    ngx_buf_t     *b;
    ngx_chain_t    out;
    ngx_atomic_t  *m;

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    m = ngx_http_cc_metrics ? ngx_http_cc_metrics : ngx_http_cc_metrics_none;

    len = 0;

    for (i = 0; i < NGX_HTTP_CC_METRIC_N; i++) {
        len += ngx_strlen(ngx_http_cc_metric_desc[i].name) * 3
               + NGX_ATOMIC_T_LEN + 32;

        if (ngx_http_cc_metric_desc[i].help) {
            len += ngx_strlen(ngx_http_cc_metric_desc[i].help);
        }
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;

    for (i = 0; i < NGX_HTTP_CC_METRIC_N; i++) {
        if (ngx_http_cc_metric_desc[i].help) {
            len = strcspn(ngx_http_cc_metric_desc[i].name, "{");
            p = ngx_sprintf(p, "# HELP %*s %s\n# TYPE %*s counter\n",
                            len, ngx_http_cc_metric_desc[i].name,
                            ngx_http_cc_metric_desc[i].help,
                            len, ngx_http_cc_metric_desc[i].name);
        }

        p = ngx_sprintf(p, "%s %uA\n", ngx_http_cc_metric_desc[i].name,
                        m[i]);
    }

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
