/*
 * cc_wallet_batch: wallet_mode batch of `wallet http` (see
 * cc_wallet_batch.h for the protocol and the steps).
 *
 * The calls are libcurl's easy interface on the wallet's first handle,
 * one at a time: a batch is accepted in one call and processed by the
 * wallet on its own time, so the batches of a credit are in flight
 * together at the wallet while this thread submits and queries them in
 * turn.  MySQL holds what each batch was (wallet_batch_details): a
 * retry never builds a batch twice, it reads it back.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cc_assert.h"
#include "cc_ledger_bulk.h"
#include "cc_ledger_phase.h"
#include "cc_logtext.h"
#include "cc_sqlbuf.h"
#include "cc_wallet_batch.h"
#include "cc_wallet_http_int.h"
#include "cc_worker.h"


typedef enum {
    CC_WB_SUBMIT = 0,       /* to be sent: new, or the wallet lacks it */
    CC_WB_QUERY,            /* accepted (or maybe): to be queried */
    CC_WB_DONE,             /* FINISHED, its details read */
    CC_WB_REFUSED,          /* a signed 4xx to its submit */
    CC_WB_UNKNOWN           /* no usable answer by the deadline */
} cc_wb_state_e;


typedef enum {
    CC_WB_OPEN = 0,         /* no result: unknown, queried next pass */
    CC_WB_SUCCESS,          /* applied: to post */
    CC_WB_FAIL,             /* failed at the wallet: the next attempt */
    CC_WB_BAD               /* another uid or amount, key_conflict, a
                               contradiction: alerted, left in flight */
} cc_wb_result_e;


typedef struct {
    char             award_id[72];
    uint64_t         uid;
    uint64_t         amount;
    unsigned         attempt;
    long             ci;            /* its entry in c[], -1 none */
    cc_wb_result_e   result;
    int              seen;          /* listed in the last answer */
    char             why[160];
} cc_wb_detail_t;


typedef struct {
    char             no[CC_WALLET_BATCH_NO_MAX + 1];
    cc_wb_state_e    state;
    cc_wb_detail_t  *d;             /* award id order */
    size_t           n;
    size_t           cap;
    uint64_t         total;
    unsigned         tries;         /* calls without a usable answer */
    int              finished;      /* the summary said FINISHED: its
                                       details are asked next */
    int64_t          due_ms;
    int64_t          wait_ms;       /* the next query's wait */
    int64_t          born_ms;       /* written (wallet_batches) */
    unsigned         calls;         /* made in this call of credit */
    int              overdue;       /* its age passed without a result */
    char             why[200];
} cc_wb_t;


typedef struct {
    cc_wallet_http_t    *w;
    MYSQL               *db;
    cc_ledger_credit_t  *c;
    size_t               n;
    size_t              *order;     /* c[] in award id order */
    cc_wb_t             *b;
    size_t               nb;
    size_t               capb;
    unsigned            *round;     /* c[i] to post: its batch's b[] + 1 */
    unsigned            *attempt;   /* c[i]'s last attempt, 0 none */
    char                *ans;       /* the last answer's body */
    size_t               alen;
    cc_sqlbuf_t          q;         /* SQL, and bodies */
    unsigned long long   unknown_details;   /* of this call */
} cc_wb_ctx_t;


static unsigned long long  cc_wb_seq;      /* batch numbers, process-wide */


/* ---- the calls ----------------------------------------------------------- */


static size_t
cc_wb_write(char *p, size_t size, size_t nmemb, void *arg)
{
    char         *np;
    size_t        n;
    cc_wb_ctx_t  *x = arg;

    n = size * nmemb;

    /* a longer answer is cut: unreadable, so asked again */
    if (x->alen + n > CC_WALLET_BATCH_ANSWER_MAX) {
        n = CC_WALLET_BATCH_ANSWER_MAX - x->alen;
    }

    np = realloc(x->ans, x->alen + n + 1);
    if (np == NULL) {
        return 0;                   /* libcurl fails the call */
    }

    x->ans = np;
    memcpy(x->ans + x->alen, p, n);
    x->alen += n;
    x->ans[x->alen] = '\0';

    return size * nmemb;
}


/*
 * One signed call: POST {base}/batches with body, or GET
 * {base}/batches/<no> (its status, small: what is polled) or, once it
 * said FINISHED, {base}/batches/<no>/details.  The HTTP status (0: no
 * answer, why in b->why), the body in x->ans; *sig says whether the
 * wallet signed it.  Counted in b->calls.
 */
