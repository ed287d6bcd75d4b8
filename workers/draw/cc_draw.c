/*
 * cc-draw: the scheduled draw.  Splits the campaign's pool among the users
 * who combined a set before the cutoff, writes one award per user into
 * the user's MySQL shard and its field w into the user's Redis hash.
 *
 *   1. The campaign file; Redis TIME on every shard at or after the
 *      cutoff (the module takes no combine from then on), else refuse.
 *   2. Completeness: every Redis shard's draw log drained into MySQL with
 *      the reconcile pass (cc_drain_shard, grace 0).  A shard down or a
 *      write failing refuses the draw: eligibility would be incomplete.
 *   3. The eligible count of every MySQL shard, then cc_split_plan(): the
 *      same plan in every process, whatever --shard it draws.  Then the
 *      eligible set at its source (cc_draw_source.c): every eligible row
 *      against its user's combine record in Redis, and every combine in
 *      Redis against MySQL; a mismatch refuses.  A re-run whose every
 *      shard to draw was planned by an earlier run skips it: that run
 *      checked before its first write, and the plan rows hold the set.
 *   4. Per shard, a thread: the plan row in draw_plans (INSERT IGNORE,
 *      read back, compared: another row means the eligible set or the
 *      settings changed since the first run) and the pool's funding, in
 *      one transaction.
 *   5. The shard's eligible uids, ordered by (cc_split_rank, uid), get the
 *      amounts of cc_split_next() in that order.  They are written in uid
 *      order (the awards' keys grow at their ends).  Batches of awards are
 *      INSERT IGNOREd (one prepared statement over bound arrays, MariaDB's
 *      bulk execution) with draw_plans.done_upto moved in the same
 *      transaction (and, in sync mode, the ledger credits too), so a run
 *      killed anywhere resumes where it stopped and writes nothing twice.
 *      The move of done_upto is guarded by its old value: two draws of
 *      one shard at once cannot both commit a batch.  A loader thread
 *      beside the writer puts each committed batch into its users' Redis
 *      hashes by award_set.lua (never moves a credited award back to
 *      pending) while the next batch is in MySQL.
 *   6. The shard's awards are read back from MySQL and checked one by one
 *      against the plan (a resumed run checks the ones written before it
 *      writes more: the plan row does not hold every setting, the awards
 *      do); then the Redis fields the loader did not set are: those of
 *      awards written by an earlier run, those whose status the read-back
 *      shows changed since, all of them if the loader failed.
 *   7. The shard's digest (SHA-256 of "uid amount\n" in rank order, once
 *      every row read back matched the plan) goes
 *      into draw_plans; the draw's digest covers the settings and every
 *      shard's.  A run after completion writes nothing and prints the
 *      same summary.
 */

#define _GNU_SOURCE

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "cc_drain.h"
#include "cc_draw.h"
#include "cc_keys.h"
#include "cc_ledger.h"
#include "cc_promfile.h"
#include "cc_redis.h"
#include "cc_secret.h"
#include "cc_worker.h"


static void cc_draw_summary_shards(cc_draw_run_t *d);
static void cc_draw_summary_digest(cc_draw_run_t *d);


