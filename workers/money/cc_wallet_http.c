/*
 * cc_wallet_http: credits into an external wallet over HTTP (see
 * cc_wallet_http.h), behind cc_wallet.h.
 *
 * The calls of a batch run on one libcurl multi handle with at most
 * CC_WALLET_HTTP_INFLIGHT easy handles, reused (so are their connections,
 * by libcurl's connection cache).  Each credit is a job: due at a time,
 * tried, and either finished (applied, mismatch, rejected) or due again
 * after a backoff: 50 ms * 2^(tries-1), at most 2 s, with full jitter (a
 * uniform wait in [0, that]) so that the retries of a burst of failures
 * spread out.  A job that used CC_WALLET_HTTP_TRIES calls, or any job once
 * a stop was asked, ends "unknown": its award stays 'crediting' and a
 * later pass calls it again with the same key.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cc_alert.h"
#include "cc_assert.h"
#include "cc_ledger_phase.h"
#include "cc_logtext.h"
#include "cc_sqlbuf.h"
#include "cc_token.h"
#include "cc_wallet_answer.h"
#include "cc_wallet_http.h"
#include "cc_wallet_http_int.h"
#include "cc_wallet_sign.h"
#include "cc_worker.h"




uint64_t
cc_wallet_http_rand(cc_wallet_http_t *w)
{
    uint64_t  z;

    z = (w->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


static size_t
cc_wallet_http_write(char *p, size_t size, size_t nmemb, void *arg)
{
    size_t             n, room;
    cc_wallet_http_slot_t  *s = arg;

    n = size * nmemb;
    room = CC_WALLET_HTTP_ANSWER_MAX - s->alen;

    /* a longer answer is cut: it is not one the protocol gives */
    memcpy(s->answer + s->alen, p, n < room ? n : room);
    s->alen += n < room ? n : room;
    s->answer[s->alen] = '\0';

    return n;
}


/*
 * The answer's headers: X-CC-Timestamp and X-CC-Signature kept (a value
 * longer than any true one is kept empty: no signature), both cleared at
 * each status line (a 1xx comes before the answer).
 */
size_t
cc_wallet_http_header(char *p, size_t size, size_t nmemb, void *arg)
{
    char                   *dst;
    size_t                  n, nlen, vlen, cap;
    cc_wallet_http_slot_t  *s = arg;

    n = size * nmemb;

    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        s->ans_ts[0] = '\0';
        s->ans_sig[0] = '\0';
        return n;
    }

    if (n > 15 && strncasecmp(p, "X-CC-Timestamp:", 15) == 0) {
        nlen = 15;
        dst = s->ans_ts;
        cap = sizeof(s->ans_ts);

    } else if (n > 15 && strncasecmp(p, "X-CC-Signature:", 15) == 0) {
        nlen = 15;
        dst = s->ans_sig;
        cap = sizeof(s->ans_sig);

    } else {
        return n;
    }

    p += nlen;
    vlen = n - nlen;

    while (vlen > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        vlen--;
    }

    while (vlen > 0 && (p[vlen - 1] == '\r' || p[vlen - 1] == '\n'
                        || p[vlen - 1] == ' ' || p[vlen - 1] == '\t'))
    {
        vlen--;
    }

    if (vlen < cap) {
        memcpy(dst, p, vlen);
        dst[vlen] = '\0';

    } else {
        dst[0] = '\0';
    }

    return n;
}


/* the answer's signature (cc_wallet_http_int.h) */
int
cc_wallet_http_signed(cc_wallet_http_t *w, const cc_wallet_http_slot_t *s,
    long status, const char *key, const char *body, size_t blen,
    const char **why)
{
    char        want[CC_WALLET_SIG_HEX + 1], *end;
    int64_t     ts, now;

    if (s->ans_sig[0] == '\0' || s->ans_ts[0] == '\0') {
        *why = "unsigned";
        return 0;
    }

    if (cc_wallet_sign_answer(w->asecret, w->aslen, status, key, s->ans_ts,
                              body, blen, want) != 0
        || !cc_wallet_sign_eq(want, s->ans_sig, strlen(s->ans_sig)))
    {
        *why = "a wrong signature";
        return 0;
    }

    errno = 0;
    ts = strtoll(s->ans_ts, &end, 10);
    now = cc_now_ms();

    if (errno != 0 || *end != '\0' || ts < now - CC_WALLET_HTTP_SKEW_MS
        || ts > now + CC_WALLET_HTTP_SKEW_MS)
    {
        *why = "a stale timestamp";
        return 0;
    }

    return 1;
}


