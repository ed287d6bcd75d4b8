/*
 * cc_wallet_answer: the echo in a wallet's answer (see the header).
 *
 * cJSON finds the fields; it reads numbers as doubles and keeps no text
 * of them, so the text of amount_cents is checked first (cc_json): an
 * integer in its one form.  The wallet's other fields are its own
 * business (a balance of 12.50 is no mismatch).  Then a double holds the echoed amount
 * exactly: amounts are at most 10^15 cents, below 2^53.
 */

#include <string.h>

#include <cjson/cJSON.h>

#include "cc_campaign.h"
#include "cc_json.h"
#include "cc_wallet_answer.h"


cc_wallet_answer_e
cc_wallet_answer_read(const char *ans, size_t len, const char *award_id,
    uint64_t amount_cents, uint64_t *echoed, const char **why)
{
    cJSON             *a;
    const char        *end;
    const cJSON       *id, *am;
    cc_wallet_answer_e   rc;

    if (cc_json_has_nul(ans, len)) {
        *why = "a NUL in the answer";
        return CC_WALLET_ANSWER_UNREADABLE;
    }

    if (cc_json_has_ctl(ans, len)) {
        *why = "a control byte in the answer";
        return CC_WALLET_ANSWER_UNREADABLE;
    }

    a = cJSON_ParseWithLengthOpts(ans, len, &end, 0);

    if (a != NULL) {
        while (end < ans + len && (*end == ' ' || *end == '\t'
                                   || *end == '\r' || *end == '\n'))
        {
            end++;
        }
    }

    if (a == NULL || !cJSON_IsObject(a) || end != ans + len) {
        *why = "not a JSON object";
        rc = CC_WALLET_ANSWER_UNREADABLE;
        goto done;
    }

    id = cJSON_GetObjectItemCaseSensitive(a, "award_id");
    am = cJSON_GetObjectItemCaseSensitive(a, "amount_cents");

    if (!cJSON_IsString(id) || strcmp(id->valuestring, award_id) != 0
        || !cJSON_IsNumber(am))
    {
        *why = "the credit is not echoed";
        rc = CC_WALLET_ANSWER_UNREADABLE;
        goto done;
    }

    if (!cc_json_member_int_canonical(ans, len, "amount_cents")) {
        *why = "an amount that is not integer cents";
        rc = CC_WALLET_ANSWER_MISMATCH;
        goto done;
    }

    if (am->valuedouble < 0
        || am->valuedouble > (double) CC_CAMPAIGN_POOL_MAX)
    {
        *why = "another amount";
        rc = CC_WALLET_ANSWER_MISMATCH;
        goto done;
    }

    *echoed = (uint64_t) am->valuedouble;

    if (*echoed != amount_cents) {
        *why = "another amount";
        rc = CC_WALLET_ANSWER_MISMATCH;
        goto done;
    }

    *why = "applied";
    rc = CC_WALLET_ANSWER_APPLIED;

done:

    cJSON_Delete(a);

    return rc;
}
