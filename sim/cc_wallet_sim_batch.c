/*
 * cc_wallet_sim_batch: the simulator's batch transfers, as payment
 * platforms pay at scale (WeChat Pay's merchant transfer batches: a batch
 * number, a detail number per detail, processed asynchronously, queried
 * afterwards).  The protocol is cc_wallet_batch.h's:
 *
 *   POST /batches            Idempotency-Key: <out_batch_no>, signed as a
 *                            credit; the body the batch and its details.
 *                            201 accepted now, 200 the same batch again
 *                            (its status), 409 another batch under that
 *                            number, 400 malformed or too many details.
 *   GET /batches/{no}        the batch: status PROCESSING or FINISHED,
 *                            its counts (Idempotency-Key: <no>, signed
 *                            with method GET and an empty body)
 *   GET /batches/{no}/details  the same with every detail: SUCCESS, FAIL
 *                            (fail_reason) or PROCESSING
 *
 * A detail number is an idempotency key across batches, the same key
 * table as POST /credits': a detail whose key was applied before (in
 * another batch, or as a credit) is SUCCESS without a second credit; with
 * another uid or amount it FAILs "key_conflict".  A detail that failed
 * may come again in a later batch and be applied then.
 *
 * Accepted batches are written to the journal (--batch-journal, one line
 * each, flushed before the answer), and each processed detail's result
 * after it (the statement line of a credit first): a restart reads the
 * journal back, keeps every batch it accepted and processes what was not
 * processed.  Processing is a thread: a batch is processed --process-ms
 * after it was accepted, in slices of CC_SIM_BATCH_SLICE details, the
 * lock let go between slices, as a real platform does not stall a
 * single credit or a small batch's query behind a big batch (measured
 * whole: a 500-detail batch held the lock 0.6 ms at p50, 4 ms at p99 and
 * 97 ms at most on a loaded machine, each call waiting for it).
 *
 * Faults per batch and per detail, from the same generator as the
 * credits': --fail-pct fails details (FAIL "injected_failure"), as
 * --fail-detail KEY=N does the chosen detail KEY in its next N batches,
 * --drop-pct accepts a batch and drops the connection, --accept-max
 * takes so many new batches and answers 503 "busy" to the next ones,
 * --forge-pct answers a submit or a query unsigned or wrongly signed
 * (everything SUCCESS: a man in the middle), --twice-pct lists a detail
 * twice in a query's answer, --echo-off-pct lists a detail with another
 * amount,
 * --dup-pct writes a credit's statement line twice, --stray-pct lists a
 * detail the batch never held in a finished batch's details, --delay-ms
 * delays every answer.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cc_ids.h"
#include "cc_wallet_sim.h"
#include "cc_worker.h"


#define CC_SIM_BATCH_TICK_MS  2
#define CC_SIM_BATCH_SLICE    64        /* details a hold of the lock */


typedef enum {
    CC_SIM_DETAIL_PROCESSING = 0,
    CC_SIM_DETAIL_SUCCESS,
    CC_SIM_DETAIL_FAIL,
    CC_SIM_DETAIL_CONFLICT          /* FAIL, key_conflict */
} cc_sim_detail_e;


typedef struct {
    char              key[CC_SIM_KEY_MAX + 1];
    uint64_t          uid;
    uint64_t          amount;
    cc_sim_detail_e   status;
} cc_sim_detail_t;


struct cc_sim_batch_s {
    char              no[CC_SIM_KEY_MAX + 1];
    char              currency[4];
    size_t            n;
    uint64_t          total;
    int64_t           accepted_ms;
    size_t            at;               /* the details before: processed */
    int               done;
    cc_sim_batch_t   *next;             /* the todo list */
    cc_sim_detail_t  *d;
};


static const char *const  cc_sim_detail_names[] = {
    "PROCESSING", "SUCCESS", "FAIL", "FAIL"
};

