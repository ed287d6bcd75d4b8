/*
 * cc-reconcile: the Redis draw logs into MySQL, so that no draw is lost.
 *
 * The flip script appends every draw to its shard's stream cc:draws in the
 * same atomic step that spends the chance.  Kafka is only the fast path:
 * nginx may die before its producer sent a draw, the broker may be down
 * for longer than the producer keeps a message.  This worker reads each
 * shard's log up to GRACE seconds ago (by the Redis clock), writes those
 * draws with the same idempotent cc_store_write as cc-ingest (rows already
 * there insert nothing; the count of rows it did insert is the number of
 * draws the fast path lost or has not delivered yet), and only then trims
 * the log up to what it wrote.  Run it every few minutes (cron, systemd
 * timer) with --once, or as a daemon.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cc_worker.h"
#include "cc_store.h"
#include "cc_promfile.h"
#include "cc_reconcile_money.h"


#define CC_RECONCILE_LOG_KEY  "cc:draws"
#define CC_RECONCILE_REDIS_MAX 64


typedef struct {
    char               *redis[CC_RECONCILE_REDIS_MAX];
    size_t              nredis;
    char               *mysql[CC_STORE_SHARDS_MAX];
    size_t              nmysql;
    const char         *user;
    const char         *metrics_file;
    long long           grace_s;
    long long           interval_s;
    long long           batch;
    int                 once;
} cc_reconcile_opts_t;


typedef struct {
    unsigned long long  read;
    unsigned long long  inserted;
    unsigned long long  bad;
} cc_reconcile_stats_t;


static void
cc_reconcile_usage(FILE *out)
{
    fprintf(out,
"usage: cc-reconcile --redis HOST:PORT [--redis ...] --mysql HOST:PORT/DB\n"
"                    [--mysql ...] [--grace SEC] [--once | --interval SEC]\n"
"\n"
"Writes every draw and combine in the Redis shards' draw logs (stream cc:draws) older\n"
"than the grace period into sharded MySQL, idempotently, then trims the\n"
"logs up to what was written.  Reports how many draws MySQL lacked.\n"
"The MySQL password is read from $CC_MYSQL_PASSWORD.\n"
"\n"
"  --redis ADDR     a Redis shard of the module (cc_redis_shards), repeat\n"
"  --mysql SHARD    a MySQL shard, host:port/database, repeat in ring order\n"
"  --user NAME      MySQL user (default root)\n"
"  --grace SEC      leave the last SEC seconds to Kafka (default 30)\n"
"  --batch N        log entries per read and write, 1..5000 (default 500;\n"
"                   an entry holds the new draws of one flip batch, <= 64)\n"
"  --once           one pass over every shard, then exit\n"
"  --interval SEC   seconds between passes when not --once (default 60)\n"
"  --metrics-file PATH  write a Prometheus textfile after each pass\n"
"  --help           this text\n"
"\n"
"cc-reconcile --money --campaign FILE ... checks a drawn campaign's money\n"
"instead (see cc-reconcile --money --help).\n");
}


static int
cc_reconcile_parse(int argc, char **argv, cc_reconcile_opts_t *o)
{
    int  c;

    static const struct option  opts[] = {
        { "redis",    required_argument, NULL, 'r' },
        { "mysql",    required_argument, NULL, 'm' },
        { "user",     required_argument, NULL, 'u' },
        { "grace",    required_argument, NULL, 'g' },
        { "batch",    required_argument, NULL, 'n' },
        { "interval", required_argument, NULL, 'i' },
        { "once",     no_argument,       NULL, 'o' },
        { "metrics-file", required_argument, NULL, 'f' },
        { "help",     no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(o, 0, sizeof(*o));
    o->user = "root";
    o->grace_s = 30;
    o->interval_s = 60;
    o->batch = 500;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (o->nredis == CC_RECONCILE_REDIS_MAX) {
                fprintf(stderr, "cc-reconcile: too many --redis\n");
                return -1;
            }
            o->redis[o->nredis++] = optarg;
            break;

        case 'm':
            if (o->nmysql == CC_STORE_SHARDS_MAX) {
                fprintf(stderr, "cc-reconcile: too many --mysql\n");
                return -1;
            }
            o->mysql[o->nmysql++] = optarg;
            break;

        case 'u': o->user = optarg; break;
        case 'o': o->once = 1; break;
        case 'f': o->metrics_file = optarg; break;

        case 'g':
            if (cc_opt_int("--grace", optarg, 0, 86400, &o->grace_s) != 0) {
                return -1;
            }
            break;

        case 'n':
            if (cc_opt_int("--batch", optarg, 1, 5000, &o->batch) != 0) {
                return -1;
            }
            break;

        case 'i':
            if (cc_opt_int("--interval", optarg, 1, 86400, &o->interval_s)
                != 0)
            {
                return -1;
            }
            break;

        case 'h':
            cc_reconcile_usage(stdout);
            exit(0);

        default:
            cc_reconcile_usage(stderr);
            return -1;
        }
    }

    if (o->nredis == 0 || o->nmysql == 0 || optind != argc) {
        cc_reconcile_usage(stderr);
        return -1;
    }

    return 0;
}


static redisContext *
cc_reconcile_connect(const char *addr)
{
    char            host[256];
    const char     *colon;
    long long       port;
    redisContext   *rc;
    struct timeval  tv = { 5, 0 };

    colon = strrchr(addr, ':');

    if (colon == NULL || colon == addr || (size_t) (colon - addr) >= sizeof(host)
        || cc_opt_int("--redis port", colon + 1, 1, 65535, &port) != 0)
    {
        cc_log("bad redis shard \"%s\", expected host:port", addr);
        return NULL;
    }

    memcpy(host, addr, colon - addr);
    host[colon - addr] = '\0';

    rc = redisConnectWithTimeout(host, (int) port, tv);

    if (rc == NULL || rc->err) {
        cc_log("redis %s: %s", addr, rc ? rc->errstr : "out of memory");
        redisFree(rc);
        return NULL;
    }

    redisSetTimeout(rc, tv);

    return rc;
}


/*
 * An entry [id, [field, value, ...]] of the draw log: the new draws of one
 * flip batch (d = "uid:seq:card:ms:rid" lines, see cc_event.h) or, with
 * y = c, a combine (u r t).  Appends what it holds to draws[] (room for
 * CC_LOG_BATCH_MAX more) or combines[]; returns the number of unreadable
 * draws or combines in it, each logged.
 */
