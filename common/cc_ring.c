/*
 * cc_ring: the consistent-hash ring that maps a uid to a shard.
 */

#include <stdlib.h>

#include "cc_ring.h"


/*
 * splitmix64's finaliser: a bijection on 64 bits with full avalanche, so
 * sequential uids land all over the ring.
 */
uint64_t
cc_hash_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;

    return x;
}


/* FNV-1a over the bytes, then the finaliser to spread short names */
uint64_t
cc_hash_bytes(const char *p, size_t len)
{
    uint64_t  h;
    size_t    i;

    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) p[i];
        h *= 0x100000001b3ULL;
    }

    return cc_hash_mix64(h);
}


size_t
cc_ring_npoints(size_t nshards)
{
    return nshards * CC_RING_VNODES;
}


static int
cc_ring_point_cmp(const void *a, const void *b)
{
    const cc_ring_point_t  *pa = a, *pb = b;

    if (pa->point != pb->point) {
        return pa->point < pb->point ? -1 : 1;
    }

    /* equal points: order by shard so every process builds the same ring */
    return pa->shard < pb->shard ? -1 : (pa->shard > pb->shard);
}


int
cc_ring_build(cc_ring_t *ring, cc_ring_point_t *points,
    const char *const *names, const size_t *lens, size_t nshards)
{
    size_t    s, v, n;
    uint64_t  base;

    if (nshards == 0 || nshards > CC_RING_SHARDS_MAX) {
        return -1;
    }

    n = 0;

    for (s = 0; s < nshards; s++) {
        base = cc_hash_bytes(names[s], lens[s]);

        for (v = 0; v < CC_RING_VNODES; v++) {
            points[n].point = cc_hash_mix64(base
                                            ^ ((v + 1) * 0x9e3779b97f4a7c15ULL));
            points[n].shard = (uint32_t) s;
            n++;
        }
    }

    qsort(points, n, sizeof(cc_ring_point_t), cc_ring_point_cmp);

    ring->points = points;
    ring->npoints = n;
    ring->nshards = nshards;

    return 0;
}


uint32_t
cc_ring_shard(const cc_ring_t *ring, uint64_t uid)
{
    uint64_t  key;
    size_t    lo, hi, mid;

    if (ring->nshards == 1) {
        return 0;
    }

    key = cc_hash_mix64(uid);

    /* the first point at or after key, wrapping past the last one */
    lo = 0;
    hi = ring->npoints;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (ring->points[mid].point < key) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    if (lo == ring->npoints) {
        lo = 0;
    }

    return ring->points[lo].shard;
}
