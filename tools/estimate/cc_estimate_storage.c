/*
 * cc-estimate's storage estimate (the default): from the number of users,
 * their draws and the campaign's length it prints Redis memory (user hashes
 * with the answers they keep, grant sets, the draw stream's backlog), Kafka
 * disk over the retention window and MySQL rows and bytes, in total and per
 * shard, with every per-item size it used and where that size came from.
 *
 * Integers only.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_keys.h"
#include "cc_worker.h"
#include "cc_ring.h"
#include "cc_estimate.h"


/*
 * Per-item sizes, measured by bench/measure-layout.sh on 2026-11-27 with
 * redis 7.0.15 (jemalloc-5.3.0) and MariaDB 10.11.19 (InnoDB, 16K pages):
 * Redis as used_memory after minus before / count on an emptied server
 * (100000 of each, 9-digit uids, 20-char request ids), so the keyspace's
 * hash tables are included; MySQL as (data_length + index_length) / rows
 * after ANALYZE TABLE, 1000000 draws and 206301 user_cards rows loaded in
 * random order (the .ibd files were 10% and 70% larger: free extents);
 * Kafka from the JSON cc_draw_encode() prints and the v2 message format.
 */
#define CC_EST_SOURCE  "bench/measure-layout.sh, 2026-11-27, " \
                       "redis 7.0.15 jemalloc-5.3.0, MariaDB 10.11.19"

#define CC_EST_REDIS_USER_HASH     155   /* cc:{uid}:u, 8 fields, listpack */
#define CC_EST_REDIS_GRANT_SET     116   /* cc:{uid}:g without its ids */
#define CC_EST_REDIS_GRANT_ID       69   /* one id in cc:{uid}:g */
#define CC_EST_REDIS_ANSWER         38   /* :<id> = answer, in cc:{uid}:u */
#define CC_EST_REDIS_STREAM_ENTRY   72   /* a cc:draws entry of one draw */
#define CC_EST_KAFKA_VALUE         117   /* the draw's JSON */
#define CC_EST_KAFKA_KEY             9   /* the uid */
#define CC_EST_KAFKA_RECORD          9   /* v2 record framing */
#define CC_EST_KAFKA_BATCH          61   /* v2 record batch header */
#define CC_EST_MYSQL_DRAW_ROW       95   /* draws, data + index */
#define CC_EST_MYSQL_CARD_ROW       53   /* user_cards, data + index */

#define CC_EST_KINDS                 5   /* cards of nginx.conf.example */


/* the report's list of the sizes above: what, size, how it was measured */
static const struct {
    const char  *what;
    unsigned     size;
    const char  *from;
} cc_est_items[] = {
    { "redis user hash", CC_EST_REDIS_USER_HASH,
      "cc:{uid}:u, fields c s k0..k4 g (listpack): used_memory delta"
      " / 100000" },
    { "redis grant set", CC_EST_REDIS_GRANT_SET,
      "cc:{uid}:g (hashtable) without ids: a 3-id set 323 B - 3 x 69 B" },
    { "redis grant id", CC_EST_REDIS_GRANT_ID,
      "3 more ids in each of the sets: used_memory delta / 300000" },
    { "redis kept answer", CC_EST_REDIS_ANSWER,
      ":<20-char id> = \"seq:card:left:period\" in the user hash, 5 a user:"
      " (delta - hashes) / 500000" },
    { "redis stream entry", CC_EST_REDIS_STREAM_ENTRY,
      CC_KEY_LOG " entry d = one draw line (a batch of one: the worst case),"
      " 200 a second: delta / 100000" },
    { "kafka value", CC_EST_KAFKA_VALUE,
      "the JSON of cc_draw_encode(): 9-digit uid, seq 12, 20-char id" },
    { "kafka key", CC_EST_KAFKA_KEY, "the uid" },
    { "kafka record framing", CC_EST_KAFKA_RECORD,
      "v2 record: length, attributes, deltas, lengths, header count" },
    { "kafka batch header", CC_EST_KAFKA_BATCH,
      "v2 record batch header (KIP-98), once a batch" },
    { "mysql draws row", CC_EST_MYSQL_DRAW_ROW,
      "(data_length + index_length) / rows, 1000000 rows, ANALYZE TABLE" },
    { "mysql user_cards row", CC_EST_MYSQL_CARD_ROW,
      "the same, 206301 rows; both loaded in random order" },
};


typedef struct {
    long long  users;
    long long  draws;
    long long  days;
    long long  retention;
    long long  redis_shards;
    long long  mysql_shards;
    long long  grants;
    long long  ttl_days;
    long long  lag_min;
    long long  replication;
    long long  peak;
    long long  batch;
} cc_est_opts_t;


