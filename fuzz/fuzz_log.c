/*
 * fuzz_log: the reader of a shard's draw log (common/cc_log.h), which
 * cc-reconcile and cc-draw feed with whatever the stream holds.
 *
 * The first byte picks what the rest is:
 *
 *   even  one draw line, uid:seq:card:ms:request_id, for
 *         cc_log_draw_line, held against a reference reading: both accept
 *         the same lines, read the same fields, and the request id kept is
 *         the line's tail byte for byte (a NUL in it cannot shorten it
 *         into another, valid id);
 *   odd   a stream entry: fields split at 0x1e, each name from its value
 *         at the first 0x1f.  A combine must be what its u, r and t say;
 *         a draws entry is read line by line and each answer of
 *         cc_log_next_draw must match its line read alone, with at most
 *         CC_LOG_BATCH_MAX lines read, CC_LOG_TOO_MANY once past them,
 *         then 0 for good; a gifts entry (o or i) the same with
 *         cc_log_next_gift, each line held against a reference reading
 *         of uid:peer:card:ms:request_id.
 */

#include <inttypes.h>

#include "fuzz.h"
#include "cc_log.h"


#define FUZZ_FIELD_SEP  0x1e
#define FUZZ_NAME_SEP   0x1f
#define FUZZ_LINES_MAX  4096


/* a decimal field of the line, no leading zero ("0" alone is), at most max */
static int
fuzz_ref_number(const char **p, const char *last, uint64_t max, uint64_t *v)
{
    const char         *s;
    unsigned __int128   acc;

    acc = 0;

    for (s = *p; s < last && *s != ':'; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }

        acc = acc * 10 + (unsigned) (*s - '0');

        if (acc > max) {
            return -1;
        }
    }

    if (s == *p || s == last || (**p == '0' && s - *p > 1)) {
        return -1;
    }

    *v = (uint64_t) acc;
    *p = s + 1;

    return 0;
}


/* a request id, p .. last, of the reference's characters */
static int
fuzz_ref_id(const char *p, const char *last)
{
    for ( /* void */ ; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
        {
            return -1;
        }
    }

    return 0;
}


static int
fuzz_ref_line(const char *p, size_t len, cc_draw_t *d)
{
    uint64_t     uid, seq, card, ts;
    const char  *last;

    last = p + len;

    if (fuzz_ref_number(&p, last, UINT64_MAX, &uid) != 0
        || fuzz_ref_number(&p, last, UINT32_MAX, &seq) != 0
        || fuzz_ref_number(&p, last, UINT32_MAX, &card) != 0
        || fuzz_ref_number(&p, last, (uint64_t) CC_TS_MAX, &ts) != 0)
    {
        return -1;
    }

    if (uid == 0 || seq == 0 || card >= 16 || ts == 0
        || last - p < 1 || last - p > CC_REQUEST_ID_MAX)
    {
        return -1;
    }

    if (fuzz_ref_id(p, last) != 0) {
        return -1;
    }

    memset(d, 0, sizeof(*d));
    d->uid = uid;
    d->seq = (uint32_t) seq;
    d->card = (uint32_t) card;
    d->ts_ms = (int64_t) ts;
    memcpy(d->request_id, p, (size_t) (last - p));

    return 0;
}


/* a gift line, uid:peer:card:ms:request_id, of the side in */
static int
fuzz_ref_gift(const char *p, size_t len, unsigned in, cc_gift_t *g)
{
    uint64_t     uid, peer, card, ts;
    const char  *last;

    last = p + len;

    if (fuzz_ref_number(&p, last, UINT64_MAX, &uid) != 0
        || fuzz_ref_number(&p, last, UINT64_MAX, &peer) != 0
        || fuzz_ref_number(&p, last, UINT32_MAX, &card) != 0
        || fuzz_ref_number(&p, last, (uint64_t) CC_TS_MAX, &ts) != 0)
    {
        return -1;
    }

    if (uid == 0 || peer == 0 || peer == uid || card >= 16 || ts == 0
        || last - p < 1 || last - p > CC_REQUEST_ID_MAX)
    {
        return -1;
    }

    if (fuzz_ref_id(p, last) != 0) {
        return -1;
    }

    memset(g, 0, sizeof(*g));
    g->uid = uid;
    g->peer = peer;
    g->card = (uint32_t) card;
    g->in = in;
    g->ts_ms = (int64_t) ts;
    memcpy(g->request_id, p, (size_t) (last - p));

    return 0;
}


static int
fuzz_same_draw(const cc_draw_t *a, const cc_draw_t *b)
{
    return a->uid == b->uid && a->seq == b->seq && a->card == b->card
           && a->ts_ms == b->ts_ms
           && strcmp(a->request_id, b->request_id) == 0;
}