static long
cc_wb_call(cc_wb_ctx_t *x, cc_wb_t *b, const char *body, size_t blen,
    int details, int *sig)
{
    char                    url[CC_CAMPAIGN_URL_MAX + 128], ts[24], h[160];
    char                    s[CC_WALLET_SIG_HEX + 1];
    long                    status;
    CURLcode                cc;
    const char             *path, *why;
    struct curl_slist      *hs;
    cc_wallet_http_t       *w = x->w;
    cc_wallet_http_slot_t  *sl = &w->slot[0];
    CURL                   *e = sl->easy;

    snprintf(url, sizeof(url), body ? "%s/batches"
                               : details ? "%s/batches/%s/details"
                               : "%s/batches/%s",
             w->camp.wallet_url, b->no);
    path = strchr(strstr(url, "://") + 3, '/');
    snprintf(ts, sizeof(ts), "%" PRId64, cc_now_ms());
    *sig = 0;

    if (cc_wallet_sign_request(w->secret, w->slen, body ? "POST" : "GET",
                               path, b->no, ts, body ? body : "", blen, s)
        != 0)
    {
        snprintf(b->why, sizeof(b->why), "cannot sign the call");
        return 0;
    }

    hs = NULL;
    snprintf(h, sizeof(h), "Idempotency-Key: %s", b->no);
    hs = curl_slist_append(hs, h);
    snprintf(h, sizeof(h), "X-CC-Timestamp: %s", ts);
    hs = curl_slist_append(hs, h);
    snprintf(h, sizeof(h), "X-CC-Signature: %s", s);
    hs = curl_slist_append(hs, h);
    hs = curl_slist_append(hs, "Content-Type: application/json");
    hs = curl_slist_append(hs, "Expect:");

    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cc_wb_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);

    if (body != NULL) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) blen);
    }

    cc_wallet_http_easy(w, sl);

    b->calls++;
    x->alen = 0;
    sl->ans_ts[0] = '\0';
    sl->ans_sig[0] = '\0';
    w->stats.calls++;

    cc = hs != NULL ? curl_easy_perform(e) : CURLE_OUT_OF_MEMORY;
    curl_slist_free_all(hs);
    status = 0;

    if (cc != CURLE_OK) {
        snprintf(b->why, sizeof(b->why), "%s", curl_easy_strerror(cc));
        return 0;
    }

    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);

    if (!cc_wallet_http_signed(w, sl, status, b->no, x->ans ? x->ans : "",
                               x->alen, &why))
    {
        snprintf(b->why, sizeof(b->why), "HTTP %ld %s, not taken", status,
                 why);

        /* a 5xx, 408 or 429 without a signature is only a busy wallet */
        if (status != 408 && status != 429 && status < 500) {
            __atomic_fetch_add(&w->stats.forged, 1, __ATOMIC_RELAXED);
            cc_log("batch %s: an answer not signed by the wallet (%s), "
                   "taken as none (someone on the path, or the wrong "
                   "wallet_answer_secret_file)", b->no, why);
        }

        return status;
    }

    *sig = 1;
    return status;
}


/* after a call without a usable answer: the next try's time, or UNKNOWN */
static void
cc_wb_again(cc_wallet_http_t *w, cc_wb_t *b)
{
    uint64_t  cap;

    b->tries++;

    if (b->tries >= CC_WALLET_HTTP_TRIES || !cc_worker_run) {
        b->state = CC_WB_UNKNOWN;
        return;
    }

    cap = CC_WALLET_HTTP_BACKOFF_MS << (b->tries - 1);
    cap = cap > CC_WALLET_HTTP_BACKOFF_MAX_MS ? CC_WALLET_HTTP_BACKOFF_MAX_MS
                                              : cap;
    w->stats.retries++;
    b->due_ms = cc_now_ms() + (int64_t) (cc_wallet_http_rand(w) % (cap + 1));
}


/* the batch's body, in x->q: its details in award id order */
static int
cc_wb_body(cc_wb_ctx_t *x, const cc_wb_t *b)
{
    size_t  i;

    x->q.len = 0;

    if (cc_sqlbuf_printf(&x->q, "{\"out_batch_no\":\"%s\",\"currency\":"
                         "\"%s\",\"total_num\":%zu,\"total_amount\":%"
                         PRIu64 ",\"details\":[", b->no, x->w->camp.currency,
                         b->n, b->total) != 0)
    {
        return -1;
    }

    for (i = 0; i < b->n; i++) {
        if (cc_sqlbuf_printf(&x->q, "%s{\"out_detail_no\":\"%s\",\"uid\":"
                             "\"%" PRIu64 "\",\"amount_cents\":%" PRIu64 "}",
                             i ? "," : "", b->d[i].award_id, b->d[i].uid,
                             b->d[i].amount) != 0)
        {
            return -1;
        }
    }

    return cc_sqlbuf_printf(&x->q, "]}");
}


/*
 * POST the batch.  A signed 200 or 201 that names it: accepted, to be
 * queried; a signed 409 or other 4xx: refused for good; anything else:
 * maybe accepted, so queried (a signed 404 to the query sends it again).
 */
static void
cc_wb_submit(cc_wb_ctx_t *x, cc_wb_t *b)
{
    int     sig;
    long    status;
    char    text[160];
    cJSON  *j, *no;

    if (cc_wb_body(x, b) != 0) {
        snprintf(b->why, sizeof(b->why), "out of memory");
        cc_wb_again(x->w, b);
        return;
    }

    status = cc_wb_call(x, b, x->q.p, x->q.len, 0, &sig);
    (void) cc_logtext(text, sizeof(text), x->ans ? x->ans : "", x->alen);

    if (sig && (status == 200 || status == 201)) {
        j = cJSON_ParseWithLength(x->ans, x->alen);
        no = cJSON_GetObjectItemCaseSensitive(j, "out_batch_no");

        if (cJSON_IsString(no) && strcmp(no->valuestring, b->no) == 0) {
            __atomic_fetch_add(&x->w->stats.batches, status == 201,
                               __ATOMIC_RELAXED);
            b->state = CC_WB_QUERY;
            b->tries = 0;
            b->wait_ms = CC_WALLET_BATCH_POLL_MS;
            b->due_ms = cc_now_ms() + b->wait_ms;
            cJSON_Delete(j);
            return;
        }

        cJSON_Delete(j);
        snprintf(b->why, sizeof(b->why), "HTTP %ld without the batch "
                 "echoed: %s", status, text);

    } else if (sig && status >= 400 && status < 500 && status != 408
               && status != 429)
    {
        snprintf(b->why, sizeof(b->why), "HTTP %ld: %s", status, text);
        b->state = CC_WB_REFUSED;
        x->w->stats.rejected++;
        cc_log("batch %s of %zu details REFUSED by the wallet: %s; they "
               "stay in flight, alert", b->no, b->n, b->why);
        return;

    } else if (sig) {
        snprintf(b->why, sizeof(b->why), "HTTP %ld: %s", status, text);
    }

    /* maybe accepted: asked, and sent again only if the wallet lacks it */
    b->state = CC_WB_QUERY;
    cc_wb_again(x->w, b);
}