cc_wallet_http_t *
cc_wallet_http_open(const cc_campaign_t *camp, char *err, size_t errlen)
{
    size_t        i;
    cc_wallet_http_t  *w;

    w = calloc(1, sizeof(cc_wallet_http_t));
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    w->camp = *camp;
    w->alert_timeout_s = CC_ALERT_TIMEOUT_S;
    snprintf(w->url, sizeof(w->url), "%s/credits", camp->wallet_url);
    w->path = strchr(strstr(w->url, "://") + 3, '/');   /* "/credits" at
                                                           least */
    w->rng = (uint64_t) cc_now_ms() ^ ((uint64_t) getpid() << 40);

    if (cc_token_load_secret(camp->wallet_secret_file, w->secret,
                             sizeof(w->secret), &w->slen, err, errlen)
        != 0)
    {
        free(w);
        return NULL;
    }

    /* a CA file that cannot be read would fail every call: say it now */
    if (camp->wallet_ca_file[0] != '\0'
        && access(camp->wallet_ca_file, R_OK) != 0)
    {
        snprintf(err, errlen, "wallet_ca_file %s: %s", camp->wallet_ca_file,
                 strerror(errno));
        memset(w->secret, 0, sizeof(w->secret));
        free(w);
        return NULL;
    }

    if (camp->wallet_answer_secret_file[0] == '\0') {
        memcpy(w->asecret, w->secret, w->slen);
        w->aslen = w->slen;

    } else if (cc_token_load_secret(camp->wallet_answer_secret_file,
                                    w->asecret, sizeof(w->asecret),
                                    &w->aslen, err, errlen)
               != 0)
    {
        memset(w->secret, 0, sizeof(w->secret));
        free(w);
        return NULL;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK
        || (w->multi = curl_multi_init()) == NULL)
    {
        snprintf(err, errlen, "libcurl: cannot initialise");
        free(w);
        return NULL;
    }

    curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long) CC_WALLET_HTTP_INFLIGHT);

    for (i = 0; i < CC_WALLET_HTTP_INFLIGHT; i++) {
        w->slot[i].easy = curl_easy_init();

        if (w->slot[i].easy == NULL) {
            snprintf(err, errlen, "libcurl: cannot make a handle");
            cc_wallet_http_close(w);
            return NULL;
        }
    }

    return w;
}


void
cc_wallet_http_close(cc_wallet_http_t *w)
{
    size_t  i;

    if (w == NULL) {
        return;
    }

    for (i = 0; i < CC_WALLET_HTTP_INFLIGHT; i++) {
        if (w->slot[i].easy != NULL) {
            curl_easy_cleanup(w->slot[i].easy);
        }

        curl_slist_free_all(w->slot[i].headers);
    }

    if (w->multi != NULL) {
        curl_multi_cleanup(w->multi);
    }

    curl_global_cleanup();
    memset(w->secret, 0, sizeof(w->secret));
    memset(w->asecret, 0, sizeof(w->asecret));
    free(w);
}


void
cc_wallet_http_set_alert_timeout(cc_wallet_http_t *w, long long seconds)
{
    w->alert_timeout_s = seconds;
}


const cc_wallet_http_stats_t *
cc_wallet_http_stats(cc_wallet_http_t *w)
{
    return &w->stats;
}


unsigned long long
cc_wallet_http_forged(cc_wallet_http_t *w)
{
    return __atomic_load_n(&w->stats.forged, __ATOMIC_RELAXED);
}


void
cc_wallet_http_defer_sums(cc_wallet_http_t *w)
{
    w->defer = 1;
}