static void
fuzz_line(const char *p, size_t len)
{
    int          ok;
    cc_draw_t    d, ref;
    const char  *why;

    why = NULL;
    ok = cc_log_draw_line(p, len, &d, &why) == 0;

    FUZZ_ASSERT(ok == (fuzz_ref_line(p, len, &ref) == 0));

    if (ok) {
        FUZZ_ASSERT(fuzz_same_draw(&d, &ref));
        FUZZ_ASSERT(cc_draw_check(&d, &why) == 0);

    } else {
        FUZZ_ASSERT(why != NULL);
    }
}


/* a field's value is the decimal of v, in its one spelling */
static void
fuzz_spelled(const char *const *f, uint32_t v)
{
    char  back[16];

    snprintf(back, sizeof(back), "%" PRIu32, v);
    FUZZ_ASSERT(strlen(back) == (size_t) (f[1] - f[0])
                && memcmp(back, f[0], strlen(back)) == 0);
}


/* a gift's half read: checked whole, its uid and ts as u and t spell them */
static void
fuzz_gift_entry(cc_log_entry_t *e, const char *const u[2],
    const char *const t[2])
{
    char         back[32];
    cc_draw_t    d;
    const char  *why;

    FUZZ_ASSERT(cc_gift_check(&e->gift, &why) == 0);
    FUZZ_ASSERT(u[0] != NULL && t[0] != NULL);

    /* no leading zero: the one spelling of each number */
    snprintf(back, sizeof(back), "%" PRIu64, e->gift.uid);
    FUZZ_ASSERT(strlen(back) == (size_t) (u[1] - u[0])
                && memcmp(back, u[0], strlen(back)) == 0);
    snprintf(back, sizeof(back), "%" PRId64, e->gift.ts_ms);
    FUZZ_ASSERT(strlen(back) == (size_t) (t[1] - t[0])
                && memcmp(back, t[0], strlen(back)) == 0);
    FUZZ_ASSERT(cc_log_next_draw(e, &d, &why) == 0);
}


/* a combine entry: what it says, as its fields spell it */
static void
fuzz_combine_entry(cc_log_entry_t *e, const char **u, const char **r,
    const char **t, const char **k, const char **w, const char **m)
{
    char         back[32];
    cc_draw_t    d;
    const char  *why;

    why = NULL;
    FUZZ_ASSERT(cc_combine_check(&e->combine, &why) == 0);
    FUZZ_ASSERT(u[0] != NULL && r[0] != NULL && t[0] != NULL);

    /*
     * the uid as u spells it, the ts as t does (so neither had a
     * leading zero), the request id as r holds it
     */
    snprintf(back, sizeof(back), "%" PRIu64, e->combine.uid);
    FUZZ_ASSERT(strlen(back) == (size_t) (u[1] - u[0])
                && memcmp(back, u[0], strlen(back)) == 0);
    snprintf(back, sizeof(back), "%" PRId64, e->combine.ts_ms);
    FUZZ_ASSERT(strlen(back) == (size_t) (t[1] - t[0])
                && memcmp(back, t[0], strlen(back)) == 0);
    FUZZ_ASSERT(strlen(e->combine.request_id) == (size_t) (r[1] - r[0])
                && memcmp(e->combine.request_id, r[0],
                          (size_t) (r[1] - r[0])) == 0);
    /* the wildcard's fields as k, w and m spell them, or none */
    if (e->combine.wildcard == 0) {
        FUZZ_ASSERT(k[0] == NULL && w[0] == NULL && m[0] == NULL
                    && e->combine.wild == 0 && e->combine.replaced == 0);

    } else {
        FUZZ_ASSERT(k[0] != NULL && w[0] != NULL && m[0] != NULL);
        fuzz_spelled(k, e->combine.wildcard - 1);
        fuzz_spelled(w, e->combine.wild);
        fuzz_spelled(m, e->combine.replaced);
    }

    FUZZ_ASSERT(cc_log_next_draw(e, &d, &why) == 0);
}


