/*
 * fuzz_wallet: the external wallet's answer to a credit
 * (workers/money/cc_wallet_answer.h), the one place cc-payout decides from the
 * wallet's words that a credit was applied.
 *
 * The input is the answer.  The credit it is read against is the one it
 * seems to echo (its award_id string, and its amount_cents when that is a
 * whole number of cents), so the fuzzer reaches the applied path.  The
 * contract:
 *
 *   - applied: our amount stands in the answer as an integer in its one
 *     form (not 100.0, 1e2, 0100, 100.00000000000001), it is the amount
 *     echoed, and the same answer read against another amount is a
 *     mismatch echoing ours;
 *   - the canonical answer of any credit, {"award_id":ID,"amount_cents":N},
 *     is applied.
 */

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "cc_campaign.h"
#include "cc_wallet_answer.h"


/*
 * The id escaped by cJSON, the amount printed as an integer (as
 * cc-wallet-sim writes it: cJSON itself prints 10^15 as 1e+15, which is
 * rightly not integer cents; fuzz/regressions/wallet/).
 */
static void
fuzz_canonical_answer(const char *id, uint64_t amount)
{
    int               n;
    char              text[1024], *qid;
    cJSON            *s;
    uint64_t          echoed;
    const char       *why;

    s = cJSON_CreateString(id);
    FUZZ_ASSERT(s != NULL);
    qid = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    FUZZ_ASSERT(qid != NULL);

    /* each of the id's 127 bytes may take 6 as an escape */
    n = snprintf(text, sizeof(text), "{\"award_id\":%s,\"amount_cents\":%llu}",
                 qid, (unsigned long long) amount);
    free(qid);
    FUZZ_ASSERT(n > 0 && (size_t) n < sizeof(text));

    why = NULL;
    FUZZ_ASSERT(cc_wallet_answer_read(text, strlen(text), id, amount, &echoed,
                                    &why)
                == CC_WALLET_ANSWER_APPLIED && echoed == amount);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char              id[128];
    cJSON            *a;
    uint64_t          amount, echoed;
    const char       *why;
    const cJSON      *v;
    cc_wallet_answer_e  rc;

    strcpy(id, "c:7");
    amount = 100;

    a = cJSON_ParseWithLength((const char *) data, size);
    v = cJSON_GetObjectItemCaseSensitive(a, "award_id");

    if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof(id)) {
        strcpy(id, v->valuestring);
    }

    v = cJSON_GetObjectItemCaseSensitive(a, "amount_cents");

    if (cJSON_IsNumber(v) && v->valuedouble >= 0
        && v->valuedouble <= (double) CC_CAMPAIGN_POOL_MAX
        && v->valuedouble == (double) (uint64_t) v->valuedouble)
    {
        amount = (uint64_t) v->valuedouble;
    }

    cJSON_Delete(a);

    why = NULL;
    echoed = UINT64_MAX;
    rc = cc_wallet_answer_read((const char *) data, size, id, amount, &echoed,
                             &why);
    FUZZ_ASSERT(why != NULL && why[0] != '\0');

    if (rc == CC_WALLET_ANSWER_APPLIED) {
        FUZZ_ASSERT(memchr(data, '\0', size) == NULL);
        FUZZ_ASSERT(fuzz_has_int_value(data, size, amount));
        FUZZ_ASSERT(echoed == amount);
        FUZZ_ASSERT(cc_wallet_answer_read((const char *) data, size, id,
                                        amount + 1, &echoed, &why)
                    == CC_WALLET_ANSWER_MISMATCH && echoed == amount);

    } else {
        FUZZ_ASSERT(rc == CC_WALLET_ANSWER_MISMATCH
                    || rc == CC_WALLET_ANSWER_UNREADABLE);
    }

    fuzz_canonical_answer(id, amount);

    return 0;
}