static pthread_t  cc_sim_batch_thread;
static int        cc_sim_batch_running;


/* a number or a detail's key: 1..80 bytes, none of the journal's marks */
static int
cc_sim_batch_key_ok(const char *k)
{
    size_t  len;

    len = strlen(k);

    return len > 0 && len <= CC_SIM_KEY_MAX
           && strpbrk(k, ",;|/\n\r ") == NULL;
}


static uint64_t
cc_sim_batch_hash(const char *k)
{
    uint64_t  h = 0xcbf29ce484222325ULL;

    while (*k) {
        h = (h ^ (unsigned char) *k++) * 0x100000001b3ULL;
    }

    return h;
}


/* under the lock: the batch's slot in s->bt (NULL there: not known) */
static cc_sim_batch_t **
cc_sim_batch_slot(cc_sim_batch_t **bt, size_t cap, const char *no)
{
    size_t  i;

    for (i = cc_sim_batch_hash(no) & (cap - 1); bt[i] != NULL;
         i = (i + 1) & (cap - 1))
    {
        if (strcmp(bt[i]->no, no) == 0) {
            break;
        }
    }

    return &bt[i];
}


static cc_sim_batch_t *
cc_sim_batch_find(cc_sim_t *s, const char *no)
{
    return s->bcap ? *cc_sim_batch_slot(s->bt, s->bcap, no) : NULL;
}


/* under the lock: b into the table and the todo list (not done) */
static int
cc_sim_batch_add(cc_sim_t *s, cc_sim_batch_t *b)
{
    size_t            i, ncap;
    cc_sim_batch_t  **nbt;

    if (s->bused * 2 >= s->bcap) {
        ncap = s->bcap ? s->bcap * 2 : 1024;
        nbt = calloc(ncap, sizeof(cc_sim_batch_t *));
        if (nbt == NULL) {
            return -1;
        }

        for (i = 0; i < s->bcap; i++) {
            if (s->bt[i] != NULL) {
                *cc_sim_batch_slot(nbt, ncap, s->bt[i]->no) = s->bt[i];
            }
        }

        free(s->bt);
        s->bt = nbt;
        s->bcap = ncap;
    }

    *cc_sim_batch_slot(s->bt, s->bcap, b->no) = b;
    s->bused++;

    if (!b->done) {
        b->next = NULL;

        if (s->todo_last != NULL) {
            s->todo_last->next = b;
        } else {
            s->todo = b;
        }

        s->todo_last = b;
    }

    return 0;
}


static void
cc_sim_batch_free(cc_sim_batch_t *b)
{
    if (b != NULL) {
        free(b->d);
        free(b);
    }
}


/* ---- the journal -------------------------------------------------------- */


/*
 * An accepted batch's line: B,no,currency,n,total,accepted_ms,details
 * with details key|uid|amount joined by ';'.  Flushed: 0, or -1.
 */
static int
cc_sim_batch_journal(cc_sim_t *s, const cc_sim_batch_t *b)
{
    size_t  i;

    fprintf(s->journal, "B,%s,%s,%zu,%" PRIu64 ",%" PRId64 ",", b->no,
            b->currency, b->n, b->total, b->accepted_ms);

    for (i = 0; i < b->n; i++) {
        fprintf(s->journal, "%s%s|%" PRIu64 "|%" PRIu64, i ? ";" : "",
                b->d[i].key, b->d[i].uid, b->d[i].amount);
    }

    fputc('\n', s->journal);

    return fflush(s->journal) == 0 ? 0 : -1;
}


