/*
 * cc-redrive: delivers the gifts (送福) whose receiver's half nginx did not
 * see applied (issue 19).
 *
 * The giver's half (gift_out.lua) takes the card and puts the gift in its
 * shard's outbox (cc:outbox: the member "giver:request_id:to:kind" by the
 * ms; cc_keys.h) in one atomic step.
 * nginx then runs the receiver's half (gift_in.lua) on the receiver's
 * shard and, once it answered, the giver's done (gift_done.lua), which
 * takes the gift out of the outbox.  When the receiver's shard was down or
 * slow, or the nginx worker died in between, the gift stays in the outbox.
 * This worker, for every shard, takes the outbox's gifts older than GRACE
 * seconds (by that shard's clock), runs gift_in.lua on the receiver's
 * shard (the ring on the uid, as the module's: the same --redis names in
 * the same order as cc_redis_shards), then gift_done.lua on the giver's.
 * The scripts are the module's own files (ngx_module/lua), embedded.
 *
 * Crash-safe by construction: gift_in is idempotent by the gift id (the
 * receiver's cc:{uid}:gi), gift_done by its absence from the outbox, and
 * a gift leaves the outbox only after gift_in answered.  Killed anywhere
 * (kill -9), the next pass finds the gift still there and delivers
 * nothing twice.
 *
 * Older versions put a gift in the outbox as its bare gift id, with its
 * "to:kind:ms" in the hash cc:outbox:g.  Such a gift, left by a campaign
 * upgraded with gifts in flight, is read from both keys (its value by an
 * HGET), delivered the same way, and gift_done, given the bare gift id,
 * takes it out of both.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cc_addr.h"
#include "cc_keys.h"
#include "cc_outbox.h"
#include "cc_promfile.h"
#include "cc_redis.h"
#include "cc_ring.h"
#include "cc_secret.h"
#include "cc_worker.h"

#include "cc_gift_lua.h"


#define CC_REDRIVE_REDIS_MAX  64


typedef struct {
    char               *redis[CC_REDRIVE_REDIS_MAX];
    cc_addr_t           addrs[CC_REDRIVE_REDIS_MAX];
    size_t              nredis;
    const char         *metrics_file;
    long long           grace_s;
    long long           interval_s;
    long long           batch;
    int                 once;
    int                 shard_of;       /* the rest of argv: uids */
} cc_redrive_opts_t;


/* a pass's figures, and the totals since start */
typedef struct {
    uint64_t            redriven;       /* gift_in applied the gift now */
    uint64_t            completed;      /* applied before: only done run */
    uint64_t            unreadable;     /* outbox entries skipped */
    uint64_t            outbox;         /* left in the outboxes, pass end */
    int64_t             oldest_ms;      /* the oldest of them; 0: none */
    int                 failed;         /* shards not finished */
} cc_redrive_stats_t;


typedef struct {
    const cc_redrive_opts_t  *o;
    cc_ring_t                 ring;
    cc_ring_point_t          *points;
    redisContext             *c[CC_REDRIVE_REDIS_MAX];
    int                       down[CC_REDRIVE_REDIS_MAX];  /* this pass */
} cc_redrive_t;


static void
cc_redrive_usage(FILE *out)
{
    fprintf(out,
"usage: cc-redrive --redis ADDR [--redis ...] [--grace SEC]\n"
"                  [--once | --interval SEC] [--metrics-file PATH]\n"
"       cc-redrive --redis ADDR [--redis ...] --shard-of UID...\n"
"\n"
"Delivers the gifts still in the Redis shards' outboxes (" CC_KEY_OUTBOX ")\n"
"after the grace period: the receiver's half (gift_in.lua) on the\n"
"receiver's shard, then the giver's done (gift_done.lua).  Idempotent:\n"
"a gift is delivered once however often it is redriven.\n"
"\n"
"  --redis ADDR     a Redis shard of the module, repeat, in the order\n"
"                   the module lists them (the ring routes receivers by\n"
"                   it), a master name with --sentinel\n"
CC_SECRET_REDIS_HELP
CC_REDIS_SENTINEL_HELP
"  --grace SEC      leave the gifts of the last SEC seconds to nginx\n"
"                   (default 10)\n"
"  --batch N        outbox entries read at a time, 1..5000 (default 200)\n"
"  --once           one pass over every shard, then exit (1 when a shard\n"
"                   failed)\n"
"  --interval SEC   seconds between passes when not --once (default 10)\n"
"  --metrics-file PATH  write a Prometheus textfile after each pass\n"
"  --shard-of       print \"UID SHARD\" for each UID given, the shard the\n"
"                   ring puts it on, and exit\n"
"  --help           this text\n");
}


