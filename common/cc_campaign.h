/*
 * cc_campaign: the campaign's money settings, written once in one file
 * that cc-draw, cc-payout and cc-reconcile all read, so they cannot
 * disagree on the pool.  One "name value" a line; '#' starts a comment;
 * every name at most once; unknown names are errors:
 *
 *   campaign      cny2027               # 1..32 of [A-Za-z0-9_-]
 *   pool_cents    50000000000           # 1..10^15
 *   split         equal                 # equal | random
 *   cap_cents     20000                 # random only (required there):
 *                                       # the largest award, >= 1
 *   seed          d41d8cd98f00b204e980  # 1..128 printable, no spaces
 *   credit        async_client_sync     # sync | async | async_client_sync
 *   cutoff        2027-02-10T15:00:00Z  # the module's cc_combine_cutoff:
 *                                       # unix seconds or ISO UTC
 *   pending_max   3600                  # seconds an award may stay pending
 *                                       # before reconcile calls it stale
 *                                       # (default 3600)
 *   alert         /usr/local/bin/page   # run with a break's JSON on stdin
 *                                       # (optional)
 *   wallet        ledger                # ledger (default) | http: pay
 *                                       # into an external wallet
 *   wallet_url    https://10.0.3.1:8443 # http only (required there): the
 *                                       # base; a credit is POST {base}/credits;
 *                                       # https:// (http:// only with
 *                                       # wallet_insecure_loopback yes, to
 *                                       # 127.0.0.1, [::1] or localhost)
 *   wallet_timeout_ms 5000              # http only: per call, 1..600000
 *                                       # (default 5000)
 *   wallet_secret_file /etc/cc/wallet.secret  # http only (required
 *                                       # there): the HMAC key's file
 *   wallet_answer_secret_file /etc/cc/wallet-answer.secret  # http only:
 *                                       # the key of the wallet's answers'
 *                                       # signatures (default: the
 *                                       # wallet_secret_file)
 *   wallet_ca_file /etc/cc/wallet-ca.pem  # http only: the CAs the
 *                                       # wallet's certificate is checked
 *                                       # against (default: the system's)
 *   wallet_insecure_loopback no         # http only: yes allows an http://
 *                                       # wallet_url to the loopback (the
 *                                       # simulator), nothing else
 *   wallet_mode   batch                 # http only: batch (default):
 *                                       # signed batches of details, read
 *                                       # back by querying (cc_wallet_batch.h)
 *                                       # | per_credit: one call a credit
 *   wallet_batch_max 500                # http, batch: details a batch,
 *                                       # 1..1000 (default 500)
 *   wallet_batch_age_ms 600000          # http, batch: the longest a
 *                                       # batch goes without its result
 *                                       # before it is alerted (it stays
 *                                       # in flight, queried), counted
 *                                       # from its writing; 1000..604800000
 *                                       # (7 days; default 600000)
 *   currency      CNY                   # 3 capital letters (default CNY)
 *
 * wallet http needs credit async or async_client_sync: a sync credit is
 * in cc-draw's transaction, which cannot hold an HTTP call.
 *
 * Plain C, no allocation.
 */

#ifndef CC_CAMPAIGN_H
#define CC_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>

#define CC_CAMPAIGN_ID_MAX    32
#define CC_CAMPAIGN_SEED_MAX  128
#define CC_CAMPAIGN_POOL_MAX  1000000000000000ULL     /* 10^13 yuan */
#define CC_CAMPAIGN_PATH_MAX  1024
#define CC_CAMPAIGN_URL_MAX   512
#define CC_CAMPAIGN_BATCH_MAX 1000      /* wallet_batch_max, at most */
#define CC_CAMPAIGN_BATCH_AGE_MIN 1000ULL           /* wallet_batch_age_ms */
#define CC_CAMPAIGN_BATCH_AGE_MAX 604800000ULL      /* 7 days */

typedef enum {
    CC_SPLIT_EQUAL = 0,
    CC_SPLIT_RANDOM
} cc_split_mode_e;

typedef enum {
    CC_CREDIT_SYNC = 0,
    CC_CREDIT_ASYNC,
    CC_CREDIT_ASYNC_CLIENT_SYNC
} cc_credit_mode_e;

typedef enum {
    CC_WALLET_LEDGER = 0,
    CC_WALLET_HTTP
} cc_wallet_e;

typedef enum {
    CC_WALLET_MODE_BATCH = 0,
    CC_WALLET_MODE_PER_CREDIT
} cc_wallet_mode_e;

typedef struct {
    char              id[CC_CAMPAIGN_ID_MAX + 1];
    uint64_t          pool_cents;
    cc_split_mode_e   split;
    uint64_t          cap_cents;          /* 0 in equal mode */
    char              seed[CC_CAMPAIGN_SEED_MAX + 1];
    cc_credit_mode_e  credit;
    int64_t           cutoff;             /* unix seconds */
    int64_t           pending_max;        /* seconds */
    char              alert[CC_CAMPAIGN_PATH_MAX + 1];   /* "" = none */
    cc_wallet_e       wallet;
    char              wallet_url[CC_CAMPAIGN_URL_MAX + 1];   /* no '/' at
                                                             the end */
    int64_t           wallet_timeout_ms;  /* default 5000 */
    char              wallet_secret_file[CC_CAMPAIGN_PATH_MAX + 1];
    char              currency[4];        /* default "CNY" */
    char              wallet_ca_file[CC_CAMPAIGN_PATH_MAX + 1];  /* "" =
                                                     the system's CAs */
    char              wallet_answer_secret_file[CC_CAMPAIGN_PATH_MAX + 1];
                                          /* "" = wallet_secret_file */
    int               wallet_insecure_loopback;   /* 0 default */
    cc_wallet_mode_e  wallet_mode;        /* default batch */
    unsigned          wallet_batch_max;   /* details a batch, default 500 */
    int64_t           wallet_batch_age_ms;    /* a batch's result awaited,
                                             at most, default 600000 */
} cc_campaign_t;

/*
 * Parses a campaign file's text.  0, or -1 with err (a line number and the
 * reason: "line 3: pool_cents: not a decimal in 1..10^15") filled.
 */
int cc_campaign_parse(const char *text, size_t len, cc_campaign_t *c,
    char *err, size_t errlen);

/* Reads and parses a file (at most 64 KiB).  0 or -1 with err filled. */
int cc_campaign_load(const char *path, cc_campaign_t *c, char *err,
    size_t errlen);

const char *cc_split_mode_name(cc_split_mode_e m);
const char *cc_credit_mode_name(cc_credit_mode_e m);

#endif /* CC_CAMPAIGN_H */