static void
cc_draw_usage(FILE *out)
{
    fprintf(out,
"usage: cc-draw --campaign FILE --redis HOST:PORT [--redis ...]\n"
"               --mysql HOST:PORT/DB [--mysql ...] [--shard K] [--batch N]\n"
"\n"
"The scheduled draw: splits the campaign's pool among the users who\n"
"combined a set before the cutoff, one award per user in the user's MySQL\n"
"shard (table awards, with the ledger's funding of the pool; in credit\n"
"sync mode credited at once) and in the user's Redis hash (field w).\n"
"First drains every Redis draw log into MySQL so that no combine is\n"
"missed, then checks every eligible user of MySQL against its combine\n"
"record in Redis (field e) and every combine in Redis against MySQL;\n"
"refuses before the cutoff by the Redis clock, when a shard is down, when\n"
"the two disagree (the uids logged), when MySQL holds a combine at or\n"
"after the cutoff (nginx's cc_combine_cutoff is later than the file's:\n"
"the uids logged), when the pool cannot be split, or when the eligible\n"
"set or the settings changed since an earlier run.\n"
"Safe to kill and run again: it resumes (without the check once planned),\n"
"writes nothing twice, and prints the same digest.\n"
"\n"
"  --campaign FILE  the campaign file (see common/cc_campaign.h)\n"
"  --redis ADDR     a Redis shard of the module (cc_redis_shards), repeat\n"
"                   in the module's order; a master name with --sentinel\n"
"  --mysql SHARD    a MySQL shard, host:port/database, repeat in ring order;\n"
"                   host:port,host:port/database: the writable one of\n"
"                   these (@@read_only = 0), asked again on each connect\n"
"  --user NAME      MySQL user (default " CC_ROLE_DRAW ")\n"
CC_SECRET_MYSQL_HELP
CC_SECRET_REDIS_HELP
CC_REDIS_SENTINEL_HELP
"  --shard K        draw only MySQL shard K (0-based); the others may be\n"
"                   drawn by other processes, on other hosts\n"
"  --batch N        awards per transaction, 1..20000 (default 5000)\n"
"  --metrics-file PATH  write a Prometheus textfile at the end\n"
"  --help           this text\n"
"\n"
"Exit status: 0 drawn; 2 refused (bad input, before the cutoff, MySQL's\n"
"eligible set not Redis's, a combine after the cutoff, a plan that cannot\n"
"be, changed settings): nothing written; 1 failed (a server down or an\n"
"error): run it again.\n");
}


static int
cc_draw_parse(int argc, char **argv, cc_draw_opts_t *o)
{
    int  c;

    static const struct option  opts[] = {
        { "campaign",     required_argument, NULL, 'c' },
        { "redis",        required_argument, NULL, 'r' },
        { "mysql",        required_argument, NULL, 'm' },
        { "user",         required_argument, NULL, 'u' },
        { "shard",        required_argument, NULL, 's' },
        { "batch",        required_argument, NULL, 'n' },
        { "metrics-file", required_argument, NULL, 'f' },
        { "help",         no_argument,       NULL, 'h' },
        CC_SECRET_MYSQL_OPTIONS,
        CC_SECRET_REDIS_OPTIONS,
        CC_REDIS_SENTINEL_OPTION,
        { NULL, 0, NULL, 0 }
    };

    memset(o, 0, sizeof(*o));
    o->user = CC_ROLE_DRAW;
    o->shard = -1;
    o->batch = 5000;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o->campaign = optarg; break;
        case 'u': o->user = optarg; break;
        case 'f': o->metrics_file = optarg; break;

        case 'r':
            if (o->nredis == CC_DRAW_REDIS_MAX) {
                fprintf(stderr, "cc-draw: more than %d --redis\n",
                        CC_DRAW_REDIS_MAX);
                return -1;
            }
            o->redis[o->nredis++] = optarg;
            break;

        case 'm':
            if (o->nmysql == CC_STORE_SHARDS_MAX) {
                fprintf(stderr, "cc-draw: more than %d --mysql\n",
                        CC_STORE_SHARDS_MAX);
                return -1;
            }
            o->mysql[o->nmysql++] = optarg;
            break;

        case 's':
            if (cc_opt_int("--shard", optarg, 0, CC_STORE_SHARDS_MAX - 1,
                           &o->shard) != 0)
            {
                return -1;
            }
            break;

        case 'n':
            if (cc_opt_int("--batch", optarg, 1, 20000, &o->batch) != 0) {
                return -1;
            }
            break;

        case 'h':
            cc_draw_usage(stdout);
            return CC_OPT_HELP;

        case CC_REDIS_OPT_SENTINEL:
            if (cc_redis_opt_sentinel(optarg) != 0) {
                return -1;
            }
            break;

        case CC_SECRET_OPT_MYSQL_FILE:
        case CC_SECRET_OPT_REDIS_USER:
        case CC_SECRET_OPT_REDIS_FILE:
            (void) cc_secret_opt(c, optarg);
            break;

        default:
            cc_draw_usage(stderr);
            return -1;
        }
    }

    if (optind != argc) {
        fprintf(stderr, "cc-draw: unexpected argument \"%s\"\n",
                argv[optind]);
        return -1;
    }

    if (o->campaign == NULL) {
        fprintf(stderr, "cc-draw: --campaign is needed\n");
        return -1;
    }

    if (o->nredis == 0 || o->nmysql == 0) {
        fprintf(stderr, "cc-draw: at least one --redis and one --mysql are "
                "needed\n");
        return -1;
    }

    if (o->shard >= (long long) o->nmysql) {
        fprintf(stderr, "cc-draw: --shard %lld, but there are %zu MySQL "
                "shards (0..%zu)\n", o->shard, o->nmysql, o->nmysql - 1);
        return -1;
    }

    return 0;
}


