/*
 * cc-ingest: the Kafka draw stream into sharded MySQL.
 *
 * A consumer-group member (or, with --assign, a consumer of every
 * partition without the group join) that reads draws, combines and gift
 * halves in batches, writes
 * each batch to the users' MySQL shards (cc_store: idempotent on the draw
 * id and the gift half's (gift_id, side), card counts in the same
 * transaction) and only then commits the offsets.  A crash anywhere re-reads at most the uncommitted batch, which
 * then inserts nothing twice.  Unreadable messages go to dead_letters.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "cc_secret.h"
#include "cc_worker.h"
#include "cc_store.h"
#include "cc_promfile.h"
#include "cc_kafka_conf.h"


typedef struct {
    const char  *reason;
    int32_t      part;
    int64_t      off;
    size_t       len;
    char        *payload;            /* owned */
} cc_ingest_dead_t;


typedef struct {
    const char         *brokers;
    const char         *topic;
    const char         *group;
    const char         *user;
    const char         *metrics_file;
    char               *mysql[CC_STORE_SHARDS_MAX];
    size_t              nmysql;
    long long           batch;
    long long           batch_ms;
    long long           progress_s;
    long long           exit_idle_s;
    int                 assign;
    int                 init_shards;
    int                 shard_of;
    cc_kafka_props_t    kafka;        /* --kafka-property, --kafka-config */
} cc_ingest_opts_t;


/*
 * The consumer's settings no --kafka-property may replace (with the
 * aliases librdkafka knows them by).  Auto-commit, or an offset store
 * not fed as the batch is read, would commit offsets of a batch before,
 * or without, its MySQL commit: a crash between them loses those
 * combines (never drawn, never paid).  "latest" for a new group skips
 * what was produced before it joined.
 */
#define CC_INGEST_COMMITS  "cc-ingest commits a batch's offsets itself, " \
                           "only after its MySQL commit"

static const cc_kafka_own_t  cc_ingest_kafka_own[] = {
    { "bootstrap.servers", "--brokers sets it" },
    { "metadata.broker.list", "--brokers sets it" },
    { "group.id", "--group sets it" },
    { "enable.auto.commit", CC_INGEST_COMMITS },
    { "auto.commit.enable", CC_INGEST_COMMITS },
    { "enable.auto.offset.store", CC_INGEST_COMMITS },
    { "offset.store.method", CC_INGEST_COMMITS },
    { "auto.offset.reset", "a new group reads the topic from its start "
                           "(earliest), or combines are skipped" },
    { NULL, NULL }
};


/* one batch being read: the decoded events and the dead letters */
typedef struct {
    cc_draw_t          *draws;
    cc_combine_t       *combines;
    cc_gift_t          *gifts;           /* either half */
    cc_ingest_dead_t   *dead;
    size_t              n;
    size_t              nc;
    size_t              ng;
    size_t              ndead;
} cc_ingest_batch_t;


typedef struct {
    unsigned long long  read;
    unsigned long long  inserted;
    unsigned long long  dead;
    unsigned long long  batches;
} cc_ingest_stats_t;


static void
cc_ingest_usage(FILE *out)
{
    fprintf(out,
"usage: cc-ingest --brokers LIST --mysql HOST:PORT/DB [--mysql ...] [options]\n"
"       cc-ingest --init-shards --mysql HOST:PORT/DB [--mysql ...]\n"
"       cc-ingest --shard-of --mysql HOST:PORT/DB [--mysql ...] UID...\n"
"\n"
"Consumes the draw topic (draws, combines, gift halves) into sharded MySQL:\n"
"batched multi-row inserts, one transaction per shard per batch, idempotent\n"
"on the draw id and the gift half; offsets are committed only after the\n"
"database commit.  SIGTERM stops it after the\n"
"batch in hand.\n"
"\n"
"  --brokers LIST     Kafka bootstrap servers (host:port,...)\n"
"  --topic NAME       draw topic (default cc.draws)\n"
"  --group ID         consumer group (default cc-ingest)\n"
"  --assign           read every partition without joining the group\n"
"                     (offsets are still committed to the group)\n"
"  --kafka-property NAME=VALUE  a librdkafka property (SASL, TLS,\n"
"                     client.id, ...), repeat; applied after cc-ingest's\n"
"                     own, so it wins\n"
"  --kafka-config FILE  NAME=VALUE lines of librdkafka properties, for\n"
"                     secrets (sasl.password): refused unless only its\n"
"                     owner may read it\n"
"  --mysql SHARD      a shard, host:port/database; repeat in ring order;\n"
"                     host:port,host:port/database: the writable one of\n"
"                     these (@@read_only = 0), asked again on each connect\n"
"  --user NAME        MySQL user (default " CC_ROLE_INGEST "; with\n"
"                     --init-shards the schema owner, " CC_ROLE_OWNER ")\n"
CC_SECRET_MYSQL_HELP"  --batch N          draws per batch, 1..100000 (default 5000)\n"
"  --batch-ms MS      longest wait to fill a batch (default 200)\n"
"  --progress SEC     seconds between progress lines (default 5)\n"
"  --exit-idle SEC    exit 0 after SEC seconds with nothing to read\n"
"  --metrics-file PATH  write a Prometheus textfile with each progress line\n"
"  --init-shards      create every shard's database and tables (sql/shard.sql,\n"
"                     sql/money.sql), grant each role its tables\n"
"                     (sql/shard_grants.sql), then exit\n"
"  --shard-of         print the shard of each UID argument, then exit\n"
"  --help             this text\n");
}


