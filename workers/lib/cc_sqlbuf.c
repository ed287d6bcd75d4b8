/*
 * cc_sqlbuf: a growable text buffer for one SQL statement.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cc_sqlbuf.h"


int
cc_sqlbuf_printf(cc_sqlbuf_t *b, const char *fmt, ...)
{
    int       n;
    char     *np;
    size_t    ncap;
    va_list   ap;

    for ( ;; ) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);

        if (n < 0) {
            return -1;
        }

        if ((size_t) n < b->cap - b->len) {
            b->len += n;
            return 0;
        }

        ncap = b->cap ? b->cap * 2 : 4096;
        while (ncap - b->len <= (size_t) n) {
            ncap *= 2;
        }

        np = realloc(b->p, ncap);
        if (np == NULL) {
            return -1;
        }

        b->p = np;
        b->cap = ncap;
    }
}