static size_t
cc_reconcile_entry(const char *addr, const redisReply *e, cc_draw_t *draws,
    size_t *n, cc_combine_t *combines, size_t *nc)
{
    size_t             i, bad, rlen;
    uint64_t           uid;
    int64_t            ts;
    const char        *id, *rid, *why, *p, *nl, *last;
    cc_combine_t      *c;
    const redisReply  *f, *v, *lines;
    int                combine;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING
        || e->element[1]->type != REDIS_REPLY_ARRAY)
    {
        cc_log("redis %s: skipping a log entry: not a stream entry", addr);
        return 1;
    }

    id = e->element[0]->str;
    combine = 0;
    lines = NULL;
    uid = 0;
    ts = 0;
    rid = "";
    rlen = 0;
    why = "no draw and no combine in it";

    for (i = 0; i + 1 < e->element[1]->elements; i += 2) {
        f = e->element[1]->element[i];
        v = e->element[1]->element[i + 1];

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING
            || f->len != 1)
        {
            continue;
        }

        switch (f->str[0]) {
        case 'd':
            lines = v;
            break;

        case 'y':
            if (v->len != 1 || v->str[0] != 'c') {
                why = "unknown type";
                goto bad;
            }
            combine = 1;
            break;

        case 'u':
            if (cc_parse_uid(v->str, v->len, &uid) != 0) {
                why = "bad uid";
                goto bad;
            }
            break;

        case 't':
            ts = strtoll(v->str, NULL, 10);
            break;

        case 'r':
            if (v->len > CC_REQUEST_ID_MAX) {
                why = "bad request_id";
                goto bad;
            }
            rid = v->str;
            rlen = v->len;
            break;
        }
    }

    if (combine) {
        c = &combines[*nc];
        memset(c, 0, sizeof(*c));
        c->uid = uid;
        c->ts_ms = ts;
        memcpy(c->request_id, rid, rlen);

        if (cc_combine_check(c, &why) != 0) {
            goto bad;
        }

        (*nc)++;
        return 0;
    }

    if (lines == NULL) {
        goto bad;
    }

    bad = 0;
    p = lines->str;
    last = p + lines->len;

    for (i = 0; p < last && i < CC_LOG_BATCH_MAX; i++, p = nl + 1) {
        nl = memchr(p, '\n', (size_t) (last - p));
        if (nl == NULL) {
            nl = last;
        }

        if (cc_draw_parse_line(p, (size_t) (nl - p), &draws[*n], &why) != 0)
        {
            cc_log("redis %s: skipping draw %zu of log entry %s: %s",
                   addr, i + 1, id, why);
            bad++;
            continue;
        }

        (*n)++;
    }

    if (p < last) {
        cc_log("redis %s: log entry %s holds over %d draws; the rest are "
               "skipped", addr, id, CC_LOG_BATCH_MAX);
        bad++;
    }

    return bad;