/* a B line's details into b (b->n of them); 0, or -1 malformed */
static int
cc_sim_batch_load_details(cc_sim_batch_t *b, char *p)
{
    size_t            i;
    char             *tok, *save, *bar1, *bar2;
    cc_sim_detail_t  *d;

    for (i = 0, tok = strtok_r(p, ";\n", &save); tok != NULL && i < b->n;
         i++, tok = strtok_r(NULL, ";\n", &save))
    {
        d = &b->d[i];
        bar1 = strchr(tok, '|');
        bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;

        if (bar2 == NULL || (size_t) (bar1 - tok) > CC_SIM_KEY_MAX) {
            return -1;
        }

        memcpy(d->key, tok, (size_t) (bar1 - tok));
        d->key[bar1 - tok] = '\0';
        d->uid = strtoull(bar1 + 1, NULL, 10);
        d->amount = strtoull(bar2 + 1, NULL, 10);
    }

    return i == b->n && tok == NULL ? 0 : -1;
}


/* one B line into a new batch (not done), or NULL when malformed */
static cc_sim_batch_t *
cc_sim_batch_parse_line(char *line)
{
    int              off;
    char             no[CC_SIM_KEY_MAX + 1], cur[4];
    size_t           n;
    int64_t          at;
    uint64_t         total;
    cc_sim_batch_t  *b;

    off = 0;

    if (sscanf(line, "B,%80[^,],%3[A-Z],%zu,%" SCNu64 ",%" SCNd64 ",%n", no,
               cur, &n, &total, &at, &off) != 5
        || off == 0 || n == 0 || n > 100000)
    {
        return NULL;
    }

    b = calloc(1, sizeof(cc_sim_batch_t));
    if (b == NULL || (b->d = calloc(n, sizeof(cc_sim_detail_t))) == NULL) {
        free(b);
        return NULL;
    }

    snprintf(b->no, sizeof(b->no), "%s", no);
    memcpy(b->currency, cur, 4);
    b->n = n;
    b->total = total;
    b->accepted_ms = at;

    if (cc_sim_batch_load_details(b, line + off) != 0) {
        cc_sim_batch_free(b);
        return NULL;
    }

    return b;
}


/*
 * Under the lock: 1 when the detail key is one --fail-detail chose and
 * failures are left to give it; fail says one is given now (the
 * processing's, or a journalled F read back at a restart).
 */
static int
cc_sim_batch_chosen(cc_sim_t *s, const char *key, int fail)
{
    size_t  i;

    for (i = 0; i < s->nfail_key; i++) {
        if (s->fail_key[i].left > 0 && strcmp(s->fail_key[i].key, key) == 0)
        {
            s->fail_key[i].left -= fail;
            return 1;
        }
    }

    return 0;
}


/* an R line: R,no,index,S|F|C */
static int
cc_sim_batch_load_result(cc_sim_t *s, const char *line)
{
    char             no[CC_SIM_KEY_MAX + 1], r;
    size_t           i;
    cc_sim_batch_t  *b;

    if (sscanf(line, "R,%80[^,],%zu,%c", no, &i, &r) != 3
        || (b = cc_sim_batch_find(s, no)) == NULL || i >= b->n)
    {
        return -1;
    }

    b->d[i].status = r == 'S' ? CC_SIM_DETAIL_SUCCESS
                     : r == 'C' ? CC_SIM_DETAIL_CONFLICT
                     : CC_SIM_DETAIL_FAIL;

    if (r == 'F') {
        (void) cc_sim_batch_chosen(s, b->d[i].key, 1);
    }

    return 0;
}


/*
 * The journal read back at start: every batch accepted, the results of
 * the details processed; the rest is processed again by the thread.  A
 * last line cut short by a crash was never answered: skipped.
 */
