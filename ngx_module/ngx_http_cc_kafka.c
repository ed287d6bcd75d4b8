/*
 * ngx_http_cc_kafka: each worker's librdkafka producer, the fast path of a
 * draw to MySQL.
 *
 * Publishes each new draw and each combine, keyed by the uid.  Created at
 * worker start (librdkafka's threads must not cross the
 * master's fork), polled from a cancelable nginx timer (delivery reports,
 * errors and librdkafka's own log lines, which log.queue routes to this
 * thread), flushed with a bounded wait at worker exit.  Producing never
 * blocks a request and never fails it: a full queue or a broker outage is
 * counted in the metrics, and the draw still reaches MySQL through the
 * Redis draw log and cc-reconcile (see README, "No draw lost").
 */


#include "ngx_http_cc_module.h"

#include <librdkafka/rdkafka.h>


#define NGX_HTTP_CC_KAFKA_POLL_MS  100


static rd_kafka_conf_t *ngx_http_cc_kafka_conf(
    ngx_http_cc_main_conf_t *cmcf, char *brokers, char *errstr,
    size_t size);
static void ngx_http_cc_kafka_send(uint64_t uid, char *json);
static void ngx_http_cc_kafka_poll(ngx_event_t *ev);
static void ngx_http_cc_kafka_dr(rd_kafka_t *rk,
    const rd_kafka_message_t *m, void *opaque);
static void ngx_http_cc_kafka_error(rd_kafka_t *rk, int err,
    const char *reason, void *opaque);
static void ngx_http_cc_kafka_log(const rd_kafka_t *rk, int level,
    const char *fac, const char *buf);


/* per worker process */
static rd_kafka_t        *ngx_http_cc_kafka_rk;
static rd_kafka_topic_t  *ngx_http_cc_kafka_rkt;
static ngx_event_t        ngx_http_cc_kafka_poll_ev;
static ngx_msec_t         ngx_http_cc_kafka_flush_timeout;
static ngx_uint_t         ngx_http_cc_kafka_down;   /* in the gauge */


/*
 * The producer's configuration: the module's settings, then the
 * operator's (cc_kafka_property), then the callbacks.  Without
 * bootstrap.servers (brokers NULL) for the check at nginx -t, which must
 * not connect anywhere.  NULL with errstr filled on error.
 */
static rd_kafka_conf_t *
ngx_http_cc_kafka_conf(ngx_http_cc_main_conf_t *cmcf, char *brokers,
    char *errstr, size_t size)
{
    char              id[64];
    ngx_uint_t        i;
    ngx_keyval_t     *kv;
    rd_kafka_conf_t  *conf;

    static char  *settings[][2] = {
        { "linger.ms", "5" },
        { "queue.buffering.max.messages", "500000" },
        { "message.timeout.ms", "300000" },
        { "log.queue", "true" },
        { "log_level", "4" },
    };

    conf = rd_kafka_conf_new();
    if (conf == NULL) {
        (void) ngx_cpystrn((u_char *) errstr, (u_char *) "out of memory",
                           size);
        return NULL;
    }

    (void) ngx_snprintf((u_char *) id, sizeof(id), "cc-nginx-%P%Z", ngx_pid);

    if ((brokers != NULL
         && rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
                              size) != RD_KAFKA_CONF_OK)
        || rd_kafka_conf_set(conf, "client.id", id, errstr, size)
           != RD_KAFKA_CONF_OK)
    {
        goto failed;
    }

    for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], errstr,
                              size) != RD_KAFKA_CONF_OK)
        {
            goto failed;
        }
    }

    /*
     * the operator's properties last: they win (SASL, TLS, client.id),
     * never one of ngx_http_cc_kafka_own (refused at nginx -t)
     */
    if (cmcf->kafka_properties != NULL) {
        kv = cmcf->kafka_properties->elts;

        for (i = 0; i < cmcf->kafka_properties->nelts; i++) {
            if (rd_kafka_conf_set(conf, (char *) kv[i].key.data,
                                  (char *) kv[i].value.data, errstr, size)
                != RD_KAFKA_CONF_OK)
            {
                goto failed;
            }
        }
    }

    rd_kafka_conf_set_dr_msg_cb(conf, ngx_http_cc_kafka_dr);
    rd_kafka_conf_set_error_cb(conf, ngx_http_cc_kafka_error);
    rd_kafka_conf_set_log_cb(conf, ngx_http_cc_kafka_log);

    return conf;