static int
cc_ingest_parse(int argc, char **argv, cc_ingest_opts_t *o)
{
    int  c;

    static const struct option  opts[] = {
        { "brokers",     required_argument, NULL, 'b' },
        { "topic",       required_argument, NULL, 't' },
        { "group",       required_argument, NULL, 'g' },
        { "assign",      no_argument,       NULL, 'a' },
        { "kafka-property", required_argument, NULL, 'K' },
        { "kafka-config", required_argument, NULL, 'C' },
        { "mysql",       required_argument, NULL, 'm' },
        { "user",        required_argument, NULL, 'u' },
        { "batch",       required_argument, NULL, 'n' },
        { "batch-ms",    required_argument, NULL, 'w' },
        { "progress",    required_argument, NULL, 'p' },
        { "exit-idle",   required_argument, NULL, 'x' },
        { "metrics-file", required_argument, NULL, 'f' },
        { "init-shards", no_argument,       NULL, 'I' },
        { "shard-of",    no_argument,       NULL, 'S' },
        { "help",        no_argument,       NULL, 'h' },
        CC_SECRET_MYSQL_OPTIONS,
        { NULL, 0, NULL, 0 }
    };

    memset(o, 0, sizeof(*o));
    o->kafka.own = cc_ingest_kafka_own;
    o->topic = "cc.draws";
    o->group = "cc-ingest";
    o->user = NULL;
    o->batch = 5000;
    o->batch_ms = 200;
    o->progress_s = 5;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': o->brokers = optarg; break;
        case 'f': o->metrics_file = optarg; break;
        case 't': o->topic = optarg; break;
        case 'g': o->group = optarg; break;
        case 'a': o->assign = 1; break;
        case 'u': o->user = optarg; break;
        case 'I': o->init_shards = 1; break;
        case 'S': o->shard_of = 1; break;

        case 'K':
            if (cc_kafka_opt_property(&o->kafka, optarg) != 0) {
                return -1;
            }
            break;

        case 'C':
            if (cc_kafka_opt_config(&o->kafka, optarg) != 0) {
                return -1;
            }
            break;

        case 'm':
            if (o->nmysql == CC_STORE_SHARDS_MAX) {
                fprintf(stderr, "cc-ingest: at most %d --mysql shards\n",
                        CC_STORE_SHARDS_MAX);
                return -1;
            }
            o->mysql[o->nmysql++] = optarg;
            break;

        case 'n':
            if (cc_opt_int("--batch", optarg, 1, 100000, &o->batch) != 0) {
                return -1;
            }
            break;

        case 'w':
            if (cc_opt_int("--batch-ms", optarg, 1, 60000, &o->batch_ms)
                != 0)
            {
                return -1;
            }
            break;

        case 'p':
            if (cc_opt_int("--progress", optarg, 1, 3600, &o->progress_s)
                != 0)
            {
                return -1;
            }
            break;

        case 'x':
            if (cc_opt_int("--exit-idle", optarg, 1, 86400,
                           &o->exit_idle_s) != 0)
            {
                return -1;
            }
            break;

        case 'h':
            cc_ingest_usage(stdout);
            return CC_OPT_HELP;

        case CC_SECRET_OPT_MYSQL_FILE:
            (void) cc_secret_opt(c, optarg);
            break;

        default:
            cc_ingest_usage(stderr);
            return -1;
        }
    }

    if (o->nmysql == 0) {
        fprintf(stderr, "cc-ingest: at least one --mysql shard is needed\n");
        return -1;
    }

    /* creating the schema is the owner's; consuming, the role's */
    if (o->user == NULL) {
        o->user = o->init_shards ? CC_ROLE_OWNER : CC_ROLE_INGEST;
    }

    if (!o->init_shards && !o->shard_of) {
        if (o->brokers == NULL) {
            fprintf(stderr, "cc-ingest: --brokers is needed\n");
            return -1;
        }

        if (optind != argc) {
            fprintf(stderr, "cc-ingest: unexpected argument \"%s\"\n",
                    argv[optind]);
            return -1;
        }
    }

    return 0;
}


