/*
 * cc_keys: the one owner of the Redis key names and of the uid's place in
 * them.  The module, the workers and the Lua scripts use these names; a
 * script receives every key it touches in KEYS, so Redis Cluster hash tags
 * ({uid}) keep a user's keys on one slot.
 *
 *   cc:{uid}:u     hash    the user: chances, cards, answers, combine, award;
 *                          the giver's answers of its gifts, "@request_id"
 *                          -> "to:kind:s:ms:n" (the giver's half's
 *                          idempotency key, no TTL; sent while the gift is
 *                          in cc:outbox, delivered once out of it; n the
 *                          gift's number in its day), and gd ->
 *                          "day:count", the gifts given that day (UTC);
 *                          the answers are the gifts sent GET /cc/gifts
 *                          lists (gift_out.lua, gifts.lua)
 *   cc:{uid}:g     set     grant ids applied (the grant's idempotency key)
 *   cc:draws       stream  a shard's draw log (see cc_log.h)
 *   cc:stock:K     string  rare cards of kind K this shard issued
 *   cc:claims      list    a shard's claimed, still pending awards (uids),
 *                          served first by cc-payout
 *
 * The gifts (送福) and asks (要福) of issue 19 (ngx_module/lua/gift_*.lua,
 * ask_*.lua; the lists keep the newest 50, newest first; gr is trimmed
 * back to 50 once past 100, and read 50 at most):
 *
 *   cc:outbox      zset    a shard's gifts whose receiver's half is not
 *                          known applied: "giver:request_id:to:kind" (the
 *                          gift id, then what its delivery needs) by the
 *                          ms of the giver's half; cc-redrive delivers
 *                          those past its grace (cc_outbox.h)
 *   cc:outbox:g    hash    older versions' outbox gifts: a bare gift id
 *                          member of cc:outbox -> "to:kind:ms"; no longer
 *                          written, emptied by their deliveries
 *   cc:{uid}:gi    set     gift ids applied to the receiver (the receiver's
 *                          half's idempotency key; no TTL, kept past the
 *                          campaign's end)
 *   cc:{uid}:ga    hash    older versions' giver's answers, ":request_id"
 *                          -> "to:kind:s|d:ms", and d -> "day:count":
 *                          moved into cc:{uid}:u ("@request_id", gd) and
 *                          deleted by the giver's next gift (gift_out.lua)
 *   cc:{uid}:gs    list    older versions' gifts sent,
 *                          "request_id:to:kind:ms": read by GET /cc/gifts
 *                          until the giver's next gift, no longer written
 *   cc:{uid}:gr    list    gifts received, "giver:request_id:kind:ms"
 *   cc:{uid}:ao    hash    asks made, ask id -> "from:kind:expires_ms"
 *                          (counted open until they expire)
 *   cc:{uid}:ak    hash    asks addressed to the user, ask id ->
 *                          "asker:kind:expires_ms:o|a" (o open, a answered)
 *   cc:{uid}:al    list    those asks' ids, newest first
 *
 * Plain C, no allocation.  The formatters write at most CC_KEY_MAX bytes
 * including the NUL and return the length without it.
 */

#ifndef CC_KEYS_H
#define CC_KEYS_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cc_ids.h"

#define CC_KEY_MAX          48

#define CC_KEY_LOG          "cc:draws"
#define CC_KEY_CLAIMS       "cc:claims"
#define CC_KEY_STOCK_PREFIX "cc:stock:"
#define CC_KEY_OUTBOX       "cc:outbox"
#define CC_KEY_OUTBOX_GIFTS "cc:outbox:g"

/* pub/sub: cc-payout publishes a claimed uid once its credit is told */
#define CC_CHAN_CREDITED    "cc:credited"

/* a SCAN MATCH pattern of every user hash (cc_key_user_uid picks the uid) */
#define CC_KEY_USER_MATCH   "cc:{*}:u"

/* the fields of the user hash cc:{uid}:u that more than one part reads */
#define CC_FIELD_CHANCES    "c"
#define CC_FIELD_SEQ        "s"
#define CC_FIELD_COMBINE    "e"
#define CC_FIELD_AWARD      "w"     /* "p|c:amount_cents:award_id" */
#define CC_FIELD_CLAIMED    "q"     /* set once the claim was queued */

static inline size_t
cc_key_user(char *buf, uint64_t uid)
{
    return (size_t) snprintf(buf, CC_KEY_MAX, "cc:{%" PRIu64 "}:u", uid);
}

/*
 * The uid of a user hash's key key[0..len), as cc_key_user writes it:
 * 0 and *uid, or -1 for any other key (a grant set, a uid that
 * cc_parse_uid refuses, a key that CC_KEY_USER_MATCH matched only by its
 * glob, such as "cc:{1}:g}:u").
 */
static inline int
cc_key_user_uid(const char *key, size_t len, uint64_t *uid)
{
    if (len <= sizeof("cc:{}:u") - 1
        || memcmp(key, "cc:{", 4) != 0
        || memcmp(key + len - 3, "}:u", 3) != 0)
    {
        return -1;
    }

    return cc_parse_uid(key + 4, len - 7, uid);
}


static inline size_t
cc_key_grants(char *buf, uint64_t uid)
{
    return (size_t) snprintf(buf, CC_KEY_MAX, "cc:{%" PRIu64 "}:g", uid);
}

/*
 * A user's key of the gifts and asks: suffix one of "gi", "ga", "gs",
 * "gr", "ao", "ak", "al" (the table above).
 */
static inline size_t
cc_key_user_sub(char *buf, uint64_t uid, const char *suffix)
{
    return (size_t) snprintf(buf, CC_KEY_MAX, "cc:{%" PRIu64 "}:%s", uid,
                             suffix);
}

static inline size_t
cc_key_stock(char *buf, unsigned kind)
{
    return (size_t) snprintf(buf, CC_KEY_MAX, CC_KEY_STOCK_PREFIX "%u", kind);
}

#endif /* CC_KEYS_H */