failed:

    rd_kafka_conf_destroy(conf);

    return NULL;
}


/*
 * At nginx -t and at each (re)load, in the master: a client made and
 * destroyed, without brokers, so that what librdkafka checks only in
 * rd_kafka_new() (the SSL files, which it loads then, property
 * combinations such as enable.idempotence with acks 1, a SASL mechanism
 * not built in) fails here, with its words, rather than in each worker.
 * Its threads are joined by rd_kafka_destroy(), before any fork.  A
 * worker can still fail where the master did not (it runs as another
 * user, a file changed since): ngx_http_cc_kafka_init_process() below.
 */
ngx_int_t
ngx_http_cc_kafka_check(ngx_conf_t *cf, ngx_http_cc_main_conf_t *cmcf)
{
    char              errstr[512];
    rd_kafka_t       *rk;
    rd_kafka_conf_t  *conf;

    if (cmcf->kafka_brokers.len == 0) {
        return NGX_OK;
    }

    conf = ngx_http_cc_kafka_conf(cmcf, NULL, errstr, sizeof(errstr));
    if (conf == NULL) {
        goto failed;
    }

    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        goto failed;
    }

    rd_kafka_destroy(rk);                      /* conf owned by rk */

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "cc kafka: the producer cannot start: %s", errstr);

    return NGX_ERROR;
}


/*
 * Never fatal: a worker whose init_process fails exits 2 and the master
 * does not replace it, so after a reload there would be no workers at
 * all.  A producer that cannot start leaves ngx_http_cc_kafka_rk NULL:
 * the draws are not published, and reach MySQL through the Redis draw log
 * and cc-reconcile (README, "No draw lost, none twice"); one alert,
 * cc_kafka_start_failures_total and the gauge cc_kafka_producers_down
 * (taken back at exit) say so.
 */
void
ngx_http_cc_kafka_init_process(ngx_cycle_t *cycle,
    ngx_http_cc_main_conf_t *cmcf)
{
    char              errstr[512], *topic;
    rd_kafka_t       *rk;
    rd_kafka_conf_t  *conf;

    if (cmcf->kafka_brokers.len == 0) {
        return;
    }

    topic = (char *) cmcf->kafka_topic.data;

    /* cc_kafka_brokers is NUL-terminated by nginx's parser */
    conf = ngx_http_cc_kafka_conf(cmcf, (char *) cmcf->kafka_brokers.data,
                                  errstr, sizeof(errstr));
    if (conf == NULL) {
        goto failed;
    }

    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        goto failed;
    }

    conf = NULL;                               /* now owned by rk */

    /* log lines to the main queue, served by the poll timer's thread */
    (void) rd_kafka_set_log_queue(rk, NULL);

    ngx_http_cc_kafka_rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (ngx_http_cc_kafka_rkt == NULL) {
        (void) ngx_snprintf((u_char *) errstr, sizeof(errstr),
                            "topic \"%s\": %s%Z", topic,
                            rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_destroy(rk);
        goto failed;
    }

    ngx_http_cc_kafka_rk = rk;
    ngx_http_cc_kafka_flush_timeout = cmcf->kafka_flush_timeout;

    ngx_http_cc_kafka_poll_ev.handler = ngx_http_cc_kafka_poll;
    ngx_http_cc_kafka_poll_ev.log = cycle->log;
    ngx_http_cc_kafka_poll_ev.data = rk;
    ngx_http_cc_kafka_poll_ev.cancelable = 1;

    ngx_add_timer(&ngx_http_cc_kafka_poll_ev, NGX_HTTP_CC_KAFKA_POLL_MS);

    return;

failed:

    ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_KAFKA_START_FAILED);
    ngx_http_cc_metric_add(NGX_HTTP_CC_METRIC_KAFKA_DOWN, 1);
    ngx_http_cc_kafka_down = 1;

    ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                  "cc kafka: the producer did not start: %s; this worker "
                  "publishes no draws (cc-reconcile carries them from the "
                  "Redis draw log)", errstr);
}


