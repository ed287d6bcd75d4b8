/*
 * cc_ring: the consistent-hash ring that maps a uid to a shard.
 *
 * The nginx module uses it to pick a user's Redis shard, the workers to
 * pick a user's MySQL shard.  Each shard owns CC_RING_VNODES points placed
 * by hashing its name, so adding an (N+1)th shard moves about 1/(N+1) of
 * the users and no user moves between two shards that were both there.
 *
 * The ring does not allocate: the caller gives it room for
 * cc_ring_npoints(nshards) points and owns that memory.
 */

#ifndef CC_RING_H
#define CC_RING_H

#include <stddef.h>
#include <stdint.h>

#define CC_RING_VNODES     160
#define CC_RING_SHARDS_MAX 1024

typedef struct {
    uint64_t  point;
    uint32_t  shard;
} cc_ring_point_t;

typedef struct {
    cc_ring_point_t  *points;
    size_t            npoints;
    size_t            nshards;
} cc_ring_t;

size_t cc_ring_npoints(size_t nshards);

/*
 * names[i] (lens[i] bytes, not NUL-terminated) is shard i's stable name,
 * normally its "host:port" or "host:port/db".  Returns 0, or -1 when
 * nshards is 0 or above CC_RING_SHARDS_MAX.
 */
int cc_ring_build(cc_ring_t *ring, cc_ring_point_t *points,
    const char *const *names, const size_t *lens, size_t nshards);

uint32_t cc_ring_shard(const cc_ring_t *ring, uint64_t uid);

/* the 64-bit hashes the ring uses, exposed for tests and tools */
uint64_t cc_hash_mix64(uint64_t x);
uint64_t cc_hash_bytes(const char *p, size_t len);

#endif /* CC_RING_H */
