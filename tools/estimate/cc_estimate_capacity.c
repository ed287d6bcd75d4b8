/*
 * cc-estimate --capacity: from the users, the peak flips a second and the
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

#include "cc_worker.h"
#include "cc_estimate.h"


/*
 * The per-node figures of capacity planning, as the rows of the table in
 * bench/RESULTS.md ("| figure | value | unit | ...") that bench/all.sh
 * writes, each overridden by its option.  Every bench ran on one machine
 * of "- cores: N" cores; the MySQL benches wrote into 2 shards on one
 * mariadbd, so a MySQL host is measured as holding 2 shards.
 */
#define CC_EST_CAP_RESULTS       "bench/RESULTS.md"
#define CC_EST_CAP_HOST_SHARDS   2
#define CC_EST_CAP_LINE          512

/*
 * The replicated layout (README, "Losing a server"): each Redis shard and
 * each MySQL host has --replicas standbys of its size, and one set of
 * Sentinels watches every Redis shard: 3 (a majority of 2 survives one
 * lost), 5 beyond CC_EST_CAP_SENTINEL_SHARDS shards (a majority of 3
 * survives two: more shards are more hosts, and a lost rack takes more
 * than one of them at once).
 */
#define CC_EST_CAP_SENTINEL_SHARDS  16
#define CC_EST_CAP_REPLICAS_MAX     4

enum {
    CC_EST_CAP_FLIP = 0,
    CC_EST_CAP_REDIS,
    CC_EST_CAP_INGEST,
    CC_EST_CAP_DRAW,
    CC_EST_CAP_PAYOUT,
    CC_EST_CAP_CORES,
    CC_EST_CAP_N
};

static const struct {
    const char  *row;          /* the row's first cell in RESULTS.md */
    const char  *unit;
    const char  *opt;          /* the option that overrides it */
    long long    max;
} cc_est_cap_figs[CC_EST_CAP_N] = {
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
    long long    replicas;         /* standbys a Redis shard, a MySQL host */
    const char  *results;
    long long    fig[CC_EST_CAP_N];    /* -1: read from results */
    char         from[CC_EST_CAP_N][96];
    int          quick;            /* results from a QUICK=1 run */
} cc_est_cap_opts_t;


static void
cc_est_cap_usage(FILE *out)
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
"  --replicas R            standbys of each Redis shard and MySQL host, 0..%d\n"
"                          (default 1: a Redis replica and a semi-sync MySQL\n"
"                          replica, each the size of its primary)\n"
"  --results FILE          the figures (default " CC_EST_CAP_RESULTS ")\n"
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
"  draw = W / (hosts x draw rate); payout = W / (workers x payout rate)\n"
"  Redis replicas = shards x R; MySQL replicas = hosts x R\n"
"  Sentinels = 3, or 5 over %d Redis shards; none when R is 0\n",
            CC_EST_CAP_REPLICAS_MAX, CC_EST_CAP_HOST_SHARDS,
            CC_EST_CAP_HOST_SHARDS, CC_EST_CAP_SENTINEL_SHARDS);
}


/* "0.25" -> 250000 parts per million; 0..1 with up to 6 decimals */
static int
cc_est_cap_fraction(const char *arg, long long *ppm)
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
cc_est_cap_cell(char *p, char *buf, size_t len)
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
cc_est_cap_read(cc_est_cap_opts_t *o)
{
    int        i, found[CC_EST_CAP_N], need;
    char       line[CC_EST_CAP_LINE], name[96], value[64], *p, *end;
    FILE      *f;
    long long  v;

    for (i = 0, need = 0; i < CC_EST_CAP_N; i++) {
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
            i = CC_EST_CAP_CORES;
            snprintf(value, sizeof(value), "%.63s", p);

        } else if (line[0] == '|') {
            p = cc_est_cap_cell(line + 1, name, sizeof(name));
            if (p == NULL || cc_est_cap_cell(p, value, sizeof(value)) == NULL) {
                continue;
            }

            for (i = 0; i < CC_EST_CAP_CORES; i++) {
                if (strcmp(name, cc_est_cap_figs[i].row) == 0) {
                    break;
                }
            }

            if (i == CC_EST_CAP_CORES) {
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
            || v < 1 || v > cc_est_cap_figs[i].max)
        {
            fprintf(stderr, "cc-estimate: %s: \"%s\" is \"%s\", not an "
                    "integer in 1..%lld (give --%s)\n", o->results,
                    cc_est_cap_figs[i].row, value, cc_est_cap_figs[i].max,
                    cc_est_cap_figs[i].opt);
            fclose(f);
            return -1;
        }

        o->fig[i] = v;
        found[i] = 1;
        snprintf(o->from[i], sizeof(o->from[i]), "%s: %s", o->results,
                 cc_est_cap_figs[i].row);
    }

    fclose(f);

    for (i = 0; i < CC_EST_CAP_N; i++) {
        if (!found[i]) {
            fprintf(stderr, "cc-estimate: %s has no \"%s\" (give --%s)\n",
                    o->results, i == CC_EST_CAP_CORES ? "- cores: N"
                                                  : cc_est_cap_figs[i].row,
                    cc_est_cap_figs[i].opt);
            return -1;
        }
    }

    return 0;
}


