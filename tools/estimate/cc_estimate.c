/*
 * cc-estimate: the storage and the machines a campaign needs, worked out
 * ahead of time.
 *
 * Storage (the default): from the number of users, their draws and the
 * campaign's length it prints Redis memory (user hashes with the answers
 * they keep, grant sets, the draw stream's backlog), Kafka disk over the
 * retention window and MySQL rows and bytes, in total and per shard, with
 * every per-item size it used and where that size came from.
 *
 * Capacity (--capacity): from the users, the peak flips a second and the
 * winners, the app nodes, Redis shards, MySQL hosts and shards and payout
 * workers, and how long the draw and the payout take, each from a
 * per-node figure bench/all.sh measured (read from bench/RESULTS.md, or
 * given as an option) and named next to the answer.
 *
 * Integers only.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_keys.h"
#include "cc_worker.h"
#include "cc_ring.h"


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
cc_est_div_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
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


/* ---- capacity ---------------------------------------------------------- */


/*
 * The per-node figures of capacity planning, as the rows of the table in
 * bench/RESULTS.md ("| figure | value | unit | ...") that bench/all.sh
 * writes, each overridden by its option.  Every bench ran on one machine
 * of "- cores: N" cores; the MySQL benches wrote into 2 shards on one
 * mariadbd, so a MySQL host is measured as holding 2 shards.
 */
#define CC_CAP_RESULTS       "bench/RESULTS.md"
#define CC_CAP_HOST_SHARDS   2
#define CC_CAP_LINE          512

enum {
    CC_CAP_FLIP = 0,
    CC_CAP_REDIS,
    CC_CAP_INGEST,
    CC_CAP_DRAW,
    CC_CAP_PAYOUT,
    CC_CAP_CORES,
    CC_CAP_N
};

static const struct {
    const char  *row;          /* the row's first cell in RESULTS.md */
    const char  *unit;
    const char  *opt;          /* the option that overrides it */
    long long    max;
} cc_cap_figs[CC_CAP_N] = {
    { "flip, module",    "flips/s",   "flip-rate",         100000000 },
    { "flip, redis cpu", "ns/flip",   "redis-ns-per-flip", 1000000 },
    { "ingest",          "draws/s",   "ingest-rate",       100000000 },
    { "draw",            "awards/s",  "draw-rate",         100000000 },
    { "payout",          "credits/s", "payout-rate",       100000000 },
    { "cores",           "cores",     "node-cores",        1024 },
};


typedef struct {
    long long    users;
    long long    peak;
    long long    winners;          /* -1: from the fraction */
    long long    fraction_ppm;     /* -1: unset */
    long long    headroom;
    const char  *results;
    long long    fig[CC_CAP_N];    /* -1: read from results */
    char         from[CC_CAP_N][96];
    int          quick;            /* results from a QUICK=1 run */
} cc_cap_opts_t;


