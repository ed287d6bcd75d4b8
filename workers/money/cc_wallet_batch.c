/*
 * cc_wallet_batch: wallet_mode batch of `wallet http` (see
 * cc_wallet_batch.h for the protocol and the steps).
 *
 * The calls are libcurl's easy interface on the wallet's first handle,
 * one at a time: a batch is accepted in one call and processed by the
 * wallet on its own time, so the batches of a credit are in flight
 * together at the wallet while this thread submits and queries them in
 * turn.  MySQL holds what each batch was (its details are the pending
 * transfers naming it, cc_wallet_batch_books.c): a retry never builds a
 * batch twice, it reads it back.
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
#include "cc_wallet_batch_int.h"
#include "cc_wallet_http_int.h"
#include "cc_worker.h"






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
 * The FAIL details' next attempts, in the open transaction: their new
 * batches planned (each detail's number), each failed attempt's pending
 * transfer voided and the next attempt's written with its batch number
 * (cc_ledger_phase_retry), and the new batches' rows, so a crash before
 * the commit leaves the failed attempt (queried again: its FAIL read
 * again, voided then) and one after it the next attempt, in its batch,
 * sent by whoever resumes it.  0, or -1 with err set.
 */
static int
cc_wb_retry(cc_wb_ctx_t *x, const int *resend, char *err, size_t errlen)
{
    long     voided;
    char   **names;
    size_t   i, from;

    for (i = 0; i < x->n; i++) {
        x->failed[i] = resend[i] ? x->attempt[i] : 0;
    }

    from = x->nb;
    names = calloc(x->n ? x->n : 1, sizeof(char *));

    if (names == NULL) {
        snprintf(err, errlen, "batch: out of memory");
        return -1;
    }

    voided = -1;

    if (cc_wb_plan(x, resend, err, errlen) == 0) {
        cc_wb_names(x, names);
        voided = cc_ledger_phase_retry(x->db, x->w->camp.id, x->c, x->failed,
                                       resend, names, x->n, err, errlen);
    }

    free(names);

    if (voided < 0) {
        return -1;
    }

    __atomic_fetch_add(&x->w->stats.voided, (unsigned long long) voided,
                       __ATOMIC_RELAXED);

    return cc_wb_rows(x, from, err, errlen);
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


/*
 * Step 1, in one transaction: the pending transfers of the entries new
 * to the books, each written with the batch planned for it (their
 * details), the in-flight ones' batches read back (or, with no batch,
 * marked for single calls), the new batches' rows, and the reservations
 * last (the pool's and the clearing's rows: a claim waits the less);
 * committed.  0, or -1 with err set.
 */
static int
cc_wb_begin(cc_wb_ctx_t *x, cc_ledger_phase_e *st, char *err, size_t errlen)
{
    int      rc, *all;
    char   **names;
    size_t   i;

    all = malloc((x->n ? x->n : 1) * sizeof(int));
    names = calloc(x->n ? x->n : 1, sizeof(char *));

    if (all == NULL || names == NULL) {
        free(all);
        free(names);
        snprintf(err, errlen, "batch: out of memory");
        return -1;
    }

    for (i = 0; i < x->n; i++) {
        all[i] = 1;
    }

    /* every entry planned: those whose transfer was there leave the plan */
    rc = cc_wb_plan(x, all, err, errlen) != 0;

    if (rc == 0) {
        cc_wb_names(x, names);
        rc = cc_ledger_phase_transfers(x->db, x->w->camp.id, x->c, x->n,
                                       names, st, err, errlen) != 0;
    }

    free(all);
    free(names);

    if (rc != 0) {
        return -1;
    }

    cc_wb_keep(x, 0, st);

    if (cc_wb_rows(x, 0, err, errlen) != 0
        || cc_wb_resume(x, st, err, errlen) != 0)
    {
        return -1;
    }

    for (i = 0; i < x->nb; i++) {
        qsort(x->b[i].d, x->b[i].n, sizeof(cc_wb_detail_t), cc_wb_detail_cmp);
    }

    if (cc_ledger_phase_reserve(x->db, x->w->camp.id, x->c, x->n, st, err,
                                errlen) != 0)
    {
        return -1;
    }

    if (mysql_commit(x->db) != 0) {
        snprintf(err, errlen, "commit pending: %s", mysql_error(x->db));
        return -1;
    }

    return 0;
}


/*
 * The in-flight entries whose live pending transfer names no batch (a
 * claim's single call left unknown, or per_credit's): called again as
 * single calls, under the same key; an append-only transfer cannot be
 * given a batch later.  ok[] set for the applied.  0, or -1 with err.
 */
static int
cc_wb_singles(cc_wb_ctx_t *x, int *ok, char *err, size_t errlen)
{
    int                    rc;
    size_t                 i, k;
    cc_wallet_http_job_t  *jobs;

    for (i = 0, k = 0; i < x->n; i++) {
        k += x->single[i] != 0;
    }

    if (k == 0) {
        return 0;
    }

    jobs = calloc(k, sizeof(cc_wallet_http_job_t));
    if (jobs == NULL) {
        snprintf(err, errlen, "batch: out of memory");
        return -1;
    }

    for (i = 0, k = 0; i < x->n; i++) {
        if (x->single[i]) {
            jobs[k++].i = i;
        }
    }

    cc_log("%zu awards in flight by single calls (no batch): called again "
           "as single calls, the same keys", k);
    __atomic_fetch_add(&x->w->stats.single, k, __ATOMIC_RELAXED);

    rc = cc_wallet_http_calls(x->w, x->c, jobs, k, err, errlen);

    if (rc == 0) {
        cc_wallet_http_outcomes(x->w, x->c, jobs, k, ok);
    }

    free(jobs);

    return rc;
}


/*
 * Step 3, in a transaction left open for the caller (it sets the posted
 * awards credited): the SUCCESS details, a round post a batch, and the
 * single calls' applied, post:<award id> each.  The number posted, or -1
 * with err set.
 */
static long
cc_wb_posts(cc_wb_ctx_t *x, const cc_ledger_phase_e *st, const int *sok,
    char *err, size_t errlen)
{
    long       added, more;
    size_t     i;
    uint64_t   d1, d2;

    for (i = 0; i < x->n; i++) {
        if (st[i] == CC_LEDGER_PHASE_NEW
            || st[i] == CC_LEDGER_PHASE_IN_FLIGHT)
        {
            x->c[i].rc = CC_LEDGER_ERROR;
        }
    }

    d1 = d2 = 0;
    added = cc_ledger_phase_post_rounds(x->db, x->w->camp.id, x->c, x->n,
                                        x->round, x->attempt, &d1, err,
                                        errlen);
    more = added < 0 ? -1
           : cc_ledger_phase_post_rows(x->db, x->w->camp.id, x->c, x->n,
                                       sok, &d2, err, errlen);

    for (i = 0; i < x->n; i++) {
        if ((added < 0 || more < 0) && (x->round[i] || sok[i])) {
            x->c[i].rc = CC_LEDGER_ERROR;

        } else if (added >= 0 && more >= 0
                   && st[i] == CC_LEDGER_PHASE_POSTED)
        {
            x->c[i].rc = CC_LEDGER_EXISTS;
        }
    }

    if (added < 0 || more < 0) {
        return -1;
    }

    if (x->w->defer) {
        x->w->deferred = d1 + d2;          /* the caller moves them */

    } else if (d1 + d2 > 0
               && cc_ledger_phase_post_move(x->db, x->w->camp.id, d1 + d2,
                                            err, errlen) != 0)
    {
        return -1;
    }

    return added + more;
}


long
cc_wallet_batch_credit(cc_wallet_http_t *w, MYSQL *db, cc_ledger_credit_t *c,
    size_t n, char *err, size_t errlen)
{
    int                *sel, *sok;
    long                added;
    size_t              i, m;
    cc_wb_ctx_t         x;
    cc_ledger_phase_e  *st;

    memset(&x, 0, sizeof(x));
    x.w = w;
    x.db = db;
    x.c = c;
    x.n = n;
    added = -1;
    m = n ? n : 1;

    st = calloc(m, sizeof(cc_ledger_phase_e));
    sel = calloc(m, sizeof(int));
    sok = calloc(m, sizeof(int));
    x.round = calloc(m, sizeof(unsigned));
    x.attempt = calloc(m, sizeof(unsigned));
    x.failed = calloc(m, sizeof(unsigned));
    x.single = calloc(m, sizeof(int));
    x.bi = malloc(m * sizeof(size_t));
    x.order = n ? cc_ledger_bulk_order(c, n) : calloc(1, sizeof(size_t));

    if (st == NULL || sel == NULL || sok == NULL || x.round == NULL
        || x.attempt == NULL || x.failed == NULL || x.single == NULL
        || x.bi == NULL || x.order == NULL)
    {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    for (i = 0; i < n; i++) {
        x.bi[i] = (size_t) -1;
    }

    /* 1. the pending transfers and their batches, durable before any
          call (the awards stay 'pending': their pending transfers say
          they are in flight, and in which batch) */

    if (cc_wb_begin(&x, st, err, errlen) != 0) {
        goto done;
    }

    /* 2. the batches, in flight together, and their failed details again;
          then the single calls of those in flight with no batch */

    if (cc_wb_rounds(&x, sel, err, errlen) != 0
        || cc_wb_singles(&x, sok, err, errlen) != 0)
    {
        goto done;
    }

    __atomic_fetch_add(&w->stats.unknown, x.unknown_details,
                       __ATOMIC_RELAXED);

    /* 3. the posts, in a transaction left open */

    added = cc_wb_posts(&x, st, sok, err, errlen);

done:

    for (i = 0; i < x.nb; i++) {
        free(x.b[i].d);
    }

    free(x.b);
    free(x.ans);
    free(x.q.p);
    free(x.order);
    free(x.attempt);
    free(x.failed);
    free(x.single);
    free(x.bi);
    free(x.round);
    free(sok);
    free(sel);
    free(st);

    return added;
}