/* the detail of b with this number, or NULL */
static cc_wb_detail_t *
cc_wb_detail(cc_wb_t *b, const char *no)
{
    size_t  lo, hi, mid;
    int     cmp;

    lo = 0;
    hi = b->n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        cmp = strcmp(b->d[mid].award_id, no);

        if (cmp == 0) {
            return &b->d[mid];
        }

        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }

    return NULL;
}


/*
 * One detail of a FINISHED batch's answer.  Listed twice alike: the
 * same result; listed twice otherwise: a contradiction (BAD).  Another
 * uid or amount, a key_conflict: BAD.  A number the batch does not
 * hold: logged (the caller alerts).  0, or -1 for an unknown detail.
 */
static int
cc_wb_result(cc_wb_t *b, const cJSON *e)
{
    cc_wb_result_e   r;
    const cJSON     *no, *uid, *amt, *st, *fr;
    cc_wb_detail_t  *d;

    no = cJSON_GetObjectItemCaseSensitive(e, "out_detail_no");
    uid = cJSON_GetObjectItemCaseSensitive(e, "uid");
    amt = cJSON_GetObjectItemCaseSensitive(e, "amount_cents");
    st = cJSON_GetObjectItemCaseSensitive(e, "status");
    fr = cJSON_GetObjectItemCaseSensitive(e, "fail_reason");

    if (!cJSON_IsString(no) || (d = cc_wb_detail(b, no->valuestring))
                               == NULL)
    {
        return -1;
    }

    if (!cJSON_IsString(st) || strcmp(st->valuestring, "PROCESSING") == 0) {
        return 0;                                   /* stays OPEN */
    }

    if (!cJSON_IsString(uid) || strtoull(uid->valuestring, NULL, 10)
                                != d->uid
        || !cJSON_IsNumber(amt) || amt->valuedouble != (double) d->amount)
    {
        r = CC_WB_BAD;
        snprintf(d->why, sizeof(d->why), "batch %s: listed with uid %.24s "
                 "and %.0f cents, not %" PRIu64 " and %" PRIu64, b->no,
                 cJSON_IsString(uid) ? uid->valuestring : "?",
                 cJSON_IsNumber(amt) ? amt->valuedouble : -1.0, d->uid,
                 d->amount);

    } else if (strcmp(st->valuestring, "SUCCESS") == 0) {
        r = CC_WB_SUCCESS;

    } else if (strcmp(st->valuestring, "FAIL") == 0
               && !(cJSON_IsString(fr)
                    && strcmp(fr->valuestring, "key_conflict") == 0))
    {
        r = CC_WB_FAIL;
        snprintf(d->why, sizeof(d->why), "batch %s: FAIL %.64s", b->no,
                 cJSON_IsString(fr) ? fr->valuestring : "");

    } else {
        r = CC_WB_BAD;
        snprintf(d->why, sizeof(d->why), "batch %s: %.16s %.64s", b->no,
                 st->valuestring, cJSON_IsString(fr) ? fr->valuestring : "");
    }

    if (d->seen && d->result != r) {
        snprintf(d->why, sizeof(d->why), "batch %s: listed twice, with "
                 "two results", b->no);
        r = CC_WB_BAD;
    }

    d->seen = 1;
    d->result = r;

    return 0;
}


/*
 * A signed 200 to the query: the summary FINISHED (its details asked
 * next), the details FINISHED with every one read (DONE), or still
 * PROCESSING (queried again).  0, or -1 when the answer is not the
 * batch's (unreadable: asked again); *foreign counts the details the
 * batch does not hold.
 */
static int
cc_wb_read(cc_wb_t *b, const char *ans, size_t alen, size_t *foreign)
{
    int           rc;
    size_t        i;
    cJSON        *j, *e;
    const cJSON  *no, *st, *ds;

    rc = -1;
    j = cJSON_ParseWithLength(ans, alen);
    no = cJSON_GetObjectItemCaseSensitive(j, "out_batch_no");
    st = cJSON_GetObjectItemCaseSensitive(j, "status");
    ds = cJSON_GetObjectItemCaseSensitive(j, "details");

    if (!cJSON_IsString(no) || strcmp(no->valuestring, b->no) != 0
        || !cJSON_IsString(st) || (b->finished && !cJSON_IsArray(ds)))
    {
        goto done;
    }

    rc = 0;

    if (strcmp(st->valuestring, "FINISHED") != 0) {
        goto done;                  /* not yet: queried again */
    }

    if (!b->finished) {
        b->finished = 1;            /* the summary: its details next */
        goto done;
    }

    for (i = 0; i < b->n; i++) {
        b->d[i].seen = 0;
        b->d[i].result = CC_WB_OPEN;
    }

    cJSON_ArrayForEach(e, ds) {
        if (cc_wb_result(b, e) != 0) {
            (*foreign)++;
        }
    }

    b->state = CC_WB_DONE;

done:

    cJSON_Delete(j);
    return rc;
}


/* GET the batch's details: read, sent again (a signed 404), or later */
static void
cc_wb_query(cc_wb_ctx_t *x, cc_wb_t *b, size_t *foreign)
{
    int   sig;
    long  status;
    char  text[160];

    status = cc_wb_call(x, b, NULL, 0, b->finished, &sig);

    if (sig && status == 404) {
        /* the wallet never accepted it: the same batch again */
        b->state = CC_WB_SUBMIT;
        b->due_ms = 0;
        return;
    }

    if (sig && status == 200 && cc_wb_read(b, x->ans, x->alen, foreign) == 0)
    {
        if (b->state == CC_WB_QUERY && b->finished) {
            b->due_ms = 0;                      /* its details at once */

        } else if (b->state == CC_WB_QUERY) {
            b->wait_ms = b->wait_ms * 2 > CC_WALLET_BATCH_POLL_MAX
                         ? CC_WALLET_BATCH_POLL_MAX : b->wait_ms * 2;
            b->due_ms = cc_now_ms() + b->wait_ms;
        }

        return;
    }

    if (sig) {
        (void) cc_logtext(text, sizeof(text), x->ans ? x->ans : "", x->alen);
        snprintf(b->why, sizeof(b->why), "HTTP %ld to the query: %s", status,
                 text);
    }

    cc_wb_again(x->w, b);
}


