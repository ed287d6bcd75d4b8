/*
 * cc_wallet_batch_int: what the files of wallet_mode batch share
 * (cc_wallet_batch.c: the calls and the rounds; cc_wallet_batch_books.c:
 * the batches' rows in MySQL), not their callers (cc_wallet_batch.h).
 */

#ifndef CC_WALLET_BATCH_INT_H
#define CC_WALLET_BATCH_INT_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "cc_ledger.h"
#include "cc_ledger_phase.h"
#include "cc_sqlbuf.h"
#include "cc_wallet_batch.h"
#include "cc_wallet_http_int.h"


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
    unsigned            *failed;    /* c[i]'s failed attempt (a retry) */
    size_t              *bi;        /* c[i]'s batch in b[] (its last) */
    int                 *single;    /* c[i] in flight with no batch: its
                                       pending a single call's */
    char                *ans;       /* the last answer's body */
    size_t               alen;
    cc_sqlbuf_t          q;         /* SQL, and bodies */
    unsigned long long   unknown_details;   /* of this call */
} cc_wb_ctx_t;


/* ---- the books (cc_wallet_batch_books.c) -------------------------------- */

/* the entry of c[] with this award id (x->order: id order), or -1 */
long cc_wb_entry(const cc_wb_ctx_t *x, const char *id);

/* a new batch of room for n details at the end of x->b, or NULL */
cc_wb_t *cc_wb_add(cc_wb_ctx_t *x, const char *no, size_t n);

/* room for one more detail of b: the new one (zeroed), or NULL */
cc_wb_detail_t *cc_wb_push(cc_wb_t *b);

/* qsort's order of a batch's details: award id */
int cc_wb_detail_cmp(const void *a, const void *b);

/*
 * New batches at the end of x->b, in award id order, of the entries with
 * sel[] set, each as its next attempt (x->attempt[] + 1, x->bi[] its
 * batch), at most wallet_batch_max details a batch: in memory only.
 * 0, or -1 with err set.
 */
int cc_wb_plan(cc_wb_ctx_t *x, const int *sel, char *err, size_t errlen);

/*
 * Each entry's batch number, x->b[x->bi[i]].no, into names[0..n) (valid
 * until x->b grows): what its pending transfer is written with.
 */
void cc_wb_names(const cc_wb_ctx_t *x, char **names);

/*
 * The batches from b[from] keep only the details whose entry's pending
 * transfer was written now (st NEW); the others' attempt back to 0 (the
 * books say what they are: cc_wb_resume), and a batch left empty taken
 * out.
 */
void cc_wb_keep(cc_wb_ctx_t *x, size_t from, const cc_ledger_phase_e *st);

/* the wallet_batches rows of b[from..nb), in the open transaction */
int cc_wb_rows(cc_wb_ctx_t *x, size_t from, char *err, size_t errlen);

/*
 * The in-flight entries' last attempts (their live pending transfers):
 * x->attempt[] set, and each one's batch read back from MySQL whole (in
 * award id order: the order it was sent in), to be queried; an entry
 * whose live pending names no batch (a single call's) is x->single[].
 * 0, or -1 with err set.
 */
int cc_wb_resume(cc_wb_ctx_t *x, const cc_ledger_phase_e *st, char *err,
    size_t errlen);

#endif /* CC_WALLET_BATCH_INT_H */