int
cc_wallet_http_finish(cc_wallet_http_t *w, MYSQL *db, char *err,
    size_t errlen)
{
    uint64_t  sum;

    sum = w->deferred;
    w->deferred = 0;

    return cc_ledger_phase_post_move(db, w->camp.id, sum, err, errlen);
}


void
cc_wallet_http_single_calls(cc_wallet_http_t *w)
{
    w->single = 1;
}


void
cc_wallet_http_counts(cc_wallet_http_t *w, cc_wallet_counts_t *out)
{
    out->forged += __atomic_load_n(&w->stats.forged, __ATOMIC_RELAXED);
    out->batches += __atomic_load_n(&w->stats.batches, __ATOMIC_RELAXED);
    out->inflight += __atomic_load_n(&w->stats.inflight, __ATOMIC_RELAXED);
    out->failed += __atomic_load_n(&w->stats.details_failed,
                                   __ATOMIC_RELAXED);
    out->unknown += __atomic_load_n(&w->stats.unknown, __ATOMIC_RELAXED);
    out->voided += __atomic_load_n(&w->stats.voided, __ATOMIC_RELAXED);
    out->overdue += __atomic_load_n(&w->stats.overdue, __ATOMIC_RELAXED);
    out->single += __atomic_load_n(&w->stats.single, __ATOMIC_RELAXED);
}


/*
 * What every call of the wallet sets: its deadline, the answer's headers
 * into s, and TLS: the peer and its name always checked, against
 * wallet_ca_file or the system's CAs; plain http only where the campaign
 * file allowed it (the loopback, cc_campaign.c); no redirects.
 */
void
cc_wallet_http_easy(cc_wallet_http_t *w, cc_wallet_http_slot_t *s)
{
    CURL  *e = s->easy;

    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) w->camp.wallet_timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) w->camp.wallet_timeout_ms);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, cc_wallet_http_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);    /* the path signed */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
                     w->camp.wallet_insecure_loopback ? "http,https"
                                                      : "https");

    if (w->camp.wallet_ca_file[0] != '\0') {
        curl_easy_setopt(e, CURLOPT_CAINFO, w->camp.wallet_ca_file);
    }
}


/* one call of a job on a free slot: body, signature, headers, added */
static int
cc_wallet_http_start(cc_wallet_http_t *w, cc_wallet_http_slot_t *s,
    cc_wallet_http_job_t *j, const cc_ledger_credit_t *c)
{
    int   n;
    char  ts[24], sig[CC_WALLET_SIG_HEX + 1], h[160];
    CURL *e = s->easy;

    n = snprintf(s->body, sizeof(s->body), "{\"award_id\":\"%s\",\"uid\":"
                 "\"%" PRIu64 "\",\"amount_cents\":%" PRIu64 ",\"currency\":"
                 "\"%s\"}", c->award_id, c->uid, c->amount_cents,
                 w->camp.currency);
    snprintf(ts, sizeof(ts), "%" PRId64, cc_now_ms());

    if (n < 0 || (size_t) n >= sizeof(s->body)
        || cc_wallet_sign_request(w->secret, w->slen, "POST", w->path,
                                  c->award_id, ts, s->body, (size_t) n,
                                  sig) != 0)
    {
        return -1;
    }

    curl_slist_free_all(s->headers);
    s->headers = NULL;

    snprintf(h, sizeof(h), "Idempotency-Key: %s", c->award_id);
    s->headers = curl_slist_append(s->headers, h);
    snprintf(h, sizeof(h), "X-CC-Timestamp: %s", ts);
    s->headers = curl_slist_append(s->headers, h);
    snprintf(h, sizeof(h), "X-CC-Signature: %s", sig);
    s->headers = curl_slist_append(s->headers, h);
    s->headers = curl_slist_append(s->headers,
                                   "Content-Type: application/json");
    s->headers = curl_slist_append(s->headers, "Expect:");

    if (s->headers == NULL) {
        return -1;
    }

    s->alen = 0;
    s->answer[0] = '\0';
    s->ans_ts[0] = '\0';
    s->ans_sig[0] = '\0';
    s->job = j;

    curl_easy_setopt(e, CURLOPT_URL, w->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) n);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cc_wallet_http_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    cc_wallet_http_easy(w, s);

    if (curl_multi_add_handle(w->multi, e) != CURLM_OK) {
        s->job = NULL;
        return -1;
    }

    j->state = CC_WALLET_HTTP_RUNNING;
    j->tries++;
    w->stats.calls++;
    w->stats.retries += j->tries > 1;

    return 0;
}