/*
 * The age bound (wallet_batch_age_ms, from the batch's writing): a batch
 * still PROCESSING (or unanswered) when its age has passed is queried
 * no more in this call but UNKNOWN and overdue, alerted by
 * cc_wb_outcomes; its awards stay in flight and the next pass queries it
 * again (the wallet may answer late; never a new key).  Each batch gets
 * its calls of this pass first (one at least: an old batch read back is
 * asked once), and a batch the wallet lacks is still sent (a submit is
 * not cut), and one FINISHED still has its details read.  1 when b was
 * cut now.
 */
static int
cc_wb_overdue(cc_wb_ctx_t *x, cc_wb_t *b, int64_t now)
{
    int64_t  age;

    age = x->w->camp.wallet_batch_age_ms;

    if (b->calls == 0 || b->state != CC_WB_QUERY || b->finished
        || now < b->born_ms + age)
    {
        return 0;
    }

    snprintf(b->why, sizeof(b->why), "no result %" PRId64 " ms after it "
             "was written (wallet_batch_age_ms %" PRId64 ")",
             now - b->born_ms, age);
    b->state = CC_WB_UNKNOWN;
    b->overdue = 1;

    return 1;
}


/*
 * The batches until each is DONE, REFUSED or UNKNOWN: each due one
 * submitted or queried in turn, so all are in flight together at the
 * wallet; a batch still PROCESSING at the deadline is UNKNOWN.
 */
static void
cc_wb_drive(cc_wb_ctx_t *x, size_t from, size_t *foreign)
{
    size_t    i, open;
    int64_t   now, deadline, next;
    cc_wb_t  *b;

    deadline = cc_now_ms() + x->w->camp.wallet_timeout_ms
                             * CC_WALLET_HTTP_TRIES;

    for ( ;; ) {
        now = cc_now_ms();
        next = now + CC_WALLET_BATCH_POLL_MAX;

        for (i = from, open = 0; i < x->nb; i++) {
            b = &x->b[i];

            if (b->state != CC_WB_SUBMIT && b->state != CC_WB_QUERY) {
                continue;
            }

            if (now > deadline || !cc_worker_run) {
                snprintf(b->why, sizeof(b->why), "%s",
                         cc_worker_run ? "not FINISHED by the deadline"
                                       : "stopping");
                b->state = CC_WB_UNKNOWN;
                continue;
            }

            if (b->due_ms <= now && cc_wb_overdue(x, b, now)) {
                continue;
            }

            if (b->due_ms <= now) {
                if (b->state == CC_WB_SUBMIT) {
                    cc_wb_submit(x, b);
                } else {
                    cc_wb_query(x, b, foreign);
                }

                now = cc_now_ms();
            }

            if (b->state == CC_WB_SUBMIT || b->state == CC_WB_QUERY) {
                open++;
                next = b->due_ms < next ? b->due_ms : next;
            }
        }

        if (open == 0) {
            return;
        }

        if (next > now) {
            cc_sleep_ms(next - now);
        }
    }
}


/* ---- the books ----------------------------------------------------------- */


/* the entry of c[] with this award id, or -1 */
static long
cc_wb_entry(const cc_wb_ctx_t *x, const char *id)
{
    int     cmp;
    size_t  lo, hi, mid;

    lo = 0;
    hi = x->n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        cmp = strcmp(x->c[x->order[mid]].award_id, id);

        if (cmp == 0) {
            return (long) x->order[mid];
        }

        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }

    return -1;
}


/* a new batch of room for n details at the end of x->b, or NULL */
static cc_wb_t *
cc_wb_add(cc_wb_ctx_t *x, const char *no, size_t n)
{
    size_t    cap;
    cc_wb_t  *nb, *b;

    if (x->nb == x->capb) {
        cap = x->capb ? x->capb * 2 : 8;
        nb = realloc(x->b, cap * sizeof(cc_wb_t));
        if (nb == NULL) {
            return NULL;
        }

        x->b = nb;
        x->capb = cap;
    }

    b = &x->b[x->nb];
    memset(b, 0, sizeof(cc_wb_t));
    b->cap = n ? n : 16;
    b->d = calloc(b->cap, sizeof(cc_wb_detail_t));
    if (b->d == NULL) {
        return NULL;
    }

    snprintf(b->no, sizeof(b->no), "%s", no);
    x->nb++;

    return b;
}


/* room for one more detail of b: the new one (zeroed), or NULL */
static cc_wb_detail_t *
cc_wb_push(cc_wb_t *b)
{
    cc_wb_detail_t  *nd;

    if (b->n == b->cap) {
        nd = realloc(b->d, b->cap * 2 * sizeof(cc_wb_detail_t));
        if (nd == NULL) {
            return NULL;
        }

        b->d = nd;
        b->cap *= 2;
    }

    memset(&b->d[b->n], 0, sizeof(cc_wb_detail_t));

    return &b->d[b->n++];
}


/*
 * A batch's details in bulk (prepared, bound arrays: no SQL text per row
 * for the server to parse), from CC_LEDGER_BULK_MIN of them; below it
 * the one text statement is fewer round trips.  0 written, 1 not taken
 * (too few, no bulk on this server), -1 with err set.
 */