bad:

    cc_log("redis %s: skipping log entry %s: %s", addr, id, why);
    return 1;
}


/* the smallest stream id after "ms-seq" */
static void
cc_reconcile_next_id(const char *id, char *out, size_t len)
{
    unsigned long long  ms, seq;

    if (sscanf(id, "%llu-%llu", &ms, &seq) != 2) {
        ms = 0;
        seq = 0;
    }

    snprintf(out, len, "%llu-%llu", ms, seq + 1);
}


/*
 * One pass over one Redis shard.  Returns 0 when the log is written and
 * trimmed up to the grace cutoff, -1 on an error (logged; the next pass
 * starts again from what is left in the log).
 */
static int
cc_reconcile_shard(const cc_reconcile_opts_t *o, const char *addr,
    cc_store_t *st, cc_draw_t *draws, cc_combine_t *combines,
    cc_reconcile_stats_t *stats)
{
    int                 rc;
    char                cutoff[32], minid[64];
    size_t              i, n, nc, inserted;
    int64_t             backoff;
    redisReply         *rr, *t;
    redisContext       *c;
    unsigned long long  read, ins, bad;

    c = cc_reconcile_connect(addr);
    if (c == NULL) {
        return -1;
    }

    rc = -1;
    read = ins = bad = 0;

    /* the cutoff by the Redis clock: stream ids are Redis times */
    t = redisCommand(c, "TIME");
    if (t == NULL || t->type != REDIS_REPLY_ARRAY || t->elements != 2) {
        cc_log("redis %s: TIME: %s", addr, c->err ? c->errstr : "bad reply");
        freeReplyObject(t);
        goto done;
    }

    snprintf(cutoff, sizeof(cutoff), "%lld",
             strtoll(t->element[0]->str, NULL, 10) * 1000
             + strtoll(t->element[1]->str, NULL, 10) / 1000
             - o->grace_s * 1000);
    freeReplyObject(t);

    while (cc_worker_run) {
        rr = redisCommand(c, "XRANGE %s - %s COUNT %lld",
                          CC_RECONCILE_LOG_KEY, cutoff, o->batch);

        if (rr == NULL || rr->type != REDIS_REPLY_ARRAY) {
            cc_log("redis %s: XRANGE: %s", addr,
                   rr == NULL ? c->errstr
                   : rr->type == REDIS_REPLY_ERROR ? rr->str : "bad reply");
            freeReplyObject(rr);
            goto done;
        }

        if (rr->elements == 0) {
            freeReplyObject(rr);
            break;
        }

        n = 0;
        nc = 0;

        for (i = 0; i < rr->elements; i++) {
            bad += cc_reconcile_entry(addr, rr->element[i], draws, &n,
                                      combines, &nc);
        }

        backoff = 100;

        while (cc_store_write(st, draws, n, combines, nc, &inserted) != 0) {
            cc_log("mysql: %s; retrying in %lld ms", st->err,
                   (long long) backoff);

            if (cc_sleep_ms(backoff) != 0) {
                freeReplyObject(rr);
                goto done;
            }

            backoff = backoff < 5000 ? backoff * 2 : 5000;
        }

        read += n + nc;
        ins += inserted;

        /* written: drop the log up to and including the last entry */
        cc_reconcile_next_id(rr->element[rr->elements - 1]->element[0]->str,
                             minid, sizeof(minid));

        i = rr->elements;
        freeReplyObject(rr);

        rr = redisCommand(c, "XTRIM %s MINID %s", CC_RECONCILE_LOG_KEY,
                          minid);
        if (rr == NULL || rr->type != REDIS_REPLY_INTEGER) {
            cc_log("redis %s: XTRIM: %s", addr, c->err ? c->errstr
                   : rr->type == REDIS_REPLY_ERROR ? rr->str : "bad reply");
            freeReplyObject(rr);
            goto done;
        }

        freeReplyObject(rr);

        if ((long long) i < o->batch) {
            break;
        }
    }

    rr = redisCommand(c, "XLEN %s", CC_RECONCILE_LOG_KEY);

    cc_log("redis %s: %llu draws checked, %llu were missing from MySQL "
           "and are now written, %llu unreadable; %lld newer left in the log",
           addr, read, ins, bad,
           rr && rr->type == REDIS_REPLY_INTEGER ? rr->integer : -1LL);

    freeReplyObject(rr);

    stats->read += read;
    stats->inserted += ins;
    stats->bad += bad;

    rc = cc_worker_run ? 0 : -1;

done:

    redisFree(c);
    return rc;
}


