/*
 * cc_award: the award of the split as the field w of the user hash holds
 * it (cc_keys.h), written by cc-draw and cc-payout (workers/lib/lua/
 * award_set.lua) and read by the module's award and claim:
 *
 *   p:<amount_cents>:<award_id>    pending
 *   c:<amount_cents>:<award_id>    credited
 *
 * The amount is 1..10^15 in decimal without a leading zero, the award id
 * 1..64 of [A-Za-z0-9_:-] (so an answer's JSON needs no escaping).
 * Plain C, no allocation: the module wraps it with its own logging.
 */

#ifndef CC_AWARD_H
#define CC_AWARD_H

#include <stddef.h>
#include <stdint.h>

#define CC_AWARD_AMOUNT_MAX  1000000000000000ULL      /* 10^15 cents */
#define CC_AWARD_ID_MAX      64

typedef struct {
    int          credited;          /* 'c'; else 'p', pending */
    uint64_t     amount;            /* cents, 1..CC_AWARD_AMOUNT_MAX */
    const char  *id;                /* into the text parsed, not copied */
    size_t       id_len;            /* 1..CC_AWARD_ID_MAX */
} cc_award_t;

/* s[0..len) as above: 0 with *aw filled, or -1 with *aw untouched */
int cc_award_parse(const char *s, size_t len, cc_award_t *aw);

#endif /* CC_AWARD_H */
