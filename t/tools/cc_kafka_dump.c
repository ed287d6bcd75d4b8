/*
 * cc-kafka-dump: the tests' look at a topic.  Reads every partition of
 * TOPIC from its start (a fresh consumer group each run, nothing
 * committed) and prints each message as "KEY<TAB>VALUE" on a line, until
 * no message came for IDLE ms (default 2000) after the first (the first
 * is waited for 20 s: joining a group takes the mock broker seconds) or,
 * with --count N, N were printed.  Test-only (build/test): the gift tests check the exact
 * messages the module published, keyed by whose half they are.
 *
 *   cc-kafka-dump --brokers LIST [--topic cc.draws] [--count N]
 *                 [--idle MS]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "cc_clock.h"


static void
cc_kafka_dump_usage(void)
{
    fprintf(stderr, "usage: cc-kafka-dump --brokers LIST [--topic T] "
            "[--count N] [--idle MS]\n");
}


int
main(int argc, char **argv)
{
    int                   i;
    char                  errstr[512], group[64];
    long                  count, idle, got;
    int64_t               last;
    const char           *brokers, *topic;
    rd_kafka_t           *rk;
    rd_kafka_conf_t      *conf;
    rd_kafka_message_t   *m;
    rd_kafka_topic_partition_list_t  *subs;

    brokers = NULL;
    topic = "cc.draws";
    count = -1;
    idle = 2000;

    for (i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--brokers") == 0) {
            brokers = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--topic") == 0) {
            topic = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--count") == 0) {
            count = strtol(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(argv[i], "--idle") == 0) {
            idle = strtol(argv[++i], NULL, 10);
        } else {
            cc_kafka_dump_usage();
            return 2;
        }
    }

    if (brokers == NULL || idle <= 0) {
        cc_kafka_dump_usage();
        return 2;
    }

    snprintf(group, sizeof(group), "cc-kafka-dump-%ld", (long) getpid());

    conf = rd_kafka_conf_new();

    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "group.id", group, errstr,
                             sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr,
                             sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                             sizeof(errstr)) != RD_KAFKA_CONF_OK)
    {
        fprintf(stderr, "cc-kafka-dump: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 2;
    }

    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "cc-kafka-dump: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }

    /* conf is now owned by rk */

    rd_kafka_poll_set_consumer(rk);

    subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);

    if (rd_kafka_subscribe(rk, subs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "cc-kafka-dump: cannot subscribe to %s\n", topic);
        rd_kafka_topic_partition_list_destroy(subs);
        rd_kafka_destroy(rk);
        return 1;
    }

    rd_kafka_topic_partition_list_destroy(subs);

    got = 0;
    last = cc_now_ms();

    while ((count < 0 || got < count)
           && cc_now_ms() - last < (got ? idle : 20000))
    {
        m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) {
            continue;
        }

        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            printf("%.*s\t%.*s\n", (int) m->key_len, (char *) m->key,
                   (int) m->len, (char *) m->payload);
            got++;
            last = cc_now_ms();

        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "cc-kafka-dump: %s\n", rd_kafka_message_errstr(m));
        }

        rd_kafka_message_destroy(m);
    }

    fflush(stdout);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    return 0;
}
