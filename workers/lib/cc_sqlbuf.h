/*
 * cc_sqlbuf: a growable text buffer for one SQL statement, the one the
 * workers build their multi-row statements in (cc_store.c, cc_ledger.c,
 * cc_wallet_ledger.c).  Zero-initialised it is empty; len = 0 reuses it;
 * free(b.p) when done.
 */

#ifndef CC_SQLBUF_H
#define CC_SQLBUF_H

#include <stddef.h>

typedef struct {
    char    *p;
    size_t   len;
    size_t   cap;
} cc_sqlbuf_t;

/* appends; the text stays NUL-terminated.  0, or -1 out of memory */
int cc_sqlbuf_printf(cc_sqlbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* CC_SQLBUF_H */
