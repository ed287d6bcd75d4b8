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
 *
 * --port N puts broker i on 127.0.0.1:N+i-1, so a configuration can name
 * it (cc_kafka_brokers 127.0.0.1:N).  librdkafka's mock has no setting for
 * its ports: it binds each broker's listener to 127.0.0.1 port 0 while the
 * cluster is made.  So this program defines bind() (the executable's
 * symbol comes first for librdkafka's calls too), and while
 * rd_kafka_mock_cluster_new() runs it gives such a bind the next port,
 * then calls the C library's bind.  The mock reads the port back with
 * getsockname(), so the bootstrap list and the brokers' metadata say it.
 */

#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cc_worker.h"


#define CC_MOCK_TOPICS_MAX  16


typedef struct {
    long long    nbrokers;
    long long    partitions;
    long long    port;                /* 0: any free one */
    const char  *topics[CC_MOCK_TOPICS_MAX];
    int          ntopics;
} cc_mock_opts_t;


static void
cc_mock_usage(FILE *out)
{
    fprintf(out,
        "usage: cc-mockbroker [--brokers N] [--topic NAME] [--partitions N]\n"
        "                     [--port N]\n"
        "\n"
        "Runs librdkafka's mock Kafka cluster on loopback until SIGTERM and\n"
        "prints its bootstrap list as \"bootstrap=...\" on stdout.\n"
        "\n"
        "  --brokers N      brokers in the cluster (1..9, default 1)\n"
        "  --topic NAME     topic to create (repeatable, default cc.draws)\n"
        "  --partitions N   partitions of each topic (1..256, default 4)\n"
        "  --port N         broker i listens on 127.0.0.1 port N+i-1 (0..65535,\n"
        "                   default 0: any free port each); a port in use: exit 1\n"
        "  --help           this text\n"
        "\n"
        "SIGUSR1: all brokers down; SIGUSR2: all brokers up again.\n");
}


/* 0, 1 after --help, or -1 after saying what is wrong */
static int
cc_mock_parse(int argc, char **argv, cc_mock_opts_t *o)
{
    int  c;

    static const struct option  opts[] = {
        { "brokers",    required_argument, NULL, 'b' },
        { "topic",      required_argument, NULL, 't' },
        { "partitions", required_argument, NULL, 'p' },
        { "port",       required_argument, NULL, 'P' },
        { "help",       no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(o, 0, sizeof(*o));
    o->nbrokers = 1;
    o->partitions = 4;

    while ((c = getopt_long(argc, argv, "b:t:p:P:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (cc_opt_int("--brokers", optarg, 1, 9, &o->nbrokers) != 0) {
                return -1;
            }
            break;

        case 't':
            if (o->ntopics == CC_MOCK_TOPICS_MAX || optarg[0] == '\0'
                || strlen(optarg) > 249)
            {
                fprintf(stderr, "cc-mockbroker: bad or too many --topic\n");
                return -1;
            }
            o->topics[o->ntopics++] = optarg;
            break;

        case 'p':
            if (cc_opt_int("--partitions", optarg, 1, 256, &o->partitions)
                != 0)
            {
                return -1;
            }
            break;

        case 'P':
            if (cc_opt_int("--port", optarg, 0, 65535, &o->port) != 0) {
                return -1;
            }
            break;

        case 'h':
            cc_mock_usage(stdout);
            return CC_OPT_HELP;

        default:
            cc_mock_usage(stderr);
            return -1;
        }
    }

    if (optind != argc) {
        cc_mock_usage(stderr);
        return -1;
    }

    if (o->port > 0 && o->port + o->nbrokers - 1 > 65535) {
        fprintf(stderr, "cc-mockbroker: --port %lld with %lld brokers would "
                "need ports up to %lld, above 65535\n", o->port, o->nbrokers,
                o->port + o->nbrokers - 1);
        return -1;
    }

    if (o->ntopics == 0) {
        o->topics[o->ntopics++] = "cc.draws";
    }

    return 0;
}


/*
 * The brokers' ports (see the top).  cc_mock_next_port is set only while
 * the cluster is made, in this thread, before the mock's own thread
 * starts; any other bind goes through unchanged.
 */
static int  cc_mock_next_port;        /* 0: leave binds alone */
static int  cc_mock_bind_port;        /* the port a failed bind wanted */
static int  cc_mock_bind_errno;

int
bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    int                  rc;
    struct sockaddr_in   sin;
    static int         (*next)(int, const struct sockaddr *, socklen_t);

    if (next == NULL) {
        next = (int (*)(int, const struct sockaddr *, socklen_t))
               dlsym(RTLD_NEXT, "bind");
        if (next == NULL) {
            errno = ENOSYS;
            return -1;
        }
    }

    if (cc_mock_next_port == 0 || addr == NULL || len < sizeof(sin)
        || addr->sa_family != AF_INET)
    {
        return next(fd, addr, len);
    }

    memcpy(&sin, addr, sizeof(sin));

    if (sin.sin_port != 0) {
        return next(fd, addr, len);
    }

    sin.sin_port = htons((uint16_t) cc_mock_next_port);

    rc = next(fd, (const struct sockaddr *) &sin, sizeof(sin));
    if (rc != 0 && cc_mock_bind_errno == 0) {
        cc_mock_bind_errno = errno;
        cc_mock_bind_port = cc_mock_next_port;
    }

    cc_mock_next_port++;

    return rc;
}


/*
 * Until a stop: SIGUSR1 takes every broker down, SIGUSR2 brings them up,
 * each confirmed by a line the tests wait for ("cc-mockbroker: brokers
 * down" at the start of a line, as t/lib/CcTest.pm reads it).
 */
static void
cc_mock_run(rd_kafka_mock_cluster_t *mcluster, const cc_mock_opts_t *o)
{
    int  sig, i;

    while (cc_worker_run) {
        sig = cc_worker_signal();

        if (sig == SIGUSR1 || sig == SIGUSR2) {
            for (i = 1; i <= o->nbrokers; i++) {
                if (sig == SIGUSR1) {
                    rd_kafka_mock_broker_set_down(mcluster, i);

                } else {
                    rd_kafka_mock_broker_set_up(mcluster, i);
                }
            }

            fprintf(stderr, "cc-mockbroker: brokers %s\n",
                    sig == SIGUSR1 ? "down" : "up");
        }

        (void) cc_sleep_ms(50);
    }
}


/*
 * Every port --port asks for is free: librdkafka 2.0's mock aborts in its
 * own cleanup when a broker cannot bind, so a port in use is found here
 * first, with the same SO_REUSEADDR bind the mock makes.  0, or -1 after
 * saying which port.
 */
static int
cc_mock_ports_free(const cc_mock_opts_t *o)
{
    int                 fd, on, rc;
    long long           i;
    struct sockaddr_in  sin;

    for (i = 0; o->port > 0 && i < o->nbrokers; i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            fprintf(stderr, "cc-mockbroker: socket: %s\n", strerror(errno));
            return -1;
        }

        on = 1;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));

        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sin.sin_port = htons((uint16_t) (o->port + i));

        rc = bind(fd, (const struct sockaddr *) &sin, sizeof(sin));
        if (rc == 0) {
            rc = listen(fd, 1);
        }

        if (rc != 0) {
            fprintf(stderr, "cc-mockbroker: --port: cannot listen on "
                    "127.0.0.1:%lld: %s\n", o->port + i, strerror(errno));
            close(fd);
            return -1;
        }

        close(fd);
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int                       i, rc;
    char                      errstr[512];
    rd_kafka_t               *rk;
    cc_mock_opts_t            o;
    rd_kafka_conf_t          *conf;
    rd_kafka_mock_cluster_t  *mcluster;

    cc_worker_init("cc-mockbroker");
    cc_worker_catch(SIGUSR1);
    cc_worker_catch(SIGUSR2);

    rk = NULL;
    mcluster = NULL;
    conf = NULL;
    rc = 2;

    if (cc_opt_done(cc_mock_parse(argc, argv, &o), &rc)) {
        goto cleanup;
    }

    rc = 1;

    if (cc_mock_ports_free(&o) != 0) {
        goto cleanup;
    }

    conf = rd_kafka_conf_new();

    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr))
        != RD_KAFKA_CONF_OK)
    {
        fprintf(stderr, "cc-mockbroker: %s\n", errstr);
        goto cleanup;
    }

    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "cc-mockbroker: %s\n", errstr);
        goto cleanup;
    }

    conf = NULL;                               /* now owned by rk */

    cc_mock_next_port = (int) o.port;
    mcluster = rd_kafka_mock_cluster_new(rk, (int) o.nbrokers);
    cc_mock_next_port = 0;

    if (cc_mock_bind_errno != 0) {
        fprintf(stderr, "cc-mockbroker: --port: cannot listen on 127.0.0.1:"
                "%d: %s\n", cc_mock_bind_port, strerror(cc_mock_bind_errno));
        goto cleanup;
    }

    if (mcluster == NULL) {
        fprintf(stderr, "cc-mockbroker: cannot create the mock cluster\n");
        goto cleanup;
    }

    for (i = 0; i < o.ntopics; i++) {
        if (rd_kafka_mock_topic_create(mcluster, o.topics[i],
                                       (int) o.partitions, 1)
            != RD_KAFKA_RESP_ERR_NO_ERROR)
        {
            fprintf(stderr, "cc-mockbroker: cannot create topic %s\n",
                    o.topics[i]);
            goto cleanup;
        }
    }

    printf("bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
    fflush(stdout);

    fprintf(stderr, "cc-mockbroker: %lld broker(s), %d topic(s) of %lld "
            "partitions, running until SIGTERM\n", o.nbrokers, o.ntopics,
            o.partitions);

    cc_mock_run(mcluster, &o);

    fprintf(stderr, "cc-mockbroker: stopped\n");
    rc = 0;

cleanup:

    if (mcluster != NULL) {
        rd_kafka_mock_cluster_destroy(mcluster);
    }

    if (rk != NULL) {
        rd_kafka_destroy(rk);
    }

    if (conf != NULL) {
        rd_kafka_conf_destroy(conf);
    }

    return rc;
}