/*
 * What an answer means.  200/201 must echo the award and its amount
 * (another amount, or one not in integer cents: mismatch; no readable
 * echo: unknown, asked again; cc_wallet_http_answer.h reads it).
 */
static void
cc_wallet_http_answer(cc_wallet_http_t *w, cc_wallet_http_slot_t *s,
    CURLcode cc, const cc_ledger_credit_t *c)
{
    char              text[96];
    long              status;
    uint64_t          echoed;
    const char       *why;
    cc_wallet_http_job_t  *j = s->job;

    status = 0;

    /* the wallet's words go into log lines and alerts only escaped */
    (void) cc_logtext(text, sizeof(text), s->answer, s->alen);

    if (cc == CURLE_OK) {
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    }

    j->status = status;

    if (cc != CURLE_OK) {
        snprintf(j->why, sizeof(j->why), "%s", curl_easy_strerror(cc));
        j->state = CC_WALLET_HTTP_WAITING;

    } else if (status != 408 && status != 429 && status < 500
               && !cc_wallet_http_signed(w, s, status, c->award_id, s->answer,
                                      s->alen, &why))
    {
        /* not the wallet's words: as if no answer came */
        snprintf(j->why, sizeof(j->why), "HTTP %ld %s, not taken: %s",
                 status, why, text);
        j->forged++;
        __atomic_fetch_add(&w->stats.forged, 1, __ATOMIC_RELAXED);
        j->state = CC_WALLET_HTTP_WAITING;

    } else if (status == 200 || status == 201) {
        echoed = UINT64_MAX;

        switch (cc_wallet_answer_read(s->answer, s->alen, c->award_id,
                                      c->amount_cents, &echoed, &why))
        {
        case CC_WALLET_ANSWER_APPLIED:
            j->state = CC_WALLET_HTTP_APPLIED;
            break;

        case CC_WALLET_ANSWER_MISMATCH:
            if (echoed != UINT64_MAX) {
                snprintf(j->why, sizeof(j->why), "HTTP %ld: applied with "
                         "%" PRIu64 " cents, not %" PRIu64, status, echoed,
                         c->amount_cents);

            } else {
                snprintf(j->why, sizeof(j->why), "HTTP %ld: applied with "
                         "%s, not %" PRIu64 " cents: %s", status, why,
                         c->amount_cents, text);
            }

            j->state = CC_WALLET_HTTP_MISMATCH;
            break;

        default: /* CC_WALLET_ANSWER_UNREADABLE */
            snprintf(j->why, sizeof(j->why), "HTTP %ld without the credit "
                     "echoed (%s): %s", status, why, text);
            j->state = CC_WALLET_HTTP_WAITING;
        }

    } else if (status == 409) {
        snprintf(j->why, sizeof(j->why), "HTTP 409: the key holds another "
                 "credit: %s", text);
        j->state = CC_WALLET_HTTP_MISMATCH;

    } else if (status >= 400 && status < 500 && status != 408
               && status != 429)
    {
        snprintf(j->why, sizeof(j->why), "HTTP %ld: %s", status, text);
        j->state = CC_WALLET_HTTP_REJECTED;

    } else {
        snprintf(j->why, sizeof(j->why), "HTTP %ld", status);
        j->state = CC_WALLET_HTTP_WAITING;
    }

    if (j->state == CC_WALLET_HTTP_WAITING) {
        /* an answer comes to a call made: the backoff's shift is >= 0 */
        CC_ASSERT(j->tries >= 1 && j->tries <= CC_WALLET_HTTP_TRIES);

        if (j->tries >= CC_WALLET_HTTP_TRIES || !cc_worker_run) {
            j->state = CC_WALLET_HTTP_UNKNOWN;

        } else {
            uint64_t  cap = CC_WALLET_HTTP_BACKOFF_MS << (j->tries - 1);

            if (cap > CC_WALLET_HTTP_BACKOFF_MAX_MS) {
                cap = CC_WALLET_HTTP_BACKOFF_MAX_MS;
            }

            j->due_ms = cc_now_ms() + (int64_t) (cc_wallet_http_rand(w)
                                                 % (cap + 1));
        }
    }

    curl_multi_remove_handle(w->multi, s->easy);
    s->job = NULL;
}