/*
 * The textfile after a pass: totals since start, the last pass's rate.
 * Until a pass succeeded the file is left alone, so a collector keeps
 * the last success time of an earlier run and its age shows the failure.
 */
static void
cc_reconcile_metrics(const char *path, const cc_reconcile_stats_t *all,
    const cc_reconcile_stats_t *pass, int64_t pass_ms, int failed,
    int64_t last_ok_ms)
{
    cc_promfile_t  pf;

    if (path == NULL || last_ok_ms == 0) {
        return;
    }

    cc_promfile_begin(&pf);
    cc_promfile_add(&pf, "cc_reconcile_rows_total", "counter",
                    "Draws and combines read from the Redis logs",
                    (double) all->read);
    cc_promfile_add(&pf, "cc_reconcile_written_total", "counter",
                    "Rows MySQL lacked, written by the reconciler",
                    (double) all->inserted);
    cc_promfile_add(&pf, "cc_reconcile_unreadable_total", "counter",
                    "Log lines or entries skipped as unreadable",
                    (double) all->bad);
    cc_promfile_add(&pf, "cc_reconcile_rate", "gauge",
                    "Rows read per second in the last pass",
                    pass->read * 1000.0 / (double) (pass_ms + 1));
    cc_promfile_add(&pf, "cc_reconcile_failed_shards", "gauge",
                    "Redis shards the last pass could not finish", failed);
    cc_promfile_add(&pf, "cc_reconcile_last_success_timestamp_seconds",
                    "gauge", "End of the last pass with no failed shard "
                    "(unix seconds)", last_ok_ms / 1000.0);

    if (cc_promfile_commit(&pf, path) != 0) {
        cc_log("metrics file %s: %s", path, strerror(errno));
    }
}


int
main(int argc, char **argv)
{
    int                   failed;
    size_t                i;
    cc_draw_t            *draws;
    cc_combine_t         *combines;
    cc_store_t            st;
    cc_reconcile_opts_t   o;
    cc_reconcile_stats_t  stats, all;
    int64_t               started, last_ok;

    cc_worker_init("cc-reconcile");

    for (i = 1; i < (size_t) argc; i++) {
        if (strcmp(argv[i], "--money") == 0) {
            return cc_reconcile_money_main(argc, argv);
        }
    }

    if (cc_reconcile_parse(argc, argv, &o) != 0) {
        return 2;
    }

    if (cc_store_open(&st, o.mysql, o.nmysql, o.user,
                      getenv("CC_MYSQL_PASSWORD")) != 0)
    {
        fprintf(stderr, "cc-reconcile: %s\n", st.err);
        return 2;
    }

    draws = calloc(o.batch * CC_LOG_BATCH_MAX, sizeof(cc_draw_t));
    combines = calloc(o.batch, sizeof(cc_combine_t));

    if (draws == NULL || combines == NULL) {
        cc_log("out of memory");
        free(draws);
        free(combines);
        cc_store_close(&st);
        return 1;
    }

    failed = 0;
    last_ok = 0;
    memset(&all, 0, sizeof(all));

    do {
        memset(&stats, 0, sizeof(stats));
        failed = 0;
        started = cc_now_ms();

        for (i = 0; i < o.nredis && cc_worker_run; i++) {
            if (cc_reconcile_shard(&o, o.redis[i], &st, draws, combines,
                                   &stats)
                != 0)
            {
                failed++;
            }
        }

        cc_log("pass done: %llu draws checked, %llu written, %llu "
               "unreadable, %d shard(s) failed", stats.read, stats.inserted,
               stats.bad, failed);

        all.read += stats.read;
        all.inserted += stats.inserted;
        all.bad += stats.bad;
        last_ok = failed ? last_ok : cc_now_ms();
        cc_reconcile_metrics(o.metrics_file, &all, &stats,
                             cc_now_ms() - started, failed, last_ok);

    } while (!o.once && cc_sleep_ms(o.interval_s * 1000) == 0);

    free(draws);
    free(combines);
    cc_store_close(&st);
    mysql_library_end();

    return failed ? 1 : 0;
}
