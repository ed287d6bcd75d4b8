/*
 * cc_wallet_sim.h: what the simulator's two files share: cc_wallet_sim.c
 * (options, the per-credit POST /credits, the statement, the daemon) and
 * cc_wallet_sim_batch.c (the batch API: POST /batches, GET
 * /batches/{no} and /batches/{no}/details, the batches' journal and the
 * thread that processes them).  One lock guards all of the state.
 */

#ifndef CC_WALLET_SIM_H
#define CC_WALLET_SIM_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <microhttpd.h>

#include "cc_token.h"

#define CC_SIM_BODY_MAX     4096
#define CC_SIM_BATCH_BODY_MAX  (1024 * 1024)   /* a batch of 1000 fits */
#define CC_SIM_KEY_MAX      80
#define CC_SIM_SKEW_MS      300000
#define CC_SIM_AMOUNT_MAX   1000000000000000ULL
#define CC_SIM_FAIL_KEYS    64          /* --fail-detail's, at most */


typedef struct {
    char       key[CC_SIM_KEY_MAX + 1];     /* "" = free slot */
    uint64_t   uid;
    uint64_t   amount;
    char       currency[4];
} cc_sim_entry_t;


typedef struct cc_sim_batch_s  cc_sim_batch_t;


/* --fail-detail KEY=N: the detail KEY fails in its next N batches */
typedef struct {
    char       key[CC_SIM_KEY_MAX + 1];
    long long  left;                        /* failures still to give */
} cc_sim_fail_key_t;


typedef struct {
    const char          *listen;
    const char          *secret_path;
    const char          *statement_path;
    const char          *answer_secret_path;
    const char          *tls_cert_path;
    const char          *tls_key_path;
    char                *tls_cert;          /* PEM, for the daemon's life */
    char                *tls_key;
    long long            delay_ms;
    long long            forge_pct;
    long long            fail_pct;
    long long            drop_pct;
    long long            dup_pct;
    long long            echo_off_pct;
    long long            process_ms;        /* batches: processed after */
    long long            batch_max;         /* details a batch, at most */
    long long            accept_max;        /* new batches taken, then
                                               503 busy; 0: no bound */
    long long            twice_pct;         /* a detail listed twice */
    long long            stray_pct;         /* a detail never held */
    const char          *journal_path;      /* the batches' journal */
    cc_sim_fail_key_t    fail_key[CC_SIM_FAIL_KEYS];   /* chosen details */
    size_t               nfail_key;
    uint64_t             seed;
    int                  seed_given;

    unsigned char        secret[CC_TOKEN_SECRET_MAX + 1];
    size_t               slen;
    unsigned char        asecret[CC_TOKEN_SECRET_MAX + 1];   /* answers' */
    size_t               aslen;

    pthread_mutex_t      lock;              /* everything below */
    cc_sim_entry_t      *tab;
    size_t               cap;               /* a power of 2 */
    size_t               used;
    FILE                *statement;
    uint64_t             rng;
    unsigned long long   applied, replayed, conflicts, failed, dropped,
                         duplicated, rejected, forged;

    /* the batch API (cc_wallet_sim_batch.c), under the same lock */
    FILE                *journal;
    cc_sim_batch_t     **bt;                /* the batches by number */
    size_t               bcap;              /* a power of 2 */
    size_t               bused;
    cc_sim_batch_t      *todo;              /* accepted, not processed: */
    cc_sim_batch_t      *todo_last;         /* oldest first */
    unsigned long long   batches, details_ok, details_failed, twice;
} cc_sim_t;


/* one request's body as it arrives */
typedef struct {
    char    *p;
    size_t   len;
    int      too_big;
} cc_sim_req_t;


/* how an answer is signed: as the wallet, or as a forger would */
typedef enum {
    CC_SIM_SIGNED = 0,
    CC_SIM_UNSIGNED,
    CC_SIM_WRONG_KEY
} cc_sim_sign_e;


/* a credit as the body asks it */
typedef struct {
    uint64_t  uid;
    uint64_t  amount;
    char      currency[4];
} cc_sim_credit_t;


/* under the lock: 1 with probability pct % */
int cc_sim_draw(cc_sim_t *s, long long pct);

/* under the lock: 1 when the key was applied (is in the statement) */
int cc_sim_known(cc_sim_t *s, const char *key);

/* under the lock: room for one more key; -1 out of memory */
int cc_sim_grow(cc_sim_t *s);

/*
 * Under the lock: a credit applied once per key, written to the statement
 * (twice with dup).  201 applied, 200 replayed, 409 the key holds another
 * credit; *entry valid only while the lock is held.
 */
unsigned cc_sim_apply(cc_sim_t *s, const char *key, const cc_sim_credit_t *c,
    int dup, cc_sim_entry_t **entry);

/* an answer, body malloc'ed (owned here), signed over the call's key */
enum MHD_Result cc_sim_answer(cc_sim_t *s, struct MHD_Connection *conn,
    unsigned status, char *body, cc_sim_sign_e how);

enum MHD_Result cc_sim_error(cc_sim_t *s, struct MHD_Connection *conn,
    unsigned status, const char *error);

/* the call's signature and timestamp: NULL, or the error to answer 401 */
const char *cc_sim_auth(cc_sim_t *s, const cc_sim_req_t *q,
    const char *method, const char *path, const char *key, const char *tss,
    const char *sig);

/*
 * Every signed call's first steps: its headers looked up (*key, the
 * Idempotency-Key, may be NULL), --delay-ms slept, the body's size and
 * the signature checked.  NULL, or the error with *status (413, 401)
 * for cc_sim_error.
 */
const char *cc_sim_request_check(cc_sim_t *s, struct MHD_Connection *conn,
    const cc_sim_req_t *q, const char *method, const char *path,
    const char **key, unsigned *status);

/* the batch API (cc_wallet_sim_batch.c) */
int cc_sim_batch_load(cc_sim_t *s);
int cc_sim_batch_start(cc_sim_t *s);
void cc_sim_batch_stop(cc_sim_t *s);
enum MHD_Result cc_sim_batch_submit(cc_sim_t *s, struct MHD_Connection *conn,
    const char *path, cc_sim_req_t *q);
enum MHD_Result cc_sim_batch_query(cc_sim_t *s, struct MHD_Connection *conn,
    const char *path);

#endif /* CC_WALLET_SIM_H */