/* ---- the whole draw --------------------------------------------------- */

/*
 * Redis TIME on every shard at or after the cutoff, then every draw log
 * drained into MySQL.  CC_DRAW_OK, or what to exit with.
 */
static int
cc_draw_complete(cc_draw_run_t *d)
{
    int                rc;
    char               err[512];
    size_t             r;
    int64_t            ms;
    redisContext      *c[CC_DRAW_REDIS_MAX];
    cc_drain_stats_t   stats;

    memset(c, 0, sizeof(c));
    rc = CC_DRAW_OK;

    for (r = 0; r < d->o.nredis && rc == CC_DRAW_OK; r++) {
        c[r] = cc_draw_redis_connect(&d->addrs[r], d->o.redis[r], NULL, err,
                                     sizeof(err));
        if (c[r] == NULL) {
            cc_log("%s; not drawing: the combines in its log would be "
                   "missed", err);
            rc = CC_DRAW_FAILED;
            break;
        }

        if (cc_redis_time_ms(c[r], d->o.redis[r], &ms, err, sizeof(err))
            != 0)
        {
            cc_log("%s; not drawing", err);
            rc = CC_DRAW_FAILED;
            break;
        }

        if (ms < d->c.cutoff * 1000) {
            cc_log("redis %s: its time %" PRId64 ".%03d is before the "
                   "cutoff %" PRId64 ": combines may still come; not "
                   "drawing", d->o.redis[r], ms / 1000, (int) (ms % 1000),
                   d->c.cutoff);
            rc = CC_DRAW_REFUSED;
        }
    }

    for (r = 0; r < d->o.nredis && rc == CC_DRAW_OK; r++) {
        memset(&stats, 0, sizeof(stats));

        if (cc_drain_shard(c[r], &d->st, 0, 500, &stats, err, sizeof(err))
            != 0)
        {
            cc_log("completeness: %s; not drawing", err);
            rc = CC_DRAW_FAILED;
            break;
        }

        cc_log("redis %s: log drained: %llu draws and combines, %llu were "
               "missing from MySQL", d->o.redis[r], stats.read,
               stats.inserted);
    }

    for (r = 0; r < d->o.nredis; r++) {
        redisFree(c[r]);
    }

    return rc;
}


/* the eligible count of every MySQL shard, and the plan */
static int
cc_draw_plan(cc_draw_run_t *d)
{
    char          sql[256];
    size_t        s;
    uint64_t      n[CC_STORE_SHARDS_MAX], total;
    MYSQL        *db;
    MYSQL_RES    *res;
    MYSQL_ROW     row;
    const char   *why;

    /* one scan: the eligible, and those the module took after the cutoff */
    snprintf(sql, sizeof(sql), "SELECT COALESCE(SUM(combined_at < %" PRId64
             "), 0), COALESCE(SUM(combined_at >= %" PRId64 "), 0), "
             "COALESCE(MAX(combined_at), 0) FROM eligibility",
             d->c.cutoff * 1000, d->c.cutoff * 1000);
    total = 0;
    d->late = 0;
    d->late_max = 0;

    for (s = 0; s < d->st.nshards; s++) {
        db = d->st.shards[s].conn;
        res = NULL;

        if (mysql_query(db, sql) != 0
            || (res = mysql_store_result(db)) == NULL
            || (row = mysql_fetch_row(res)) == NULL)
        {
            cc_log("mysql %s: count the eligible: %s; not drawing",
                   d->st.shards[s].name, mysql_error(db));
            mysql_free_result(res);
            return CC_DRAW_FAILED;
        }

        n[s] = strtoull(row[0], NULL, 10);
        total += n[s];
        d->late += strtoull(row[1], NULL, 10);
        if (strtoll(row[2], NULL, 10) > d->late_max) {
            d->late_max = strtoll(row[2], NULL, 10);
        }
        mysql_free_result(res);
        (void) mysql_commit(db);
    }

    if (cc_split_plan(&d->plan, d->sh, n, d->st.nshards, d->c.split,
                      d->c.pool_cents, d->c.cap_cents, d->c.seed, &why)
        != 0)
    {
        /* no plan, so none stored: late combines are the likelier cause */
        if (d->late > 0) {
            return cc_draw_check_late(d);
        }

        cc_log("the pool of %" PRIu64 " cents cannot be split among %"
               PRIu64 " eligible users (%s split%s): %s; not drawing",
               d->c.pool_cents, total,
               cc_split_mode_name(d->c.split),
               d->c.split == CC_SPLIT_RANDOM ? ", cap" : "", why);
        return CC_DRAW_REFUSED;
    }

    return CC_DRAW_OK;
}