static void
cc_ingest_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    static int64_t  last;
    int64_t         now;

    (void) rk;
    (void) opaque;

    /* a broker outage repeats this every few ms: one line a second */
    now = cc_now_ms();
    if (now - last >= 1000) {
        last = now;
        cc_log("kafka: %s: %s", rd_kafka_err2name(err), reason);
    }
}


static rd_kafka_t *
cc_ingest_consumer(const cc_ingest_opts_t *o)
{
    char              errstr[512];
    size_t            i;
    rd_kafka_t       *rk;
    rd_kafka_conf_t  *conf;

    /*
     * session.timeout.ms: a member killed with kill -9 keeps its
     * partitions until its session times out, so the cc-ingest started in
     * its place reads nothing for that long (librdkafka's default, 45 s,
     * measured by bench/chaos.sh).  10 s, with heartbeats every 3 s from
     * librdkafka's own thread (a batch waiting on MySQL does not miss
     * them); brokers accept 6 s and more by default.
     */
    static const char  *settings[][2] = {
        { "enable.auto.commit", "false" },
        { "session.timeout.ms", "10000" },
        { "auto.offset.reset", "earliest" },
        { "enable.partition.eof", "false" },
        { "fetch.wait.max.ms", "100" },
        { "log_level", "4" },
    };

    conf = rd_kafka_conf_new();

    if (rd_kafka_conf_set(conf, "bootstrap.servers", o->brokers, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "group.id", o->group, errstr,
                             sizeof(errstr)) != RD_KAFKA_CONF_OK)
    {
        goto failed;
    }

    for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK)
        {
            goto failed;
        }
    }

    /* the operator's properties last: never one of the above (their names
     * are refused, cc_ingest_kafka_own) */
    if (cc_kafka_props_apply(&o->kafka, conf, errstr, sizeof(errstr)) != 0) {
        goto failed;
    }

    rd_kafka_conf_set_error_cb(conf, cc_ingest_error_cb);

    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        goto failed;
    }

    /* conf is now owned by rk */

    rd_kafka_poll_set_consumer(rk);

    return rk;

failed:

    cc_log("kafka: %s", errstr);
    rd_kafka_conf_destroy(conf);
    return NULL;
}


/* --assign: every partition of the topic, from the committed offsets */
static int
cc_ingest_assign_all(rd_kafka_t *rk, const char *topic)
{
    int                                i;
    rd_kafka_resp_err_t                err;
    rd_kafka_topic_t                  *rkt;
    const struct rd_kafka_metadata    *md;
    rd_kafka_topic_partition_list_t   *parts;

    rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rkt == NULL) {
        return -1;
    }

    for ( ;; ) {
        err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);

        if (err == RD_KAFKA_RESP_ERR_NO_ERROR
            && md->topic_cnt == 1 && md->topics[0].err == 0
            && md->topics[0].partition_cnt > 0)
        {
            break;
        }

        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_metadata_destroy(md);
        }

        cc_log("waiting for the metadata of topic %s: %s", topic,
               rd_kafka_err2str(err));

        if (cc_sleep_ms(1000) != 0) {
            rd_kafka_topic_destroy(rkt);
            return -1;
        }
    }

    parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);

    for (i = 0; i < md->topics[0].partition_cnt; i++) {
        rd_kafka_topic_partition_list_add(parts, topic,
            md->topics[0].partitions[i].id)->offset = RD_KAFKA_OFFSET_STORED;
    }

    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);

    err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cc_log("kafka: assign: %s", rd_kafka_err2str(err));
        return -1;
    }

    return 0;
}