static void
cc_cap_usage(FILE *out)
{
    fprintf(out,
"usage: cc-estimate --capacity --users N --peak-flips P\n"
"                   (--winners W | --eligible-fraction F) [options]\n"
"\n"
"Prints the machines a campaign needs at its peak and how long its draw\n"
"and payout take, from per-node figures that bench/all.sh measured: the\n"
"table of bench/RESULTS.md (--results), each overridden by its option.\n"
"Every answer names the figure it comes from.\n"
"\n"
"  --users N               users who take part, 1..10000000000\n"
"  --peak-flips P          flips a second at the peak, 1..1000000000\n"
"  --winners W             eligible users, paid in the split, 0..N\n"
"  --eligible-fraction F   or W = N x F, F in 0..1 (up to 6 decimals)\n"
"  --headroom-pct H        plan for H%% of the peak, 100..1000 (default 150)\n"
"  --results FILE          the figures (default " CC_CAP_RESULTS ")\n"
"  --flip-rate R           flips/s of one app node (row \"flip, module\")\n"
"  --redis-ns-per-flip T   Redis CPU ns a flip (row \"flip, redis cpu\")\n"
"  --ingest-rate R         draws/s into one MySQL host (row \"ingest\")\n"
"  --draw-rate R           awards/s of cc-draw on one host (row \"draw\")\n"
"  --payout-rate R         credits/s of one cc-payout (row \"payout\")\n"
"  --node-cores C          cores of the measured machine (\"- cores: C\")\n"
"  --help                  this text\n"
"\n"
"  load = P x H / 100 flips/s (rounded up, as every division below)\n"
"  app nodes = load / flip rate, nodes like the measured one\n"
"  Redis shards = load x ns a flip / 10^9: a shard is one core\n"
"  MySQL hosts = load / ingest rate; MySQL shards = hosts x %d\n"
"  payout workers = MySQL hosts: one cc-payout a host of %d shards\n"
"  draw = W / (hosts x draw rate); payout = W / (workers x payout rate)\n",
            CC_CAP_HOST_SHARDS, CC_CAP_HOST_SHARDS);
}


/* "0.25" -> 250000 parts per million; 0..1 with up to 6 decimals */
static int
cc_cap_fraction(const char *arg, long long *ppm)
{
    int          digits;
    long long    v, scale;
    const char  *s;

    s = arg;

    if (*s < '0' || *s > '9') {
        goto bad;
    }

    v = *s++ - '0';

    if (*s == '.') {
        s++;
        digits = 0;

        while (*s >= '0' && *s <= '9' && digits < 6) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }

        if (digits == 0) {
            goto bad;
        }

        for (scale = 1; digits < 6; digits++) {
            scale *= 10;
        }

        v *= scale;

    } else {
        v *= 1000000;
    }

    if (*s != '\0' || v > 1000000) {
        goto bad;
    }

    *ppm = v;
    return 0;

bad:

    fprintf(stderr, "cc-estimate: --eligible-fraction must be a number in "
            "0..1 with up to 6 decimals, not \"%s\"\n", arg);
    return -1;
}


/* a cell of a table row: trimmed, into buf; the next cell's start or NULL */
static char *
cc_cap_cell(char *p, char *buf, size_t len)
{
    size_t   n;
    char    *end;

    end = strchr(p, '|');
    if (end == NULL) {
        return NULL;
    }

    while (p < end && *p == ' ') {
        p++;
    }

    for (n = (size_t) (end - p); n > 0 && p[n - 1] == ' '; n--) {
        /* void */
    }

    if (n >= len) {
        n = len - 1;
    }

    memcpy(buf, p, n);
    buf[n] = '\0';

    return end + 1;
}


/*
 * Reads the figures no option gave from the results file: the rows
 * "| figure | value | ..." and the line "- cores: N".  A figure missing,
 * or not an integer in its range (a bench that failed writes "failed"),
 * is an error naming the row and the file.
 */