static void
cc_est_usage(FILE *out)
{
    fprintf(out,
"usage: cc-estimate --users N --draws-per-user D --days DAYS\n"
"                   --retention-days R --redis-shards S --mysql-shards M\n"
"                   [options]\n"
"\n"
"Prints the storage a campaign needs: Redis memory, Kafka disk and MySQL\n"
"rows and bytes, in total and per shard, from per-item sizes measured by\n"
"bench/measure-layout.sh (printed with the report).\n"
"\n"
"  --users N               users who take part, 1..10000000000\n"
"  --draws-per-user D      average flips per user, 1..100000\n"
"  --days DAYS             campaign length, 1..3650\n"
"  --retention-days R      Kafka retention of the draw topic, 1..3650\n"
"  --redis-shards S        Redis shards, 1..%d\n"
"  --mysql-shards M        MySQL shards, 1..%d\n"
"  --grants-per-user G     grant ids applied per user, 0..10000 (default 3)\n"
"  --request-ttl-days T    cc_request_ttl in days, 1..365 (default 1)\n"
"  --reconcile-lag-min L   minutes a draw stays in the Redis stream before\n"
"                          cc-reconcile trims it, 0..10080 (default 10)\n"
"  --kafka-replication F   replicas of each partition, 1..10 (default 3)\n"
"  --kafka-batch-records B records per record batch, 1..1000000 (default 1:\n"
"                          the worst case, many producers x partitions)\n"
"  --peak-factor P         the peak day's draws / an average day's,\n"
"                          1..1000 (default 5)\n"
"  --help                  this text\n"
"\n"
"  draws = N x D; average day = draws / DAYS; peak day = draws x P / DAYS;\n"
"  peak second = peak day / 86400 (each rounded up, none above draws)\n"
"  Redis = N x (hash + grant set + answers x kept answer)\n"
"          + peak second x L x 60 x stream entry\n"
"  answers = min(D, 2 x T x P x D / DAYS): a user keeps the answers of\n"
"          2 TTL periods at most, at the peak rate\n"
"  Kafka = (peak day + average day x (R - 1)) x record x F\n"
"  MySQL = N x D draws rows + N x min(D, %d) user_cards rows\n",
            CC_RING_SHARDS_MAX, CC_RING_SHARDS_MAX, CC_EST_KINDS);
}


static int
cc_est_parse(int argc, char **argv, cc_est_opts_t *o)
{
    int   c, i, n;
    char  name[32];

    static const struct option  opts[] = {
        { "users",               required_argument, NULL, 0 },
        { "draws-per-user",      required_argument, NULL, 0 },
        { "days",                required_argument, NULL, 0 },
        { "retention-days",      required_argument, NULL, 0 },
        { "redis-shards",        required_argument, NULL, 0 },
        { "mysql-shards",        required_argument, NULL, 0 },
        { "grants-per-user",     required_argument, NULL, 0 },
        { "request-ttl-days",    required_argument, NULL, 0 },
        { "reconcile-lag-min",   required_argument, NULL, 0 },
        { "kafka-replication",   required_argument, NULL, 0 },
        { "peak-factor",         required_argument, NULL, 0 },
        { "kafka-batch-records", required_argument, NULL, 0 },
        { "help",                no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    /* the options of opts[], in its order: bounds, default (-1: required) */
    struct {
        long long  *field;
        long long   min, max, def;
    } spec[] = {
        { &o->users,        1, 10000000000LL,      -1 },
        { &o->draws,        1, 100000,             -1 },
        { &o->days,         1, 3650,               -1 },
        { &o->retention,    1, 3650,               -1 },
        { &o->redis_shards, 1, CC_RING_SHARDS_MAX, -1 },
        { &o->mysql_shards, 1, CC_RING_SHARDS_MAX, -1 },
        { &o->grants,       0, 10000,               3 },
        { &o->ttl_days,     1, 365,                 1 },
        { &o->lag_min,      0, 10080,              10 },
        { &o->replication,  1, 10,                  3 },
        { &o->peak,         1, 1000,                5 },
        { &o->batch,        1, 1000000,             1 },
    };

    n = (int) (sizeof(spec) / sizeof(spec[0]));

    for (i = 0; i < n; i++) {
        *spec[i].field = spec[i].def;
    }

    while ((c = getopt_long(argc, argv, "h", opts, &i)) != -1) {
        if (c == 'h') {
            cc_est_usage(stdout);
            return CC_OPT_HELP;
        }

        if (c != 0) {
            cc_est_usage(stderr);
            return -1;
        }

        snprintf(name, sizeof(name), "--%s", opts[i].name);

        if (cc_opt_int(name, optarg, spec[i].min, spec[i].max,
                       spec[i].field) != 0)
        {
            return -1;
        }
    }

    for (i = 0; i < n; i++) {
        if (*spec[i].field < 0) {
            fprintf(stderr, "cc-estimate: --%s is needed (see --help)\n",
                    opts[i].name);
            return -1;
        }
    }

    if (optind != argc) {
        fprintf(stderr, "cc-estimate: unexpected argument \"%s\"\n",
                argv[optind]);
        return -1;
    }

    return 0;
}


static uint64_t
cc_est_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}


/* "1.23 GiB": two decimals, rounded, integers only */
static const char *
cc_est_human(uint64_t b, char *buf, size_t len)
{
    int         i;
    uint64_t    unit, whole, frac;

    static const char  *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };

    for (i = 0, unit = 1; i < 5 && b >= unit * 1024; i++) {
        unit *= 1024;
    }

    whole = b / unit;
    frac = ((b % unit) * 100 + unit / 2) / unit;

    if (frac == 100) {
        whole++;
        frac = 0;
    }

    snprintf(buf, len, "%llu.%02llu %s", (unsigned long long) whole,
             (unsigned long long) frac, units[i]);

    return buf;
}