static void
fuzz_entry(const char *p, size_t len)
{
    int              rc, gifts;
    size_t           i, nlines, calls;
    cc_draw_t        d, ref;
    cc_gift_t        g, gref;
    const char      *last, *f, *fe, *sep, *why, *lp, *nl, *lines_last;
    const char      *line[FUZZ_LINES_MAX], *line_end[FUZZ_LINES_MAX];
    const char      *u[2], *r[2], *t[2], *k[2], *w[2], *m[2], **v;
    cc_log_entry_t   e;

    last = p + len;
    u[0] = u[1] = r[0] = r[1] = t[0] = t[1] = NULL;
    k[0] = k[1] = w[0] = w[1] = m[0] = m[1] = NULL;

    cc_log_entry_init(&e);

    for (f = p; /* void */ ; f = fe + 1) {
        fe = memchr(f, FUZZ_FIELD_SEP, (size_t) (last - f));
        if (fe == NULL) {
            fe = last;
        }

        sep = memchr(f, FUZZ_NAME_SEP, (size_t) (fe - f));
        if (sep == NULL) {
            sep = fe;
        }

        cc_log_entry_field(&e, f, (size_t) (sep - f),
                           sep < fe ? sep + 1 : fe,
                           (size_t) (fe - (sep < fe ? sep + 1 : fe)));

        if (sep - f == 1 && f[0] == 'u') {
            u[0] = sep < fe ? sep + 1 : fe;
            u[1] = fe;
        }

        if (sep - f == 1 && f[0] == 'r') {
            r[0] = sep < fe ? sep + 1 : fe;
            r[1] = fe;
        }

        if (sep - f == 1 && f[0] == 't') {
            t[0] = sep < fe ? sep + 1 : fe;
            t[1] = fe;
        }

        if (sep - f == 1 && (f[0] == 'k' || f[0] == 'w' || f[0] == 'm')) {
            v = f[0] == 'k' ? k : f[0] == 'w' ? w : m;
            v[0] = sep < fe ? sep + 1 : fe;
            v[1] = fe;
        }

        if (fe == last) {
            break;
        }
    }

    why = NULL;

    if (cc_log_entry_end(&e, &why) != 0) {
        FUZZ_ASSERT(why != NULL);
        return;
    }

    if (e.kind == CC_LOG_GIFT) {
        fuzz_gift_entry(&e, u, t);
        return;
    }

    if (e.kind == CC_LOG_COMBINE) {
        fuzz_combine_entry(&e, u, r, t, k, w, m);
        return;
    }

    FUZZ_ASSERT(e.kind == CC_LOG_DRAWS || e.kind == CC_LOG_GIFTS);
    FUZZ_ASSERT(e.kind == CC_LOG_GIFTS
                || (e.next == e.d[0] && e.last == e.d[1]));
    FUZZ_ASSERT(e.kind == CC_LOG_DRAWS
                || (e.o[0] == NULL) != (e.i[0] == NULL));
    FUZZ_ASSERT(e.kind == CC_LOG_DRAWS
                || e.next == (e.gift.in ? e.i[0] : e.o[0]));

    /* the lines of d, o or i, found here on their own */
    nlines = 0;
    lines_last = e.last;

    for (lp = e.next; lp < lines_last && nlines < FUZZ_LINES_MAX;
         lp = nl + 1)
    {
        nl = memchr(lp, '\n', (size_t) (lines_last - lp));
        if (nl == NULL) {
            nl = lines_last;
        }

        line[nlines] = lp;
        line_end[nlines] = nl;
        nlines++;
    }

    gifts = e.kind == CC_LOG_GIFTS;

    for (calls = 0; ; calls++) {
        FUZZ_ASSERT(calls <= FUZZ_LINES_MAX);

        why = NULL;
        rc = gifts ? cc_log_next_gift(&e, &g, &why)
                   : cc_log_next_draw(&e, &d, &why);

        if (rc == 0) {
            FUZZ_ASSERT(calls == nlines && nlines <= CC_LOG_BATCH_MAX);
            FUZZ_ASSERT(cc_log_next_draw(&e, &d, &why) == 0);
            FUZZ_ASSERT(cc_log_next_gift(&e, &g, &why) == 0);
            break;
        }

        if (rc == CC_LOG_TOO_MANY) {
            FUZZ_ASSERT(calls == CC_LOG_BATCH_MAX
                        && nlines > CC_LOG_BATCH_MAX);
            FUZZ_ASSERT(cc_log_next_draw(&e, &d, &why) == 0);
            FUZZ_ASSERT(cc_log_next_gift(&e, &g, &why) == 0);
            break;
        }

        FUZZ_ASSERT(calls < nlines && calls < CC_LOG_BATCH_MAX);

        i = (size_t) (line_end[calls] - line[calls]);

        if (rc == 1 && gifts) {
            FUZZ_ASSERT(fuzz_ref_gift(line[calls], i, e.gift.in, &gref)
                        == 0);
            FUZZ_ASSERT(g.uid == gref.uid && g.peer == gref.peer
                        && g.card == gref.card && g.in == gref.in
                        && g.ts_ms == gref.ts_ms
                        && strcmp(g.request_id, gref.request_id) == 0);
            FUZZ_ASSERT(cc_gift_check(&g, &why) == 0);

        } else if (rc == 1) {
            FUZZ_ASSERT(fuzz_ref_line(line[calls], i, &ref) == 0);
            FUZZ_ASSERT(fuzz_same_draw(&d, &ref));

        } else {
            FUZZ_ASSERT(rc == -1 && why != NULL);
            FUZZ_ASSERT(gifts
                        ? fuzz_ref_gift(line[calls], i, e.gift.in, &gref)
                          != 0
                        : fuzz_ref_line(line[calls], i, &ref) != 0);
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }

    if ((data[0] & 1) == 0) {
        fuzz_line((const char *) data + 1, size - 1);

    } else {
        fuzz_entry((const char *) data + 1, size - 1);
    }

    return 0;
}
