/*
 * cc_event: a draw as it travels from the flip to MySQL.
 *
 * On Kafka a draw is one JSON message keyed by the uid:
 *
 *   {"draw_id":"7:3","uid":"7","seq":3,"card":2,"request_id":"abc",
 *    "ts":1764240000123}
 *
 * uid is a string because a 64-bit uid does not survive a JSON number
 * (cJSON, like most parsers, reads numbers as doubles).  The draw id
 * "uid:seq" is the idempotency key all the way down (the primary key of
 * the draws table).
 */

#ifndef CC_EVENT_H
#define CC_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "cc_ids.h"

#define CC_EVENT_MAX_LEN  512          /* longer messages are malformed */
#define CC_TS_MAX  4102444800000LL     /* 2100-01-01 in ms: a sane bound */

/*
 * In Redis, the flip script appends the new draws of one batch (at most
 * CC_LOG_BATCH_MAX, the module's batch size) to the shard's draw log as
 * ONE stream entry (cc_log.h reads it).
 */
#define CC_LOG_BATCH_MAX  64

typedef struct {
    uint64_t  uid;
    uint32_t  seq;
    uint32_t  card;
    int64_t   ts_ms;
    char      request_id[CC_REQUEST_ID_MAX + 1];
} cc_draw_t;

/*
 * A combine (合成): the user gave one card of each kind and is eligible for
 * the split.  On Kafka, keyed by the uid like the draws:
 *
 *   {"type":"combine","uid":"7","request_id":"abc","ts":1764240000123}
 *
 * (a message without "type" is a draw).  Once per user: the uid is the
 * idempotency key (the primary key of the eligibility table).
 *
 * With a wildcard kind (万能福, the module's cc_wildcard_kind) the set is
 * every other kind, and the message says which cards the combine took:
 *
 *   ...,"wildcard":4,"wild":2,"replaced":10}
 *
 * the wildcard kind, the wildcards used, and the kinds they stood in for
 * (bit k: kind k; its bits are "wild" many, never the wildcard's own).
 * One card of each other kind was taken.  Without "wildcard" (none
 * configured, or a message from before) one card of every kind was
 * taken, and "wild" and "replaced" must be absent too.
 */
typedef struct {
    uint64_t  uid;
    int64_t   ts_ms;
    uint32_t  wildcard;         /* the wildcard kind + 1; 0: none */
    uint32_t  wild;             /* wildcards used */
    uint32_t  replaced;         /* the kinds they stood in for, bit k */
    char      request_id[CC_REQUEST_ID_MAX + 1];
} cc_combine_t;

/*
 * A gift (送福): one card of kind card moves from the giver to the
 * receiver.  The two users live on their own shards (the ring on uid), so
 * the gift is two halves, each applied by one script on its user's shard
 * and each a message keyed by its user:
 *
 *   {"type":"gift_out","gift_id":"7:abc","uid":"7","to":"9","card":2,
 *    "ts":1764240000123}                       the giver's half: a card out
 *   {"type":"gift_in","gift_id":"7:abc","uid":"9","from":"7","card":2,
 *    "ts":1764240000456}                       the receiver's half: a card in
 *
 * The gift id "giver:request_id" (the giver's request id) is the
 * idempotency key of both halves, each on its own user's MySQL shard (the
 * primary key (gift_id, side) of gift_moves): a half redelivered, replayed
 * by cc-reconcile or redriven inserts nothing.  ts is the time of that
 * half.
 */
#define CC_GIFT_ID_MAX  (20 + 1 + CC_REQUEST_ID_MAX)   /* uid:request_id */

typedef struct {
    uint64_t  uid;                  /* this half's user */
    uint64_t  peer;                 /* the other user */
    uint32_t  card;
    unsigned  in;                   /* 0 the giver's half, 1 the receiver's */
    int64_t   ts_ms;
    char      request_id[CC_REQUEST_ID_MAX + 1];   /* the giver's */
} cc_gift_t;

typedef enum {
    CC_EVENT_DRAW = 0,
    CC_EVENT_COMBINE,
    CC_EVENT_GIFT               /* either half: u.gift.in says which */
} cc_event_type_e;

typedef struct {
    cc_event_type_e  type;
    union {
        cc_draw_t     draw;
        cc_combine_t  combine;
        cc_gift_t     gift;
    } u;
} cc_event_t;

/*
 * The JSON text of a draw, malloc'ed (free() it, or hand it to librdkafka
 * with RD_KAFKA_MSG_F_FREE).  NULL when out of memory.
 */
char *cc_draw_encode(const cc_draw_t *d);

/* Checks the fields of a draw assembled by hand (from a Redis stream). */
int cc_draw_check(const cc_draw_t *d, const char **why);

char *cc_combine_encode(const cc_combine_t *c);

/*
 * Checks a combine assembled by hand; its wildcard fields: wildcard at
 * most CC_KINDS_MAX, none used without one ("bad wild"), replaced within
 * the kinds and not the wildcard's own bit ("bad replaced"), as many bits
 * as wild ("bad wild").
 */
int cc_combine_check(const cc_combine_t *c, const char **why);

/* a half of a gift: as cc_draw_encode and cc_draw_check */
char *cc_gift_encode(const cc_gift_t *g);
int cc_gift_check(const cc_gift_t *g, const char **why);

/* the giver of a half: uid for the giver's, peer for the receiver's */
#define cc_gift_giver(g)  ((g)->in ? (g)->peer : (g)->uid)

/*
 * The gift id "giver:request_id" into buf (CC_GIFT_ID_MAX + 1 bytes): its
 * length.  cc_gift_id_parse reads one back: 0 with *giver and rid
 * (CC_REQUEST_ID_MAX + 1 bytes) set, or -1 (a bad uid or request id).
 */
size_t cc_gift_id(const cc_gift_t *g, char *buf);
int cc_gift_id_parse(const char *s, size_t len, uint64_t *giver, char *rid);

/*
 * Either kind of message, by its "type".  0, or -1 with *why set.  A NUL
 * in it, raw or escaped (\u0000), refuses it: the strings would be cut.
 * So does a number not written as an integer the one way ("seq":007,
 * 3.0, 3e0, -0.5: cJSON alone reads the first three as 3), a control
 * byte that is not a JSON blank (cJSON takes any for a blank), and
 * anything but blanks after the object.
 */
int cc_event_decode(const char *p, size_t len, cc_event_t *ev,
    const char **why);

#endif /* CC_EVENT_H */