void
ngx_http_cc_kafka_exit_process(ngx_cycle_t *cycle)
{
    int  left;

    if (ngx_http_cc_kafka_down) {
        ngx_http_cc_metric_add(NGX_HTTP_CC_METRIC_KAFKA_DOWN, -1);
        ngx_http_cc_kafka_down = 0;
    }

    if (ngx_http_cc_kafka_rk == NULL) {
        return;
    }

    if (ngx_http_cc_kafka_poll_ev.timer_set) {
        ngx_del_timer(&ngx_http_cc_kafka_poll_ev);
    }

    (void) rd_kafka_flush(ngx_http_cc_kafka_rk,
                          (int) ngx_http_cc_kafka_flush_timeout);

    left = rd_kafka_outq_len(ngx_http_cc_kafka_rk);

    if (left > 0) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "cc kafka: %d draws not acknowledged at exit; "
                      "cc-reconcile will replay them from Redis", left);
    }

    rd_kafka_topic_destroy(ngx_http_cc_kafka_rkt);
    rd_kafka_destroy(ngx_http_cc_kafka_rk);

    ngx_http_cc_kafka_rkt = NULL;
    ngx_http_cc_kafka_rk = NULL;
}


void
ngx_http_cc_kafka_publish(const cc_draw_t *d)
{
    if (ngx_http_cc_kafka_rk != NULL) {
        ngx_http_cc_kafka_send(d->uid, cc_draw_encode(d));
    }
}


void
ngx_http_cc_kafka_publish_combine(const cc_combine_t *c)
{
    if (ngx_http_cc_kafka_rk != NULL) {
        ngx_http_cc_kafka_send(c->uid, cc_combine_encode(c));
    }
}


/* json is malloc'ed by cJSON (or NULL): librdkafka frees it (F_FREE) */
/* a gift's half, keyed by its user (the giver's or the receiver's) */
void
ngx_http_cc_kafka_publish_gift(const cc_gift_t *g)
{
    if (ngx_http_cc_kafka_rk != NULL) {
        ngx_http_cc_kafka_send(g->uid, cc_gift_encode(g));
    }
}


static void
ngx_http_cc_kafka_send(uint64_t uid, char *json)
{
    int    err;
    char   key[NGX_INT64_LEN + 1];

    if (json == NULL) {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_KAFKA_FAILED);
        return;
    }

    (void) ngx_snprintf((u_char *) key, sizeof(key), "%uL%Z", uid);

    if (rd_kafka_produce(ngx_http_cc_kafka_rkt, RD_KAFKA_PARTITION_UA,
                         RD_KAFKA_MSG_F_FREE, json, ngx_strlen(json),
                         key, ngx_strlen(key), NULL)
        == 0)
    {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_METRIC_KAFKA_PRODUCED);
        return;
    }

    err = rd_kafka_last_error();
    free(json);

    ngx_http_cc_metric_inc(err == RD_KAFKA_RESP_ERR__QUEUE_FULL
                           ? NGX_HTTP_CC_METRIC_KAFKA_QUEUE_FULL
                           : NGX_HTTP_CC_METRIC_KAFKA_FAILED);
}


static void
ngx_http_cc_kafka_poll(ngx_event_t *ev)
{
    (void) rd_kafka_poll(ev->data, 0);

    ngx_add_timer(ev, NGX_HTTP_CC_KAFKA_POLL_MS);
}


