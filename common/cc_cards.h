/*
 * cc_cards: the card kinds of a campaign and their draw weights.
 *
 * The module draws a kind by the weights (cc_cards_pick); the Redis flip
 * script keeps it unless the kind's stock on the shard is spent, and then
 * draws again among the kinds still in stock, atomically with the chance
 * decrement.  This file validates the configuration, draws, and renders
 * the weight table the script is built with.
 */

#ifndef CC_CARDS_H
#define CC_CARDS_H

#include <stddef.h>
#include <stdint.h>

#define CC_KINDS_MIN        2
#define CC_KINDS_MAX        16
#define CC_WEIGHT_MAX       1000000

typedef struct {
    unsigned  nkinds;
    uint32_t  weight[CC_KINDS_MAX];
    uint64_t  total;
} cc_cards_t;

/* five kinds, the last one rare (1%), as in the usual 集五福 layout */
void cc_cards_default(cc_cards_t *cards);

/* 0, or -1 with cards untouched if n or any weight is out of bounds */
int cc_cards_set(cc_cards_t *cards, const uint32_t *weights, unsigned n);

/*
 * The kind r falls on: kind i for r mod total in [w0 + .. + w(i-1),
 * w0 + .. + wi).  With r uniform in [0, 2^64) (the module's, from
 * cc_rand) the bias is below total / 2^64; in [0, 2^31), total / 2^31
 * (5e-6 for the default weights).
 */
unsigned cc_cards_pick(const cc_cards_t *cards, uint64_t r);

/*
 * Writes the weights as a Lua table constructor, e.g.
 * "{3000,3000,2500,1400,100}", NUL-terminated.  Returns its length, or -1
 * if it does not fit in len bytes.
 */
int cc_cards_lua_weights(const cc_cards_t *cards, char *buf, size_t len);

#endif /* CC_CARDS_H */