static int
cc_wb_details_bulk(cc_wb_ctx_t *x, const cc_wb_t *b, char *err,
    size_t errlen)
{
    int                 rc;
    char                sql[256], what[128], **idp;
    size_t              i;
    unsigned           *attempts;
    uint64_t           *uids, *amounts;
    MYSQL_BIND          bind[4];
    unsigned long      *lens;
    unsigned long long  affected;

    if (!cc_ledger_bulk_worth(x->db, b->n)) {
        return 1;
    }

    rc = -1;
    snprintf(what, sizeof(what), "batch %s: details", b->no);
    idp = malloc(b->n * sizeof(char *));
    lens = malloc(b->n * sizeof(unsigned long));
    attempts = malloc(b->n * sizeof(unsigned));
    uids = malloc(b->n * sizeof(uint64_t));
    amounts = malloc(b->n * sizeof(uint64_t));

    if (idp == NULL || lens == NULL || attempts == NULL || uids == NULL
        || amounts == NULL)
    {
        snprintf(err, errlen, "%s: out of memory", what);
        goto done;
    }

    for (i = 0; i < b->n; i++) {
        idp[i] = (char *) b->d[i].award_id;
        lens[i] = strlen(b->d[i].award_id);
        attempts[i] = b->d[i].attempt;
        uids[i] = b->d[i].uid;
        amounts[i] = b->d[i].amount;
    }

    cc_ledger_bind_strs(&bind[0], idp, lens);
    cc_ledger_bind_uints(&bind[1], attempts);
    cc_ledger_bind_u64s(&bind[2], uids);
    cc_ledger_bind_u64s(&bind[3], amounts);

    /* the batch number is ours (cc_wb_build: campaign id and digits) */
    snprintf(sql, sizeof(sql), "INSERT INTO wallet_batch_details (award_id, "
             "attempt, batch_no, uid, amount_cents) VALUES (?, ?, '%s', ?, "
             "?)", b->no);

    rc = cc_ledger_bulk(x->db, what, sql, bind, b->n, &affected, err, errlen);

    /* a plain INSERT writes all or fails (a detail there is a duplicate
     * key); fewer rows would be a server that skipped some silently, and
     * the batch must not go out with details its rows lack */
    if (rc == 0 && affected != b->n) {
        snprintf(err, errlen, "%s: %llu rows of %zu written", what, affected,
                 b->n);
        rc = -1;
    }

done:

    free(idp);
    free(lens);
    free(attempts);
    free(uids);
    free(amounts);

    return rc;
}


/* the batch's rows: wallet_batches and its wallet_batch_details */
static int
cc_wb_rows(cc_wb_ctx_t *x, const cc_wb_t *b, char *err, size_t errlen)
{
    int     rc;
    size_t  i;

    x->q.len = 0;

    if (cc_sqlbuf_printf(&x->q, "INSERT INTO wallet_batches (batch_no, "
                         "campaign, details, total_cents, created_at) "
                         "VALUES ('%s','%s',%zu,%" PRIu64 ",%" PRId64 ")",
                         b->no, x->w->camp.id, b->n, b->total, b->born_ms)
        != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(x->db, x->q.p, x->q.len) != 0) {
        goto failed;
    }

    rc = cc_wb_details_bulk(x, b, err, errlen);
    if (rc <= 0) {
        return rc;
    }

    x->q.len = 0;

    if (cc_sqlbuf_printf(&x->q, "INSERT INTO wallet_batch_details "
                         "(award_id, attempt, batch_no, uid, amount_cents) "
                         "VALUES ") != 0)
    {
        goto nomem;
    }

    for (i = 0; i < b->n; i++) {
        if (cc_sqlbuf_printf(&x->q, "%s('%s',%u,'%s',%" PRIu64 ",%" PRIu64
                             ")", i ? "," : "", b->d[i].award_id,
                             b->d[i].attempt, b->no, b->d[i].uid,
                             b->d[i].amount) != 0)
        {
            goto nomem;
        }
    }

    if (mysql_real_query(x->db, x->q.p, x->q.len) == 0) {
        return 0;
    }

failed:

    snprintf(err, errlen, "batch %s: %s", b->no, mysql_error(x->db));
    return -1;

nomem:

    snprintf(err, errlen, "batch %s: out of memory", b->no);
    return -1;
}


/*
 * New batches, in award id order, of the entries with sel[] set, each as
 * its next attempt (x->attempt[] + 1), at most wallet_batch_max details
 * a batch; their rows written in the open transaction.  0, or -1.
 */
static int
cc_wb_build(cc_wb_ctx_t *x, const int *sel, char *err, size_t errlen)
{
    char              no[CC_WALLET_BATCH_NO_MAX + 1];
    size_t            i, k, left;
    cc_wb_t          *b;
    cc_wb_detail_t   *d;
    cc_ledger_credit_t  *c;

    for (i = 0, left = 0; i < x->n; i++) {
        left += sel[i] != 0;
    }

    b = NULL;

    for (i = 0; i < x->n && left > 0; i++) {
        k = x->order[i];

        if (!sel[k]) {
            continue;
        }

        if (b == NULL) {
            snprintf(no, sizeof(no), "%s:b%" PRId64 ".%d.%llu", x->w->camp.id,
                     cc_now_ms(), (int) getpid(),
                     __atomic_add_fetch(&cc_wb_seq, 1, __ATOMIC_RELAXED));

            b = cc_wb_add(x, no, left < x->w->camp.wallet_batch_max
                                 ? left : x->w->camp.wallet_batch_max);
            if (b == NULL) {
                snprintf(err, errlen, "batch: out of memory");
                return -1;
            }

            b->born_ms = cc_now_ms();
        }

        c = &x->c[k];
        d = cc_wb_push(b);
        snprintf(d->award_id, sizeof(d->award_id), "%s", c->award_id);
        d->uid = c->uid;
        d->amount = c->amount_cents;
        d->attempt = ++x->attempt[k];
        d->ci = (long) k;
        b->total += d->amount;
        left--;

        if (b->n == x->w->camp.wallet_batch_max || left == 0) {
            if (cc_wb_rows(x, b, err, errlen) != 0) {
                return -1;
            }

            b = NULL;
        }
    }

    return 0;
}


