/*
 * fuzz_campaign: the campaign file (common/cc_campaign.h), which cc-draw,
 * cc-payout and cc-reconcile all read.
 *
 * The first byte is the size of the error buffer (0..95, allocated
 * exactly, so a write past it is ASan's), the rest the file's text.  The
 * struct is allocated exactly too.  The contract:
 *
 *   - refused: the struct untouched, the error NUL-terminated within its
 *     buffer (when there is one);
 *   - accepted: every field within its documented bounds, the strings
 *     terminated in their arrays, and the campaign written back as a
 *     file parses to the same campaign.
 */

#include <inttypes.h>

#include "fuzz.h"
#include "cc_campaign.h"
#include "cc_ids.h"


static void
fuzz_check_fields(const cc_campaign_t *c)
{
    size_t  i, len;

    len = strnlen(c->id, sizeof(c->id));
    FUZZ_ASSERT(len < sizeof(c->id) && cc_check_request_id(c->id, len) == 0);

    len = strnlen(c->seed, sizeof(c->seed));
    FUZZ_ASSERT(len >= 1 && len < sizeof(c->seed));

    for (i = 0; i < len; i++) {
        FUZZ_ASSERT(c->seed[i] > ' ' && c->seed[i] <= '~');
    }

    FUZZ_ASSERT(strnlen(c->alert, sizeof(c->alert)) < sizeof(c->alert));

    FUZZ_ASSERT(c->pool_cents >= 1 && c->pool_cents <= CC_CAMPAIGN_POOL_MAX);
    FUZZ_ASSERT(c->split == CC_SPLIT_EQUAL || c->split == CC_SPLIT_RANDOM);
    FUZZ_ASSERT(c->split == CC_SPLIT_RANDOM
                ? c->cap_cents >= 1 && c->cap_cents <= CC_CAMPAIGN_POOL_MAX
                : c->cap_cents == 0);
    FUZZ_ASSERT(c->credit == CC_CREDIT_SYNC || c->credit == CC_CREDIT_ASYNC
                || c->credit == CC_CREDIT_ASYNC_CLIENT_SYNC);
    FUZZ_ASSERT(c->cutoff >= 1 && c->cutoff <= 253402300799LL);
    FUZZ_ASSERT(c->pending_max >= 1 && c->pending_max <= 31536000);
    FUZZ_ASSERT(c->wallet == CC_WALLET_LEDGER);
}


static int
fuzz_same_campaign(const cc_campaign_t *a, const cc_campaign_t *b)
{
    return strcmp(a->id, b->id) == 0 && a->pool_cents == b->pool_cents
           && a->split == b->split && a->cap_cents == b->cap_cents
           && strcmp(a->seed, b->seed) == 0 && a->credit == b->credit
           && a->cutoff == b->cutoff && a->pending_max == b->pending_max
           && strcmp(a->alert, b->alert) == 0 && a->wallet == b->wallet;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             n;
    char           *err, *text, back[2048];
    size_t          errlen;
    cc_campaign_t  *c, sentinel, again;

    if (size == 0) {
        return 0;
    }

    errlen = data[0] % 96;
    data++;
    size--;

    err = malloc(errlen ? errlen : 1);
    c = malloc(sizeof(cc_campaign_t));
    text = malloc(size ? size : 1);       /* the text alone, exactly */
    FUZZ_ASSERT(err != NULL && c != NULL && text != NULL);

    memcpy(text, data, size);
    memset(c, 0xa5, sizeof(*c));
    memset(&sentinel, 0xa5, sizeof(sentinel));
    memset(err, 'x', errlen ? errlen : 1);

    if (cc_campaign_parse(text, size, c, err, errlen) != 0) {
        FUZZ_ASSERT(memcmp(c, &sentinel, sizeof(*c)) == 0);
        FUZZ_ASSERT(errlen == 0 || memchr(err, '\0', errlen) != NULL);
        goto done;
    }

    fuzz_check_fields(c);

    /* written back the way an operator would, then read again */
    n = snprintf(back, sizeof(back),
                 "campaign %s\npool_cents %" PRIu64 "\nsplit %s\n"
                 "seed %s\ncredit %s\ncutoff %" PRId64 "\n"
                 "pending_max %" PRId64 "\nwallet ledger\n",
                 c->id, c->pool_cents, cc_split_mode_name(c->split),
                 c->seed, cc_credit_mode_name(c->credit), c->cutoff,
                 c->pending_max);
    FUZZ_ASSERT(n > 0 && (size_t) n < sizeof(back));

    if (c->split == CC_SPLIT_RANDOM) {
        n += snprintf(back + n, sizeof(back) - n, "cap_cents %" PRIu64 "\n",
                      c->cap_cents);
    }

    if (c->alert[0] != '\0') {
        n += snprintf(back + n, sizeof(back) - n, "alert %s\n", c->alert);
    }

    FUZZ_ASSERT((size_t) n < sizeof(back));

    memset(&again, 0, sizeof(again));
    FUZZ_ASSERT(cc_campaign_parse(back, (size_t) n, &again, NULL, 0) == 0);
    FUZZ_ASSERT(fuzz_same_campaign(c, &again));

done:

    free(text);
    free(c);
    free(err);

    return 0;
}