/* messages left to read in the partitions this process holds */
static long long
cc_ingest_lag(rd_kafka_t *rk)
{
    int                               i;
    int64_t                           lo, hi;
    long long                         lag;
    rd_kafka_topic_partition_list_t  *parts;

    if (rd_kafka_assignment(rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return -1;
    }

    rd_kafka_position(rk, parts);
    lag = 0;

    for (i = 0; i < parts->cnt; i++) {
        if (rd_kafka_get_watermark_offsets(rk, parts->elems[i].topic,
                                           parts->elems[i].partition,
                                           &lo, &hi)
            != RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0)
        {
            continue;
        }

        lag += hi - (parts->elems[i].offset >= 0
                     ? parts->elems[i].offset : lo);
    }

    rd_kafka_topic_partition_list_destroy(parts);

    return lag;
}


/*
 * Writes the batch until it is in, backing off while MySQL is away.
 * Returns 0 when written, -1 when a stop was asked first (the batch is then
 * left uncommitted, to be read again).
 */
static int
cc_ingest_write(cc_store_t *st, const cc_ingest_opts_t *o,
    const cc_ingest_batch_t *b, cc_ingest_stats_t *stats)
{
    size_t   i, inserted, gifts;
    int64_t  backoff;

    backoff = 0;

    /* each write idempotent: a retry after a part committed adds nothing */
    for ( ;; ) {
        if (cc_store_write(st, b->draws, b->n, b->combines, b->nc, &inserted)
            == 0
            && cc_store_write_gifts(st, b->gifts, b->ng, &gifts) == 0)
        {
            for (i = 0; i < b->ndead; i++) {
                if (cc_store_dead_letter(st, o->topic, b->dead[i].part,
                                         b->dead[i].off, b->dead[i].reason,
                                         b->dead[i].payload, b->dead[i].len)
                    != 0)
                {
                    break;
                }
            }

            if (i == b->ndead) {
                stats->inserted += inserted + gifts;
                stats->dead += b->ndead;
                return 0;
            }
        }

        if (cc_retry_wait(&backoff, "mysql", st->err) != 0) {
            return -1;
        }
    }
}


/* assigns every partition (--assign) or joins the consumer group */
static int
cc_ingest_listen(rd_kafka_t *rk, const cc_ingest_opts_t *o)
{
    rd_kafka_resp_err_t               err;
    rd_kafka_topic_partition_list_t  *topics;

    if (o->assign) {
        return cc_ingest_assign_all(rk, o->topic);
    }

    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, o->topic,
                                      RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cc_log("kafka: subscribe: %s", rd_kafka_err2str(err));
        return -1;
    }

    return 0;
}


/* the textfile, with each progress line: back in the loop means healthy */
static void
cc_ingest_metrics(const char *path, const cc_ingest_stats_t *stats,
    double rate, long long lag)
{
    cc_promfile_t  pf;

    if (path == NULL) {
        return;
    }

    cc_promfile_begin(&pf);
    cc_promfile_add(&pf, "cc_ingest_rows_total", "counter",
                    "Messages read from Kafka", (double) stats->read);
    cc_promfile_add(&pf, "cc_ingest_inserted_total", "counter",
                    "Rows MySQL lacked, written", (double) stats->inserted);
    cc_promfile_add(&pf, "cc_ingest_dead_total", "counter",
                    "Unreadable messages kept in dead_letters",
                    (double) stats->dead);
    cc_promfile_add(&pf, "cc_ingest_rate", "gauge",
                    "Messages read per second since the last progress line",
                    rate);
    cc_promfile_add(&pf, "cc_ingest_lag", "gauge",
                    "Messages in the topic not yet read (-1: unknown)",
                    (double) lag);
    cc_promfile_add(&pf, "cc_ingest_last_success_timestamp_seconds",
                    "gauge", "Last time every batch read was written "
                    "(unix seconds)", cc_now_ms() / 1000.0);

    if (cc_promfile_commit(&pf, path) != 0) {
        cc_log("metrics file %s: %s", path, strerror(errno));
    }
}