/*
 * The batches whose numbers x->q lists (SELECT ... WHERE batch_no IN
 * (...) so far) read back whole, each to be queried; an entry of this
 * call is answered by its last attempt's batch only.  0, or -1 with err.
 */
static int
cc_wb_readback(cc_wb_ctx_t *x, char *err, size_t errlen)
{
    long             k;
    cc_wb_t         *b;
    MYSQL_RES       *res;
    MYSQL_ROW        row;
    cc_wb_detail_t  *d;

    if (cc_sqlbuf_printf(&x->q, ") ORDER BY d.batch_no, d.award_id") != 0) {
        goto nomem;
    }

    if (mysql_real_query(x->db, x->q.p, x->q.len) != 0
        || (res = mysql_store_result(x->db)) == NULL)
    {
        snprintf(err, errlen, "batch: read back: %s", mysql_error(x->db));
        return -1;
    }

    b = NULL;

    while ((row = mysql_fetch_row(res)) != NULL) {
        if (b == NULL || strcmp(b->no, row[0]) != 0) {
            b = cc_wb_add(x, row[0], 0);
            if (b == NULL) {
                mysql_free_result(res);
                goto nomem;
            }

            b->state = CC_WB_QUERY;
            b->wait_ms = CC_WALLET_BATCH_POLL_MS;
            b->born_ms = strtoll(row[5], NULL, 10);
        }

        d = cc_wb_push(b);
        if (d == NULL) {
            mysql_free_result(res);
            goto nomem;
        }

        snprintf(d->award_id, sizeof(d->award_id), "%s", row[1]);
        d->uid = strtoull(row[2], NULL, 10);
        d->amount = strtoull(row[3], NULL, 10);
        d->attempt = (unsigned) strtoul(row[4], NULL, 10);
        k = cc_wb_entry(x, row[1]);

        d->ci = k >= 0 && x->attempt[k] == d->attempt ? k : -1;
        b->total += d->amount;
    }

    mysql_free_result(res);

    return 0;

nomem:

    snprintf(err, errlen, "batch: out of memory");
    return -1;
}


/*
 * The in-flight entries' last batches: x->attempt[] set, and each of
 * those batches read back from MySQL whole (in award id order: the order
 * it was sent in), to be queried.  The entries in none are left 0.  0,
 * or -1 with err set.
 */
static int
cc_wb_resume(cc_wb_ctx_t *x, const cc_ledger_phase_e *st, char *err,
    size_t errlen)
{
    long        k;
    char        last[CC_WALLET_BATCH_NO_MAX + 1];
    size_t      i, m;
    MYSQL_RES  *res;
    MYSQL_ROW   row;

    x->q.len = 0;
    last[0] = '\0';

    /* the last attempt of each, and its batch's details */
    if (cc_sqlbuf_printf(&x->q, "SELECT d.batch_no, d.award_id, "
                         "d.attempt FROM wallet_batch_details d JOIN "
                         "(SELECT award_id, MAX(attempt) a FROM "
                         "wallet_batch_details WHERE award_id IN (") != 0)
    {
        goto nomem;
    }

    for (i = 0, m = 0; i < x->n; i++) {
        if (st[i] == CC_LEDGER_PHASE_IN_FLIGHT
            && cc_sqlbuf_printf(&x->q, "%s'%s'", m++ ? "," : "",
                                x->c[i].award_id) != 0)
        {
            goto nomem;
        }
    }

    if (m == 0) {
        return 0;
    }

    if (cc_sqlbuf_printf(&x->q, ") GROUP BY award_id) l ON l.award_id = "
                         "d.award_id AND l.a = d.attempt ORDER BY "
                         "d.batch_no") != 0)
    {
        goto nomem;
    }

    if (mysql_real_query(x->db, x->q.p, x->q.len) != 0
        || (res = mysql_store_result(x->db)) == NULL)
    {
        snprintf(err, errlen, "batch: last attempts: %s",
                 mysql_error(x->db));
        return -1;
    }

    /* the batch numbers: each batch then read whole */
    x->q.len = 0;
    m = 0;

    if (cc_sqlbuf_printf(&x->q, "SELECT d.batch_no, d.award_id, d.uid, "
                         "d.amount_cents, d.attempt, b.created_at FROM "
                         "wallet_batch_details d JOIN wallet_batches b ON "
                         "b.batch_no = d.batch_no WHERE d.batch_no IN (")
        != 0)
    {
        mysql_free_result(res);
        goto nomem;
    }

    while ((row = mysql_fetch_row(res)) != NULL) {
        k = cc_wb_entry(x, row[1]);

        if (k >= 0) {
            x->attempt[k] = (unsigned) strtoul(row[2], NULL, 10);
        }

        /* sorted by batch: each number once */
        if (last[0] != '\0' && strcmp(last, row[0]) == 0) {
            continue;
        }

        snprintf(last, sizeof(last), "%s", row[0]);

        if (cc_sqlbuf_printf(&x->q, "%s'%s'", m++ ? "," : "", row[0]) != 0) {
            mysql_free_result(res);
            goto nomem;
        }
    }

    mysql_free_result(res);

    if (m == 0) {
        return 0;                   /* none was in a batch */
    }

    return cc_wb_readback(x, err, errlen);

nomem:

    snprintf(err, errlen, "batch: out of memory");
    return -1;
}


