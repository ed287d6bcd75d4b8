/*
 * fuzz_ids: the identifiers a request carries (common/cc_ids.h): the uid,
 * the request, grant and combine ids, and the grant's count.
 *
 * Each parser is held against a reference written another way (a 128-bit
 * accumulator, strspn over the alphabet): they must accept the same texts
 * and read the same values.  An accepted uid printed back is the input,
 * byte for byte, so one user has one spelling.
 */

#include <inttypes.h>

#include "fuzz.h"
#include "cc_ids.h"


#define FUZZ_ID_ALPHABET \
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


/* the canonical positive decimal below 2^64, or -1 */
static int
fuzz_ref_decimal(const uint8_t *s, size_t len, uint64_t *out)
{
    size_t             i;
    unsigned __int128  v;

    if (len == 0 || len > CC_UID_MAX_DIGITS || s[0] == '0') {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        v = v * 10 + (s[i] - '0');
    }

    if (v > UINT64_MAX) {
        return -1;
    }

    *out = (uint64_t) v;
    return 0;
}


static int
fuzz_ref_request_id(const uint8_t *s, size_t len)
{
    char  buf[CC_REQUEST_ID_MAX + 1];

    if (len == 0 || len > CC_REQUEST_ID_MAX || memchr(s, '\0', len) != NULL)
    {
        return -1;
    }

    memcpy(buf, s, len);
    buf[len] = '\0';

    return strspn(buf, FUZZ_ID_ALPHABET) == len ? 0 : -1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              ok, ref_ok;
    char             back[32];
    size_t           i;
    uint64_t         v, ref, n;
    const char      *s;
    static const uint64_t  maxes[] = {
        1, 9, 100000, 1000000000000000ULL, UINT64_MAX - 1, UINT64_MAX
    };

    s = (const char *) data;

    /* the uid */
    v = 0;
    ok = cc_parse_uid(s, size, &v) == 0;
    ref_ok = fuzz_ref_decimal(data, size, &ref) == 0;

    FUZZ_ASSERT(ok == ref_ok);

    if (ok) {
        FUZZ_ASSERT(v == ref && v > 0);
        snprintf(back, sizeof(back), "%" PRIu64, v);
        FUZZ_ASSERT(strlen(back) == size && memcmp(back, s, size) == 0);
    }

    /* the request id */
    FUZZ_ASSERT((cc_check_request_id(s, size) == 0)
                == (fuzz_ref_request_id(data, size) == 0));

    /* the count: a uid at most max; *n written only on success */
    for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
        n = 0x5a5a5a5a5a5a5a5aULL;

        if (cc_parse_count(s, size, maxes[i], &n) == 0) {
            FUZZ_ASSERT(ref_ok && n == ref && n >= 1 && n <= maxes[i]);

        } else {
            FUZZ_ASSERT(!ref_ok || ref > maxes[i]);
            FUZZ_ASSERT(n == 0x5a5a5a5a5a5a5a5aULL);
        }
    }

    return 0;
}
