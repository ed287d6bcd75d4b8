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


static unsigned long long  cc_produce_failed;


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


int
main(int argc, char **argv)
{
    int                c;
    char               errstr[512], *line, *tab, *json, key[24];
    size_t             cap, len;
    ssize_t            n;
    uint32_t          *seq;
    long long          draws, users, i;
    const char        *brokers, *topic;
    cc_draw_t          d;
    rd_kafka_t        *rk;
    rd_kafka_conf_t   *conf;
    unsigned long long sent;

    static const struct option  opts[] = {
        { "brokers", required_argument, NULL, 'b' },
        { "topic",   required_argument, NULL, 't' },
        { "draws",   required_argument, NULL, 'd' },
        { "users",   required_argument, NULL, 'u' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    cc_worker_init("cc-produce");

    brokers = NULL;
    topic = "cc.draws";
    draws = 0;
    users = 1000;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': brokers = optarg; break;
        case 't': topic = optarg; break;

        case 'd':
            if (cc_opt_int("--draws", optarg, 1, 1000000000LL, &draws) != 0) {
                return 2;
            }
            break;

        case 'u':
            if (cc_opt_int("--users", optarg, 1, 100000000LL, &users) != 0) {
                return 2;
            }
            break;

        case 'h':
            printf("usage: cc-produce --brokers LIST [--topic NAME] "
                   "[--draws N [--users U]]\n\n"
                   "Without --draws, produces each line of stdin (\"KEY\\t"
                   "VALUE\" is keyed by KEY).\nWith --draws, produces N "
                   "synthetic draw events of users 1..U (default 1000).\n"
                   "Exits 0 once the broker acknowledged every message.\n");
            return 0;

        default:
            return 2;
        }
    }

    if (brokers == NULL || optind != argc) {
        fprintf(stderr, "cc-produce: --brokers is needed (see --help)\n");
        return 2;
    }

    conf = rd_kafka_conf_new();

    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "linger.ms", "20", errstr,
                             sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "log_level", "4", errstr,
                             sizeof(errstr)) != RD_KAFKA_CONF_OK)
    {
        fprintf(stderr, "cc-produce: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 2;
    }

    rd_kafka_conf_set_dr_msg_cb(conf, cc_produce_dr);

    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "cc-produce: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }

    /* conf is now owned by rk */

    sent = 0;

    if (draws > 0) {
        seq = calloc(users + 1, sizeof(uint32_t));
        if (seq == NULL) {
            cc_log("out of memory");
            rd_kafka_destroy(rk);
            return 1;
        }

        memset(&d, 0, sizeof(d));
        strcpy(d.request_id, "synthetic");

        for (i = 0; i < draws && cc_worker_run; i++) {
            d.uid = (uint64_t) (i % users) + 1;
            d.seq = ++seq[d.uid];
            d.card = (uint32_t) ((d.uid * 7 + d.seq) % 5);
            d.ts_ms = cc_now_ms();

            json = cc_draw_encode(&d);
            if (json == NULL) {
                cc_log("out of memory");
                break;
            }

            len = (size_t) snprintf(key, sizeof(key), "%llu",
                                    (unsigned long long) d.uid);

            if (cc_produce_one(rk, topic, key, len, json, strlen(json),
                               RD_KAFKA_MSG_F_FREE) != 0)
            {
                free(json);
                break;
            }

            sent++;
        }

        free(seq);

    } else {
        line = NULL;
        cap = 0;

        while (cc_worker_run && (n = getline(&line, &cap, stdin)) >= 0) {
            if (n > 0 && line[n - 1] == '\n') {
                line[--n] = '\0';
            }

            tab = memchr(line, '\t', n);

            if (cc_produce_one(rk, topic, tab ? line : NULL,
                               tab ? (size_t) (tab - line) : 0,
                               tab ? tab + 1 : line,
                               tab ? (size_t) (line + n - tab - 1)
                                   : (size_t) n,
                               RD_KAFKA_MSG_F_COPY) != 0)
            {
                break;
            }

            sent++;
        }

        free(line);
    }

    while (rd_kafka_outq_len(rk) > 0 && cc_worker_run) {
        rd_kafka_flush(rk, 1000);
    }

    rd_kafka_destroy(rk);

    if (cc_produce_failed > 0 || !cc_worker_run) {
        cc_log("%llu sent, %llu not delivered", sent, cc_produce_failed);
        return 1;
    }

    cc_log("%llu messages delivered to %s", sent, topic);
    return 0;
}