/* a message into the batch: an event, or a dead letter with its copy */
static void
cc_ingest_take(const cc_ingest_opts_t *o, const rd_kafka_message_t *msg,
    cc_ingest_batch_t *b)
{
    cc_event_t         ev;
    const char        *why;
    cc_ingest_dead_t  *d;

    if (cc_event_decode(msg->payload, msg->len, &ev, &why) == 0) {
        if (ev.type == CC_EVENT_DRAW) {
            b->draws[b->n++] = ev.u.draw;
            return;
        }

        if (ev.type == CC_EVENT_COMBINE) {
            b->combines[b->nc++] = ev.u.combine;
            return;
        }

        b->gifts[b->ng++] = ev.u.gift;
        return;
    }

    d = &b->dead[b->ndead];
    d->reason = why;
    d->part = msg->partition;
    d->off = msg->offset;
    d->len = msg->len;
    d->payload = malloc(msg->len ? msg->len : 1);

    if (d->payload != NULL) {
        memcpy(d->payload, msg->payload, msg->len);
    }

    cc_log("dead letter %s [%d] @%lld: %s", o->topic,
           (int) msg->partition, (long long) msg->offset, why);
    b->ndead++;
}


/* reads until the batch is full, its time is up or a stop is asked */
static void
cc_ingest_fill(rd_kafka_t *rk, const cc_ingest_opts_t *o,
    cc_ingest_batch_t *b, cc_ingest_stats_t *stats, int64_t *last_msg)
{
    int64_t              now, deadline;
    rd_kafka_message_t  *msg;

    b->n = 0;
    b->nc = 0;
    b->ng = 0;
    b->ndead = 0;
    deadline = cc_now_ms() + o->batch_ms;

    while ((long long) (b->n + b->nc + b->ng + b->ndead) < o->batch && cc_worker_run)
    {
        now = cc_now_ms();
        if (now >= deadline) {
            break;
        }

        msg = rd_kafka_consumer_poll(rk, (int) (deadline - now));
        if (msg == NULL) {
            continue;
        }

        if (msg->err) {
            cc_ingest_error_cb(rk, msg->err, rd_kafka_message_errstr(msg),
                               NULL);
            rd_kafka_message_destroy(msg);
            continue;
        }

        *last_msg = cc_now_ms();
        stats->read++;

        cc_ingest_take(o, msg, b);
        rd_kafka_message_destroy(msg);
    }
}


/*
 * Writes a batch read, then commits its offsets.  0, or -1 when a stop
 * came first (the batch is not committed: it will be read again).
 */