static void
ngx_http_cc_kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *m,
    void *opaque)
{
    ngx_http_cc_metric_inc(m->err ? NGX_HTTP_CC_METRIC_KAFKA_FAILED
                                  : NGX_HTTP_CC_METRIC_KAFKA_DELIVERED);
}


static void
ngx_http_cc_kafka_error(rd_kafka_t *rk, int err, const char *reason,
    void *opaque)
{
    static time_t  last;

    /* an outage repeats this many times a second: one line a second */
    if (ngx_time() == last) {
        return;
    }

    last = ngx_time();

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0, "cc kafka: %s: %s",
                  rd_kafka_err2name(err), reason);
}


static void
ngx_http_cc_kafka_log(const rd_kafka_t *rk, int level, const char *fac,
    const char *buf)
{
    ngx_uint_t     lvl;
    static time_t  last;

    if (ngx_time() == last) {
        return;
    }

    last = ngx_time();
    lvl = (level <= 3) ? NGX_LOG_ERR : NGX_LOG_WARN;

    ngx_log_error(lvl, ngx_cycle->log, 0, "cc kafka: %s: %s", fac, buf);
}


/*
 * The producer's settings no cc_kafka_property may replace (with the
 * aliases librdkafka knows them by): where it produces, librdkafka's log
 * lines served on the poll timer (a librdkafka thread must not call
 * nginx's log), a delivery report for every message (the delivered and
 * failed counters), and produce calls outside transactions.
 */
static const char  *ngx_http_cc_kafka_own[][2] = {
    { "bootstrap.servers", "cc_kafka_brokers sets it" },
    { "metadata.broker.list", "cc_kafka_brokers sets it" },
    { "log.queue", "the module serves librdkafka's log lines on nginx's "
                   "thread" },
    { "delivery.report.only.error", "the module counts every delivery" },
    { "transactional.id", "the module produces outside transactions" },
};


/*
 * cc_kafka_property NAME VALUE: a librdkafka property of the producer,
 * repeatable, applied after the module's own (SASL, TLS, client.id ...).
 * Checked here on a scratch configuration, so that nginx -t refuses a bad
 * name or value with librdkafka's own words, and one of the module's own
 * settings (ngx_http_cc_kafka_own) with the reason.
 */
char *
ngx_http_cc_kafka_property(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    char              errstr[512];
    ngx_str_t        *value;
    ngx_uint_t        i;
    ngx_array_t     **props;
    ngx_keyval_t     *kv;
    rd_kafka_conf_t  *kc;
    rd_kafka_conf_res_t  res;

    props = (ngx_array_t **) (p + cmd->offset);
    value = cf->args->elts;

    for (i = 0; i < sizeof(ngx_http_cc_kafka_own)
                    / sizeof(ngx_http_cc_kafka_own[0]); i++)
    {
        if (value[1].len == ngx_strlen(ngx_http_cc_kafka_own[i][0])
            && ngx_strncasecmp(value[1].data,
                               (u_char *) ngx_http_cc_kafka_own[i][0],
                               value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cc_kafka_property \"%V\" is not the "
                               "operator's to set: %s", &value[1],
                               ngx_http_cc_kafka_own[i][1]);
            return NGX_CONF_ERROR;
        }
    }

    if (*props == NULL) {
        *props = ngx_array_create(cf->pool, 4, sizeof(ngx_keyval_t));
        if (*props == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    kc = rd_kafka_conf_new();
    if (kc == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the args are NUL-terminated by nginx's parser */
    res = rd_kafka_conf_set(kc, (char *) value[1].data,
                            (char *) value[2].data, errstr, sizeof(errstr));
    rd_kafka_conf_destroy(kc);

    if (res != RD_KAFKA_CONF_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cc_kafka_property \"%V\": %s",
                           &value[1], errstr);
        return NGX_CONF_ERROR;
    }

    kv = ngx_array_push(*props);
    if (kv == NULL) {
        return NGX_CONF_ERROR;
    }

    kv->key = value[1];
    kv->value = value[2];

    return NGX_CONF_OK;
}