static int
cc_wb_detail_cmp(const void *a, const void *b)
{
    return strcmp(((const cc_wb_detail_t *) a)->award_id,
                  ((const cc_wb_detail_t *) b)->award_id);
}


/* ---- outcomes ------------------------------------------------------------ */


/* one break of the alert's document */
static void
cc_wb_break(cJSON *arr, const char *cls, const char *award_id, uint64_t uid,
    uint64_t amount, const char *found)
{
    char    u[24];
    cJSON  *b;

    b = cJSON_CreateObject();
    snprintf(u, sizeof(u), "%" PRIu64, uid);
    cJSON_AddStringToObject(b, "class", cls);

    if (award_id != NULL) {
        cJSON_AddStringToObject(b, "award_id", award_id);
        cJSON_AddStringToObject(b, "uid", u);
        cJSON_AddNumberToObject(b, "amount_cents", (double) amount);
    }

    cJSON_AddStringToObject(b, "found", found);
    cJSON_AddItemToArray(arr, b);
}


/*
 * A batch without its result (refused, or unknown): one line for its
 * awards of this call, which stay in flight (a batch holds up to 1000).
 */
static void
cc_wb_unknown(cc_wb_ctx_t *x, const cc_wb_t *b)
{
    size_t        k, m;
    const char   *first, *last;

    first = NULL;
    last = NULL;

    for (k = 0, m = 0; k < b->n; k++) {
        if (b->d[k].ci >= 0) {
            first = first ? first : b->d[k].award_id;
            last = b->d[k].award_id;
            m++;
        }
    }

    if (m == 0) {
        return;
    }

    x->unknown_details += m;
    cc_log("batch %s %s (%s): its %zu awards %s .. %s stay in flight, the "
           "batch is queried again later", b->no,
           b->state == CC_WB_REFUSED ? "refused" : "unknown", b->why, m,
           first, last);
}


/*
 * What the batches from b[from] ended in: ok[] for the SUCCESS details,
 * resend[] for the FAIL ones, the others logged; the refused batches,
 * the BAD details and the details a batch did not hold alerted.  The
 * number to re-send.
 */
static size_t
cc_wb_outcomes(cc_wb_ctx_t *x, size_t from, int *resend, size_t foreign)
{
    char             *text, found[320];
    size_t            i, k, nresend;
    cJSON            *doc, *arr;
    cc_wb_t          *b;
    cc_wb_detail_t   *d;

    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "campaign", x->w->camp.id);
    cJSON_AddStringToObject(doc, "source", "cc-payout wallet http batch");
    cJSON_AddBoolToObject(doc, "ok", 0);
    arr = cJSON_AddArrayToObject(doc, "breaks");
    nresend = 0;

    if (foreign > 0) {
        snprintf(found, sizeof(found), "%zu details listed that no batch of "
                 "ours held", foreign);
        cc_log("wallet: %s; not taken, alert", found);
        cc_wb_break(arr, "wallet_unknown_detail", NULL, 0, 0, found);
    }

    for (i = from; i < x->nb; i++) {
        b = &x->b[i];

        if (b->state == CC_WB_REFUSED) {
            snprintf(found, sizeof(found), "batch %s refused: %.150s", b->no,
                     b->why);
            cc_wb_break(arr, "wallet_rejected", NULL, 0, 0, found);
        }

        if (b->overdue) {
            snprintf(found, sizeof(found), "batch %s of %zu details: %.150s",
                     b->no, b->n, b->why);
            cc_wb_break(arr, "wallet_batch_overdue", NULL, 0, 0, found);
            __atomic_fetch_add(&x->w->stats.overdue, 1, __ATOMIC_RELAXED);
        }

        if (b->state != CC_WB_DONE) {
            cc_wb_unknown(x, b);
            continue;
        }

        for (k = 0; k < b->n; k++) {
            d = &b->d[k];

            if (d->ci < 0) {
                continue;                   /* not this call's */
            }

            switch (d->result) {

            case CC_WB_SUCCESS:
                x->round[d->ci] = (unsigned) (i + 1);
                x->w->stats.applied++;
                break;

            case CC_WB_FAIL:
                resend[d->ci] = 1;
                nresend++;
                __atomic_fetch_add(&x->w->stats.details_failed, 1,
                                   __ATOMIC_RELAXED);
                break;

            case CC_WB_BAD:
                x->w->stats.mismatch++;
                cc_log("award %s: wallet MISMATCH: %s; stays in flight, "
                       "alert", d->award_id, d->why);
                cc_wb_break(arr, "wallet_amount_mismatch", d->award_id,
                            d->uid, d->amount, d->why);
                break;

            default: /* CC_WB_OPEN: FINISHED without it */
                x->unknown_details++;
                cc_log("award %s: batch %s FINISHED without it; stays "
                       "in flight, queried again later", d->award_id, b->no);
            }
        }
    }

    if (cJSON_GetArraySize(arr) > 0
        && (text = cJSON_PrintUnformatted(doc)) != NULL)
    {
        cc_wallet_http_alert_text(x->w, text);
        free(text);
    }

    cJSON_Delete(doc);

    return nresend;
}


/*
 * The FAIL details' next attempts, in the open transaction: each failed
 * attempt's pending transfer voided and the next attempt's written
 * (cc_ledger_phase_retry), and the new batches that hold them, so a
 * crash before the commit leaves the failed attempt (queried again: its
 * FAIL read again, voided then) and one after it the next attempt, in
 * its batch, sent by whoever resumes it.  0, or -1 with err set.
 */
