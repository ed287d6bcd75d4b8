/*
 * cc-produce: puts messages on a topic, for tests, benchmarks and ops.
 *
 *   cc-produce --brokers LIST [--topic T] < lines      one message a line
 *   cc-produce --brokers LIST --draws N --users U       N synthetic draws
 *
 * A line "KEY<TAB>VALUE" is keyed by KEY; other lines have no key.  The
 * synthetic draws are real draw events (cc_event), users 1..U, sequences
 * counting up per user, so they can be ingested and checked.  Exits 0 once
 * every message is acknowledged by the broker.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "cc_worker.h"
#include "cc_event.h"
#include "cc_kafka_conf.h"


typedef struct {
    const char  *brokers;
    const char  *topic;
    long long    draws;
    long long    users;
    cc_kafka_props_t  kafka;       /* --kafka-property, --kafka-config */
} cc_produce_opts_t;


static unsigned long long  cc_produce_failed;

/* --brokers is where it produces: no property replaces it */
static const cc_kafka_own_t  cc_produce_kafka_own[] = {
    { "bootstrap.servers", "--brokers sets it" },
    { "metadata.broker.list", "--brokers sets it" },
    { NULL, NULL }
};


static void
cc_produce_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void) rk;
    (void) opaque;

    if (m->err) {
        cc_produce_failed++;
    }
}


static int
cc_produce_one(rd_kafka_t *rk, const char *topic, const char *key,
    size_t klen, char *val, size_t vlen, int flags)
{
    rd_kafka_resp_err_t  err;

    for ( ;; ) {
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_KEY(key, klen),
                                RD_KAFKA_V_VALUE(val, vlen),
                                RD_KAFKA_V_MSGFLAGS(flags), RD_KAFKA_V_END);

        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            break;
        }

        rd_kafka_poll(rk, 100);               /* the local queue is full */
    }

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cc_log("produce: %s", rd_kafka_err2str(err));
        return -1;
    }

    rd_kafka_poll(rk, 0);
    return 0;
}


static void
cc_produce_usage(FILE *out)
{
    fprintf(out,
"usage: cc-produce --brokers LIST [--topic NAME] [--draws N [--users U]]\n"
"\n"
"Without --draws, produces each line of stdin (\"KEY\\tVALUE\" is keyed by\n"
"KEY).  With --draws, produces N synthetic draw events of users 1..U\n"
"(default 1000).  Exits 0 once the broker acknowledged every message.\n"
"\n"
"  --brokers LIST   Kafka bootstrap servers (host:port,...)\n"
"  --topic NAME     topic (default cc.draws)\n"
"  --draws N        synthetic draws, 1..1000000000\n"
"  --users U        their users, 1..100000000 (default 1000)\n"
"  --kafka-property NAME=VALUE  a librdkafka property (SASL, TLS,\n"
"                   client.id, ...), repeat; applied last, so it wins\n"
"  --kafka-config FILE  NAME=VALUE lines of librdkafka properties, for\n"
"                   secrets: refused unless only its owner may read it\n"
"  --help           this text\n");
}


/* 0, 1 after --help, or -1 after saying what is wrong */
static int
cc_produce_parse(int argc, char **argv, cc_produce_opts_t *o)
{
    int  c;

    static const struct option  opts[] = {
        { "brokers", required_argument, NULL, 'b' },
        { "topic",   required_argument, NULL, 't' },
        { "draws",   required_argument, NULL, 'd' },
        { "users",   required_argument, NULL, 'u' },
        { "kafka-property", required_argument, NULL, 'K' },
        { "kafka-config", required_argument, NULL, 'C' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    o->brokers = NULL;
    o->topic = "cc.draws";
    o->draws = 0;
    o->users = 1000;
    memset(&o->kafka, 0, sizeof(o->kafka));
    o->kafka.own = cc_produce_kafka_own;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': o->brokers = optarg; break;
        case 't': o->topic = optarg; break;

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

        case 'd':
            if (cc_opt_int("--draws", optarg, 1, 1000000000LL, &o->draws)
                != 0)
            {
                return -1;
            }
            break;

        case 'u':
            if (cc_opt_int("--users", optarg, 1, 100000000LL, &o->users)
                != 0)
            {
                return -1;
            }
            break;

        case 'h':
            cc_produce_usage(stdout);
            return CC_OPT_HELP;

        default:
            cc_produce_usage(stderr);
            return -1;
        }
    }

    if (o->brokers == NULL) {
        fprintf(stderr, "cc-produce: --brokers is needed (see --help)\n");
        return -1;
    }

    if (optind != argc) {
        cc_produce_usage(stderr);
        return -1;
    }

    return 0;
}