static int
cc_cap_read(cc_cap_opts_t *o)
{
    int        i, found[CC_CAP_N], need;
    char       line[CC_CAP_LINE], name[96], value[64], *p, *end;
    FILE      *f;
    long long  v;

    for (i = 0, need = 0; i < CC_CAP_N; i++) {
        found[i] = o->fig[i] >= 0;
        need += !found[i];
    }

    if (need == 0) {
        return 0;
    }

    f = fopen(o->results, "r");
    if (f == NULL) {
        fprintf(stderr, "cc-estimate: %s: %s (run bench/all.sh, or give "
                "every figure as an option: see --help)\n", o->results,
                strerror(errno));
        return -1;
    }

    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';

        if (strstr(line, "QUICK=1") != NULL) {
            o->quick = 1;
        }

        if (strncmp(line, "- cores: ", 9) == 0) {
            p = line + 9;
            i = CC_CAP_CORES;
            snprintf(value, sizeof(value), "%.63s", p);

        } else if (line[0] == '|') {
            p = cc_cap_cell(line + 1, name, sizeof(name));
            if (p == NULL || cc_cap_cell(p, value, sizeof(value)) == NULL) {
                continue;
            }

            for (i = 0; i < CC_CAP_CORES; i++) {
                if (strcmp(name, cc_cap_figs[i].row) == 0) {
                    break;
                }
            }

            if (i == CC_CAP_CORES) {
                continue;
            }

        } else {
            continue;
        }

        if (found[i]) {
            continue;
        }

        errno = 0;
        v = strtoll(value, &end, 10);

        if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0
            || v < 1 || v > cc_cap_figs[i].max)
        {
            fprintf(stderr, "cc-estimate: %s: \"%s\" is \"%s\", not an "
                    "integer in 1..%lld (give --%s)\n", o->results,
                    cc_cap_figs[i].row, value, cc_cap_figs[i].max,
                    cc_cap_figs[i].opt);
            fclose(f);
            return -1;
        }

        o->fig[i] = v;
        found[i] = 1;
        snprintf(o->from[i], sizeof(o->from[i]), "%s: %s", o->results,
                 cc_cap_figs[i].row);
    }

    fclose(f);

    for (i = 0; i < CC_CAP_N; i++) {
        if (!found[i]) {
            fprintf(stderr, "cc-estimate: %s has no \"%s\" (give --%s)\n",
                    o->results, i == CC_CAP_CORES ? "- cores: N"
                                                  : cc_cap_figs[i].row,
                    cc_cap_figs[i].opt);
            return -1;
        }
    }

    return 0;
}