int
cc_sim_batch_load(cc_sim_t *s)
{
    char             *line;
    size_t            cap, i;
    FILE             *f;
    ssize_t           len;
    unsigned long     n;
    cc_sim_batch_t   *b;

    line = NULL;
    cap = 0;
    n = 0;

    f = fopen(s->journal_path, "r");

    while (f != NULL && (len = getline(&line, &cap, f)) > 0) {
        n++;

        if (line[len - 1] != '\n') {
            cc_log("%s: line %lu cut short (a crash): skipped",
                   s->journal_path, n);
            break;
        }

        if (line[0] == 'B' && (b = cc_sim_batch_parse_line(line)) != NULL) {
            if (cc_sim_batch_add(s, b) != 0) {
                cc_sim_batch_free(b);
                goto failed;
            }
            continue;
        }

        if (line[0] == 'R' && cc_sim_batch_load_result(s, line) == 0) {
            continue;
        }

        fprintf(stderr, "cc-wallet-sim: %s: line %lu is not a batch or a "
                "detail's result\n", s->journal_path, n);
        errno = EINVAL;
        goto failed;
    }

    if (f == NULL && errno != ENOENT) {
        return -1;
    }

    /* a batch all of whose details have a result is done */
    for (i = 0; i < s->bcap; i++) {
        size_t  k;

        b = s->bt[i];

        for (k = 0; b != NULL && k < b->n; k++) {
            if (b->d[k].status == CC_SIM_DETAIL_PROCESSING) {
                break;
            }
        }

        if (b != NULL && k == b->n) {
            b->done = 1;
        }
    }

    free(line);

    if (f != NULL) {
        fclose(f);
    }

    return 0;

failed:

    free(line);
    fclose(f);
    return -1;
}


/* ---- processing --------------------------------------------------------- */


/*
 * Under the lock: one detail processed, its result journalled.  A key
 * applied before (another batch, a credit) is replayed, never failed.
 */
static void
cc_sim_batch_detail(cc_sim_t *s, cc_sim_batch_t *b, size_t i)
{
    char              r;
    unsigned          status;
    cc_sim_entry_t   *e;
    cc_sim_credit_t   c;
    cc_sim_detail_t  *d = &b->d[i];

    if (!cc_sim_known(s, d->key)
        && (cc_sim_batch_chosen(s, d->key, 1) || cc_sim_draw(s, s->fail_pct)))
    {
        d->status = CC_SIM_DETAIL_FAIL;
        s->details_failed++;
        fprintf(s->journal, "R,%s,%zu,F\n", b->no, i);
        return;
    }

    if (cc_sim_grow(s) != 0) {
        return;                     /* stays PROCESSING: the next tick */
    }

    c.uid = d->uid;
    c.amount = d->amount;
    memcpy(c.currency, b->currency, 4);

    status = cc_sim_apply(s, d->key, &c, cc_sim_draw(s, s->dup_pct), &e);

    if (status == MHD_HTTP_CONFLICT) {
        d->status = CC_SIM_DETAIL_CONFLICT;
        s->details_failed++;
        r = 'C';

    } else {
        d->status = CC_SIM_DETAIL_SUCCESS;
        s->details_ok++;
        r = 'S';
    }

    fprintf(s->journal, "R,%s,%zu,%c\n", b->no, i, r);
}


/*
 * Under the lock: the next CC_SIM_BATCH_SLICE details of b processed (a
 * detail with a result from the journal is skipped), their lines
 * flushed.  1 when b is done, 0 when details are left, -1 out of memory
 * (the detail stays PROCESSING: the next tick).
 */
static int
cc_sim_batch_slice(cc_sim_t *s, cc_sim_batch_t *b)
{
    int     rc;
    size_t  k;

    rc = 0;

    for (k = 0; b->at < b->n && k < CC_SIM_BATCH_SLICE; b->at++) {
        if (b->d[b->at].status != CC_SIM_DETAIL_PROCESSING) {
            continue;
        }

        cc_sim_batch_detail(s, b, b->at);

        if (b->d[b->at].status == CC_SIM_DETAIL_PROCESSING) {
            rc = -1;
            break;
        }

        k++;
    }

    /* the statement lines before the results that name them */
    if (fflush(s->statement) != 0 || fflush(s->journal) != 0) {
        cc_log("batches: %s", strerror(errno));
    }

    return rc < 0 ? -1 : b->at == b->n;
}