static int
cc_draw_u64_cmp(const void *a, const void *b)
{
    uint64_t  x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}


/*
 * The summary on stdout.  The draw's digest needs every shard's: those
 * another process drew are read from their plan rows.
 */
static void
cc_draw_summary(cc_draw_run_t *d, int64_t started)
{
    printf("campaign %s: %s split of %" PRIu64 " cents among %" PRIu64
           " eligible users on %zu shards", d->c.id,
           cc_split_mode_name(d->c.split), d->c.pool_cents, d->plan.n,
           d->st.nshards);

    if (d->c.split == CC_SPLIT_RANDOM) {
        printf(" (cap %" PRIu64 ")", d->c.cap_cents);
    }

    printf(", credit %s\n", cc_credit_mode_name(d->c.credit));

    cc_draw_summary_shards(d);
    cc_draw_summary_digest(d);

    printf("time: %.2f s\n", (cc_now_ms() - started) / 1000.0);
    fflush(stdout);
}


/* each shard's line, then the awards' spread over the shards drawn here */
static void
cc_draw_summary_shards(cc_draw_run_t *d)
{
    size_t            s, k;
    uint64_t         *all, users;
    cc_draw_shard_t  *sh;

    users = 0;
    for (s = 0; s < d->st.nshards; s++) {
        users += d->shards[s].n;
    }

    all = malloc((users + 1) * sizeof(uint64_t));
    k = 0;

    for (s = 0; s < d->st.nshards; s++) {
        sh = &d->shards[s];

        if (d->o.shard >= 0 && (size_t) d->o.shard != s) {
            continue;
        }

        printf("shard %zu: %" PRIu64 " users, %" PRIu64 " cents, %" PRIu64
               " awards written now, %" PRIu64 " Redis fields set, digest %s"
               "\n", s, sh->n, d->sh[s].total, sh->inserted, sh->loaded,
               sh->digest);

        if (all != NULL && sh->amounts != NULL) {
            memcpy(all + k, sh->amounts, sh->n * sizeof(uint64_t));
            k += sh->n;
        }
    }

    if (all != NULL && k > 0) {
        qsort(all, k, sizeof(uint64_t), cc_draw_u64_cmp);
        printf("awards: %zu, min %" PRIu64 ", median %" PRIu64 ", max %"
               PRIu64 " cents\n", k, all[0], all[(k - 1) / 2], all[k - 1]);
    }

    free(all);
}


/*
 * The draw's digest: the settings, then each shard's line, every shard's
 * (a shard drawn by another process is read from its plan row); pending
 * while a shard is not drawn yet.
 */
