/*
 * cc_cards: the card kinds of a campaign and their draw weights.
 */

#include <stdio.h>

#include "cc_cards.h"


void
cc_cards_default(cc_cards_t *cards)
{
    static const uint32_t  w[] = { 3000, 3000, 2500, 1400, 100 };

    (void) cc_cards_set(cards, w, sizeof(w) / sizeof(w[0]));
}


int
cc_cards_set(cc_cards_t *cards, const uint32_t *weights, unsigned n)
{
    unsigned  i;
    uint64_t  total;

    if (n < CC_KINDS_MIN || n > CC_KINDS_MAX) {
        return -1;
    }

    total = 0;

    for (i = 0; i < n; i++) {
        if (weights[i] == 0 || weights[i] > CC_WEIGHT_MAX) {
            return -1;
        }

        total += weights[i];
    }

    for (i = 0; i < n; i++) {
        cards->weight[i] = weights[i];
    }

    cards->nkinds = n;
    cards->total = total;

    return 0;
}


unsigned
cc_cards_pick(const cc_cards_t *cards, uint64_t r)
{
    unsigned  i;

    r %= cards->total;

    for (i = 0; i + 1 < cards->nkinds; i++) {
        if (r < cards->weight[i]) {
            break;
        }

        r -= cards->weight[i];
    }

    return i;
}


int
cc_cards_lua_weights(const cc_cards_t *cards, char *buf, size_t len)
{
    unsigned  i;
    size_t    off;
    int       n;

    off = 0;

    for (i = 0; i < cards->nkinds; i++) {
        n = snprintf(buf + off, len - off, "%c%u", i ? ',' : '{',
                     (unsigned) cards->weight[i]);

        if (n < 0 || (size_t) n >= len - off) {
            return -1;
        }

        off += n;
    }

    if (off + 2 > len) {
        return -1;
    }

    buf[off++] = '}';
    buf[off] = '\0';

    return (int) off;
}