/*
 * The thread: the batches due, oldest first, a slice a hold of the lock;
 * between slices the lock is let go (and the processor yielded), so the
 * calls waiting for it go first.
 */
static void *
cc_sim_batch_run(void *arg)
{
    int              rc;
    int64_t          now;
    cc_sim_t        *s = arg;
    cc_sim_batch_t  *b;

    while (__atomic_load_n(&cc_sim_batch_running, __ATOMIC_RELAXED)) {
        now = cc_now_ms();
        rc = -1;

        pthread_mutex_lock(&s->lock);

        if ((b = s->todo) != NULL && b->accepted_ms + s->process_ms <= now)
        {
            rc = cc_sim_batch_slice(s, b);
        }

        if (rc == 1) {
            b->done = 1;
            s->todo = b->next;

            if (s->todo == NULL) {
                s->todo_last = NULL;
            }
        }

        pthread_mutex_unlock(&s->lock);

        if (rc < 0) {
            cc_sleep_ms(CC_SIM_BATCH_TICK_MS);  /* none due, or no memory */

        } else {
            sched_yield();
        }
    }

    return NULL;
}


int
cc_sim_batch_start(cc_sim_t *s)
{
    s->journal = fopen(s->journal_path, "a");
    if (s->journal == NULL) {
        return -1;
    }

    cc_sim_batch_running = 1;

    if (pthread_create(&cc_sim_batch_thread, NULL, cc_sim_batch_run, s)
        != 0)
    {
        cc_sim_batch_running = 0;
        return -1;
    }

    return 0;
}


void
cc_sim_batch_stop(cc_sim_t *s)
{
    size_t  i;

    if (__atomic_exchange_n(&cc_sim_batch_running, 0, __ATOMIC_RELAXED)) {
        pthread_join(cc_sim_batch_thread, NULL);
    }

    if (s->journal != NULL) {
        fclose(s->journal);
        s->journal = NULL;
    }

    for (i = 0; i < s->bcap; i++) {
        cc_sim_batch_free(s->bt[i]);
    }

    free(s->bt);
    s->bt = NULL;
    s->bcap = 0;
}


/* ---- the calls ---------------------------------------------------------- */


/* one detail of a submitted body into d; 0, or -1 malformed */
static int
cc_sim_batch_parse_detail(const cJSON *j, cc_sim_detail_t *d)
{
    const cJSON  *k, *u, *a;

    k = cJSON_GetObjectItemCaseSensitive(j, "out_detail_no");
    u = cJSON_GetObjectItemCaseSensitive(j, "uid");
    a = cJSON_GetObjectItemCaseSensitive(j, "amount_cents");

    if (!cJSON_IsString(k) || !cc_sim_batch_key_ok(k->valuestring)
        || !cJSON_IsString(u)
        || cc_parse_uid(u->valuestring, strlen(u->valuestring), &d->uid)
           != 0
        || !cJSON_IsNumber(a) || a->valuedouble < 1
        || a->valuedouble > (double) CC_SIM_AMOUNT_MAX
        || a->valuedouble != (double) (uint64_t) a->valuedouble)
    {
        return -1;
    }

    snprintf(d->key, sizeof(d->key), "%s", k->valuestring);
    d->amount = (uint64_t) a->valuedouble;

    return 0;
}


static int
cc_sim_batch_keycmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}


/*
 * A detail number twice in b (its keys sorted, neighbours compared): 1,
 * else 0; -1 out of memory.
 */
static int
cc_sim_batch_twice(const cc_sim_batch_t *b)
{
    int           twice;
    size_t        i;
    const char  **keys;

    keys = malloc(b->n * sizeof(char *));
    if (keys == NULL) {
        return -1;
    }

    for (i = 0; i < b->n; i++) {
        keys[i] = b->d[i].key;
    }

    qsort(keys, b->n, sizeof(char *), cc_sim_batch_keycmp);

    for (i = 1, twice = 0; i < b->n && !twice; i++) {
        twice = strcmp(keys[i - 1], keys[i]) == 0;
    }

    free(keys);

    return twice;
}


