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
