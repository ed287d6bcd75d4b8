/*
 * cc_outbox: a gift still in its giver's shard's outbox (cc_keys.h), as
 * cc-redrive and the cards check read it back.  gift_out.lua writes the
 * member "giver:request_id:to:kind" of cc:outbox, by the ms of the
 * giver's half; older versions wrote the bare gift id "giver:request_id"
 * and its value "to:kind:ms" in the hash cc:outbox:g, and a campaign
 * upgraded while gifts were in flight may hold both shapes.  A request id
 * has no ':' (cc_ids.h): a member with one ':' is an old one.
 *
 * Plain C, no allocation.  The numbers are decimals in their one form (no
 * sign, no leading zero, as Lua writes them).
 */

#ifndef CC_OUTBOX_H
#define CC_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "cc_event.h"

typedef struct {
    uint64_t  giver;
    uint64_t  to;
    uint32_t  kind;                         /* < CC_KINDS_MAX */
    int64_t   ms;                           /* the giver's half, 1..CC_TS_MAX */
    char      request_id[CC_REQUEST_ID_MAX + 1];
    size_t    idlen;                        /* the member's gift id head */
    int       old;                          /* a bare gift id member */
} cc_outbox_gift_t;

/*
 * The member m[0..mlen) of cc:outbox and what goes with it, v[0..vlen):
 * the member's score (the ms) for a member "giver:request_id:to:kind",
 * its value "to:kind:ms" in cc:outbox:g for an old bare gift id (g->old
 * set).  0 with *g filled, or -1 with *why set ("bad gift_id", "bad to",
 * "bad kind", "bad ms", "gift to its giver") and *g untouched.
 */
int cc_outbox_parse(const char *m, size_t mlen, const char *v, size_t vlen,
    cc_outbox_gift_t *g, const char **why);

/* 1 when the member m[0..mlen) is an old bare gift id, else 0 */
int cc_outbox_is_old(const char *m, size_t mlen);

#endif /* CC_OUTBOX_H */