static void
cc_draw_summary_digest(cc_draw_run_t *d)
{
    char                   line[256], hex[65], missing[256], why[512];
    size_t                 s, k, nm;
    uint64_t               total;
    unsigned char          h[EVP_MAX_MD_SIZE];
    unsigned int           hlen;
    EVP_MD_CTX            *md;
    cc_draw_shard_t       *sh;
    cc_draw_plan_found_e   found;

    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        printf("digest: out of memory\n");
        return;
    }
    k = (size_t) snprintf(line, sizeof(line), "%s %" PRIu64 " %s %" PRIu64
                          " ", d->c.id, d->c.pool_cents,
                          cc_split_mode_name(d->c.split), d->c.cap_cents);
    EVP_DigestUpdate(md, line, k);
    EVP_DigestUpdate(md, d->c.seed, strlen(d->c.seed));
    EVP_DigestUpdate(md, "\n", 1);

    missing[0] = '\0';
    nm = 0;
    total = 0;

    for (s = 0; s < d->st.nshards; s++) {
        sh = &d->shards[s];

        if (sh->db == NULL) {
            /* drawn by another process, maybe: its row, if it is done */
            sh->db = d->st.shards[s].conn;

            if (cc_draw_plan_row(sh, 0, &found, why, sizeof(why)) != 0
                || found != CC_DRAW_PLAN_SAME)
            {
                sh->digest[0] = '\0';
            }

            (void) mysql_commit(sh->db);
            sh->db = NULL;
        }

        if (sh->digest[0] == '\0') {
            nm += (size_t) snprintf(missing + nm, sizeof(missing) - nm,
                                    "%s%zu", nm ? " " : "", s);
            if (nm >= sizeof(missing)) {
                nm = sizeof(missing) - 1;
            }
            continue;
        }

        k = (size_t) snprintf(line, sizeof(line), "%zu %" PRIu64 " %" PRIu64
                              " %s\n", s, d->sh[s].n, d->sh[s].total,
                              sh->digest);
        EVP_DigestUpdate(md, line, k);
        total += d->sh[s].total;
    }

    EVP_DigestFinal_ex(md, h, &hlen);
    EVP_MD_CTX_free(md);

    if (nm > 0) {
        printf("digest: pending, shard(s) %s not drawn yet\n", missing);

    } else {
        for (s = 0; s < 32; s++) {
            snprintf(hex + 2 * s, 3, "%02x", h[s]);
        }

        printf("total: %" PRIu64 " cents\n", total);
        printf("digest: %s\n", hex);
    }
}


static void
cc_draw_metrics(cc_draw_run_t *d, int64_t started, int ok)
{
    size_t          s;
    uint64_t        rows;
    cc_promfile_t   pf;

    if (d->o.metrics_file == NULL) {
        return;
    }

    rows = 0;
    for (s = 0; s < d->st.nshards; s++) {
        rows += d->shards[s].inserted;
    }

    cc_promfile_begin(&pf);
    cc_promfile_add(&pf, "cc_draw_rows_total", "counter",
                    "Award rows this run of cc-draw wrote", (double) rows);
    cc_promfile_add(&pf, "cc_draw_rate", "gauge",
                    "Award rows written per second by this run",
                    rows * 1000.0 / (double) (cc_now_ms() - started + 1));

    if (d->source_ran) {
        cc_promfile_add(&pf, "cc_draw_source_checked", "gauge",
                        "Eligible users of MySQL this run checked against "
                        "their combine records in Redis",
                        (double) d->source_checked);
        cc_promfile_add(&pf, "cc_draw_source_mismatches", "gauge",
                        "Users whose MySQL eligibility and Redis combine "
                        "record disagree (any: the draw refused)",
                        (double) d->source_mismatches);
    }

    cc_promfile_add(&pf, "cc_draw_late_combines", "gauge",
                    "Eligibility rows combined at or after the campaign "
                    "file's cutoff (any refuses the draw)", (double) d->late);

    if (ok) {
        cc_promfile_add(&pf, "cc_draw_last_success_timestamp_seconds",
                        "gauge", "End of the last run that completed "
                        "(unix seconds)", cc_now_ms() / 1000.0);
    }

    if (cc_promfile_commit(&pf, d->o.metrics_file) != 0) {
        cc_log("metrics file %s: cannot write it", d->o.metrics_file);
    }
}