/* count x size = bytes, with what the count is */
static void
cc_est_line(const char *what, uint64_t count, uint64_t size, const char *why)
{
    printf("  %-22s %15llu x %4llu B = %20llu B   %s\n", what,
           (unsigned long long) count, (unsigned long long) size,
           (unsigned long long) (count * size), why);
}


static void
cc_est_bytes(const char *what, uint64_t bytes)
{
    char  h[32];

    printf("  %-22s %15s   %6s = %20llu B   %s\n", what, "", "",
           (unsigned long long) bytes, cc_est_human(bytes, h, sizeof(h)));
}


static void
cc_est_report(const cc_est_opts_t *o)
{
    char      why[128];
    size_t    i;
    uint64_t  users, draws, avg_day, peak_day, peak_sec, kept, live, backlog;
    uint64_t  grant, redis, window, record, batches, log, rows_d, rows_c;

    users = (uint64_t) o->users;
    draws = users * (uint64_t) o->draws;
    avg_day = cc_est_div_up(draws, (uint64_t) o->days);
    peak_day = cc_est_min(draws, cc_est_div_up(draws * (uint64_t) o->peak,
                                               (uint64_t) o->days));
    peak_sec = cc_est_div_up(peak_day, 86400);
    kept = cc_est_min((uint64_t) o->draws,
                      cc_est_div_up(2 * (uint64_t) o->ttl_days
                                    * (uint64_t) o->peak
                                    * (uint64_t) o->draws,
                                    (uint64_t) o->days));
    live = users * kept;
    backlog = cc_est_min(draws, peak_sec * (uint64_t) o->lag_min * 60);

    printf("cc-estimate: %llu users x %lld draws in %lld days; "
           "Redis %lld shards, MySQL %lld shards\n\n",
           (unsigned long long) users, o->draws, o->days, o->redis_shards,
           o->mysql_shards);

    printf("draws\n");
    printf("  %-22s %15llu   users x draws per user\n", "total",
           (unsigned long long) draws);
    printf("  %-22s %15llu   total / %lld days\n", "average day",
           (unsigned long long) avg_day, o->days);
    printf("  %-22s %15llu   total x %lld / %lld days\n", "peak day",
           (unsigned long long) peak_day, o->peak, o->days);
    printf("  %-22s %15llu   peak day / 86400 s\n", "peak second",
           (unsigned long long) peak_sec);
    printf("  (each rounded up; none above the total)\n\n");

    printf("sizes per item (measured: %s)\n", CC_EST_SOURCE);

    for (i = 0; i < sizeof(cc_est_items) / sizeof(cc_est_items[0]); i++) {
        printf("  %-22s %5u B   %s\n", cc_est_items[i].what,
               cc_est_items[i].size, cc_est_items[i].from);
    }

    /* Redis */
    grant = o->grants ? CC_EST_REDIS_GRANT_SET
                        + (uint64_t) o->grants * CC_EST_REDIS_GRANT_ID : 0;
    redis = users * (CC_EST_REDIS_USER_HASH + grant)
            + live * CC_EST_REDIS_ANSWER
            + backlog * CC_EST_REDIS_STREAM_ENTRY;

    printf("\nredis (%lld shards)\n", o->redis_shards);
    cc_est_line("user hashes", users, CC_EST_REDIS_USER_HASH, "users");
    snprintf(why, sizeof(why), "users; %d B + %lld ids x %d B",
             CC_EST_REDIS_GRANT_SET, o->grants, CC_EST_REDIS_GRANT_ID);
    cc_est_line("grant sets", users, grant, why);
    snprintf(why, sizeof(why), "users x %llu: 2 x %lld day(s) of TTL at the"
             " peak, at most all", (unsigned long long) kept, o->ttl_days);
    cc_est_line("kept answers", live, CC_EST_REDIS_ANSWER, why);
    snprintf(why, sizeof(why), "peak second x %lld min before the trim",
             o->lag_min);
    cc_est_line("stream backlog", backlog, CC_EST_REDIS_STREAM_ENTRY, why);
    cc_est_bytes("redis total", redis);
    cc_est_bytes("redis per shard",
                 cc_est_div_up(redis, (uint64_t) o->redis_shards));

    /* Kafka: the fullest retention window holds the peak day */
    window = (uint64_t) o->retention >= (uint64_t) o->days ? draws
             : cc_est_min(draws, peak_day
                                 + avg_day * (uint64_t) (o->retention - 1));
    record = CC_EST_KAFKA_VALUE + CC_EST_KAFKA_KEY + CC_EST_KAFKA_RECORD;
    batches = cc_est_div_up(window, (uint64_t) o->batch);
    log = window * record + batches * CC_EST_KAFKA_BATCH;

    printf("\nkafka (retention %lld days, replication %lld)\n",
           o->retention, o->replication);
    snprintf(why, sizeof(why), "in %lld days: peak day + average day x %lld",
             o->retention, o->retention - 1);
    cc_est_line("messages", window, record,
                (uint64_t) o->retention >= (uint64_t) o->days
                ? "every draw: the retention outlasts the campaign" : why);
    snprintf(why, sizeof(why), "one per %lld record(s)", o->batch);
    cc_est_line("batch headers", batches, CC_EST_KAFKA_BATCH, why);
    cc_est_bytes("kafka log", log);
    cc_est_bytes("kafka disk", log * (uint64_t) o->replication);

    /* MySQL */
    rows_d = draws;
    rows_c = users * cc_est_min((uint64_t) o->draws, CC_EST_KINDS);

    printf("\nmysql (%lld shards)\n", o->mysql_shards);
    cc_est_line("draws rows", rows_d, CC_EST_MYSQL_DRAW_ROW,
                "one a draw");
    snprintf(why, sizeof(why), "users x min(%lld, %d kinds): at most",
             o->draws, CC_EST_KINDS);
    cc_est_line("user_cards rows", rows_c, CC_EST_MYSQL_CARD_ROW, why);
    cc_est_bytes("mysql total", rows_d * CC_EST_MYSQL_DRAW_ROW
                                + rows_c * CC_EST_MYSQL_CARD_ROW);
    cc_est_line("draws per shard",
                cc_est_div_up(rows_d, (uint64_t) o->mysql_shards),
                CC_EST_MYSQL_DRAW_ROW, "rows / shards");
    cc_est_line("user_cards per shard",
                cc_est_div_up(rows_c, (uint64_t) o->mysql_shards),
                CC_EST_MYSQL_CARD_ROW, "rows / shards");
    cc_est_bytes("mysql per shard",
                 cc_est_div_up(rows_d * CC_EST_MYSQL_DRAW_ROW
                               + rows_c * CC_EST_MYSQL_CARD_ROW,
                               (uint64_t) o->mysql_shards));

    printf("\nnotes\n"
"  - per shard is the mean: the ring (%d points a shard) is uneven; with\n"
"    names 10.0.x.y:6379 the fullest of 64 shards held 1.16x the mean of\n"
"    2000000 uids, the fullest of 256 1.24x.  Leave that headroom.\n"
"  - Redis counts used_memory: set maxmemory above it for fragmentation,\n"
"    replica buffers and the copy-on-write of a fork (BGSAVE, AOF rewrite).\n"
"  - Kafka is uncompressed (the producers set no compression.codec); whole\n"
"    segments are deleted, so add up to one log.segment.bytes a partition.\n"
"  - MySQL: no binlog, redo or undo; the .ibd files ran 10%% (draws) and\n"
"    70%% (user_cards) above data_length in the measurement.\n",
           CC_RING_VNODES);
}


int
cc_est_storage(int argc, char **argv)
{
    int            rc;
    cc_est_opts_t  o;

    rc = cc_est_parse(argc, argv, &o);

    if (cc_opt_done(rc, &rc)) {
        return rc;
    }

    cc_est_report(&o);

    return 0;
}
