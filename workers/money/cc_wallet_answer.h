/*
 * cc_wallet_answer: what the external wallet's answer to a credit says
 * (see cc_wallet.h for the protocol): a 200 or 201 must echo the award
 * id and the amount in cents.  Plain C over cJSON, no libcurl: the fuzz
 * build links it alone.
 */

#ifndef CC_WALLET_ANSWER_H
#define CC_WALLET_ANSWER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CC_WALLET_ANSWER_APPLIED = 0,  /* our award id and our amount */
    CC_WALLET_ANSWER_MISMATCH,     /* our award id, another amount, or an
                                      amount that is not integer cents */
    CC_WALLET_ANSWER_UNREADABLE    /* no echo of our credit: ask again */
} cc_wallet_answer_e;

/*
 * Reads the answer's len bytes (not NUL-terminated; the wallet may send
 * any bytes).  Unreadable: not one JSON object (blanks after it allowed),
 * a NUL in it (raw or \u0000: a string would be cut short), a control
 * byte that is not a JSON blank (cJSON reads one as a blank), no string
 * award_id equal to ours, no number amount_cents.  Mismatch: the echo is
 * there, but amount_cents is not our amount written as an integer (100.0,
 * 1e2, 0100 and 100.00000000000001 are not 100: cJSON alone reads them
 * all as the double 100), or the answer has another number that is not
 * an integer.  *why says which, in a few words; *echoed is set to the
 * amount echoed when it is integer cents in 0..10^15 (applied, or
 * another amount), else left alone.
 */
cc_wallet_answer_e cc_wallet_answer_read(const char *ans, size_t len,
    const char *award_id, uint64_t amount_cents, uint64_t *echoed,
    const char **why);

#endif /* CC_WALLET_ANSWER_H */
