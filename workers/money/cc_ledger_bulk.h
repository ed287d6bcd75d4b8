/*
 * cc_ledger_bulk: MariaDB's bulk execution, the lowest layer of the
 * ledger's batches (cc_ledger.c, cc_ledger_phase.c, and cc-draw's insert
 * of the awards).  It calls nothing of the books above it.
 */

#ifndef CC_LEDGER_BULK_H
#define CC_LEDGER_BULK_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "cc_ledger.h"

/*
 * Whether the server executes bound arrays (10.2 and later); and one
 * prepared statement executed over n rows of them, its affected rows in
 * *affected.  0, or -1 with err "WHAT: why".  No
 * RETURNING rows come back from it, only the count.
 */
int cc_ledger_bulk_ok(MYSQL *db);
int cc_ledger_bulk(MYSQL *db, const char *what, const char *sql,
    MYSQL_BIND *bind, size_t n, unsigned long long *affected, char *err,
    size_t errlen);

/*
 * From this many rows a batch writes them in bulk (no SQL text per row
 * for the server to parse, the larger part of a batch's MySQL time; issue
 * 20).  Below it, the one text statement: the bulk path costs a prepare
 * (and, for new transfers, a savepoint), round trips a claim's turn of an
 * award or a few cannot spare.  Whether k rows go in bulk on db:
 */
#define CC_LEDGER_BULK_MIN  32

static inline int
cc_ledger_bulk_worth(MYSQL *db, size_t k)
{
    return k >= CC_LEDGER_BULK_MIN && cc_ledger_bulk_ok(db);
}

/*
 * One parameter of a bulk statement bound to an array, one element a row:
 * strings (their lengths in lens), unsigned 64-bit or unsigned int.
 * b is zeroed first.
 */
void cc_ledger_bind_strs(MYSQL_BIND *b, char **v, unsigned long *lens);
void cc_ledger_bind_u64s(MYSQL_BIND *b, uint64_t *v);
void cc_ledger_bind_uints(MYSQL_BIND *b, unsigned *v);

/* the parameters a bulk statement binds per row, in its order */
typedef enum {
    CC_LEDGER_BIND_UID_AMOUNT = 0,      /* (uid, amount): the wallets */
    CC_LEDGER_BIND_ID_UID_AMOUNT_ID,    /* (award id, uid, amount, award
                                           id): a credit's transfer */
    CC_LEDGER_BIND_ID_AMOUNT_ID         /* (award id, amount, award id): a
                                           pending or post transfer into
                                           the clearing account */
} cc_ledger_bind_e;

/*
 * cc_ledger_bulk over the entries of c in id order (order[]) whose sel[]
 * is set, binding per row as shape says, then, when batch is given, the
 * entry's batch[] (a string, the statement's last parameter; issue 20's
 * pending transfers in a batch).  0, or -1 with err set.
 */
int cc_ledger_bulk_rows(MYSQL *db, const char *what, const char *sql,
    cc_ledger_bind_e shape, const cc_ledger_credit_t *c, size_t n,
    const size_t *order, const int *sel, char *const *batch,
    unsigned long long *affected, char *err, size_t errlen);

/* what a bulk insert of new transfers found */
typedef enum {
    CC_LEDGER_BULK_ALL_NEW = 0,     /* all k written: a first try, nearly
                                       always */
    CC_LEDGER_BULK_NOT_ALL,         /* fewer (some id was there): rolled
                                       back to the savepoint, nothing of it
                                       left, for the general path */
    CC_LEDGER_BULK_FAILED           /* MySQL failed: err set, roll back */
} cc_ledger_bulk_e;

/*
 * A bulk INSERT IGNORE of the k entries selected, after a savepoint; the
 * general path is then RETURNING, and a read of the others.
 */
cc_ledger_bulk_e cc_ledger_bulk_new(MYSQL *db, const char *what,
    const char *sql, cc_ledger_bind_e shape, const cc_ledger_credit_t *c,
    size_t n, const size_t *order, const int *sel, char *const *batch,
    size_t k, char *err, size_t errlen);

/*
 * The indices of c[0..n) in award id order, the order every batch writes
 * in, so that two payers lock the same ids in the same order (qsort_r:
 * cc-draw credits from a thread per shard).  malloc'd, the caller frees;
 * NULL when out of memory.
 */
size_t *cc_ledger_bulk_order(const cc_ledger_credit_t *c, size_t n);

/* snprintf of a statement's text: 0, or -1 when it did not fit in size */
int cc_ledger_bulk_sql(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* CC_LEDGER_BULK_H */