/*
 * Every call in flight taken off the multi handle and its slot freed: a
 * failed batch returns and its jobs are freed, while the wallet, and its
 * multi handle, serve the next batch.  A call left in would finish there
 * and its CURLMSG_DONE write into the freed jobs; its slot would stay
 * taken for good.  Whether the wallet applied such a call is not known:
 * its award stays 'crediting' and the same key is tried again.
 */
static void
cc_wallet_http_abandon(cc_wallet_http_t *w)
{
    size_t                  i;
    cc_wallet_http_slot_t  *s;

    for (i = 0; i < CC_WALLET_HTTP_INFLIGHT; i++) {
        s = &w->slot[i];

        if (s->job != NULL) {
            curl_multi_remove_handle(w->multi, s->easy);
            s->job = NULL;
        }
    }
}


int
cc_wallet_http_calls(cc_wallet_http_t *w, cc_ledger_credit_t *c,
    cc_wallet_http_job_t *jobs, size_t n, char *err, size_t errlen)
{
    int                running, left, nfree;
    size_t             i, next, open;
    int64_t            now, wait;
    CURLMsg           *msg;
    cc_wallet_http_slot_t  *s;

    open = n;
    next = 0;

    while (open > 0) {
        now = cc_now_ms();
        wait = CC_WALLET_HTTP_POLL_MS;

        /* the due jobs onto free slots, in order, round and round */
        for (nfree = 0, i = 0; i < CC_WALLET_HTTP_INFLIGHT; i++) {
            nfree += w->slot[i].job == NULL;
        }

        for (i = 0; i < n && nfree > 0; i++, next = (next + 1) % n) {
            cc_wallet_http_job_t  *j = &jobs[next];

            if (j->state != CC_WALLET_HTTP_WAITING) {
                continue;
            }

            if (!cc_worker_run && j->tries > 0) {
                /* stopping: no more tries */
                j->state = CC_WALLET_HTTP_UNKNOWN;
                open--;
                continue;
            }

            if (j->due_ms > now) {
                if (j->due_ms - now < wait) {
                    wait = j->due_ms - now;
                }
                continue;
            }

            for (s = w->slot; s->job != NULL; s++) { /* void */ }

            if (cc_wallet_http_start(w, s, j, &c[j->i]) != 0) {
                snprintf(err, errlen, "libcurl: cannot start a call");
                cc_wallet_http_abandon(w);
                return -1;
            }

            nfree--;
        }

        if (curl_multi_perform(w->multi, &running) != CURLM_OK
            || curl_multi_poll(w->multi, NULL, 0, (int) (wait > 0 ? wait : 1),
                               NULL) != CURLM_OK
            || curl_multi_perform(w->multi, &running) != CURLM_OK)
        {
            snprintf(err, errlen, "libcurl: the multi handle failed");
            cc_wallet_http_abandon(w);
            return -1;
        }

        while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
            cc_wallet_http_job_t  *j;

            if (msg->msg != CURLMSG_DONE) {
                continue;
            }

            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
                              (char **) &s);
            j = s->job;
            cc_wallet_http_answer(w, s, msg->data.result, &c[j->i]);

            open -= j->state != CC_WALLET_HTTP_WAITING;     /* finished */
        }
    }

    return 0;
}


/*
 * The campaign's alert command (a command line for /bin/sh) with a JSON
 * document of this batch's mismatches, refusals and answers not signed by
 * the wallet (someone on the path) on stdin.
 */