static int
cc_redrive_parse(int argc, char **argv, cc_redrive_opts_t *o)
{
    int     c;
    size_t  i;

    static const struct option  opts[] = {
        { "redis",    required_argument, NULL, 'r' },
        { "grace",    required_argument, NULL, 'g' },
        { "batch",    required_argument, NULL, 'n' },
        { "interval", required_argument, NULL, 'i' },
        { "once",     no_argument,       NULL, 'o' },
        { "shard-of", no_argument,       NULL, 's' },
        { "metrics-file", required_argument, NULL, 'f' },
        { "help",     no_argument,       NULL, 'h' },
        CC_SECRET_REDIS_OPTIONS,
        CC_REDIS_SENTINEL_OPTION,
        { NULL, 0, NULL, 0 }
    };

    memset(o, 0, sizeof(*o));
    o->grace_s = 10;
    o->interval_s = 10;
    o->batch = 200;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (o->nredis == CC_REDRIVE_REDIS_MAX) {
                fprintf(stderr, "cc-redrive: too many --redis\n");
                return CC_OPT_BAD;
            }
            o->redis[o->nredis++] = optarg;
            break;

        case 'o': o->once = 1; break;
        case 's': o->shard_of = 1; break;
        case 'f': o->metrics_file = optarg; break;

        case 'g':
            if (cc_opt_int("--grace", optarg, 0, 86400, &o->grace_s) != 0) {
                return CC_OPT_BAD;
            }
            break;

        case 'n':
            if (cc_opt_int("--batch", optarg, 1, 5000, &o->batch) != 0) {
                return CC_OPT_BAD;
            }
            break;

        case 'i':
            if (cc_opt_int("--interval", optarg, 1, 86400, &o->interval_s)
                != 0)
            {
                return CC_OPT_BAD;
            }
            break;

        case 'h':
            cc_redrive_usage(stdout);
            return CC_OPT_HELP;

        case CC_REDIS_OPT_SENTINEL:
            if (cc_redis_opt_sentinel(optarg) != 0) {
                return CC_OPT_BAD;
            }
            break;

        case CC_SECRET_OPT_REDIS_USER:
        case CC_SECRET_OPT_REDIS_FILE:
            (void) cc_secret_opt(c, optarg);
            break;

        default:
            cc_redrive_usage(stderr);
            return CC_OPT_BAD;
        }
    }

    if (o->nredis == 0 || (optind != argc && !o->shard_of)
        || (o->shard_of && optind == argc))
    {
        cc_redrive_usage(stderr);
        return CC_OPT_BAD;
    }

    /* a bad address refuses the start: a daemon would fail every pass */
    for (i = 0; i < o->nredis; i++) {
        if (cc_redis_opt_addr(o->redis[i], &o->addrs[i]) != 0) {
            return CC_OPT_BAD;
        }
    }

    return CC_OPT_OK;
}


static int
cc_redrive_ring(cc_redrive_t *rd)
{
    size_t       i, lens[CC_REDRIVE_REDIS_MAX];
    const char  *names[CC_REDRIVE_REDIS_MAX];

    for (i = 0; i < rd->o->nredis; i++) {
        names[i] = rd->o->redis[i];
        lens[i] = strlen(rd->o->redis[i]);
    }

    rd->points = malloc(cc_ring_npoints(rd->o->nredis)
                        * sizeof(cc_ring_point_t));

    if (rd->points == NULL
        || cc_ring_build(&rd->ring, rd->points, names, lens, rd->o->nredis)
           != 0)
    {
        fprintf(stderr, "cc-redrive: cannot build the ring\n");
        return -1;
    }

    return 0;
}


/* shard r's connection, opened once a pass; NULL: down this pass */
static redisContext *
cc_redrive_conn(cc_redrive_t *rd, size_t r)
{
    char  err[512];

    if (rd->c[r] == NULL && !rd->down[r]) {
        rd->c[r] = cc_redis_connect(&rd->o->addrs[r], rd->o->redis[r], 5000,
                                    err, sizeof(err));
        if (rd->c[r] == NULL) {
            cc_log("%s", err);
            rd->down[r] = 1;
        }
    }

    return rd->c[r];
}


