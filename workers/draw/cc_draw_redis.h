/*
 * cc_draw_redis: cc-draw's Redis side, the users' fields w loaded into
 * their Redis shards (which shard: the caller's ring).
 *
 * A pipeline per Redis shard.  A user goes either
 *   - fresh: HSETNX (cc_award_set_append_nx), for a first load, where
 *     the field is not there yet; a 0 (it was there) sends that user
 *     through award_set.lua after all, so nothing moves backwards;
 *   - or straight through award_set.lua, CC_AWARD_SET_MAX users a call.
 * Replies are read when a shard has CC_DRAW_REDIS_DEPTH users in flight
 * and at the flush.  A pipeline belongs to one thread; its errors go into
 * its own err, so a loader thread touches nothing another writes.
 */

#ifndef CC_DRAW_REDIS_H
#define CC_DRAW_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cc_addr.h"
#include "cc_award_set.h"

#define CC_DRAW_REDIS_MAX     64
#define CC_DRAW_REDIS_DEPTH   2048    /* users in flight per Redis shard */

typedef struct cc_draw_fifo_s  cc_draw_fifo_t;

typedef struct {
    size_t                nredis;
    char *const          *names;      /* the shards' host:port, for errors */
    redisContext         *ctx[CC_DRAW_REDIS_MAX];
    cc_award_set_call_t  *call;       /* per shard, filling */
    cc_draw_fifo_t       *fifo;       /* per shard, the replies awaited */
    char                  sha[41];
    uint64_t              loaded;     /* fields the calls changed */
    char                  err[512];
} cc_draw_pipe_t;

/*
 * A connection to a Redis shard, with award_set.lua loaded when sha is
 * not NULL.  NULL with err set.
 */
redisContext *cc_draw_redis_connect(const cc_addr_t *a, const char *name,
    char *sha, char *err, size_t errlen);

/* connects to the n shards; -1 with pp->err set (close it still) */
int cc_draw_pipe_open(cc_draw_pipe_t *pp, const cc_addr_t *addrs,
    char *const *names, size_t n);

void cc_draw_pipe_close(cc_draw_pipe_t *pp);

/* field w of a user on Redis shard r; fresh: HSETNX first (see above) */
int cc_draw_pipe_send(cc_draw_pipe_t *pp, size_t r, uint64_t uid,
    int credited, uint64_t amount, const char *award_id, int fresh);

/* everything sent, every reply read: 0, or -1 with pp->err set */
int cc_draw_pipe_flush(cc_draw_pipe_t *pp);

#endif /* CC_DRAW_REDIS_H */