static int
cc_ingest_flush(rd_kafka_t *rk, cc_store_t *st, const cc_ingest_opts_t *o,
    cc_ingest_batch_t *b, cc_ingest_stats_t *stats)
{
    int                  written;
    size_t               i;
    rd_kafka_resp_err_t  err;

    written = cc_ingest_write(st, o, b, stats);

    for (i = 0; i < b->ndead; i++) {
        free(b->dead[i].payload);
    }

    if (written != 0) {
        cc_log("stopped with a batch of %zu not written: it will "
               "be read again", b->n + b->nc + b->ng + b->ndead);
        return -1;
    }

    stats->batches++;

    /* the batch is in MySQL: now, and only now, move the offsets */
    err = rd_kafka_commit(rk, NULL, 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR
        && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
    {
        cc_log("kafka: commit: %s (the batch will be read again "
               "and insert nothing)", rd_kafka_err2str(err));
    }

    return 0;
}


/* the progress line and the metrics file, since the last ones */
static void
cc_ingest_progress(rd_kafka_t *rk, const cc_ingest_opts_t *o,
    const cc_ingest_stats_t *stats, const cc_ingest_stats_t *prev,
    int64_t now, int64_t last_progress)
{
    double     rate;
    long long  lag;

    rate = (stats->read - prev->read) * 1000.0
           / (double) (now - last_progress);
    lag = cc_ingest_lag(rk);
    cc_log("%llu read, %llu inserted, %llu duplicate, %llu dead; "
           "%.0f/s; lag %lld",
           stats->read, stats->inserted,
           stats->read - stats->inserted - stats->dead, stats->dead,
           rate, lag);
    cc_ingest_metrics(o->metrics_file, stats, rate, lag);
}


static int
cc_ingest_run(const cc_ingest_opts_t *o, cc_store_t *st)
{
    int                 rc;
    int64_t             now, last_progress, last_msg;
    rd_kafka_t         *rk;
    cc_ingest_batch_t   b;
    cc_ingest_stats_t   stats, prev;

    rc = 1;
    rk = NULL;

    memset(&b, 0, sizeof(b));
    b.draws = calloc(o->batch, sizeof(cc_draw_t));
    b.combines = calloc(o->batch, sizeof(cc_combine_t));
    b.gifts = calloc(o->batch, sizeof(cc_gift_t));
    b.dead = calloc(o->batch, sizeof(cc_ingest_dead_t));

    if (b.draws == NULL || b.combines == NULL || b.gifts == NULL
        || b.dead == NULL)
    {
        cc_log("out of memory");
        goto cleanup;
    }

    rk = cc_ingest_consumer(o);
    if (rk == NULL) {
        goto cleanup;
    }

    if (cc_ingest_listen(rk, o) != 0) {
        /* a stop while waiting for the partitions is no failure */
        rc = cc_worker_run ? 1 : 0;
        goto cleanup;
    }

    cc_log("consuming %s from %s into %zu shard(s), batches of %lld",
           o->topic, o->brokers, st->nshards, o->batch);

    memset(&stats, 0, sizeof(stats));
    prev = stats;
    last_progress = cc_now_ms();
    last_msg = last_progress;

    while (cc_worker_run) {
        cc_ingest_fill(rk, o, &b, &stats, &last_msg);

        if (b.n + b.nc + b.ng + b.ndead > 0
            && cc_ingest_flush(rk, st, o, &b, &stats) != 0)
        {
            break;
        }

        now = cc_now_ms();

        if (now - last_progress >= o->progress_s * 1000) {
            cc_ingest_progress(rk, o, &stats, &prev, now, last_progress);
            prev = stats;
            last_progress = now;
        }

        if (o->exit_idle_s && now - last_msg >= o->exit_idle_s * 1000) {
            cc_log("idle for %lld s, exiting", o->exit_idle_s);
            break;
        }
    }

    cc_log("stopping: %llu read, %llu inserted, %llu duplicate, %llu dead "
           "in %llu batches", stats.read, stats.inserted,
           stats.read - stats.inserted - stats.dead, stats.dead,
           stats.batches);

    rd_kafka_consumer_close(rk);
    rc = 0;

cleanup:

    if (rk != NULL) {
        rd_kafka_destroy(rk);
    }

    free(b.draws);
    free(b.combines);
    free(b.gifts);
    free(b.dead);

    return rc;
}


/* --shard-of: the shard of each uid given, as "uid host:port/db" */
static int
cc_ingest_shard_of(const cc_store_t *st, int argc, char **argv)
{
    int       rc, i;
    uint64_t  uid;

    rc = 0;

    for (i = optind; i < argc; i++) {
        if (cc_parse_uid(argv[i], strlen(argv[i]), &uid) != 0) {
            fprintf(stderr, "cc-ingest: bad uid \"%s\"\n", argv[i]);
            rc = 2;
            continue;
        }

        printf("%s %s\n", argv[i],
               st->shards[cc_store_shard_of(st, uid)].name);
    }

    return rc;
}


/* --init-shards: each shard's database, tables (shard.sql, money.sql) and
 * role grants (shard_grants.sql) */
static int
cc_ingest_init_shards(cc_store_t *st)
{
    if (cc_store_init_schema(st) != 0) {
        cc_log("%s", st->err);
        return 1;
    }

    cc_log("%zu shard(s) ready", st->nshards);
    return 0;
}


int
main(int argc, char **argv)
{
    int                rc;
    cc_store_t         st;
    cc_ingest_opts_t   o;

    cc_worker_init("cc-ingest");

    memset(&st, 0, sizeof(st));
    rc = 2;

    if (cc_opt_done(cc_ingest_parse(argc, argv, &o), &rc)) {
        goto done;
    }

    if (cc_secret_load_mysql() != 0) {
        rc = 2;
        goto done;
    }

    if (cc_store_open(&st, o.mysql, o.nmysql, o.user,
                      cc_secret_mysql_password()) != 0)
    {
        fprintf(stderr, "cc-ingest: %s\n", st.err);
        goto done;
    }

    if (o.shard_of) {
        rc = cc_ingest_shard_of(&st, argc, argv);

    } else if (o.init_shards) {
        rc = cc_ingest_init_shards(&st);

    } else {
        rc = cc_ingest_run(&o, &st);
    }

done:

    cc_kafka_props_free(&o.kafka);
    cc_store_close(&st);
    mysql_library_end();

    return rc;
}