static void
cc_wallet_http_alert(cc_wallet_http_t *w, cc_ledger_credit_t *c,
    cc_wallet_http_job_t *jobs, size_t n)
{
    char    u[24], *text;
    size_t  i;
    cJSON  *doc, *arr, *b;

    if (w->camp.alert[0] == '\0') {
        return;
    }

    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "campaign", w->camp.id);
    cJSON_AddStringToObject(doc, "source", "cc-payout wallet http");
    cJSON_AddBoolToObject(doc, "ok", 0);
    arr = cJSON_AddArrayToObject(doc, "breaks");

    for (i = 0; i < n; i++) {
        if (jobs[i].state != CC_WALLET_HTTP_MISMATCH
            && jobs[i].state != CC_WALLET_HTTP_REJECTED
            && jobs[i].forged == 0)
        {
            continue;
        }

        b = cJSON_CreateObject();
        snprintf(u, sizeof(u), "%" PRIu64, c[jobs[i].i].uid);
        cJSON_AddStringToObject(b, "class",
                                jobs[i].state == CC_WALLET_HTTP_MISMATCH
                                ? "wallet_amount_mismatch"
                                : jobs[i].state == CC_WALLET_HTTP_REJECTED
                                ? "wallet_rejected"
                                : "wallet_unsigned_answer");
        cJSON_AddStringToObject(b, "award_id", c[jobs[i].i].award_id);
        cJSON_AddStringToObject(b, "uid", u);
        cJSON_AddNumberToObject(b, "amount_cents",
                                (double) c[jobs[i].i].amount_cents);
        cJSON_AddStringToObject(b, "found", jobs[i].why);
        cJSON_AddItemToArray(arr, b);
    }

    text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);

    if (text == NULL) {
        return;
    }

    cc_wallet_http_alert_text(w, text);
    free(text);
}


void
cc_wallet_http_alert_text(cc_wallet_http_t *w, const char *text)
{
    /* with a deadline: a hanging command must not hold the payout */
    if (w->camp.alert[0] != '\0') {
        (void) cc_alert_run(w->camp.alert, text, w->alert_timeout_s);
    }
}


/*
 * The awards with a pending transfer to call for, jobs[0..k), set
 * 'crediting' in the caller's transaction (from 'pending' only: one
 * already 'crediting' stays).  0, or -1 with err set.
 */
static int
cc_wallet_http_crediting(MYSQL *db, const cc_ledger_credit_t *c,
    const cc_wallet_http_job_t *jobs, size_t k, char *err, size_t errlen)
{
    size_t       i;
    cc_sqlbuf_t  b = { NULL, 0, 0 };

    if (k == 0) {
        return 0;
    }

    if (cc_sqlbuf_printf(&b, "UPDATE awards SET status = 'crediting' "
                         "WHERE status = 'pending' AND award_id IN (") != 0)
    {
        goto nomem;
    }

    for (i = 0; i < k; i++) {
        if (cc_sqlbuf_printf(&b, "%s'%s'", i ? "," : "",
                             c[jobs[i].i].award_id) != 0)
        {
            goto nomem;
        }
    }

    if (cc_sqlbuf_printf(&b, ")") != 0) {
        goto nomem;
    }

    if (mysql_query(db, b.p) != 0) {
        snprintf(err, errlen, "awards to crediting: %s", mysql_error(db));
        free(b.p);
        return -1;
    }

    free(b.p);
    return 0;

nomem:

    free(b.p);
    snprintf(err, errlen, "out of memory");
    return -1;
}


