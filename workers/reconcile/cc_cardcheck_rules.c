/*
 * cc_cardcheck_rules: see cc_cardcheck_rules.h.
 */

#include <stdlib.h>
#include <string.h>

#include "cc_cards.h"
#include "cc_event.h"
#include "cc_ids.h"
#include "cc_cardcheck_rules.h"


void
cc_cardcheck_combine_read(const char *const *cols, cc_cardcheck_combine_t *c)
{
    memset(c, 0, sizeof(*c));
    c->combined = cols[0] != NULL && strcmp(cols[0], "1") == 0;
    c->wild = c->combined && cols[1] != NULL;

    if (c->wild) {
        c->wild_kind = (unsigned) strtoul(cols[1], NULL, 10);
        c->wild_used = cols[2] != NULL
                       ? (unsigned) strtoul(cols[2], NULL, 10) : 0;
        c->replaced = cols[3] != NULL
                      ? (uint32_t) strtoul(cols[3], NULL, 10) : 0;
    }
}


int64_t
cc_cardcheck_consumed(const cc_cardcheck_combine_t *c, unsigned kind,
    unsigned nkinds)
{
    if (!c->combined || kind >= nkinds) {
        return 0;
    }

    if (!c->wild) {
        return 1;
    }

    if (kind == c->wild_kind) {
        return c->wild_used;
    }

    return kind < 32 && (c->replaced >> kind) & 1 ? 0 : 1;
}