/*
 * A submitted body: out_batch_no (the Idempotency-Key again), currency,
 * total_num, total_amount and details, each with out_detail_no, uid and
 * amount_cents, no detail number twice.  A new batch (not in any list),
 * or NULL with *why.
 */
static cc_sim_batch_t *
cc_sim_batch_parse(cc_sim_t *s, const cc_sim_req_t *q, const char *key,
    const char **why)
{
    int              i, n;
    cJSON           *j, *no, *cur, *num, *amt, *ds, *e;
    cc_sim_batch_t  *b;

    b = NULL;
    *why = "bad_batch";
    j = q->p ? cJSON_ParseWithLength(q->p, q->len) : NULL;
    no = cJSON_GetObjectItemCaseSensitive(j, "out_batch_no");
    cur = cJSON_GetObjectItemCaseSensitive(j, "currency");
    num = cJSON_GetObjectItemCaseSensitive(j, "total_num");
    amt = cJSON_GetObjectItemCaseSensitive(j, "total_amount");
    ds = cJSON_GetObjectItemCaseSensitive(j, "details");
    n = cJSON_GetArraySize(ds);

    if (!cJSON_IsString(no) || key == NULL || strcmp(no->valuestring, key)
        || !cc_sim_batch_key_ok(key) || !cJSON_IsString(cur)
        || strlen(cur->valuestring) != 3 || !cJSON_IsArray(ds) || n < 1
        || !cJSON_IsNumber(num) || num->valuedouble != n
        || !cJSON_IsNumber(amt))
    {
        goto done;
    }

    if (n > s->batch_max) {
        *why = "too_many_details";
        goto done;
    }

    b = calloc(1, sizeof(cc_sim_batch_t));
    if (b == NULL || (b->d = calloc((size_t) n, sizeof(cc_sim_detail_t)))
                     == NULL)
    {
        *why = "out_of_memory";
        goto failed;
    }

    snprintf(b->no, sizeof(b->no), "%s", key);
    memcpy(b->currency, cur->valuestring, 4);
    b->n = (size_t) n;

    /* a walk of the list (cJSON_GetArrayItem(i) walks it from the start) */
    i = 0;
    cJSON_ArrayForEach(e, ds) {
        if (cc_sim_batch_parse_detail(e, &b->d[i]) != 0) {
            goto failed;
        }

        b->total += b->d[i++].amount;
    }

    switch (cc_sim_batch_twice(b)) {
    case 0:
        break;
    case 1:
        *why = "detail_twice";
        goto failed;
    default:
        *why = "out_of_memory";
        goto failed;
    }

    if (amt->valuedouble != (double) b->total
        || b->currency[0] < 'A' || b->currency[0] > 'Z')
    {
        goto failed;
    }

    goto done;

failed:

    cc_sim_batch_free(b);
    b = NULL;

done:

    cJSON_Delete(j);
    return b;
}


/* two batches under one number: the same content, in the same order */
static int
cc_sim_batch_same(const cc_sim_batch_t *a, const cc_sim_batch_t *b)
{
    size_t  i;

    if (a->n != b->n || a->total != b->total
        || strcmp(a->currency, b->currency) != 0)
    {
        return 0;
    }

    for (i = 0; i < a->n; i++) {
        if (strcmp(a->d[i].key, b->d[i].key) != 0
            || a->d[i].uid != b->d[i].uid
            || a->d[i].amount != b->d[i].amount)
        {
            return 0;
        }
    }

    return 1;
}