static rd_kafka_t *
cc_produce_open(const cc_produce_opts_t *o)
{
    char              errstr[512];
    rd_kafka_t       *rk;
    rd_kafka_conf_t  *conf;

    conf = rd_kafka_conf_new();

    if (rd_kafka_conf_set(conf, "bootstrap.servers", o->brokers, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "linger.ms", "20", errstr,
                             sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "log_level", "4", errstr,
                             sizeof(errstr)) != RD_KAFKA_CONF_OK
        || cc_kafka_props_apply(&o->kafka, conf, errstr, sizeof(errstr))
           != 0)
    {
        cc_log("%s", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }

    rd_kafka_conf_set_dr_msg_cb(conf, cc_produce_dr);

    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        cc_log("%s", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }

    /* conf is now owned by rk */

    return rk;
}


/* N synthetic draws: users 1..U in turn, each one's seq counting up */
static int
cc_produce_draws(rd_kafka_t *rk, const cc_produce_opts_t *o,
    unsigned long long *sent)
{
    int         rc;
    char        key[24], *json;
    size_t      len;
    uint32_t   *seq;
    cc_draw_t   d;
    long long   i;

    seq = calloc(o->users + 1, sizeof(uint32_t));
    if (seq == NULL) {
        cc_log("out of memory");
        return -1;
    }

    rc = -1;
    memset(&d, 0, sizeof(d));
    strcpy(d.request_id, "synthetic");

    for (i = 0; i < o->draws && cc_worker_run; i++) {
        d.uid = (uint64_t) (i % o->users) + 1;
        d.seq = ++seq[d.uid];
        d.card = (uint32_t) ((d.uid * 7 + d.seq) % 5);
        d.ts_ms = cc_now_ms();

        json = cc_draw_encode(&d);
        if (json == NULL) {
            cc_log("out of memory");
            goto cleanup;
        }

        len = (size_t) snprintf(key, sizeof(key), "%llu",
                                (unsigned long long) d.uid);

        if (cc_produce_one(rk, o->topic, key, len, json, strlen(json),
                           RD_KAFKA_MSG_F_FREE) != 0)
        {
            free(json);
            goto cleanup;
        }

        (*sent)++;
    }

    rc = 0;

cleanup:

    free(seq);
    return rc;
}


/* each line of stdin, "KEY\tVALUE" keyed by KEY */
static int
cc_produce_lines(rd_kafka_t *rk, const cc_produce_opts_t *o,
    unsigned long long *sent)
{
    int       rc;
    char     *line, *tab;
    size_t    cap;
    ssize_t   n;

    rc = 0;
    line = NULL;
    cap = 0;

    while (cc_worker_run && (n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') {
            line[--n] = '\0';
        }

        tab = memchr(line, '\t', n);

        if (cc_produce_one(rk, o->topic, tab ? line : NULL,
                           tab ? (size_t) (tab - line) : 0,
                           tab ? tab + 1 : line,
                           tab ? (size_t) (line + n - tab - 1) : (size_t) n,
                           RD_KAFKA_MSG_F_COPY) != 0)
        {
            rc = -1;
            break;
        }

        (*sent)++;
    }

    free(line);
    return rc;
}


int
main(int argc, char **argv)
{
    int                 rc;
    rd_kafka_t         *rk;
    cc_produce_opts_t   o;
    unsigned long long  sent;

    cc_worker_init("cc-produce");

    /* nothing is open yet but the properties read */
    if (cc_opt_done(cc_produce_parse(argc, argv, &o), &rc)) {
        cc_kafka_props_free(&o.kafka);
        return rc;
    }

    rk = cc_produce_open(&o);
    cc_kafka_props_free(&o.kafka);        /* copied into rk's conf */

    if (rk == NULL) {
        return 1;
    }

    sent = 0;
    rc = o.draws > 0 ? cc_produce_draws(rk, &o, &sent)
                     : cc_produce_lines(rk, &o, &sent);

    while (rd_kafka_outq_len(rk) > 0 && cc_worker_run) {
        rd_kafka_flush(rk, 1000);
    }

    rd_kafka_destroy(rk);

    if (rc != 0 || cc_produce_failed > 0 || !cc_worker_run) {
        cc_log("%llu sent, %llu not delivered", sent, cc_produce_failed);
        return 1;
    }

    cc_log("%llu messages delivered to %s", sent, o.topic);
    return 0;
}