static int
cc_cap_parse(int argc, char **argv, cc_cap_opts_t *o)
{
    int         c, i, k;
    char        name[32];
    long long   max;

    static const struct option  opts[] = {
        { "capacity",          no_argument,       NULL, 'C' },
        { "users",             required_argument, NULL, 'u' },
        { "peak-flips",        required_argument, NULL, 'p' },
        { "winners",           required_argument, NULL, 'w' },
        { "eligible-fraction", required_argument, NULL, 'e' },
        { "headroom-pct",      required_argument, NULL, 'H' },
        { "results",           required_argument, NULL, 'r' },
        { "flip-rate",         required_argument, NULL, 0 },
        { "redis-ns-per-flip", required_argument, NULL, 0 },
        { "ingest-rate",       required_argument, NULL, 0 },
        { "draw-rate",         required_argument, NULL, 0 },
        { "payout-rate",       required_argument, NULL, 0 },
        { "node-cores",        required_argument, NULL, 0 },
        { "help",              no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(o, 0, sizeof(*o));
    o->users = -1;
    o->peak = -1;
    o->winners = -1;
    o->fraction_ppm = -1;
    o->headroom = 150;
    o->results = CC_CAP_RESULTS;

    for (k = 0; k < CC_CAP_N; k++) {
        o->fig[k] = -1;
    }

    while ((c = getopt_long(argc, argv, "h", opts, &i)) != -1) {
        switch (c) {

        case 'C':
            break;

        case 'u':
            if (cc_opt_int("--users", optarg, 1, 10000000000LL, &o->users)
                != 0)
            {
                return -1;
            }
            break;

        case 'p':
            if (cc_opt_int("--peak-flips", optarg, 1, 1000000000LL, &o->peak)
                != 0)
            {
                return -1;
            }
            break;

        case 'w':
            if (cc_opt_int("--winners", optarg, 0, 10000000000LL,
                           &o->winners) != 0)
            {
                return -1;
            }
            break;

        case 'e':
            if (cc_cap_fraction(optarg, &o->fraction_ppm) != 0) {
                return -1;
            }
            break;

        case 'H':
            if (cc_opt_int("--headroom-pct", optarg, 100, 1000, &o->headroom)
                != 0)
            {
                return -1;
            }
            break;

        case 'r':
            o->results = optarg;
            break;

        case 'h':
            cc_cap_usage(stdout);
            return CC_OPT_HELP;

        case 0:
            for (k = 0; k < CC_CAP_N; k++) {
                if (strcmp(opts[i].name, cc_cap_figs[k].opt) == 0) {
                    break;
                }
            }

            snprintf(name, sizeof(name), "--%s", opts[i].name);
            max = cc_cap_figs[k].max;

            if (cc_opt_int(name, optarg, 1, max, &o->fig[k]) != 0) {
                return -1;
            }

            snprintf(o->from[k], sizeof(o->from[k]), "%s", name);
            break;

        default:
            cc_cap_usage(stderr);
            return -1;
        }
    }

    if (optind != argc) {
        fprintf(stderr, "cc-estimate: unexpected argument \"%s\"\n",
                argv[optind]);
        return -1;
    }

    if (o->users < 0 || o->peak < 0) {
        fprintf(stderr, "cc-estimate: --capacity needs --%s (see --help)\n",
                o->users < 0 ? "users" : "peak-flips");
        return -1;
    }

    if ((o->winners < 0) == (o->fraction_ppm < 0)) {
        fprintf(stderr, "cc-estimate: --capacity needs one of --winners and "
                "--eligible-fraction\n");
        return -1;
    }

    if (o->winners > o->users) {
        fprintf(stderr, "cc-estimate: --winners %lld is more than --users "
                "%lld\n", o->winners, o->users);
        return -1;
    }

    if (o->winners < 0) {
        /* rounded to the nearest user */
        o->winners = (o->users * o->fraction_ppm + 500000) / 1000000;
    }

    return cc_cap_read(o);
}


/* 5400 -> "1 h 30 min 0 s" */
static const char *
cc_cap_time(uint64_t s, char *buf, size_t len)
{
    snprintf(buf, len, "%llu h %llu min %llu s",
             (unsigned long long) (s / 3600),
             (unsigned long long) (s / 60 % 60),
             (unsigned long long) (s % 60));

    return buf;
}


static void
cc_cap_report(const cc_cap_opts_t *o)
{
    int         i;
    char        t[64];
    uint64_t    load, app, redis, hosts, shards, draw, pay, w;
    const long long  *f;

    f = o->fig;
    w = (uint64_t) o->winners;
    load = cc_est_div_up((uint64_t) o->peak * (uint64_t) o->headroom, 100);
    app = cc_est_div_up(load, (uint64_t) f[CC_CAP_FLIP]);
    redis = cc_est_div_up(load * (uint64_t) f[CC_CAP_REDIS], 1000000000);
    hosts = cc_est_div_up(load, (uint64_t) f[CC_CAP_INGEST]);
    shards = hosts * CC_CAP_HOST_SHARDS;
    draw = cc_est_div_up(w, hosts * (uint64_t) f[CC_CAP_DRAW]);
    pay = cc_est_div_up(w, hosts * (uint64_t) f[CC_CAP_PAYOUT]);

    printf("cc-estimate --capacity: %lld users, peak %lld flips/s, "
           "%llu winners\n\n", o->users, o->peak, (unsigned long long) w);

    printf("per-node figures (each from a %lld-core machine)\n",
           f[CC_CAP_CORES]);

    if (o->quick) {
        printf("  WARNING: %s is from a QUICK=1 run: not figures to plan "
               "with\n", o->results);
    }

    for (i = 0; i < CC_CAP_N; i++) {
        printf("  %-16s %10lld %-10s (%s)\n", cc_cap_figs[i].row, f[i],
               cc_cap_figs[i].unit, o->from[i]);
    }

    printf("\nplanned load     %10llu flips/s  = %lld x %lld%% headroom, "
           "rounded up\n\n", (unsigned long long) load, o->peak, o->headroom);

    printf("  app nodes      %10llu = %llu flips/s / %lld flips/s per "
           "%lld-core node (%s)\n", (unsigned long long) app,
           (unsigned long long) load, f[CC_CAP_FLIP], f[CC_CAP_CORES],
           o->from[CC_CAP_FLIP]);
    printf("  redis shards   %10llu = %llu flips/s x %lld ns/flip (%s) / "
           "10^9 ns: a shard is one core\n", (unsigned long long) redis,
           (unsigned long long) load, f[CC_CAP_REDIS], o->from[CC_CAP_REDIS]);
    printf("  mysql hosts    %10llu = %llu draws/s / %lld draws/s per host "
           "of %d shards (%s)\n", (unsigned long long) hosts,
           (unsigned long long) load, f[CC_CAP_INGEST], CC_CAP_HOST_SHARDS,
           o->from[CC_CAP_INGEST]);
    printf("  mysql shards   %10llu = %llu hosts x %d shards, as measured\n",
           (unsigned long long) shards, (unsigned long long) hosts,
           CC_CAP_HOST_SHARDS);
    printf("  payout threads %10llu = one per mysql shard, all in one "
           "cc-payout process\n", (unsigned long long) shards);
    printf("  draw time      %10llu s = %llu winners / (%llu hosts x %lld "
           "awards/s (%s)): %s\n", (unsigned long long) draw,
           (unsigned long long) w, (unsigned long long) hosts, f[CC_CAP_DRAW],
           o->from[CC_CAP_DRAW], cc_cap_time(draw, t, sizeof(t)));
    printf("  payout time    %10llu s = %llu winners / (%llu hosts x %lld "
           "credits/s per host of %d shards (%s)): %s\n",
           (unsigned long long) pay, (unsigned long long) w,
           (unsigned long long) hosts, f[CC_CAP_PAYOUT], CC_CAP_HOST_SHARDS,
           o->from[CC_CAP_PAYOUT], cc_cap_time(pay, t, sizeof(t)));

    printf("\nassumptions\n"
"  - a node is the measured machine: %lld cores; the flip figure was taken\n"
"    with Redis and the load client on the same cores, so an app node\n"
"    that runs nginx alone does more (a conservative figure).\n"
"  - %lld%% headroom over the peak for app nodes, Redis and MySQL: for\n"
"    spikes, a node lost, and the uneven ring (the fullest of 64 shards\n"
"    held 1.16x the mean).  The draw and payout times have none.\n"
"  - a Redis shard is one core (Redis runs scripts on one thread), as\n"
"    busy as the measured CPU time a flip; no replica or AOF cost.  Check\n"
"    its memory with cc-estimate --users ... --redis-shards N.\n"
"  - MySQL takes every flip as a draw row at the peak rate (cc-ingest),\n"
"    hosts as the measured one holding %d shards; check the storage per\n"
"    shard with cc-estimate --users ... --mysql-shards N.\n"
"  - the draw runs one cc-draw --shard K per shard, in parallel.  One\n"
"    cc-payout pays every shard, a thread each, so the shards pay in\n"
"    parallel: the measured rate is a host's (its mariadbd is the\n"
"    bound); cc-payout itself took 1.3 us of CPU a credit\n"
"    (bench/results/payout.txt), a core per 750k credits/s.\n",
           f[CC_CAP_CORES], o->headroom, CC_CAP_HOST_SHARDS);
}


int
main(int argc, char **argv)
{
    int            i, capacity, rc;
    cc_est_opts_t  o;
    cc_cap_opts_t  c;

    cc_worker_init("cc-estimate");

    capacity = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--capacity") == 0) {
            capacity = 1;
        }
    }

    rc = capacity ? cc_cap_parse(argc, argv, &c)
                  : cc_est_parse(argc, argv, &o);

    if (cc_opt_done(rc, &rc)) {
        return rc;
    }

    if (capacity) {
        cc_cap_report(&c);

    } else {
        cc_est_report(&o);
    }

    return 0;
}
