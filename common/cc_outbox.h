/*
 * cc_outbox: a gift still in its giver's shard's outbox (cc_keys.h), as
 * cc-redrive reads it back: the gift id is the member of cc:outbox, the
 * value "to:kind:ms" of cc:outbox:g is what gift_out.lua wrote.
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
} cc_outbox_gift_t;

/*
 * The gift id id[0..idlen) and its value v[0..vlen): 0 with *g filled,
 * or -1 with *why set ("bad gift_id", "bad to", "bad kind", "bad ms",
 * "gift to its giver") and *g untouched.
 */
int cc_outbox_parse(const char *id, size_t idlen, const char *v,
    size_t vlen, cc_outbox_gift_t *g, const char **why);

#endif /* CC_OUTBOX_H */