/* a reply that failed its shard: logged, the connection dropped */
static void
cc_redrive_drop(cc_redrive_t *rd, size_t r, redisReply *reply,
    const char *what)
{
    cc_log("redis %s: %s: %s", rd->o->redis[r], what,
           reply == NULL ? rd->c[r]->errstr
           : reply->type == REDIS_REPLY_ERROR ? reply->str
           : "unexpected reply");

    redisFree(rd->c[r]);
    rd->c[r] = NULL;
    rd->down[r] = 1;
}


/*
 * One gift: gift_in.lua on the receiver's shard, then gift_done.lua on
 * the giver's (shard g).  1 delivered now, 0 found applied before, -1
 * the receiver's shard failed (the gift stays), -2 the giver's did.
 */
static int
cc_redrive_gift(cc_redrive_t *rd, size_t g, const redisReply *m,
    const cc_outbox_gift_t *gift)
{
    int            applied;
    char           kin[CC_KEY_MAX], kgi[CC_KEY_MAX], kgr[CC_KEY_MAX];
    char           to[24], from[24], kind[8], now[24];
    size_t         r;
    redisReply    *reply;
    redisContext  *c;

    r = cc_ring_shard(&rd->ring, gift->to);

    c = cc_redrive_conn(rd, r);
    if (c == NULL) {
        return -1;
    }

    (void) cc_key_user(kin, gift->to);
    (void) cc_key_user_sub(kgi, gift->to, "gi");
    (void) cc_key_user_sub(kgr, gift->to, "gr");
    snprintf(to, sizeof(to), "%" PRIu64, gift->to);
    snprintf(from, sizeof(from), "%" PRIu64, gift->giver);
    snprintf(kind, sizeof(kind), "%" PRIu32, gift->kind);
    snprintf(now, sizeof(now), "%" PRId64, cc_now_ms());

    /* the gift id: the member's head */
    reply = redisCommand(c, "EVAL %s 4 %s %s %s %s %s %b %s %s %s",
                         cc_gift_in_lua, CC_KEY_LOG, kin, kgi, kgr, to,
                         m->str, gift->idlen, from, kind, now);

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 1
        || reply->element[0]->type != REDIS_REPLY_INTEGER)
    {
        cc_redrive_drop(rd, r, reply, "gift_in");
        freeReplyObject(reply);
        return -1;
    }

    applied = (reply->element[0]->integer == 2);
    freeReplyObject(reply);

    /* applied: now the gift may leave the giver's outbox */

    c = cc_redrive_conn(rd, g);
    if (c == NULL) {
        return -2;
    }

    /* the member as read: an old bare gift id takes its field too */
    reply = redisCommand(c, "EVAL %s 2 %s %s %b", cc_gift_done_lua,
                         CC_KEY_OUTBOX, CC_KEY_OUTBOX_GIFTS, m->str, m->len);

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        cc_redrive_drop(rd, g, reply, "gift_done");
        freeReplyObject(reply);
        return -2;
    }

    freeReplyObject(reply);

    return applied;
}


/*
 * An outbox entry of shard g, its member m and score ms, read into *gift:
 * a member of this version as it is, an old bare gift id with its value
 * in cc:outbox:g.  0, 1 unreadable (logged, counted), or -1 the shard
 * failed (dropped).
 */
static int
cc_redrive_entry(cc_redrive_t *rd, size_t g, const redisReply *m,
    const redisReply *ms, cc_outbox_gift_t *gift, cc_redrive_stats_t *st)
{
    int          rc;
    const char  *why;
    redisReply  *v;

    if (m->type != REDIS_REPLY_STRING || ms->type != REDIS_REPLY_STRING) {
        cc_redrive_drop(rd, g, NULL, "ZRANGEBYSCORE");
        return -1;
    }

    v = NULL;
    why = "no value in " CC_KEY_OUTBOX_GIFTS;

    if (!cc_outbox_is_old(m->str, m->len)) {
        rc = cc_outbox_parse(m->str, m->len, ms->str, ms->len, gift, &why);

    } else {
        v = redisCommand(rd->c[g], "HGET %s %b", CC_KEY_OUTBOX_GIFTS,
                         m->str, m->len);

        if (v == NULL
            || (v->type != REDIS_REPLY_STRING && v->type != REDIS_REPLY_NIL))
        {
            cc_redrive_drop(rd, g, v, "HGET");
            freeReplyObject(v);
            return -1;
        }

        rc = v->type == REDIS_REPLY_NIL ? -1
             : cc_outbox_parse(m->str, m->len, v->str, v->len, gift, &why);
    }

    freeReplyObject(v);

    if (rc != 0) {
        cc_log("redis %s: outbox entry \"%.*s\" skipped: %s",
               rd->o->redis[g], (int) m->len, m->str, why);
        st->unreadable++;
        return 1;
    }

    return 0;
}


