/*
 * cc_wallet_http_int.h: the http wallet's insides, shared by its two
 * modes: cc_wallet_http.c (wallet_mode per_credit: a call a credit,
 * CC_WALLET_HTTP_INFLIGHT at once on a libcurl multi handle) and
 * cc_wallet_batch.c (wallet_mode batch).  Nothing else includes it.
 */

#ifndef CC_WALLET_HTTP_INT_H
#define CC_WALLET_HTTP_INT_H

#include <stdint.h>

#include <curl/curl.h>

#include "cc_token.h"
#include "cc_wallet_http.h"
#include "cc_wallet_sign.h"


#define CC_WALLET_HTTP_BACKOFF_MS      50
#define CC_WALLET_HTTP_BACKOFF_MAX_MS  2000
#define CC_WALLET_HTTP_ANSWER_MAX      4096
#define CC_WALLET_HTTP_SKEW_MS         300000   /* an answer's timestamp */

/*
 * curl_multi_poll's wait at most: libcurl 7.88 may sleep the whole wait
 * with the answer already there (a timeout a connection filter sets while
 * the sockets are collected, as in curl/curl PR 13825); with 100 ms a
 * claim's single call took p90 101 ms in bench/claim.sh, with 1 ms 2.8 ms.
 * A loop of 1 ms while calls are in flight costs nothing measurable.
 */
#define CC_WALLET_HTTP_POLL_MS         1


typedef enum {
    CC_WALLET_HTTP_WAITING = 0,
    CC_WALLET_HTTP_RUNNING,
    CC_WALLET_HTTP_APPLIED,
    CC_WALLET_HTTP_MISMATCH,
    CC_WALLET_HTTP_REJECTED,
    CC_WALLET_HTTP_UNKNOWN
} cc_wallet_http_job_e;


typedef struct {
    size_t               i;              /* its entry of the batch */
    cc_wallet_http_job_e       state;
    unsigned             tries;
    int64_t              due_ms;
    long                 status;         /* the last HTTP status, 0 none */
    unsigned             forged;         /* answers not signed by the
                                            wallet */
    char                 why[200];       /* the last failure */
} cc_wallet_http_job_t;


typedef struct {
    CURL                *easy;
    struct curl_slist   *headers;
    char                 body[256];
    char                 answer[CC_WALLET_HTTP_ANSWER_MAX + 1];
    size_t               alen;
    char                 ans_ts[24];     /* the answer's X-CC-Timestamp */
    char                 ans_sig[CC_WALLET_SIG_HEX + 1];  /* X-CC-Signature
                                                            ("" none) */
    cc_wallet_http_job_t     *job;            /* NULL: free */
} cc_wallet_http_slot_t;


struct cc_wallet_http_s {
    cc_campaign_t        camp;
    char                 url[CC_CAMPAIGN_URL_MAX + 16];
    const char          *path;           /* in url: what is signed */
    unsigned char        secret[CC_TOKEN_SECRET_MAX + 1];
    size_t               slen;
    unsigned char        asecret[CC_TOKEN_SECRET_MAX + 1];  /* answers' */
    size_t               aslen;
    CURLM               *multi;
    cc_wallet_http_slot_t     slot[CC_WALLET_HTTP_INFLIGHT];
    uint64_t             rng;
    long long            alert_timeout_s;
    cc_wallet_http_stats_t    stats;
    int                  defer;          /* the posts' sums wait for
                                            cc_wallet_http_finish */
    uint64_t             deferred;       /* the last credit's, to move */
    int                  single;         /* batch mode, yet a call a
                                            credit (the claims') */
};


/* splitmix64 over w->rng: the backoffs' jitter */
uint64_t cc_wallet_http_rand(cc_wallet_http_t *w);

/* libcurl's header callback: X-CC-Timestamp and X-CC-Signature into the
   slot (arg) */
size_t cc_wallet_http_header(char *p, size_t size, size_t nmemb, void *arg);

/* the options every call sets (deadline, answer headers, TLS) on s->easy */
void cc_wallet_http_easy(cc_wallet_http_t *w, cc_wallet_http_slot_t *s);

/*
 * 1 when the answer (body[0..blen), its headers in s) is the wallet's:
 * signed with the answer secret over its status, the call's key, its
 * timestamp and its body, the timestamp within CC_WALLET_HTTP_SKEW_MS of
 * now.  Else 0 and *why.
 */
int cc_wallet_http_signed(cc_wallet_http_t *w, const cc_wallet_http_slot_t *s,
    long status, const char *key, const char *body, size_t blen,
    const char **why);

/* the alert command with text (a JSON document) on stdin, if set */
void cc_wallet_http_alert_text(cc_wallet_http_t *w, const char *text);

/* per_credit's calls of jobs[0..n) until each is finished: 0, or -1 */
int cc_wallet_http_calls(cc_wallet_http_t *w, cc_ledger_credit_t *c,
    cc_wallet_http_job_t *jobs, size_t n, char *err, size_t errlen);

/*
 * What the calls of jobs[0..k) ended in: ok[] set for the applied (to be
 * posted), the others logged, counted and, for the mismatched, the
 * refused and those answered unsigned, alerted; every one's rc ERROR
 * until its post says otherwise.
 */
void cc_wallet_http_outcomes(cc_wallet_http_t *w, cc_ledger_credit_t *c,
    cc_wallet_http_job_t *jobs, size_t k, int *ok);

/* wallet_mode batch: cc_wallet_http_credit's contract (cc_wallet_batch.c) */
long cc_wallet_batch_credit(cc_wallet_http_t *w, MYSQL *db,
    cc_ledger_credit_t *c, size_t n, char *err, size_t errlen);

#endif /* CC_WALLET_HTTP_INT_H */