/* the progress line while the threads write */
static void
cc_draw_wait(cc_draw_run_t *d, int64_t started)
{
    int              busy;
    size_t           s;
    int64_t          last, now;
    uint64_t         done, n;
    struct timespec  ts = { 0, 100 * 1000 * 1000 };

    last = cc_now_ms();

    for ( ;; ) {
        busy = 0;
        done = 0;
        n = 0;

        for (s = 0; s < d->st.nshards; s++) {
            if (d->shards[s].db == NULL) {
                continue;
            }

            busy |= !__atomic_load_n(&d->shards[s].finished,
                                     __ATOMIC_ACQUIRE);
            done += __atomic_load_n(&d->shards[s].written, __ATOMIC_RELAXED);
            n += d->sh[s].n;
        }

        now = cc_now_ms();

        /* every 2 s, and once at the end */
        if (now - last >= 2000 || !busy) {
            cc_log("progress: %" PRIu64 " of %" PRIu64 " awards written "
                   "(%.0f/s)", done, n,
                   done * 1000.0 / (double) (now - started + 1));
            last = now;
        }

        if (!busy) {
            break;
        }

        nanosleep(&ts, NULL);
    }

    for (s = 0; s < d->st.nshards; s++) {
        if (d->shards[s].db != NULL) {
            pthread_join(d->shards[s].tid, NULL);
        }
    }
}


/*
 * The campaign file, the Redis ring and the MySQL shards' handles (not yet
 * connected).  CC_DRAW_OK, or the exit code, the reason on stderr.
 */
static int
cc_draw_open(cc_draw_run_t *d)
{
    char         err[512];
    size_t       r;
    size_t       lens[CC_DRAW_REDIS_MAX];
    const char  *names[CC_DRAW_REDIS_MAX];

    if (cc_campaign_load(d->o.campaign, &d->c, err, sizeof(err)) != 0) {
        fprintf(stderr, "cc-draw: %s\n", err);
        return CC_DRAW_REFUSED;
    }

    for (r = 0; r < d->o.nredis; r++) {
        if (cc_redis_opt_addr(d->o.redis[r], &d->addrs[r]) != 0) {
            return CC_DRAW_REFUSED;
        }

        names[r] = d->o.redis[r];
        lens[r] = strlen(names[r]);
    }

    d->points = malloc(cc_ring_npoints(d->o.nredis)
                       * sizeof(cc_ring_point_t));

    if (d->points == NULL
        || cc_ring_build(&d->ring, d->points, names, lens, d->o.nredis) != 0)
    {
        fprintf(stderr, "cc-draw: cannot build the Redis ring\n");
        return CC_DRAW_FAILED;
    }

    if (cc_store_open(&d->st, d->o.mysql, d->o.nmysql, d->o.user,
                      cc_secret_mysql_password()) != 0)
    {
        fprintf(stderr, "cc-draw: %s\n", d->st.err);
        return CC_DRAW_REFUSED;
    }

    return CC_DRAW_OK;
}


/*
 * An earlier run's plan row that differs refuses before any write.  Ties
 * each shard to the run and, for the shards drawn, to its connection.
 * *planned: every shard this run draws has its plan row already.
 */
static int
cc_draw_check_plan_rows(cc_draw_run_t *d, int *planned)
{
    char                   why[512];
    size_t                 s;
    cc_draw_shard_t       *sh;
    cc_draw_plan_found_e   found;

    *planned = 1;

    for (s = 0; s < d->st.nshards; s++) {
        sh = &d->shards[s];
        sh->d = d;
        sh->shard = s;

        if (d->o.shard >= 0 && (size_t) d->o.shard != s) {
            continue;
        }

        sh->db = d->st.shards[s].conn;

        if (cc_draw_plan_row(sh, 0, &found, why, sizeof(why)) != 0) {
            cc_log("%s; not drawing", sh->err);
            return CC_DRAW_FAILED;
        }

        (void) mysql_commit(sh->db);

        if (found == CC_DRAW_PLAN_DIFFERS) {
            cc_log("shard %zu (%s): the eligible set or settings changed: "
                   "%s; not drawing", s, d->st.shards[s].name, why);
            return CC_DRAW_REFUSED;
        }

        if (found == CC_DRAW_PLAN_NONE) {
            *planned = 0;
        }
    }

    return CC_DRAW_OK;
}


