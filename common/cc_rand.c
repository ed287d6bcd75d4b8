/*
 * cc_rand: the draws' random numbers, a buffer of OpenSSL's CSPRNG (see
 * cc_rand.h).
 */

#include <string.h>

#include <openssl/rand.h>

#include "cc_rand.h"


void
cc_rand_init(cc_rand_t *rnd)
{
    /* no byte of a parent's buffer is drawn after a fork */
    memset(rnd->buf, 0, sizeof(rnd->buf));
    rnd->pos = CC_RAND_BLOCK;
}


int
cc_rand_u64(cc_rand_t *rnd, uint64_t *v)
{
    if (rnd->pos > CC_RAND_BLOCK - sizeof(uint64_t)) {
        if (RAND_bytes(rnd->buf, CC_RAND_BLOCK) != 1) {
            return -1;
        }

        rnd->pos = 0;
    }

    memcpy(v, rnd->buf + rnd->pos, sizeof(uint64_t));

    /* a byte is drawn once: wiped as it goes */
    memset(rnd->buf + rnd->pos, 0, sizeof(uint64_t));
    rnd->pos += sizeof(uint64_t);

    return 0;
}