/* the options that go together, once parsed; the winners from the fraction */
static int
cc_est_cap_check(cc_est_cap_opts_t *o)
{
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

    return 0;
}


static int
cc_est_cap_parse(int argc, char **argv, cc_est_cap_opts_t *o)
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
        { "replicas",          required_argument, NULL, 'R' },
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
    o->replicas = 1;
    o->results = CC_EST_CAP_RESULTS;

    for (k = 0; k < CC_EST_CAP_N; k++) {
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
            if (cc_est_cap_fraction(optarg, &o->fraction_ppm) != 0) {
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

        case 'R':
            if (cc_opt_int("--replicas", optarg, 0, CC_EST_CAP_REPLICAS_MAX,
                           &o->replicas) != 0)
            {
                return -1;
            }
            break;

        case 'r':
            o->results = optarg;
            break;

        case 'h':
            cc_est_cap_usage(stdout);
            return CC_OPT_HELP;

        case 0:
            for (k = 0; k < CC_EST_CAP_N; k++) {
                if (strcmp(opts[i].name, cc_est_cap_figs[k].opt) == 0) {
                    break;
                }
            }

            snprintf(name, sizeof(name), "--%s", opts[i].name);
            max = cc_est_cap_figs[k].max;

            if (cc_opt_int(name, optarg, 1, max, &o->fig[k]) != 0) {
                return -1;
            }

            snprintf(o->from[k], sizeof(o->from[k]), "%s", name);
            break;

        default:
            cc_est_cap_usage(stderr);
            return -1;
        }
    }

    if (optind != argc) {
        fprintf(stderr, "cc-estimate: unexpected argument \"%s\"\n",
                argv[optind]);
        return -1;
    }

    if (cc_est_cap_check(o) != 0) {
        return -1;
    }

    return cc_est_cap_read(o);
}


/* 5400 -> "1 h 30 min 0 s" */
static const char *
cc_est_cap_time(uint64_t s, char *buf, size_t len)
{
    snprintf(buf, len, "%llu h %llu min %llu s",
             (unsigned long long) (s / 3600),
             (unsigned long long) (s / 60 % 60),
             (unsigned long long) (s % 60));

    return buf;
}


