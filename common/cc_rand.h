/*
 * cc_rand: the draws' random numbers (the module's card draws and the
 * stock's second draw), from OpenSSL's CSPRNG.
 *
 * RAND_bytes is a DRBG seeded from the kernel (getrandom), reseeded by
 * itself, and fork-safe for its own state; an observer of any number of
 * its outputs learns nothing of the next.  random(), what ngx_random() is,
 * gives away every next output from 31 of them (t/unit/test_rand.c).
 *
 * The bytes are taken CC_RAND_BLOCK at a time into a buffer the caller
 * owns, so that a draw is a copy out of it (a few ns) and one call to
 * RAND_bytes every CC_RAND_BLOCK / 8 draws.  The buffer is process state:
 * a process that forks after drawing must cc_rand_init() in the child, or
 * parent and children draw the same buffered bytes (an nginx worker does,
 * ngx_http_cc_random()).  Plain C, no allocation.
 */

#ifndef CC_RAND_H
#define CC_RAND_H

#include <stddef.h>
#include <stdint.h>

#define CC_RAND_BLOCK  4096

typedef struct {
    unsigned char  buf[CC_RAND_BLOCK];
    size_t         pos;                 /* CC_RAND_BLOCK: used up */
} cc_rand_t;

/* an empty buffer: the next draw takes fresh bytes */
void cc_rand_init(cc_rand_t *rnd);

/*
 * 64 uniform random bits in *v: 0, or -1 when OpenSSL has no randomness to
 * give (RAND_bytes failed: it logs nothing, the caller does); *v is then
 * untouched.
 */
int cc_rand_u64(cc_rand_t *rnd, uint64_t *v);

#endif /* CC_RAND_H */
