/*
 * fuzz_statement: one line of the external wallet's statement
 * (workers/reconcile/cc_stmt_line.h), what cc-reconcile --money
 * --statement compares the books with.
 *
 * The input is the line, in a buffer of exactly its size.  The contract:
 *
 *   - refused: the line struct untouched, a reason given;
 *   - accepted: no NUL in the line, every field within its bounds, and
 *     the line written back "key,uid,amount,currency,applied_at" is the
 *     input byte for byte (less one trailing "\n"): each number was in
 *     its one form, nothing was cut or skipped.
 */

#include <inttypes.h>

#include "fuzz.h"
#include "cc_campaign.h"
#include "cc_event.h"
#include "cc_stmt_line.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              n;
    char             back[256];
    size_t           len, i;
    const char      *why;
    cc_stmt_line_t   l, sentinel;

    memset(&l, 0xa5, sizeof(l));
    memset(&sentinel, 0xa5, sizeof(sentinel));
    why = NULL;

    if (cc_stmt_line_parse((const char *) data, size, &l, &why) != 0) {
        FUZZ_ASSERT(memcmp(&l, &sentinel, sizeof(l)) == 0);
        FUZZ_ASSERT(why != NULL && why[0] != '\0');
        return 0;
    }

    FUZZ_ASSERT(memchr(data, '\0', size) == NULL);

    len = strnlen(l.key, sizeof(l.key));
    FUZZ_ASSERT(len >= 1 && len <= CC_STMT_KEY_MAX);

    for (i = 0; i < len; i++) {
        FUZZ_ASSERT(l.key[i] > ' ' && l.key[i] <= '~' && l.key[i] != ',');
    }

    FUZZ_ASSERT(l.uid >= 1);
    FUZZ_ASSERT(l.amount >= 1 && l.amount <= CC_CAMPAIGN_POOL_MAX);
    FUZZ_ASSERT(strlen(l.currency) == 3);
    FUZZ_ASSERT(l.applied_ms >= 1 && l.applied_ms <= CC_TS_MAX);
    FUZZ_ASSERT(l.seen == 0);

    n = snprintf(back, sizeof(back), "%s,%" PRIu64 ",%" PRIu64 ",%s,%" PRId64,
                 l.key, l.uid, l.amount, l.currency, l.applied_ms);
    FUZZ_ASSERT(n > 0 && (size_t) n < sizeof(back));

    len = size > 0 && data[size - 1] == '\n' ? size - 1 : size;
    FUZZ_ASSERT((size_t) n == len && memcmp(back, data, len) == 0);

    return 0;
}
