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
 *     file (every field, the wallet's too) parses to the same campaign,
 *     field by field.
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
    FUZZ_ASSERT(c->wallet == CC_WALLET_LEDGER || c->wallet == CC_WALLET_HTTP);
    FUZZ_ASSERT(c->currency[3] == '\0');

    for (i = 0; i < 3; i++) {
        FUZZ_ASSERT(c->currency[i] >= 'A' && c->currency[i] <= 'Z');
    }

    len = strnlen(c->wallet_url, sizeof(c->wallet_url));
    FUZZ_ASSERT(len < sizeof(c->wallet_url));
    len = strnlen(c->wallet_secret_file, sizeof(c->wallet_secret_file));
    FUZZ_ASSERT(len < sizeof(c->wallet_secret_file));

    if (c->wallet == CC_WALLET_LEDGER) {
        FUZZ_ASSERT(c->wallet_url[0] == '\0'
                    && c->wallet_secret_file[0] == '\0'
                    && c->wallet_timeout_ms == 5000
                    && c->wallet_ca_file[0] == '\0'
                    && c->wallet_answer_secret_file[0] == '\0'
                    && c->wallet_insecure_loopback == 0);
        return;
    }

    /* plain http only to the loopback, and only when the file says so */
    if (strncmp(c->wallet_url, "http://", 7) == 0) {
        FUZZ_ASSERT(c->wallet_insecure_loopback == 1);
        FUZZ_ASSERT(strncmp(c->wallet_url + 7, "127.0.0.1", 9) == 0
                    || strncmp(c->wallet_url + 7, "[::1]", 5) == 0
                    || strncmp(c->wallet_url + 7, "localhost", 9) == 0);
        FUZZ_ASSERT(strchr("/:", c->wallet_url[7 + (c->wallet_url[7] == '['
                                                     ? 5 : 9)]) != NULL);
    }

    /* no user before the host: the host is what it seems */
    len = strcspn(c->wallet_url + 8, "/");
    FUZZ_ASSERT(memchr(c->wallet_url + 8, '@', len) == NULL);

    /* http: a base without a trailing '/', a secret, no sync credit */
    len = strlen(c->wallet_url);
    FUZZ_ASSERT((strncmp(c->wallet_url, "http://", 7) == 0 && len > 7)
                || (strncmp(c->wallet_url, "https://", 8) == 0 && len > 8));
    FUZZ_ASSERT(c->wallet_url[len - 1] != '/');

    for (i = 0; i < len; i++) {
        FUZZ_ASSERT(c->wallet_url[i] > ' ' && c->wallet_url[i] <= '~');
    }

    FUZZ_ASSERT(c->wallet_secret_file[0] != '\0');
    FUZZ_ASSERT(c->wallet_timeout_ms >= 1 && c->wallet_timeout_ms <= 600000);
    FUZZ_ASSERT(c->credit != CC_CREDIT_SYNC);
}


static int
fuzz_same_campaign(const cc_campaign_t *a, const cc_campaign_t *b)
{
    return strcmp(a->id, b->id) == 0 && a->pool_cents == b->pool_cents
           && a->split == b->split && a->cap_cents == b->cap_cents
           && strcmp(a->seed, b->seed) == 0 && a->credit == b->credit
           && a->cutoff == b->cutoff && a->pending_max == b->pending_max
           && strcmp(a->alert, b->alert) == 0 && a->wallet == b->wallet
           && strcmp(a->wallet_url, b->wallet_url) == 0
           && a->wallet_timeout_ms == b->wallet_timeout_ms
           && strcmp(a->wallet_secret_file, b->wallet_secret_file) == 0
           && strcmp(a->wallet_ca_file, b->wallet_ca_file) == 0
           && strcmp(a->wallet_answer_secret_file,
                     b->wallet_answer_secret_file) == 0
           && a->wallet_insecure_loopback == b->wallet_insecure_loopback
           && strcmp(a->currency, b->currency) == 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             n;
    char           *err, *text, back[8192];
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
                 "pending_max %" PRId64 "\nwallet %s\ncurrency %s\n",
                 c->id, c->pool_cents, cc_split_mode_name(c->split),
                 c->seed, cc_credit_mode_name(c->credit), c->cutoff,
                 c->pending_max,
                 c->wallet == CC_WALLET_HTTP ? "http" : "ledger",
                 c->currency);
    FUZZ_ASSERT(n > 0 && (size_t) n < sizeof(back));

    if (c->split == CC_SPLIT_RANDOM) {
        n += snprintf(back + n, sizeof(back) - n, "cap_cents %" PRIu64 "\n",
                      c->cap_cents);
    }

    if (c->alert[0] != '\0') {
        n += snprintf(back + n, sizeof(back) - n, "alert %s\n", c->alert);
    }

    if (c->wallet == CC_WALLET_HTTP) {
        n += snprintf(back + n, sizeof(back) - n,
                      "wallet_url %s\nwallet_timeout_ms %" PRId64 "\n"
                      "wallet_secret_file %s\n", c->wallet_url,
                      c->wallet_timeout_ms, c->wallet_secret_file);
        n += snprintf(back + n, sizeof(back) - n,
                      "wallet_insecure_loopback %s\n",
                      c->wallet_insecure_loopback ? "yes" : "no");

        if (c->wallet_ca_file[0] != '\0') {
            n += snprintf(back + n, sizeof(back) - n, "wallet_ca_file %s\n",
                          c->wallet_ca_file);
        }

        if (c->wallet_answer_secret_file[0] != '\0') {
            n += snprintf(back + n, sizeof(back) - n,
                          "wallet_answer_secret_file %s\n",
                          c->wallet_answer_secret_file);
        }
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