void
cc_wallet_http_outcomes(cc_wallet_http_t *w, cc_ledger_credit_t *c,
    cc_wallet_http_job_t *jobs, size_t k, int *ok)
{
    size_t                 i, bad;
    cc_wallet_http_job_t  *j;

    for (i = 0, bad = 0; i < k; i++) {
        j = &jobs[i];

        /* the calls are over: no job is left waiting or running */
        CC_ASSERT(j->state != CC_WALLET_HTTP_WAITING
                  && j->state != CC_WALLET_HTTP_RUNNING);

        if (j->forged > 0) {
            bad++;
            cc_log("award %s: %u answers not signed by the wallet, not "
                   "taken (someone on the path, or the wrong "
                   "wallet_answer_secret_file)", c[j->i].award_id,
                   j->forged);
        }

        switch (j->state) {

        case CC_WALLET_HTTP_APPLIED:
            ok[j->i] = 1;
            w->stats.applied++;
            break;

        case CC_WALLET_HTTP_MISMATCH:
            w->stats.mismatch++;
            bad++;
            cc_log("award %s: wallet MISMATCH: %s; stays crediting, alert",
                   c[j->i].award_id, j->why);
            break;

        case CC_WALLET_HTTP_REJECTED:
            w->stats.rejected++;
            bad++;
            cc_log("award %s: wallet REFUSED it: %s; stays crediting, "
                   "alert", c[j->i].award_id, j->why);
            break;

        default:
            __atomic_fetch_add(&w->stats.unknown, 1, __ATOMIC_RELAXED);
            cc_log("award %s: no answer after %u calls (%s); stays "
                   "crediting, the same key is tried again later",
                   c[j->i].award_id, j->tries, j->why);
            break;
        }

        c[j->i].rc = CC_LEDGER_ERROR;
    }

    if (bad > 0) {
        cc_wallet_http_alert(w, c, jobs, k);
    }
}


long
cc_wallet_http_credit(cc_wallet_http_t *w, MYSQL *db, cc_ledger_credit_t *c,
    size_t n, char *err, size_t errlen)
{
    int                   *ok;
    long                   added;
    size_t                 i, k;
    cc_ledger_phase_e     *st;
    cc_wallet_http_job_t  *jobs;

    w->deferred = 0;

    if (w->camp.wallet_mode == CC_WALLET_MODE_BATCH && !w->single) {
        return cc_wallet_batch_credit(w, db, c, n, err, errlen);
    }

    added = -1;
    st = calloc(n ? n : 1, sizeof(cc_ledger_phase_e));
    jobs = calloc(n ? n : 1, sizeof(cc_wallet_http_job_t));
    ok = calloc(n ? n : 1, sizeof(int));

    if (st == NULL || jobs == NULL || ok == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    /* 1. the pending transfers and 'crediting', durable before any call */

    if (cc_ledger_phase_pending(db, w->camp.id, c, n, st, err, errlen)
        != 0)
    {
        goto done;
    }

    for (i = 0, k = 0; i < n; i++) {
        if (st[i] == CC_LEDGER_PHASE_NEW
            || st[i] == CC_LEDGER_PHASE_IN_FLIGHT)
        {
            jobs[k++].i = i;
        }
    }

    if (cc_wallet_http_crediting(db, c, jobs, k, err, errlen) != 0) {
        goto done;
    }

    if (mysql_commit(db) != 0) {
        snprintf(err, errlen, "commit pending: %s", mysql_error(db));
        goto done;
    }

    /* 2. the calls */

    if (w->single) {
        __atomic_fetch_add(&w->stats.single, k, __ATOMIC_RELAXED);
    }

    if (k > 0 && cc_wallet_http_calls(w, c, jobs, k, err, errlen) != 0) {
        goto done;
    }

    /* 3. the posts of the applied, in a transaction left to the caller */

    cc_wallet_http_outcomes(w, c, jobs, k, ok);

    added = cc_ledger_phase_post_rows(db, w->camp.id, c, n, ok,
                                      w->defer ? &w->deferred : NULL, err,
                                      errlen);

    if (added < 0) {
        for (i = 0; i < n; i++) {
            if (ok[i]) {
                c[i].rc = CC_LEDGER_ERROR;
            }
        }
    }

    /* posted before this batch: nothing called, nothing to post */
    for (i = 0; added >= 0 && i < n; i++) {
        if (st[i] == CC_LEDGER_PHASE_POSTED) {
            c[i].rc = CC_LEDGER_EXISTS;
        }
    }

done:

    free(st);
    free(jobs);
    free(ok);

    return added;
}
