/*
 * cc_ledger_bulk: MariaDB's bulk execution for the ledger's batches (see
 * cc_ledger_bulk.h): one prepared statement over bound arrays, no SQL
 * text per row to build and parse.
 */

#define _GNU_SOURCE

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_ledger_bulk.h"


int
cc_ledger_bulk_ok(MYSQL *db)
{
    unsigned long  ext;

    ext = 0;

    if (mariadb_get_infov(db, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES,
                          &ext) != 0)
    {
        return 0;
    }

    return (ext & (MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32)) != 0;
}


/* one bound array of type t (lens: its strings' lengths) */
static void
cc_ledger_bind(MYSQL_BIND *b, enum enum_field_types t, void *v,
    unsigned long *lens)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = t;
    b->buffer = v;
    b->length = lens;
    b->is_unsigned = t != MYSQL_TYPE_STRING;
}


void
cc_ledger_bind_strs(MYSQL_BIND *b, char **v, unsigned long *lens)
{
    cc_ledger_bind(b, MYSQL_TYPE_STRING, v, lens);
}


void
cc_ledger_bind_u64s(MYSQL_BIND *b, uint64_t *v)
{
    cc_ledger_bind(b, MYSQL_TYPE_LONGLONG, v, NULL);
}


void
cc_ledger_bind_uints(MYSQL_BIND *b, unsigned *v)
{
    cc_ledger_bind(b, MYSQL_TYPE_LONG, v, NULL);
}


int
cc_ledger_bulk(MYSQL *db, const char *what, const char *sql,
    MYSQL_BIND *bind, size_t n, unsigned long long *affected, char *err,
    size_t errlen)
{
    int            rc;
    unsigned int   size;
    MYSQL_STMT    *st;

    st = mysql_stmt_init(db);
    if (st == NULL) {
        snprintf(err, errlen, "%s: out of memory", what);
        return -1;
    }

    size = (unsigned int) n;

    rc = mysql_stmt_prepare(st, sql, strlen(sql)) != 0
         || mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &size) != 0
         || mysql_stmt_bind_param(st, bind) != 0
         || mysql_stmt_execute(st) != 0;

    if (rc) {
        snprintf(err, errlen, "%s: %s", what, mysql_stmt_error(st));

    } else {
        *affected = mysql_stmt_affected_rows(st);
    }

    mysql_stmt_close(st);

    return rc ? -1 : 0;
}


/*
 * MariaDB's bulk execution (cc_ledger_bulk) over the entries of c in id
 * order whose sel[] is set: no SQL text per row to build and parse, which
 * was most of the server's work in these batches.  The statement binds
 * per row what shape says.  0, or -1 with err set.
 */
int
cc_ledger_bulk_rows(MYSQL *db, const char *what, const char *sql,
    cc_ledger_bind_e shape, const cc_ledger_credit_t *c, size_t n,
    const size_t *order, const int *sel, char *const *batch,
    unsigned long long *affected, char *err, size_t errlen)
{
    int             rc;
    char          **idp, **bnp;
    size_t          i, k;
    uint64_t       *uids, *amounts;
    unsigned long  *lens, *blens;
    MYSQL_BIND      bind[5], *b;

    rc = -1;
    idp = malloc((n ? n : 1) * sizeof(char *));
    lens = malloc((n ? n : 1) * sizeof(unsigned long));
    uids = malloc((n ? n : 1) * sizeof(uint64_t));
    amounts = malloc((n ? n : 1) * sizeof(uint64_t));
    bnp = malloc((n ? n : 1) * sizeof(char *));
    blens = malloc((n ? n : 1) * sizeof(unsigned long));

    if (idp == NULL || lens == NULL || uids == NULL || amounts == NULL
        || bnp == NULL || blens == NULL)
    {
        snprintf(err, errlen, "%s: out of memory", what);
        goto done;
    }

    for (i = 0, k = 0; i < n; i++) {
        if (sel[order[i]]) {
            idp[k] = (char *) c[order[i]].award_id;
            lens[k] = strlen(idp[k]);
            uids[k] = c[order[i]].uid;
            amounts[k] = c[order[i]].amount_cents;
            bnp[k] = batch != NULL ? batch[order[i]] : NULL;
            blens[k] = bnp[k] != NULL ? strlen(bnp[k]) : 0;
            k++;
        }
    }

    *affected = 0;

    if (k == 0) {
        rc = 0;
        goto done;
    }

    b = bind;

    if (shape != CC_LEDGER_BIND_UID_AMOUNT) {
        cc_ledger_bind_strs(b++, idp, lens);
    }

    if (shape != CC_LEDGER_BIND_ID_AMOUNT_ID) {
        cc_ledger_bind_u64s(b++, uids);
    }

    cc_ledger_bind_u64s(b++, amounts);

    if (shape != CC_LEDGER_BIND_UID_AMOUNT) {
        *b++ = bind[0];
    }

    if (batch != NULL) {
        cc_ledger_bind_strs(b, bnp, blens);      /* the last parameter */
    }

    rc = cc_ledger_bulk(db, what, sql, bind, k, affected, err, errlen);

done:

    free(idp);
    free(lens);
    free(uids);
    free(amounts);
    free(bnp);
    free(blens);

    return rc;
}