/* under the lock: the batch's answer, with its details when asked */
static char *
cc_sim_batch_body(cc_sim_t *s, const cc_sim_batch_t *b, int details,
    int forged)
{
    char     *p;
    size_t    i, k, len, ok, failed;
    FILE     *f;
    uint64_t  amount;

    for (i = 0, ok = 0, failed = 0; i < b->n; i++) {
        ok += forged || b->d[i].status == CC_SIM_DETAIL_SUCCESS;
        failed += !forged && b->d[i].status >= CC_SIM_DETAIL_FAIL;
    }

    p = NULL;
    f = open_memstream(&p, &len);
    if (f == NULL) {
        return NULL;
    }

    fprintf(f, "{\"out_batch_no\":\"%s\",\"status\":\"%s\",\"currency\":"
            "\"%s\",\"total_num\":%zu,\"total_amount\":%" PRIu64 ","
            "\"success_num\":%zu,\"fail_num\":%zu", b->no,
            b->done || forged ? "FINISHED" : "PROCESSING", b->currency,
            b->n, b->total, ok, failed);

    if (details) {
        fprintf(f, ",\"details\":[");

        for (i = 0, k = 0; i < b->n; i++) {
            const cc_sim_detail_t  *d = &b->d[i];
            int                     twice;

            amount = d->amount + (!forged && cc_sim_draw(s, s->echo_off_pct));
            twice = !forged && cc_sim_draw(s, s->twice_pct);
            s->twice += twice;

            do {
                fprintf(f, "%s{\"out_detail_no\":\"%s\",\"uid\":\"%" PRIu64
                        "\",\"amount_cents\":%" PRIu64 ",\"status\":\"%s\"%s}",
                        k++ ? "," : "", d->key, d->uid, amount,
                        forged ? "SUCCESS" : cc_sim_detail_names[d->status],
                        d->status == CC_SIM_DETAIL_CONFLICT && !forged
                        ? ",\"fail_reason\":\"key_conflict\""
                        : d->status == CC_SIM_DETAIL_FAIL && !forged
                        ? ",\"fail_reason\":\"injected_failure\"" : "");
            } while (twice-- > 0);
        }

        /* a detail the batch never held: the payer must not take it */
        if (!forged && b->done && cc_sim_draw(s, s->stray_pct)) {
            fprintf(f, "%s{\"out_detail_no\":\"stray:%s\",\"uid\":\"1\","
                    "\"amount_cents\":1,\"status\":\"SUCCESS\"}",
                    k ? "," : "", b->no);
        }

        fputc(']', f);
    }

    fputc('}', f);

    if (fclose(f) != 0) {
        free(p);
        return NULL;
    }

    return p;
}


/*
 * A complete POST /batches.  The checks first (nothing accepted), then
 * under the lock: a forged answer, the number looked up (the same batch
 * again: its status; another: 409), a new one journalled and queued; a
 * drop after accepting.
 */
