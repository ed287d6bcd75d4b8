/*
 * fuzz.h: what every target of fuzz/ shares.  A target is a libFuzzer
 * entry point, LLVMFuzzerTestOneInput, over one parser of common/; it
 * checks the parser's contract (round trips, bounds, "untouched on
 * failure") and aborts on a violation, so a broken contract is a crash
 * libFuzzer keeps.  The same file links with fuzz/replay.c into a plain
 * program that replays the corpora (make fuzz-regress).
 */

#ifndef CC_FUZZ_H
#define CC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a violated contract: say which, where, then abort() */
#define FUZZ_ASSERT(cond)                                                   \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__,       \
                    __LINE__, #cond);                                       \
            abort();                                                        \
        }                                                                   \
    } while (0)


/* the input taken apart front to back; past its end, zeros */
typedef struct {
    const uint8_t  *p;
    size_t          left;
} fuzz_in_t;


static inline uint64_t
fuzz_take(fuzz_in_t *in, size_t nbytes)
{
    size_t    i;
    uint64_t  v;

    v = 0;

    for (i = 0; i < nbytes; i++) {
        v <<= 8;

        if (in->left > 0) {
            v |= *in->p++;
            in->left--;
        }
    }

    return v;
}

/*
 * 1 when the decimal of v stands in p as a JSON value written the one way:
 * after a ':' (blanks between allowed), with no number character after
 * it.  The reference the JSON targets check an accepted number against:
 * cJSON alone reads 007, 7.0 and 7e0 as 7.
 */
static inline int
fuzz_has_int_value(const uint8_t *p, size_t len, uint64_t v)
{
    char         num[24];
    size_t       n, i, j;

    n = (size_t) snprintf(num, sizeof(num), "%llu", (unsigned long long) v);

    for (i = 0; i + n <= len; i++) {
        if (memcmp(p + i, num, n) != 0) {
            continue;
        }

        if (i + n < len && strchr("0123456789.eE+-", p[i + n]) != NULL
            && p[i + n] != '\0')
        {
            continue;
        }

        for (j = i; j > 0 && strchr(" \t\r\n", p[j - 1]) != NULL
                    && p[j - 1] != '\0'; j--)
        {
            /* void */
        }

        if (j > 0 && p[j - 1] == ':') {
            return 1;
        }
    }

    return 0;
}

#endif /* CC_FUZZ_H */
