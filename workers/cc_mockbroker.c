/*
 * cc-mockbroker: the embedded default Kafka, librdkafka's mock cluster
 * (rdkafka_mock.h) on loopback, run as a process of its own until SIGTERM.
 *
 * It prints "bootstrap=HOST:PORT[,...]" on its first line of stdout; point
 * the module (cc_kafka_brokers) and the workers (--brokers) at that list.
 * A real cluster needs nothing else: give them its broker list instead.
 *
 * SIGUSR1 takes every broker down and SIGUSR2 brings them back up, keeping
 * the topics' data: an outage without the loss a restart of the mock would
 * cause (the mock keeps its log in memory only).
 */

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>


static volatile sig_atomic_t  cc_mock_run = 1;
static volatile sig_atomic_t  cc_mock_want_down = -1;


static void
cc_mock_on_signal(int sig)
{
    if (sig == SIGUSR1) {
        cc_mock_want_down = 1;

    } else if (sig == SIGUSR2) {
        cc_mock_want_down = 0;

    } else {
        cc_mock_run = 0;
    }
}


static void
cc_mock_usage(FILE *out)
{
    fprintf(out,
        "usage: cc-mockbroker [--brokers N] [--topic NAME] [--partitions N]\n"
        "\n"
        "Runs librdkafka's mock Kafka cluster on loopback until SIGTERM and\n"
        "prints its bootstrap list as \"bootstrap=...\" on stdout.\n"
        "\n"
        "  --brokers N      brokers in the cluster (1..9, default 1)\n"
        "  --topic NAME     topic to create (repeatable, default cc.draws)\n"
        "  --partitions N   partitions of each topic (1..256, default 4)\n"
        "  --help           this text\n"
        "\n"
        "SIGUSR1: all brokers down; SIGUSR2: all brokers up again.\n");
}


static int
cc_mock_int(const char *s, int min, int max, int *out)
{
    char  *end;
    long   v;

    v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < min || v > max) {
        return -1;
    }

    *out = (int) v;
    return 0;
}


int
main(int argc, char **argv)
{
    int                       c, i, nbrokers, partitions, ntopics, down;
    char                      errstr[512];
    const char               *topics[16];
    rd_kafka_t               *rk;
    rd_kafka_conf_t          *conf;
    rd_kafka_mock_cluster_t  *mcluster;
    struct sigaction          sa;

    static const struct option  opts[] = {
        { "brokers",    required_argument, NULL, 'b' },
        { "topic",      required_argument, NULL, 't' },
        { "partitions", required_argument, NULL, 'p' },
        { "help",       no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    nbrokers = 1;
    partitions = 4;
    ntopics = 0;

    while ((c = getopt_long(argc, argv, "b:t:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (cc_mock_int(optarg, 1, 9, &nbrokers) != 0) {
                fprintf(stderr, "cc-mockbroker: --brokers must be 1..9\n");
                return 2;
            }
            break;

        case 't':
            if (ntopics == 16 || optarg[0] == '\0' || strlen(optarg) > 249) {
                fprintf(stderr, "cc-mockbroker: bad or too many --topic\n");
                return 2;
            }
            topics[ntopics++] = optarg;
            break;

        case 'p':
            if (cc_mock_int(optarg, 1, 256, &partitions) != 0) {
                fprintf(stderr,
                        "cc-mockbroker: --partitions must be 1..256\n");
                return 2;
            }
            break;

        case 'h':
            cc_mock_usage(stdout);
            return 0;

        default:
            cc_mock_usage(stderr);
            return 2;
        }
    }

    if (optind != argc) {
        cc_mock_usage(stderr);
        return 2;
    }

    if (ntopics == 0) {
        topics[ntopics++] = "cc.draws";
    }

    conf = rd_kafka_conf_new();

    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr))
        != RD_KAFKA_CONF_OK)
    {
        fprintf(stderr, "cc-mockbroker: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }

    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "cc-mockbroker: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }

    conf = NULL;                               /* now owned by rk */

    mcluster = rd_kafka_mock_cluster_new(rk, nbrokers);
    if (mcluster == NULL) {
        fprintf(stderr, "cc-mockbroker: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }

    for (i = 0; i < ntopics; i++) {
        if (rd_kafka_mock_topic_create(mcluster, topics[i], partitions, 1)
            != RD_KAFKA_RESP_ERR_NO_ERROR)
        {
            fprintf(stderr, "cc-mockbroker: cannot create topic %s\n",
                    topics[i]);
            rd_kafka_mock_cluster_destroy(mcluster);
            rd_kafka_destroy(rk);
            return 1;
        }
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cc_mock_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);

    printf("bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
    fflush(stdout);

    fprintf(stderr, "cc-mockbroker: %d broker(s), %d topic(s) of %d "
            "partitions, running until SIGTERM\n", nbrokers, ntopics,
            partitions);

    while (cc_mock_run) {
        down = cc_mock_want_down;

        if (down != -1) {
            cc_mock_want_down = -1;

            for (i = 1; i <= nbrokers; i++) {
                if (down) {
                    rd_kafka_mock_broker_set_down(mcluster, i);

                } else {
                    rd_kafka_mock_broker_set_up(mcluster, i);
                }
            }

            fprintf(stderr, "cc-mockbroker: brokers %s\n",
                    down ? "down" : "up");
        }

        usleep(50 * 1000);
    }

    rd_kafka_mock_cluster_destroy(mcluster);
    rd_kafka_destroy(rk);

    fprintf(stderr, "cc-mockbroker: stopped\n");

    return 0;
}
