/*
 * cc_cardcheck_rules: see cc_cardcheck_rules.h.
 */

#include <string.h>

#include "cc_cards.h"
#include "cc_event.h"
#include "cc_ids.h"
#include "cc_cardcheck_rules.h"


void
cc_cardcheck_combine_read(const char *const *cols, cc_cardcheck_combine_t *c)
{
    c->combined = cols[0] != NULL && strcmp(cols[0], "1") == 0;
}


int64_t
cc_cardcheck_consumed(const cc_cardcheck_combine_t *c, unsigned kind,
    unsigned nkinds)
{
    return c->combined && kind < nkinds ? 1 : 0;
}


/* [p, end) a decimal without a sign or a leading zero, 0..max: 0 or -1 */
static int
cc_cardcheck_decimal(const char *p, const char *end, uint64_t max,
    uint64_t *n)
{
    if (p == end || end - p > 20 || (*p == '0' && end - p > 1)) {
        return -1;
    }

    for (*n = 0; p < end; p++) {
        if (*p < '0' || *p > '9' || (uint64_t) (*p - '0') > max
            || *n > (max - (uint64_t) (*p - '0')) / 10)
        {
            return -1;
        }

        *n = *n * 10 + (uint64_t) (*p - '0');
    }

    return 0;
}


int
cc_cardcheck_outbox_value(const char *v, size_t len, uint64_t *to,
    unsigned *kind)
{
    uint64_t     k, ms;
    const char  *end, *c1, *c2;

    end = v + len;
    c1 = memchr(v, ':', len);
    c2 = c1 != NULL ? memchr(c1 + 1, ':', (size_t) (end - c1 - 1)) : NULL;

    if (c2 == NULL
        || cc_parse_uid(v, (size_t) (c1 - v), to) != 0
        || cc_cardcheck_decimal(c1 + 1, c2, CC_KINDS_MAX - 1, &k) != 0
        || cc_cardcheck_decimal(c2 + 1, end, (uint64_t) CC_TS_MAX, &ms) != 0
        || ms == 0)
    {
        return -1;
    }

    *kind = (unsigned) k;

    return 0;
}