enum MHD_Result
cc_sim_batch_submit(cc_sim_t *s, struct MHD_Connection *conn,
    const char *path, cc_sim_req_t *q)
{
    int               drop, forge;
    char             *body;
    unsigned          status;
    const char       *key, *error;
    cc_sim_batch_t   *b, *old;

    error = cc_sim_request_check(s, conn, q, "POST", path, &key, &status);
    if (error != NULL) {
        return cc_sim_error(s, conn, status, error);
    }

    b = cc_sim_batch_parse(s, q, key, &error);
    if (b == NULL) {
        return cc_sim_error(s, conn, 400, error);
    }

    pthread_mutex_lock(&s->lock);

    forge = cc_sim_draw(s, s->forge_pct);
    drop = !forge && cc_sim_draw(s, s->drop_pct);
    old = cc_sim_batch_find(s, b->no);
    status = MHD_HTTP_CREATED;

    if (forge) {
        /* nothing accepted: the "FINISHED" comes from someone on the path */
        s->forged++;
        forge = s->forged % 2 ? CC_SIM_UNSIGNED : CC_SIM_WRONG_KEY;
        body = cc_sim_batch_body(s, b, 0, 1);
        cc_sim_batch_free(b);
        pthread_mutex_unlock(&s->lock);
        return cc_sim_answer(s, conn, MHD_HTTP_CREATED, body,
                             (cc_sim_sign_e) forge);
    }

    if (old != NULL) {
        status = cc_sim_batch_same(old, b) ? MHD_HTTP_OK : MHD_HTTP_CONFLICT;
        s->replayed += status == MHD_HTTP_OK;
        s->conflicts += status == MHD_HTTP_CONFLICT;
        cc_sim_batch_free(b);
        b = old;

    } else if (s->accept_max > 0
               && s->batches >= (unsigned long long) s->accept_max)
    {
        /* --accept-max: busy, nothing taken (a new batch only) */
        cc_sim_batch_free(b);
        pthread_mutex_unlock(&s->lock);
        return cc_sim_error(s, conn, 503, "busy");

    } else {
        b->accepted_ms = cc_now_ms();

        /* journalled (flushed) before any answer: what a restart keeps */
        if (cc_sim_batch_journal(s, b) != 0 || cc_sim_batch_add(s, b) != 0)
        {
            cc_log("%s: %s", s->journal_path, strerror(errno));
            cc_sim_batch_free(b);
            pthread_mutex_unlock(&s->lock);
            return cc_sim_error(s, conn, 500, "journal_failed");
        }

        s->batches++;
    }

    body = status == MHD_HTTP_CONFLICT ? NULL : cc_sim_batch_body(s, b, 0, 0);
    s->dropped += drop;

    pthread_mutex_unlock(&s->lock);

    if (status == MHD_HTTP_CONFLICT) {
        return cc_sim_error(s, conn, status, "batch_conflict");
    }

    if (drop) {
        free(body);
        return MHD_NO;              /* accepted; the caller never hears */
    }

    return cc_sim_answer(s, conn, status, body, CC_SIM_SIGNED);
}


/* GET /batches/{no}[/details]: the batch, signed over its number */
enum MHD_Result
cc_sim_batch_query(cc_sim_t *s, struct MHD_Connection *conn,
    const char *path)
{
    int              details, forge;
    unsigned         status;
    char             no[CC_SIM_KEY_MAX + 1], *body;
    size_t           len;
    const char      *key, *error, *end;
    cc_sim_req_t     none = { NULL, 0, 0 };
    cc_sim_batch_t  *b;

    error = cc_sim_request_check(s, conn, &none, "GET", path, &key,
                                 &status);
    if (error != NULL) {
        return cc_sim_error(s, conn, status, error);
    }

    path += sizeof("/batches/") - 1;
    end = strchr(path, '/');
    details = end != NULL && strcmp(end, "/details") == 0;
    len = end ? (size_t) (end - path) : strlen(path);

    if ((end != NULL && !details) || len == 0 || len > CC_SIM_KEY_MAX) {
        return cc_sim_error(s, conn, 404, "not_found");
    }

    memcpy(no, path, len);
    no[len] = '\0';

    if (strcmp(no, key) != 0) {
        return cc_sim_error(s, conn, 400, "key_not_the_batch");
    }

    pthread_mutex_lock(&s->lock);

    b = cc_sim_batch_find(s, no);
    forge = b != NULL && cc_sim_draw(s, s->forge_pct);

    if (forge) {
        s->forged++;
        forge = s->forged % 2 ? CC_SIM_UNSIGNED : CC_SIM_WRONG_KEY;
    }

    body = b ? cc_sim_batch_body(s, b, details, forge != 0) : NULL;

    pthread_mutex_unlock(&s->lock);

    if (b == NULL) {
        return cc_sim_error(s, conn, 404, "no_such_batch");
    }

    return cc_sim_answer(s, conn, MHD_HTTP_OK, body,
                         forge ? (cc_sim_sign_e) forge : CC_SIM_SIGNED);
}