static int
cc_wb_retry(cc_wb_ctx_t *x, const int *resend, char *err, size_t errlen)
{
    long  voided;

    voided = cc_ledger_phase_retry(x->db, x->w->camp.id, x->c, x->attempt,
                                   resend, x->n, err, errlen);
    if (voided < 0) {
        return -1;
    }

    __atomic_fetch_add(&x->w->stats.voided, (unsigned long long) voided,
                       __ATOMIC_RELAXED);

    return cc_wb_build(x, resend, err, errlen);
}


/*
 * The batches from b[from] driven to their ends and their FAIL details
 * re-sent, each round a new batch of next attempts (written and
 * committed before it is sent), up to CC_WALLET_HTTP_TRIES rounds.
 * 0, or -1 with err set (MySQL failed).
 */
static int
cc_wb_rounds(cc_wb_ctx_t *x, int *resend, char *err, size_t errlen)
{
    size_t  from, foreign, round, nresend, inflight;

    from = 0;

    for (round = 1; ; round++) {
        foreign = 0;
        inflight = x->nb - from;

        __atomic_fetch_add(&x->w->stats.inflight, inflight,
                           __ATOMIC_RELAXED);
        cc_wb_drive(x, from, &foreign);
        __atomic_fetch_sub(&x->w->stats.inflight, inflight,
                           __ATOMIC_RELAXED);

        memset(resend, 0, x->n * sizeof(int));
        nresend = cc_wb_outcomes(x, from, resend, foreign);

        if (nresend == 0) {
            return 0;
        }

        if (round >= CC_WALLET_HTTP_TRIES || !cc_worker_run) {
            /* not voided yet: the next pass reads their FAIL again */
            cc_log("%zu details failed at the wallet %zu times; they stay "
                   "in flight and go in a batch again on the next pass",
                   nresend, round);
            x->unknown_details += nresend;
            return 0;
        }

        /* the next attempts: written whole before they are sent */
        from = x->nb;

        if (cc_wb_retry(x, resend, err, errlen) != 0) {
            return -1;
        }

        if (mysql_commit(x->db) != 0) {
            snprintf(err, errlen, "commit batch: %s", mysql_error(x->db));
            return -1;
        }
    }
}


long
cc_wallet_batch_credit(cc_wallet_http_t *w, MYSQL *db, cc_ledger_credit_t *c,
    size_t n, char *err, size_t errlen)
{
    int                *sel;
    long                added;
    size_t              i;
    cc_wb_ctx_t         x;
    cc_ledger_phase_e  *st;

    memset(&x, 0, sizeof(x));
    x.w = w;
    x.db = db;
    x.c = c;
    x.n = n;
    added = -1;

    st = calloc(n ? n : 1, sizeof(cc_ledger_phase_e));
    sel = calloc(n ? n : 1, sizeof(int));
    x.round = calloc(n ? n : 1, sizeof(unsigned));
    x.attempt = calloc(n ? n : 1, sizeof(unsigned));
    x.order = n ? cc_ledger_bulk_order(c, n) : calloc(1, sizeof(size_t));

    if (st == NULL || sel == NULL || x.round == NULL || x.attempt == NULL
        || x.order == NULL)
    {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    /* 1. the pending transfers and the new batches: durable together
          before any call (the awards stay 'pending': their batch details
          say they are in flight, and each is written once, credited) */

    if (cc_ledger_phase_transfers(db, w->camp.id, c, n, st, err, errlen)
        != 0
        || cc_wb_resume(&x, st, err, errlen) != 0)
    {
        goto done;
    }

    for (i = 0; i < x.nb; i++) {
        qsort(x.b[i].d, x.b[i].n, sizeof(cc_wb_detail_t), cc_wb_detail_cmp);
    }

    for (i = 0; i < n; i++) {
        sel[i] = (st[i] == CC_LEDGER_PHASE_NEW
                  || st[i] == CC_LEDGER_PHASE_IN_FLIGHT)
                 && x.attempt[i] == 0;
    }

    /* the pool's and the clearing's rows last: a claim waits the less */
    if (cc_wb_build(&x, sel, err, errlen) != 0
        || cc_ledger_phase_reserve(db, w->camp.id, c, n, st, err, errlen)
           != 0)
    {
        goto done;
    }

    if (mysql_commit(db) != 0) {
        snprintf(err, errlen, "commit pending: %s", mysql_error(db));
        goto done;
    }

    /* 2. the batches, in flight together, and their failed details again */

    if (cc_wb_rounds(&x, sel, err, errlen) != 0) {
        goto done;
    }

    __atomic_fetch_add(&w->stats.unknown, x.unknown_details,
                       __ATOMIC_RELAXED);

    /* 3. the SUCCESS details posted, a round post a batch, in a
          transaction left open (the caller sets their awards credited) */

    for (i = 0; i < n; i++) {
        if (st[i] == CC_LEDGER_PHASE_NEW
            || st[i] == CC_LEDGER_PHASE_IN_FLIGHT)
        {
            c[i].rc = CC_LEDGER_ERROR;
        }
    }

    added = cc_ledger_phase_post_rounds(db, w->camp.id, c, n, x.round,
                                        x.attempt,
                                        w->defer ? &w->deferred : NULL, err,
                                        errlen);

    for (i = 0; i < n; i++) {
        if (added < 0 && x.round[i]) {
            c[i].rc = CC_LEDGER_ERROR;

        } else if (added >= 0 && st[i] == CC_LEDGER_PHASE_POSTED) {
            c[i].rc = CC_LEDGER_EXISTS;
        }
    }

done:

    for (i = 0; i < x.nb; i++) {
        free(x.b[i].d);
    }

    free(x.b);
    free(x.ans);
    free(x.q.p);
    free(x.order);
    free(x.attempt);
    free(x.round);
    free(sel);
    free(st);

    return added;
}
