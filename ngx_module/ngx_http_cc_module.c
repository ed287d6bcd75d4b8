/*
 * ngx_http_cc_module: directives, configuration and process hooks.
 *
 * The endpoints live in ngx_http_cc_flip.c, _grant.c, _combine.c,
 * _eligibility.c, _award.c, _claim.c, _gift.c, _ask.c and _metrics.c,
 * what they share in _util.c; the Lua they run in Redis in
 * lua/<name>.lua, put together in _script.c; the rare cards' stock in
 * _stock.c; the wildcard kind (万能福) in _wildcard.c; the Redis shards in
 * _redis_conn.c, _redis_batch.c and _redis_adapter.c; the Kafka producer
 * in _kafka.c.
 */


#include "ngx_http_cc_module.h"
#include "cc_addr.h"


static void *ngx_http_cc_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_cc_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_cc_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_cc_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_cc_check_window(ngx_conf_t *cf,
    ngx_http_cc_main_conf_t *cmcf);
static ngx_int_t ngx_http_cc_check_identity(ngx_conf_t *cf,
    ngx_http_handler_pt handler, ngx_uint_t identity);
static ngx_int_t ngx_http_cc_init_process(ngx_cycle_t *cycle);
static void ngx_http_cc_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_cc_redis_shards(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cc_redis_auth_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_cc_cards(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cc_identity(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cc_token_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cc_token_key_add(ngx_conf_t *cf,
    ngx_http_cc_loc_conf_t *clcf, ngx_str_t *kid, ngx_str_t *file);
static char *ngx_http_cc_check_sec(ngx_conf_t *cf, void *post, void *data);
static char *ngx_http_cc_set_handler(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cc_set_time(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_cc_check_msec(ngx_conf_t *cf, void *post, void *data);


/* the bounds of a time directive, checked by ngx_http_cc_check_msec() */
typedef struct {
    ngx_conf_post_handler_pt  post_handler;
    ngx_msec_t                low;
    ngx_msec_t                high;
    char                     *error;
} ngx_http_cc_msec_bounds_t;


/* the bounds of a directive in seconds, checked by ngx_http_cc_check_sec() */
typedef struct {
    ngx_conf_post_handler_pt  post_handler;
    time_t                    low;
    time_t                    high;
    char                     *error;
} ngx_http_cc_sec_bounds_t;


static ngx_http_cc_msec_bounds_t  ngx_http_cc_claim_poll_bounds = {
    ngx_http_cc_check_msec, 1, 10000, "must be between 1ms and 10s"
};

static ngx_http_cc_msec_bounds_t  ngx_http_cc_claim_wait_bounds = {
    ngx_http_cc_check_msec, 0, 60000, "must be between 0 and 60s"
};

static ngx_http_cc_msec_bounds_t  ngx_http_cc_claim_poll_max_bounds = {
    ngx_http_cc_check_msec, 1, 10000, "must be between 1ms and 10s"
};

static ngx_conf_num_bounds_t  ngx_http_cc_claim_waiters_bounds = {
    ngx_conf_check_num_bounds, 0, 1000000
};


/* issue 19: gifts and asks */
static ngx_conf_num_bounds_t  ngx_http_cc_gift_limit_bounds = {
    ngx_conf_check_num_bounds, 1, 10000
};

static ngx_conf_num_bounds_t  ngx_http_cc_ask_limit_bounds = {
    ngx_conf_check_num_bounds, 1, 1000
};

static ngx_http_cc_sec_bounds_t  ngx_http_cc_ask_ttl_bounds = {
    ngx_http_cc_check_sec, 60, 2592000, "must be between 1m and 30d"
};


static ngx_http_cc_sec_bounds_t  ngx_http_cc_token_max_ttl_bounds = {
    ngx_http_cc_check_sec, 60, 31536000, "must be between 1m and 365d"
};


static ngx_command_t  ngx_http_cc_commands[] = {

    { ngx_string("cc_redis_shards"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_cc_redis_shards,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cc_redis_auth"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_cc_redis_auth_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    /* issue 18: Sentinel, failover, WAIT (ngx_http_cc_redis_sentinel.c) */
    { ngx_string("cc_redis_sentinels"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_cc_redis_sentinels,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cc_redis_failover_wait"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_cc_redis_failover_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, failover_waiters),
      NULL },

    { ngx_string("cc_redis_wait"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_cc_redis_failover_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, wait_replicas),
      NULL },

    { ngx_string("cc_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, redis_timeout),
      NULL },

    { ngx_string("cc_request_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, request_ttl),
      NULL },

    { ngx_string("cc_cards"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_cc_cards,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cc_card_stock"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_cc_card_stock,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cc_wildcard_kind"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, wildcard),
      NULL },

    { ngx_string("cc_campaign_start"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cc_set_time,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, start),
      NULL },

    { ngx_string("cc_campaign_end"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cc_set_time,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, end),
      NULL },

    { ngx_string("cc_combine_cutoff"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cc_set_time,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, cutoff),
      NULL },

    { ngx_string("cc_claim_poll"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, claim_poll),
      &ngx_http_cc_claim_poll_bounds },

    { ngx_string("cc_claim_wait"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, claim_wait),
      &ngx_http_cc_claim_wait_bounds },

    { ngx_string("cc_claim_poll_max"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, claim_poll_max),
      &ngx_http_cc_claim_poll_max_bounds },

    { ngx_string("cc_claim_waiters"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, claim_waiters),
      &ngx_http_cc_claim_waiters_bounds },

    { ngx_string("cc_claim_wake"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, claim_wake),
      NULL },

    { ngx_string("cc_gift_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, gift_limit),
      &ngx_http_cc_gift_limit_bounds },

    { ngx_string("cc_gift_rare"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, gift_rare),
      NULL },

    { ngx_string("cc_ask_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, ask_limit),
      &ngx_http_cc_ask_limit_bounds },

    { ngx_string("cc_ask_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, ask_ttl),
      &ngx_http_cc_ask_ttl_bounds },

    { ngx_string("cc_kafka_brokers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, kafka_brokers),
      NULL },

    { ngx_string("cc_kafka_topic"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, kafka_topic),
      NULL },

    { ngx_string("cc_kafka_flush_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, kafka_flush_timeout),
      NULL },

    { ngx_string("cc_kafka_property"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_cc_kafka_property,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cc_main_conf_t, kafka_properties),
      NULL },

    { ngx_string("cc_identity"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_cc_identity,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cc_token_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_cc_token_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cc_token_max_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cc_loc_conf_t, max_ttl),
      &ngx_http_cc_token_max_ttl_bounds },

    { ngx_string("cc_flip"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cc_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_cc_flip_handler },

    { ngx_string("cc_grant"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cc_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_cc_grant_handler },

    { ngx_string("cc_eligibility"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cc_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_cc_eligibility_handler },

    { ngx_string("cc_combine"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cc_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_cc_combine_handler },

    { ngx_string("cc_award"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cc_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_cc_award_handler },

    { ngx_string("cc_claim"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cc_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_cc_claim_handler },

    { ngx_string("cc_gift"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cc_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_cc_gift_handler },

    { ngx_string("cc_ask"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cc_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_cc_ask_handler },

    { ngx_string("cc_gifts"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cc_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_cc_gifts_handler },

    { ngx_string("cc_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_cc_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_cc_metrics_handler },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_cc_module_ctx = {
    ngx_http_cc_add_variables,             /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_cc_create_main_conf,          /* create main configuration */
    ngx_http_cc_init_main_conf,            /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_cc_create_loc_conf,           /* create location configuration */
    ngx_http_cc_merge_loc_conf             /* merge location configuration */
};


ngx_module_t  ngx_http_cc_module = {
    NGX_MODULE_V1,
    &ngx_http_cc_module_ctx,               /* module context */
    ngx_http_cc_commands,                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_cc_init_process,              /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_cc_exit_process,              /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_cc_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cc_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     cmcf->shards = NULL;
     *     cmcf->cards_set = 0;
     *     cmcf->handlers = 0;
     *     cmcf->kafka_brokers = { 0, NULL };
     *     cmcf->kafka_topic = { 0, NULL };
     *     cmcf->kafka_properties = NULL;
     */

    cmcf->redis_timeout = NGX_CONF_UNSET_MSEC;
    cmcf->request_ttl = NGX_CONF_UNSET;
    cmcf->kafka_flush_timeout = NGX_CONF_UNSET_MSEC;
    cmcf->start = NGX_CONF_UNSET;
    cmcf->end = NGX_CONF_UNSET;
    cmcf->cutoff = NGX_CONF_UNSET;
    cmcf->claim_poll = NGX_CONF_UNSET_MSEC;
    cmcf->claim_wait = NGX_CONF_UNSET_MSEC;
    cmcf->claim_poll_max = NGX_CONF_UNSET_MSEC;
    cmcf->claim_waiters = NGX_CONF_UNSET;
    cmcf->claim_wake = NGX_CONF_UNSET;
    cmcf->failover_waiters = NGX_CONF_UNSET;
    cmcf->failover_wait = NGX_CONF_UNSET_MSEC;
    cmcf->wait_replicas = NGX_CONF_UNSET;
    cmcf->wait_timeout = NGX_CONF_UNSET_MSEC;
    cmcf->gift_limit = NGX_CONF_UNSET;
    cmcf->gift_rare = NGX_CONF_UNSET;
    cmcf->ask_limit = NGX_CONF_UNSET;
    cmcf->ask_ttl = NGX_CONF_UNSET;
    cmcf->wildcard = NGX_CONF_UNSET;

    return cmcf;
}


static char *
ngx_http_cc_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_cc_main_conf_t *cmcf = conf;

    size_t                     *lens;
    ngx_uint_t                  i, n;
    const char                **names;
    cc_ring_point_t            *points;
    ngx_http_cc_shard_conf_t   *shard;

    ngx_conf_init_msec_value(cmcf->redis_timeout, 200);
    ngx_conf_init_value(cmcf->request_ttl, 86400);
    ngx_conf_init_msec_value(cmcf->kafka_flush_timeout, 3000);
    ngx_conf_init_msec_value(cmcf->claim_poll, 5);
    ngx_conf_init_msec_value(cmcf->claim_wait, 1000);
    ngx_conf_init_value(cmcf->claim_waiters, 1024);
    ngx_conf_init_value(cmcf->claim_wake, 1);
    ngx_conf_init_value(cmcf->gift_limit, 20);
    ngx_conf_init_value(cmcf->gift_rare, 0);
    ngx_conf_init_value(cmcf->ask_limit, 10);
    ngx_conf_init_value(cmcf->ask_ttl, 86400);

    if (cmcf->claim_poll_max == NGX_CONF_UNSET_MSEC) {
        cmcf->claim_poll_max = ngx_max(cmcf->claim_poll, 100);

    } else if (cmcf->claim_poll_max < cmcf->claim_poll) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"cc_claim_poll_max\" must not be below "
                      "\"cc_claim_poll\"");
        return NGX_CONF_ERROR;
    }

    if (cmcf->kafka_topic.data == NULL) {
        ngx_str_set(&cmcf->kafka_topic, "cc.draws");
    }

    if (ngx_http_cc_kafka_check(cf, cmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cc_metrics_add_zone(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (!cmcf->cards_set) {
        cc_cards_default(&cmcf->cards);
    }

    if (ngx_http_cc_check_window(cf, cmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cc_stock_check(cf, cmcf) != NGX_OK
        || ngx_http_cc_wildcard_check(cf, cmcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (cmcf->shards == NULL) {
        if (cmcf->handlers) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"cc_redis_shards\" is required where "
                          "a handler other than \"cc_metrics\" is used");
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (ngx_http_cc_redis_failover_check(cf, cmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    n = cmcf->shards->nelts;
    shard = cmcf->shards->elts;

    names = ngx_palloc(cf->pool, n * sizeof(char *));
    lens = ngx_palloc(cf->pool, n * sizeof(size_t));
    points = ngx_palloc(cf->pool, cc_ring_npoints(n) * sizeof(cc_ring_point_t));

    if (names == NULL || lens == NULL || points == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < n; i++) {
        names[i] = (const char *) shard[i].name.data;
        lens[i] = shard[i].name.len;
    }

    if (cc_ring_build(&cmcf->ring, points, names, lens, n) != 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "too many redis shards: %ui, at most %d",
                      n, CC_RING_SHARDS_MAX);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cc_scripts_build(cf, cmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_cc_check_window(ngx_conf_t *cf, ngx_http_cc_main_conf_t *cmcf)
{
    if (cmcf->start != NGX_CONF_UNSET && cmcf->end != NGX_CONF_UNSET
        && cmcf->start >= cmcf->end)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"cc_campaign_start\" must be before "
                      "\"cc_campaign_end\"");
        return NGX_ERROR;
    }

    if (cmcf->cutoff != NGX_CONF_UNSET
        && ((cmcf->start != NGX_CONF_UNSET && cmcf->cutoff <= cmcf->start)
            || (cmcf->end != NGX_CONF_UNSET && cmcf->cutoff > cmcf->end)))
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"cc_combine_cutoff\" must be after "
                      "\"cc_campaign_start\" and not after "
                      "\"cc_campaign_end\"");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void *
ngx_http_cc_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_cc_loc_conf_t  *clcf;

    clcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cc_loc_conf_t));
    if (clcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     clcf->uid_header = { 0, NULL };
     */

    clcf->identity = NGX_CONF_UNSET_UINT;
    clcf->uid_var_index = NGX_CONF_UNSET;
    clcf->keys = NGX_CONF_UNSET_PTR;
    clcf->max_ttl = NGX_CONF_UNSET;

    return clcf;
}


static char *
ngx_http_cc_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_cc_loc_conf_t *prev = parent;
    ngx_http_cc_loc_conf_t *conf = child;

    u_char                    *p;
    ngx_str_t                  var;
    ngx_uint_t                 i;
    ngx_http_core_loc_conf_t  *hclcf;

    /* no default: trusting a header nobody strips is a choice to write */
    ngx_conf_merge_uint_value(conf->identity, prev->identity,
                              NGX_CONF_UNSET_UINT);

    hclcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (ngx_http_cc_check_identity(cf, hclcf->handler, conf->identity)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the keys of one level replace the outer level's, as nginx's arrays */
    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_sec_value(conf->max_ttl, prev->max_ttl, CC_TOKEN_MAX_TTL);

    if (conf->identity == NGX_HTTP_CC_IDENTITY_TOKEN && conf->keys == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cc_identity token\" has no key in scope: give "
                           "it a FILE, or \"cc_token_key KID FILE\"");
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_str_value(conf->uid_header, prev->uid_header, "X-CC-Uid");

    if (conf->uid_var_index != NGX_CONF_UNSET) {
        return NGX_CONF_OK;
    }

    /* the header is read through its $http_ variable, as nginx does */

    var.len = sizeof("http_") - 1 + conf->uid_header.len;
    var.data = ngx_pnalloc(cf->pool, var.len);
    if (var.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(var.data, "http_", sizeof("http_") - 1);

    for (i = 0; i < conf->uid_header.len; i++) {
        p[i] = conf->uid_header.data[i] == '-'
               ? '_' : ngx_tolower(conf->uid_header.data[i]);
    }

    conf->uid_var_index = ngx_http_get_variable_index(cf, &var);
    if (conf->uid_var_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The identity is an explicit choice: a location whose handler acts for a
 * user has a cc_identity in scope, or a client names any user it likes.
 * A grant acts for the user the location names; behind a token that user
 * is whoever holds one, so a user would grant themselves chances: grants
 * belong on an internal server whose trusted header is set by the system
 * that grants, and only there.
 */
static ngx_int_t
ngx_http_cc_check_identity(ngx_conf_t *cf, ngx_http_handler_pt handler,
    ngx_uint_t identity)
{
    char  *name;

    if (handler == ngx_http_cc_grant_handler) {
        if (identity == NGX_HTTP_CC_IDENTITY_TRUSTED_HEADER) {
            return NGX_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           identity == NGX_HTTP_CC_IDENTITY_TOKEN
                           ? "\"cc_grant\" is refused behind \"cc_identity "
                             "token\": a user would grant themselves "
                             "chances; serve it on an internal server with "
                             "\"cc_identity trusted_header\""
                           : "\"cc_grant\" requires \"cc_identity "
                             "trusted_header\" in its location, server or "
                             "http block, on an internal server whose "
                             "header the granting system sets");
        return NGX_ERROR;
    }

    name = (handler == ngx_http_cc_flip_handler) ? "cc_flip"
           : (handler == ngx_http_cc_combine_handler) ? "cc_combine"
           : (handler == ngx_http_cc_eligibility_handler) ? "cc_eligibility"
           : (handler == ngx_http_cc_award_handler) ? "cc_award"
           : (handler == ngx_http_cc_claim_handler) ? "cc_claim"
           : (handler == ngx_http_cc_gift_handler) ? "cc_gift"
           : (handler == ngx_http_cc_ask_handler) ? "cc_ask"
           : (handler == ngx_http_cc_gifts_handler) ? "cc_gifts"
           : NULL;

    if (name != NULL && identity == NGX_CONF_UNSET_UINT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" requires \"cc_identity\" in its "
                           "location, server or http block: \"token FILE\" "
                           "or \"trusted_header NAME\" (no identity is "
                           "trusted by default)", name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cc_init_process(ngx_cycle_t *cycle)
{
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_cc_module);

    if (cmcf == NULL || cmcf->shards == NULL) {
        return NGX_OK;
    }

    /* never fatal: a worker without producer still serves every draw */
    ngx_http_cc_kafka_init_process(cycle, cmcf);

    return ngx_http_cc_redis_init_process(cycle);
}


static void
ngx_http_cc_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_cc_kafka_exit_process(cycle);
    ngx_http_cc_redis_exit_process(cycle);
}


static char *
ngx_http_cc_redis_shards(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cc_main_conf_t *cmcf = conf;

    size_t                     len;
    cc_addr_t                  addr;
    ngx_str_t                 *value;
    const char                *why;
    ngx_uint_t                 i, j;
    ngx_http_cc_shard_conf_t  *shard, *all;

    if (cmcf->shards != NULL) {
        return "is duplicate";
    }

    cmcf->shards = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                    sizeof(ngx_http_cc_shard_conf_t));
    if (cmcf->shards == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        /* "[::1]:6379" too: cc_addr returns the host without brackets */

        /* not "host:port": a Sentinel master name, if cc_redis_sentinels
         * is set; else an error (ngx_http_cc_redis_failover_check) */

        if (cc_addr_parse((const char *) value[i].data, value[i].len, &addr,
                          &why)
            != 0)
        {
            addr.host[0] = '\0';
            addr.port = 0;

        } else {
            why = NULL;
        }

        all = cmcf->shards->elts;

        for (j = 0; j < cmcf->shards->nelts; j++) {
            if (all[j].name.len == value[i].len
                && ngx_strncmp(all[j].name.data, value[i].data,
                               value[i].len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate redis shard \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        shard = ngx_array_push(cmcf->shards);
        if (shard == NULL) {
            return NGX_CONF_ERROR;
        }

        shard->name = value[i];
        shard->port = (in_port_t) addr.port;
        shard->why = why;

        len = ngx_strlen(addr.host);
        shard->host.len = len;
        shard->host.data = ngx_pnalloc(cf->pool, len + 1);
        if (shard->host.data == NULL) {
            return NGX_CONF_ERROR;
        }

        (void) ngx_cpystrn(shard->host.data, (u_char *) addr.host, len + 1);
    }

    if (cmcf->shards->nelts > CC_RING_SHARDS_MAX) {
        return "has too many shards";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_cc_cards(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cc_main_conf_t *cmcf = conf;

    uint32_t     w[CC_KINDS_MAX];
    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_uint_t   i, nkinds;

    if (cmcf->cards_set) {
        return "is duplicate";
    }

    value = cf->args->elts;
    nkinds = cf->args->nelts - 1;

    if (nkinds < CC_KINDS_MIN || nkinds > CC_KINDS_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cc_cards\" takes %d to %d weights, not %ui",
                           CC_KINDS_MIN, CC_KINDS_MAX, nkinds);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < nkinds; i++) {
        n = ngx_atoi(value[i + 1].data, value[i + 1].len);

        if (n < 1 || n > CC_WEIGHT_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid card weight \"%V\", "
                               "expected 1..%d", &value[i + 1],
                               CC_WEIGHT_MAX);
            return NGX_CONF_ERROR;
        }

        w[i] = (uint32_t) n;
    }

    if (cc_cards_set(&cmcf->cards, w, nkinds) != 0) {
        return "is invalid";
    }

    cmcf->cards_set = 1;

    return NGX_CONF_OK;
}


/*
 * cc_identity trusted_header NAME: the uid is the header NAME, set by a
 * gateway in front that authenticated the user (and strips it from
 * clients).  cc_identity token [FILE]: the uid comes from a signed token
 * in "Authorization: Bearer" (cc_token.h), verified with the secret in
 * FILE, the key of id "0", and with the keys of cc_token_key.
 */
static char *
ngx_http_cc_identity(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cc_loc_conf_t *clcf = conf;

    u_char       ch;
    ngx_str_t   *value, kid;
    ngx_uint_t   i;

    if (clcf->identity != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "token") == 0) {
        clcf->identity = NGX_HTTP_CC_IDENTITY_TOKEN;

        if (cf->args->nelts == 2) {
            return NGX_CONF_OK;         /* the keys are cc_token_key's */
        }

        ngx_str_set(&kid, CC_TOKEN_KID_DEFAULT);

        return ngx_http_cc_token_key_add(cf, clcf, &kid, &value[2]);
    }

    if (ngx_strcmp(value[1].data, "trusted_header") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid identity mode \"%V\", "
                           "expected \"trusted_header\" or \"token\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts != 3) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cc_identity trusted_header\" needs the "
                           "header's name");
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < value[2].len; i++) {
        ch = ngx_tolower(value[2].data[i]);

        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
              || ch == '-' || ch == '_'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid header name \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    clcf->identity = NGX_HTTP_CC_IDENTITY_TRUSTED_HEADER;
    clcf->uid_header = value[2];

    return NGX_CONF_OK;
}


/* cc_token_key KID FILE: one more key a token may name, for rotations */
static char *
ngx_http_cc_token_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *value;

    value = cf->args->elts;

    return ngx_http_cc_token_key_add(cf, conf, &value[1], &value[2]);
}


static char *
ngx_http_cc_token_key_add(ngx_conf_t *cf, ngx_http_cc_loc_conf_t *clcf,
    ngx_str_t *kid, ngx_str_t *file)
{
    char             err[256];
    u_char          *buf;
    size_t           len;
    ngx_str_t        path;
    ngx_uint_t       i;
    cc_token_key_t  *key;

    if (!cc_token_kid_valid((char *) kid->data, kid->len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid token key id \"%V\", expected 1 to %d "
                           "of A-Z, a-z, 0-9, \"-\" and \"_\"", kid,
                           CC_TOKEN_KID_MAX);
        return NGX_CONF_ERROR;
    }

    if (clcf->keys == NGX_CONF_UNSET_PTR) {
        clcf->keys = ngx_array_create(cf->pool, 2, sizeof(cc_token_key_t));
        if (clcf->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    key = clcf->keys->elts;

    for (i = 0; i < clcf->keys->nelts; i++) {
        if (key[i].kid_len == kid->len
            && ngx_strncmp(key[i].kid, kid->data, kid->len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate token key id \"%V\"%s", kid,
                               kid->len == 1 && kid->data[0] == '0'
                               ? " (\"cc_identity token FILE\" is key \"0\")"
                               : "");
            return NGX_CONF_ERROR;
        }
    }

    path = *file;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    buf = ngx_pnalloc(cf->pool, CC_TOKEN_SECRET_MAX);
    if (buf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (cc_token_load_secret((char *) path.data, buf, CC_TOKEN_SECRET_MAX,
                             &len, err, sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err);
        return NGX_CONF_ERROR;
    }

    key = ngx_array_push(clcf->keys);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    key->kid = (char *) kid->data;      /* the conf's, for the cycle */
    key->kid_len = kid->len;
    key->secret = buf;
    key->slen = len;

    return NGX_CONF_OK;
}


static char *
ngx_http_cc_set_handler(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *hclcf;
    ngx_http_cc_main_conf_t   *cmcf;

    hclcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (hclcf->handler != NULL) {
        return "is duplicate";
    }

    hclcf->handler = (ngx_http_handler_pt) cmd->post;

    if (hclcf->handler != ngx_http_cc_metrics_handler) {
        cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cc_module);
        cmcf->handlers = 1;

        /* the workers subscribe to cc:credited (ngx_http_cc_claim_sub.c) */
        cmcf->claims |= (hclcf->handler == ngx_http_cc_claim_handler);
    }

    return NGX_CONF_OK;
}


/*
 * cc_redis_auth USER PASSWORD_FILE: AUTH on every new Redis connection
 * (ngx_http_cc_redis_conn.c).  The file is read here, by the master, so
 * the workers need no access to it; like the workers' secrets it must
 * give group and others no access, and one trailing newline is dropped.
 */
static char *
ngx_http_cc_redis_auth_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cc_main_conf_t *cmcf = conf;

    u_char              *p;
    ngx_str_t           *value, name;
    cc_secretfile_t      sf;
    cc_secretfile_rc_e   rc;

    if (cmcf->redis_user.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[2];

    if (value[1].len == 0) {
        return "has an empty user";
    }

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* 4095 bytes at most: a longer file is refused, never truncated */
    p = ngx_pnalloc(cf->pool, 4096);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    rc = cc_secretfile_read((char *) name.data, (char *) p, 4096, &sf);

    switch (rc) {

    case CC_SECRETFILE_OK:
        cmcf->redis_user = value[1];
        cmcf->redis_password.data = p;
        cmcf->redis_password.len = sf.len;
        return NGX_CONF_OK;

    case CC_SECRETFILE_OPEN:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, sf.errnum,
                           ngx_open_file_n " \"%V\" failed", &name);
        break;

    case CC_SECRETFILE_READ:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, sf.errnum,
                           "redis password file \"%V\": read failed", &name);
        break;

    case CC_SECRETFILE_MODE:
        /* ngx_sprintf has no octal: the digits, as a decimal */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis password file \"%V\" gives group or "
                           "others access (mode %04ui): chmod it 0600",
                           &name, (ngx_uint_t) ((sf.mode >> 9 & 7) * 1000
                                                + (sf.mode >> 6 & 7) * 100
                                                + (sf.mode >> 3 & 7) * 10
                                                + (sf.mode & 7)));
        break;

    case CC_SECRETFILE_NOT_REGULAR:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis password file \"%V\" is not a regular "
                           "file", &name);
        break;

    case CC_SECRETFILE_TOO_LONG:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis password file \"%V\" is longer than 4095 "
                           "bytes", &name);
        break;

    case CC_SECRETFILE_NUL:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis password file \"%V\" holds a NUL byte",
                           &name);
        break;

    default: /* CC_SECRETFILE_EMPTY */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis password file \"%V\" is %s", &name,
                           cc_secretfile_strerror(rc));
    }

    return NGX_CONF_ERROR;
}


/*
 * A moment: unix seconds ("1767225600"), or UTC as "2026-01-01T00:00:00Z".
 */
static char *
ngx_http_cc_set_time(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    char       *end;
    time_t     *t, v;
    ngx_str_t  *value;
    struct tm   tm;

    t = (time_t *) (p + cmd->offset);

    if (*t != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    v = ngx_atotm(value[1].data, value[1].len);

    if (v == NGX_ERROR) {
        ngx_memzero(&tm, sizeof(struct tm));
        end = strptime((char *) value[1].data, "%Y-%m-%dT%H:%M:%SZ", &tm);

        if (end == NULL || *end != '\0') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid time \"%V\", expected unix seconds "
                               "or YYYY-MM-DDTHH:MM:SSZ", &value[1]);
            return NGX_CONF_ERROR;
        }

        v = timegm(&tm);
    }

    *t = v;

    return NGX_CONF_OK;
}


static char *
ngx_http_cc_check_msec(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_cc_msec_bounds_t  *bounds = post;
    ngx_msec_t                 *ms = data;

    if (*ms < bounds->low || *ms > bounds->high) {
        return bounds->error;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_cc_check_sec(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_cc_sec_bounds_t  *bounds = post;
    time_t                    *sec = data;

    if (*sec < bounds->low || *sec > bounds->high) {
        return bounds->error;
    }

    return NGX_CONF_OK;
}
