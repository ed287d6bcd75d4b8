/*
 * cc_log: the one reader of a shard's draw log, the stream cc:draws (see
 * cc_keys.h).  The flip script appends two kinds of entry, in the same
 * atomic step that spends the chance or takes the combine:
 *
 *   d LINES                        the new draws of one flip batch: at most
 *                                  CC_LOG_BATCH_MAX lines joined by "\n",
 *                                  each uid:seq:card:ms:request_id
 *   y c  u UID  r REQUEST_ID  t MS a combine (合成)
 *       [k KIND  w N  m MASK]      with a wildcard kind
 *                                  (cc_wildcard_kind): that kind, the
 *                                  wildcards used and the kinds they stood
 *                                  in for, bit k kind k (cc_combine_t's;
 *                                  all three or none)
 *   o LINES                        the giver's halves of one gift_out
 *                                  batch (送福): at most CC_LOG_BATCH_MAX
 *                                  lines joined by "\n", each
 *                                  uid:peer:card:ms:request_id, UID gave a
 *                                  card of kind CARD to PEER; the gift id
 *                                  is uid:request_id
 *   i LINES                        the receiver's halves of one gift_in
 *                                  batch, the same lines: UID received it
 *                                  from PEER; the gift id is
 *                                  peer:request_id (the gift's two scripts
 *                                  append these, each on its own user's
 *                                  shard)
 *   y go  g GIFT_ID  u UID  p PEER  k KIND  t MS
 *   y gi  g GIFT_ID  u UID  p PEER  k KIND  t MS
 *                                  one gift's half, as older versions of
 *                                  the scripts appended them: one entry a
 *                                  gift (an XADD a gift rather than a
 *                                  batch), still read
 *
 * GIFT_ID is "giver:request_id" (cc_event.h).
 * A field name is one letter; other fields are ignored and a repeated one
 * counts by its last value.  The numbers (uid, seq, card, ms; u, t) are
 * decimals without a sign or a leading zero, as Lua's tostring writes
 * them: "07" and "00" are refused, a lone "0" is read as 0 (so are k, w
 * and m).  Plain C, no allocation and no hiredis: the caller hands an
 * entry's fields as byte ranges.
 */

#ifndef CC_LOG_H
#define CC_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "cc_event.h"

typedef enum {
    CC_LOG_DRAWS = 1,
    CC_LOG_COMBINE,
    CC_LOG_GIFT,                    /* either half: gift.in says which */
    CC_LOG_GIFTS                    /* o or i: cc_log_next_gift */
} cc_log_kind_e;

typedef struct {
    cc_log_kind_e   kind;
    cc_combine_t    combine;        /* CC_LOG_COMBINE */
    cc_gift_t       gift;           /* CC_LOG_GIFT; CC_LOG_GIFTS: .in */
    const char     *next;           /* CC_LOG_DRAWS, CC_LOG_GIFTS: the
                                       lines not read */
    const char     *last;
    size_t          lines;          /* lines read so far */

    /* the values of the fields d y u r t g p k seen so far, [0] start
       [1] end */
    const char     *d[2], *y[2], *u[2], *r[2], *t[2], *g[2], *p[2], *k[2];
    const char     *w[2], *m[2];   /* a combine's wildcard, with k */
    const char     *o[2], *i[2];   /* a batch of gift halves */
} cc_log_entry_t;

/*
 * An entry is read field by field, in the order the stream holds them:
 * cc_log_entry_init, cc_log_entry_field for each (name, value), then
 * cc_log_entry_end, which checks a combine whole and fills it in, or readies
 * a draws entry for cc_log_next_draw, or a gifts entry for
 * cc_log_next_gift.  The values must outlive the entry.
 * cc_log_entry_end: 0, or -1 with *why set ("no draw and no combine in
 * it", "unknown type", "draws and gifts in one entry", "bad uid", "bad
 * ts", "bad request_id"; for a
 * combine's wildcard "bad wildcard", "bad wild", "bad replaced"; for a
 * gift "bad gift_id", "bad to", "bad from", "bad card").
 */
void cc_log_entry_init(cc_log_entry_t *e);
void cc_log_entry_field(cc_log_entry_t *e, const char *name, size_t nlen,
    const char *value, size_t vlen);
int cc_log_entry_end(cc_log_entry_t *e, const char **why);

/*
 * The next draw of a draws entry: 1 with *d filled, 0 when no line is
 * left, -1 with *why set for an unreadable line (skipped: call again), or
 * CC_LOG_TOO_MANY once for the lines past CC_LOG_BATCH_MAX (all skipped:
 * the next call returns 0).
 */
#define CC_LOG_TOO_MANY  (-2)

int cc_log_next_draw(cc_log_entry_t *e, cc_draw_t *d, const char **why);

/*
 * The next gift half of a gifts entry, as cc_log_next_draw: 1 with *g
 * filled (g->in: the entry's i), 0, -1 with *why set ("bad gift line",
 * "bad request_id", or cc_gift_check's: "bad uid", "bad to", "bad
 * from", "bad card", "bad ts"), or CC_LOG_TOO_MANY once.
 */
int cc_log_next_gift(cc_log_entry_t *e, cc_gift_t *g, const char **why);

/* One line uid:peer:card:ms:request_id of a gifts entry, in: its side. */
int cc_log_gift_line(const char *p, size_t len, unsigned in, cc_gift_t *g,
    const char **why);

/* One line uid:seq:card:ms:request_id, its length (not a NUL) ends it. */
int cc_log_draw_line(const char *p, size_t len, cc_draw_t *d,
    const char **why);

/*
 * A stream entry id, "MS-SEQ", each a decimal in 0..2^64-1 in its one
 * form (as Redis writes them).  0 with *ms and *seq set, or -1.
 */
int cc_log_stream_id(const char *s, size_t len, uint64_t *ms, uint64_t *seq);

/*
 * The smallest id after the id s (for XTRIM MINID past an entry): "MS-SEQ+1",
 * or "MS+1-0" after the last SEQ.  0 with out filled, or -1: s is not an
 * id, it is the very last id, or out is too small.
 */
int cc_log_stream_id_next(const char *s, size_t len, char *out,
    size_t outlen);

#endif /* CC_LOG_H */