/*
 * The insert of the transfers of the entries selected, in bulk, after a
 * savepoint: all k written means all are new (a first try: nearly
 * always); fewer means some id was there, and the insert is rolled back
 * to the savepoint for the general path (RETURNING, then a read of the
 * others) to sort out.
 */
cc_ledger_bulk_e
cc_ledger_bulk_new(MYSQL *db, const char *what, const char *sql,
    cc_ledger_bind_e shape, const cc_ledger_credit_t *c, size_t n,
    const size_t *order, const int *sel, char *const *batch, size_t k,
    char *err, size_t errlen)
{
    unsigned long long  affected;

    if (mysql_query(db, "SAVEPOINT cc_ledger_bulk") != 0) {
        snprintf(err, errlen, "%s: savepoint: %s", what, mysql_error(db));
        return CC_LEDGER_BULK_FAILED;
    }

    if (cc_ledger_bulk_rows(db, what, sql, shape, c, n, order, sel, batch,
                            &affected, err, errlen)
        != 0)
    {
        return CC_LEDGER_BULK_FAILED;
    }

    if (affected == k) {
        return CC_LEDGER_BULK_ALL_NEW;
    }

    if (mysql_query(db, "ROLLBACK TO SAVEPOINT cc_ledger_bulk") != 0) {
        snprintf(err, errlen, "%s: rollback to savepoint: %s", what,
                 mysql_error(db));
        return CC_LEDGER_BULK_FAILED;
    }

    return CC_LEDGER_BULK_NOT_ALL;
}



/* by award id, ties in entry order: the same order whatever the sort */
static int
cc_ledger_bulk_cmp(const void *a, const void *b, void *arg)
{
    int                        d;
    size_t                     i, j;
    const cc_ledger_credit_t  *c = arg;

    i = *(const size_t *) a;
    j = *(const size_t *) b;
    d = strcmp(c[i].award_id, c[j].award_id);

    return d != 0 ? d : (i > j) - (i < j);
}


size_t *
cc_ledger_bulk_order(const cc_ledger_credit_t *c, size_t n)
{
    size_t  i, *order;

    order = malloc((n ? n : 1) * sizeof(size_t));
    if (order == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        order[i] = i;
    }

    /*
     * A bulk batch comes in award id order (cc-payout reads it so, and
     * each phase of a batch orders it again): one pass says so, and the
     * sort is left for the batches that need it.
     */
    for (i = 1; i < n && strcmp(c[i - 1].award_id, c[i].award_id) <= 0; i++) {
        /* void */
    }

    if (i < n) {
        qsort_r(order, n, sizeof(size_t), cc_ledger_bulk_cmp, (void *) c);
    }

    return order;
}


int
cc_ledger_bulk_sql(char *buf, size_t size, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);

    return n < 0 || (size_t) n >= size ? -1 : 0;
}