static void
cc_est_cap_report(const cc_est_cap_opts_t *o)
{
    int         i;
    char        t[64];
    uint64_t    load, app, redis, hosts, shards, draw, pay, w, r, sentinels;
    const long long  *f;

    f = o->fig;
    w = (uint64_t) o->winners;
    load = cc_est_div_up((uint64_t) o->peak * (uint64_t) o->headroom, 100);
    app = cc_est_div_up(load, (uint64_t) f[CC_EST_CAP_FLIP]);
    redis = cc_est_div_up(load * (uint64_t) f[CC_EST_CAP_REDIS], 1000000000);
    hosts = cc_est_div_up(load, (uint64_t) f[CC_EST_CAP_INGEST]);
    shards = hosts * CC_EST_CAP_HOST_SHARDS;
    draw = cc_est_div_up(w, hosts * (uint64_t) f[CC_EST_CAP_DRAW]);
    pay = cc_est_div_up(w, hosts * (uint64_t) f[CC_EST_CAP_PAYOUT]);
    r = (uint64_t) o->replicas;
    sentinels = r == 0 ? 0 : redis > CC_EST_CAP_SENTINEL_SHARDS ? 5 : 3;

    printf("cc-estimate --capacity: %lld users, peak %lld flips/s, "
           "%llu winners\n\n", o->users, o->peak, (unsigned long long) w);

    printf("per-node figures (each from a %lld-core machine)\n",
           f[CC_EST_CAP_CORES]);

    if (o->quick) {
        printf("  WARNING: %s is from a QUICK=1 run: not figures to plan "
               "with\n", o->results);
    }

    for (i = 0; i < CC_EST_CAP_N; i++) {
        printf("  %-16s %10lld %-10s (%s)\n", cc_est_cap_figs[i].row, f[i],
               cc_est_cap_figs[i].unit, o->from[i]);
    }

    printf("\nplanned load     %10llu flips/s  = %lld x %lld%% headroom, "
           "rounded up\n\n", (unsigned long long) load, o->peak, o->headroom);

    printf("  app nodes      %10llu = %llu flips/s / %lld flips/s per "
           "%lld-core node (%s)\n", (unsigned long long) app,
           (unsigned long long) load, f[CC_EST_CAP_FLIP],
           f[CC_EST_CAP_CORES], o->from[CC_EST_CAP_FLIP]);
    printf("  redis shards   %10llu = %llu flips/s x %lld ns/flip (%s) / "
           "10^9 ns: a shard is one core\n", (unsigned long long) redis,
           (unsigned long long) load, f[CC_EST_CAP_REDIS],
           o->from[CC_EST_CAP_REDIS]);
    printf("  mysql hosts    %10llu = %llu draws/s / %lld draws/s per host "
           "of %d shards (%s)\n", (unsigned long long) hosts,
           (unsigned long long) load, f[CC_EST_CAP_INGEST],
           CC_EST_CAP_HOST_SHARDS, o->from[CC_EST_CAP_INGEST]);
    printf("  mysql shards   %10llu = %llu hosts x %d shards, as measured\n",
           (unsigned long long) shards, (unsigned long long) hosts,
           CC_EST_CAP_HOST_SHARDS);
    printf("  payout threads %10llu = one per mysql shard, all in one "
           "cc-payout process\n", (unsigned long long) shards);
    printf("  redis replicas %10llu = %llu shards x %llu (--replicas), each "
           "the memory of its primary\n", (unsigned long long) (redis * r),
           (unsigned long long) redis, (unsigned long long) r);
    printf("  mysql replicas %10llu = %llu hosts x %llu (--replicas), "
           "semi-sync, each the disk of its primary\n",
           (unsigned long long) (hosts * r), (unsigned long long) hosts,
           (unsigned long long) r);

    if (r == 0) {
        printf("  sentinels      %10d = no replicas: nothing to fail over to\n",
               0);

    } else {
        printf("  sentinels      %10llu = one set for every shard, %s %d "
               "redis shards (majority %llu)\n",
               (unsigned long long) sentinels,
               sentinels == 5 ? "over" : "up to", CC_EST_CAP_SENTINEL_SHARDS,
               (unsigned long long) (sentinels / 2 + 1));
    }

    printf("  draw time      %10llu s = %llu winners / (%llu hosts x %lld "
           "awards/s (%s)): %s\n", (unsigned long long) draw,
           (unsigned long long) w, (unsigned long long) hosts,
           f[CC_EST_CAP_DRAW], o->from[CC_EST_CAP_DRAW],
           cc_est_cap_time(draw, t, sizeof(t)));
    printf("  payout time    %10llu s = %llu winners / (%llu hosts x %lld "
           "credits/s per host of %d shards (%s)): %s\n",
           (unsigned long long) pay, (unsigned long long) w,
           (unsigned long long) hosts, f[CC_EST_CAP_PAYOUT],
           CC_EST_CAP_HOST_SHARDS, o->from[CC_EST_CAP_PAYOUT],
           cc_est_cap_time(pay, t, sizeof(t)));

    printf("\nassumptions\n"
"  - a node is the measured machine: %lld cores; the flip figure was taken\n"
"    with Redis and the load client on the same cores, so an app node\n"
"    that runs nginx alone does more (a conservative figure).\n"
"  - %lld%% headroom over the peak for app nodes, Redis and MySQL: for\n"
"    spikes, a node lost, and the uneven ring (the fullest of 64 shards\n"
"    held 1.16x the mean).  The draw and payout times have none.\n"
"  - a Redis shard is one core (Redis runs scripts on one thread), as\n"
"    busy as the measured CPU time a flip; the replication and AOF cost\n"
"    on the primary is not in the figure.  Check its memory with\n"
"    cc-estimate --users ... --redis-shards N: a replica needs the same.\n"
"  - every replica on a host of its own, apart from its primary; the\n"
"    Sentinels on hosts apart from the Redis they watch (the app nodes\n"
"    will do: a Sentinel is a small process), so one lost host takes at\n"
"    most one vote and never both a primary and its standby.\n"
"  - MySQL takes every flip as a draw row at the peak rate (cc-ingest),\n"
"    hosts as the measured one holding %d shards; check the storage per\n"
"    shard with cc-estimate --users ... --mysql-shards N.\n"
"  - the draw runs one cc-draw --shard K per shard, in parallel.  One\n"
"    cc-payout pays every shard, a thread each, so the shards pay in\n"
"    parallel: the measured rate is a host's (its mariadbd is the\n"
"    bound); cc-payout itself took 1.3 us of CPU a credit\n"
"    (bench/results/payout.txt), a core per 750k credits/s.\n",
           f[CC_EST_CAP_CORES], o->headroom, CC_EST_CAP_HOST_SHARDS);
}


int
cc_est_capacity(int argc, char **argv)
{
    int                rc;
    cc_est_cap_opts_t  c;

    rc = cc_est_cap_parse(argc, argv, &c);

    if (cc_opt_done(rc, &rc)) {
        return rc;
    }

    cc_est_cap_report(&c);

    return 0;
}