/* 4..7: a thread per shard drawn, waited for; the worst shard's code */
static int
cc_draw_run_shards(cc_draw_run_t *d, int64_t started)
{
    int               rc;
    size_t            s;
    cc_draw_shard_t  *sh;

    rc = CC_DRAW_OK;

    for (s = 0; s < d->st.nshards; s++) {
        sh = &d->shards[s];

        if (sh->db == NULL) {
            continue;
        }

        sh->rc = CC_DRAW_FAILED;

        if (pthread_create(&sh->tid, NULL, cc_draw_shard_main, sh) != 0) {
            cc_log("cannot start a thread for shard %zu", s);
            sh->rc = CC_DRAW_FAILED;
            sh->finished = 1;
            sh->db = NULL;
            rc = CC_DRAW_FAILED;
        }
    }

    cc_draw_wait(d, started);

    for (s = 0; s < d->st.nshards; s++) {
        sh = &d->shards[s];

        if (sh->db != NULL && sh->rc != CC_DRAW_OK) {
            cc_log("%s", sh->err);
            rc = sh->rc > rc ? sh->rc : rc;
        }
    }

    return rc;
}


int
main(int argc, char **argv)
{
    int             rc, began, planned;
    size_t          s;
    int64_t         started;
    cc_draw_run_t  *d;

    cc_worker_init("cc-draw");
    started = cc_now_ms();
    began = 0;                  /* a run to write metrics of */

    d = calloc(1, sizeof(cc_draw_run_t));
    if (d == NULL) {
        fprintf(stderr, "cc-draw: out of memory\n");
        return CC_DRAW_FAILED;
    }

    rc = CC_DRAW_REFUSED;

    /* cc_opt_done's 0 and 2 are CC_DRAW_OK and CC_DRAW_REFUSED */
    if (cc_opt_done(cc_draw_parse(argc, argv, &d->o), &rc)) {
        goto done;
    }

    if (cc_secret_load() != 0) {
        rc = CC_DRAW_REFUSED;
        goto done;
    }

    rc = cc_draw_open(d);
    if (rc != CC_DRAW_OK) {
        goto done;
    }

    began = 1;

    d->key = cc_split_key(d->c.seed);
    d->now_ms = cc_now_ms();

    if (cc_store_connect(&d->st) != 0) {
        cc_log("mysql: %s; not drawing", d->st.err);
        rc = CC_DRAW_FAILED;
        goto done;
    }

    /* 1, 2: the cutoff passed and every combine is in MySQL */
    rc = cc_draw_complete(d);
    if (rc != CC_DRAW_OK) {
        goto done;
    }

    /* the drain may have closed a connection that failed; it retried */
    if (cc_store_connect(&d->st) != 0) {
        cc_log("mysql: %s; not drawing", d->st.err);
        rc = CC_DRAW_FAILED;
        goto done;
    }

    /* 3: the plan */
    rc = cc_draw_plan(d);
    if (rc != CC_DRAW_OK) {
        goto done;
    }

    cc_log("plan: %" PRIu64 " eligible, %s split of %" PRIu64 " cents, "
           "base %" PRIu64, d->plan.n, cc_split_mode_name(d->c.split),
           d->c.pool_cents, d->plan.base);

    rc = cc_draw_check_plan_rows(d, &planned);
    if (rc != CC_DRAW_OK) {
        goto done;
    }

    /* 3a: the eligible set at its source, before the first write */
    if (planned) {
        cc_log("source check: skipped, every shard to draw was planned by "
               "an earlier run, which checked");

    } else {
        rc = cc_draw_check_late(d);
        if (rc != CC_DRAW_OK) {
            goto done;
        }

        d->source_ran = 1;
        rc = cc_draw_check_source(d);
        if (rc != CC_DRAW_OK) {
            goto done;
        }
    }

    rc = cc_draw_run_shards(d, started);

    if (rc == CC_DRAW_OK) {
        cc_draw_summary(d, started);
    }

done:

    if (began) {
        cc_draw_metrics(d, started, rc == CC_DRAW_OK);
    }

    for (s = 0; s < d->st.nshards; s++) {
        free(d->shards[s].users);
        free(d->shards[s].index);
        free(d->shards[s].amounts);
        free(d->shards[s].credited);
    }

    cc_store_close(&d->st);
    free(d->points);
    free(d);
    mysql_library_end();

    return rc;
}