/*
 * One giver's shard g: its outbox's gifts older than the grace period,
 * batch by batch, each delivered or left for the next pass.  0, or -1
 * when it did not finish (logged).
 */
static int
cc_redrive_shard(cc_redrive_t *rd, size_t g, cc_redrive_stats_t *st)
{
    int                rc, skipped;
    char               max[24], err[512];
    size_t             i;
    int64_t            now;
    redisReply        *ids;
    redisContext      *c;
    cc_outbox_gift_t   gift;

    c = cc_redrive_conn(rd, g);
    if (c == NULL) {
        return -1;
    }

    if (cc_redis_time_ms(c, rd->o->redis[g], &now, err, sizeof(err)) != 0) {
        cc_log("%s", err);
        redisFree(rd->c[g]);
        rd->c[g] = NULL;
        rd->down[g] = 1;
        return -1;
    }

    snprintf(max, sizeof(max), "%" PRId64,
             now - (int64_t) rd->o->grace_s * 1000);
    skipped = 0;

    for ( ;; ) {
        /* the unreadable entries stay: read past them */
        ids = redisCommand(rd->c[g], "ZRANGEBYSCORE %s -inf %s WITHSCORES "
                           "LIMIT %d %lld", CC_KEY_OUTBOX, max, skipped,
                           rd->o->batch);

        if (ids == NULL || ids->type != REDIS_REPLY_ARRAY
            || ids->elements % 2 != 0)
        {
            cc_redrive_drop(rd, g, ids, "ZRANGEBYSCORE");
            freeReplyObject(ids);
            return -1;
        }

        if (ids->elements == 0) {
            freeReplyObject(ids);
            return 0;
        }

        for (i = 0; i < ids->elements && cc_worker_run; i += 2) {
            rc = cc_redrive_entry(rd, g, ids->element[i],
                                  ids->element[i + 1], &gift, st);

            if (rc == 1) {
                skipped++;
                continue;
            }

            if (rc == 0) {
                rc = cc_redrive_gift(rd, g, ids->element[i], &gift);
            }

            if (rc == -2 || (rc == -1 && rd->c[g] == NULL)) {
                /* the giver's shard failed: the rest of its outbox waits */
                freeReplyObject(ids);
                return -1;
            }

            if (rc == -1) {
                /* the receiver's shard is down: the gift waits */
                skipped++;
                continue;
            }

            if (rc == 1) {
                st->redriven++;
            } else {
                st->completed++;
            }
        }

        freeReplyObject(ids);

        if (!cc_worker_run) {
            return -1;
        }
    }
}


/* what is left in shard r's outbox: its size and oldest gift */
static void
cc_redrive_left(cc_redrive_t *rd, size_t r, cc_redrive_stats_t *st)
{
    redisReply  *n, *old;

    if (cc_redrive_conn(rd, r) == NULL) {
        return;
    }

    n = redisCommand(rd->c[r], "ZCARD %s", CC_KEY_OUTBOX);
    old = redisCommand(rd->c[r], "ZRANGE %s 0 0 WITHSCORES", CC_KEY_OUTBOX);

    if (n != NULL && n->type == REDIS_REPLY_INTEGER) {
        st->outbox += (uint64_t) n->integer;
    }

    if (old != NULL && old->type == REDIS_REPLY_ARRAY && old->elements == 2
        && old->element[1]->type == REDIS_REPLY_STRING)
    {
        int64_t  ms = strtoll(old->element[1]->str, NULL, 10);

        if (ms > 0 && (st->oldest_ms == 0 || ms < st->oldest_ms)) {
            st->oldest_ms = ms;
        }
    }

    freeReplyObject(n);
    freeReplyObject(old);
}


