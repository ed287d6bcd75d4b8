/*
 * fuzz_outbox: an outbox entry of a Redis shard (common/cc_outbox.h),
 * which cc-redrive reads back and delivers from: a member of cc:outbox
 * and what goes with it (its score, "ms", for "giver:request_id:to:kind";
 * its value "to:kind:ms" in cc:outbox:g for an old bare gift id).  The
 * input is the member, a newline, the other.
 *
 * The contract: an accepted entry prints back as the input byte for byte
 * (each number in its one form, the request id as given, in the shape it
 * was read in), its gift id is the member's head, its receiver is not its
 * giver, its kind is below CC_KINDS_MAX and its ms in 1..CC_TS_MAX; a
 * refused one leaves the output untouched and says why.
 */

#include <inttypes.h>

#include "fuzz.h"
#include "cc_cards.h"
#include "cc_outbox.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                n;
    char              *text, back[256];
    size_t             idlen;
    const char        *nl, *why;
    cc_outbox_gift_t   g, untouched;

    text = malloc(size ? size : 1);
    FUZZ_ASSERT(text != NULL);
    memcpy(text, data, size);

    nl = memchr(text, '\n', size);
    idlen = nl ? (size_t) (nl - text) : size;

    memset(&g, 0x5a, sizeof(g));
    memcpy(&untouched, &g, sizeof(g));
    why = NULL;

    if (cc_outbox_parse(text, idlen, nl ? nl + 1 : text + size,
                        nl ? size - idlen - 1 : 0, &g, &why)
        != 0)
    {
        FUZZ_ASSERT(why != NULL);
        FUZZ_ASSERT(memcmp(&g, &untouched, sizeof(g)) == 0);
        goto done;
    }

    FUZZ_ASSERT(nl != NULL);
    FUZZ_ASSERT(g.to != g.giver);
    FUZZ_ASSERT(g.kind < CC_KINDS_MAX);
    FUZZ_ASSERT(g.ms >= 1 && g.ms <= CC_TS_MAX);

    if (g.old) {
        n = snprintf(back, sizeof(back), "%" PRIu64 ":%s\n%" PRIu64 ":%"
                     PRIu32 ":%" PRId64, g.giver, g.request_id, g.to, g.kind,
                     g.ms);
        FUZZ_ASSERT(g.idlen == idlen);

    } else {
        n = snprintf(back, sizeof(back), "%" PRIu64 ":%s:%" PRIu64 ":%"
                     PRIu32 "\n%" PRId64, g.giver, g.request_id, g.to, g.kind,
                     g.ms);
        FUZZ_ASSERT(g.idlen < idlen && text[g.idlen] == ':');
    }

    FUZZ_ASSERT(g.idlen == (size_t) snprintf(NULL, 0, "%" PRIu64 ":%s",
                                             g.giver, g.request_id));
    FUZZ_ASSERT(n > 0 && (size_t) n == size && memcmp(back, text, size) == 0);

done:

    free(text);

    return 0;
}
