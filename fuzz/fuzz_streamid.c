/*
 * fuzz_streamid: a Redis stream entry id (common/cc_log.h), which the log
 * pass (workers/lib/cc_drain.c) turns into the XTRIM bound past the entries
 * it wrote.
 *
 * The contract: an accepted id prints back as the input byte for byte
 * (one form: no sign, space or leading zero, which sscanf("%llu") took),
 * and the next id is exactly the successor in (ms, seq) order, so a trim
 * never keeps the entry nor drops the next one; refused ids leave the
 * outputs untouched, and so does the very last id.
 */

#include <inttypes.h>

#include "fuzz.h"
#include "cc_log.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int        n;
    char       back[48], next[48], want[48], *text;
    uint64_t   ms, seq;

    text = malloc(size ? size : 1);
    FUZZ_ASSERT(text != NULL);
    memcpy(text, data, size);

    ms = 0x5a5a;
    seq = 0x5a5a;
    memset(next, 'x', sizeof(next));

    if (cc_log_stream_id(text, size, &ms, &seq) != 0) {
        FUZZ_ASSERT(ms == 0x5a5a && seq == 0x5a5a);
        FUZZ_ASSERT(cc_log_stream_id_next(text, size, next, sizeof(next))
                    == -1);
        goto done;
    }

    n = snprintf(back, sizeof(back), "%" PRIu64 "-%" PRIu64, ms, seq);
    FUZZ_ASSERT((size_t) n == size && memcmp(back, text, size) == 0);

    if (ms == UINT64_MAX && seq == UINT64_MAX) {
        FUZZ_ASSERT(cc_log_stream_id_next(text, size, next, sizeof(next))
                    == -1);
        goto done;
    }

    if (seq == UINT64_MAX) {
        snprintf(want, sizeof(want), "%" PRIu64 "-0", ms + 1);

    } else {
        snprintf(want, sizeof(want), "%" PRIu64 "-%" PRIu64, ms, seq + 1);
    }

    FUZZ_ASSERT(cc_log_stream_id_next(text, size, next, sizeof(next)) == 0);
    FUZZ_ASSERT(strcmp(next, want) == 0);

    /* a buffer one byte short of the answer: refused, not cut */
    FUZZ_ASSERT(cc_log_stream_id_next(text, size, next, strlen(want)) == -1);

done:

    free(text);

    return 0;
}