static void
cc_redrive_metrics(const char *path, const cc_redrive_stats_t *all,
    const cc_redrive_stats_t *pass, int64_t last_ok_ms)
{
    int64_t        now;
    cc_promfile_t  pf;

    if (path == NULL) {
        return;
    }

    now = cc_now_ms();

    cc_promfile_begin(&pf);
    cc_promfile_add(&pf, "cc_redrive_redriven_total", "counter",
                    "Gifts whose receiver's half this worker applied",
                    (double) all->redriven);
    cc_promfile_add(&pf, "cc_redrive_completed_total", "counter",
                    "Gifts found applied, taken out of the outbox",
                    (double) all->completed);
    cc_promfile_add(&pf, "cc_redrive_unreadable_total", "counter",
                    "Outbox entries skipped as unreadable",
                    (double) all->unreadable);
    cc_promfile_add(&pf, "cc_redrive_outbox", "gauge",
                    "Gifts in the outboxes at the end of the last pass",
                    (double) pass->outbox);
    cc_promfile_add(&pf, "cc_redrive_oldest_age_seconds", "gauge",
                    "Age of the oldest gift in the outboxes (0: none)",
                    pass->oldest_ms ? (now - pass->oldest_ms) / 1000.0 : 0);
    cc_promfile_add(&pf, "cc_redrive_failed_shards", "gauge",
                    "Redis shards the last pass could not finish",
                    pass->failed);
    cc_promfile_add(&pf, "cc_redrive_last_success_timestamp_seconds",
                    "gauge", "End of the last pass with no failed shard "
                    "(unix seconds)", last_ok_ms / 1000.0);

    if (cc_promfile_commit(&pf, path) != 0) {
        cc_log("metrics file %s: %s", path, strerror(errno));
    }
}


static int
cc_redrive_shard_of(cc_redrive_t *rd, int argc, char **argv)
{
    int       i;
    uint64_t  uid;

    for (i = optind; i < argc; i++) {
        if (cc_parse_uid(argv[i], strlen(argv[i]), &uid) != 0) {
            fprintf(stderr, "cc-redrive: bad uid \"%s\"\n", argv[i]);
            return 2;
        }

        printf("%" PRIu64 " %s\n", uid,
               rd->o->redis[cc_ring_shard(&rd->ring, uid)]);
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int                 rc, bad[CC_REDRIVE_REDIS_MAX];
    size_t              i;
    int64_t             last_ok;
    cc_redrive_t        rd;
    cc_redrive_opts_t   o;
    cc_redrive_stats_t  st, all;

    cc_worker_init("cc-redrive");

    memset(&rd, 0, sizeof(rd));
    rd.o = &o;
    rc = 2;

    if (cc_opt_done(cc_redrive_parse(argc, argv, &o), &rc)) {
        goto done;
    }

    if (cc_redrive_ring(&rd) != 0) {
        goto done;
    }

    if (o.shard_of) {
        rc = cc_redrive_shard_of(&rd, argc, argv);
        goto done;
    }

    if (cc_secret_load() != 0) {
        goto done;
    }

    memset(&all, 0, sizeof(all));
    last_ok = 0;

    do {
        memset(&st, 0, sizeof(st));
        memset(rd.down, 0, sizeof(rd.down));

        for (i = 0; i < o.nredis; i++) {
            bad[i] = cc_worker_run ? (cc_redrive_shard(&rd, i, &st) != 0)
                                   : 1;
        }

        for (i = 0; i < o.nredis; i++) {
            cc_redrive_left(&rd, i, &st);

            /* a down receiver's shard left its gifts: not whole either */
            st.failed += (bad[i] || rd.down[i]);
        }

        cc_log("pass done: %llu gifts redriven, %llu found delivered, "
               "%llu unreadable; %llu left in the outboxes, the oldest "
               "%llds old; %d shard(s) failed",
               (unsigned long long) st.redriven,
               (unsigned long long) st.completed,
               (unsigned long long) st.unreadable,
               (unsigned long long) st.outbox,
               st.oldest_ms ? (long long) (cc_now_ms() - st.oldest_ms) / 1000
                            : 0LL,
               st.failed);

        all.redriven += st.redriven;
        all.completed += st.completed;
        all.unreadable += st.unreadable;
        last_ok = st.failed ? last_ok : cc_now_ms();
        cc_redrive_metrics(o.metrics_file, &all, &st, last_ok);

        for (i = 0; i < o.nredis; i++) {
            redisFree(rd.c[i]);
            rd.c[i] = NULL;
        }

    } while (!o.once && cc_sleep_ms(o.interval_s * 1000) == 0);

    rc = st.failed ? 1 : 0;

done:

    for (i = 0; i < CC_REDRIVE_REDIS_MAX; i++) {
        redisFree(rd.c[i]);
    }

    free(rd.points);

    return rc;
}
