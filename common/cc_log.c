/*
 * cc_log: the one reader of a shard's draw log.
 */

#include <stdio.h>
#include <string.h>

#include "cc_cards.h"
#include "cc_ids.h"
#include "cc_log.h"


/*
 * The decimal at p, up to the first ':' or last: where it stopped, or NULL
 * when there is no digit, a character that is not one, a leading zero
 * ("07", "00": one number, one spelling, as cc_parse_decimal and
 * cc_award_parse read theirs; a lone "0" is a number), or more than max.
 */
static const char *
cc_log_number(const char *p, const char *last, uint64_t max, uint64_t *v)
{
    const char  *s;

    *v = 0;

    for (s = p; s < last && *s != ':'; s++) {
        if (*s < '0' || *s > '9' || *v > (max - (uint64_t) (*s - '0')) / 10)
        {
            return NULL;
        }

        *v = *v * 10 + (uint64_t) (*s - '0');
    }

    if (s == p || (*p == '0' && s - p > 1)) {
        return NULL;
    }

    return s;
}


/* a field uid:seq:card:ms of a line, with the ':' that ends it */
static int
cc_log_line_field(const char **p, const char *last, uint64_t max,
    uint64_t *v)
{
    const char  *s;

    s = cc_log_number(*p, last, max, v);

    if (s == NULL || s == last) {
        return -1;
    }

    *p = s + 1;

    return 0;
}


int
cc_log_draw_line(const char *p, size_t len, cc_draw_t *d, const char **why)
{
    uint64_t     uid, seq, card, ts;
    const char  *last;

    last = p + len;

    if (cc_log_line_field(&p, last, UINT64_MAX, &uid) != 0
        || cc_log_line_field(&p, last, UINT32_MAX, &seq) != 0
        || cc_log_line_field(&p, last, UINT32_MAX, &card) != 0
        || cc_log_line_field(&p, last, (uint64_t) CC_TS_MAX, &ts) != 0)
    {
        *why = "bad draw line";
        return -1;
    }

    /*
     * The id is checked as the line holds it, before it becomes a C
     * string: a NUL in it would otherwise cut it short into another,
     * valid id (found by fuzz/fuzz_log.c).
     */
    if (cc_check_request_id(p, (size_t) (last - p)) != 0) {
        *why = "bad request_id";
        return -1;
    }

    memset(d, 0, sizeof(*d));
    d->uid = uid;
    d->seq = (uint32_t) seq;
    d->card = (uint32_t) card;
    d->ts_ms = (int64_t) ts;
    memcpy(d->request_id, p, (size_t) (last - p));

    return cc_draw_check(d, why);
}


int
cc_log_gift_line(const char *p, size_t len, unsigned in, cc_gift_t *g,
    const char **why)
{
    uint64_t     uid, peer, card, ts;
    const char  *last;

    last = p + len;

    if (cc_log_line_field(&p, last, UINT64_MAX, &uid) != 0
        || cc_log_line_field(&p, last, UINT64_MAX, &peer) != 0
        || cc_log_line_field(&p, last, UINT32_MAX, &card) != 0
        || cc_log_line_field(&p, last, (uint64_t) CC_TS_MAX, &ts) != 0)
    {
        *why = "bad gift line";
        return -1;
    }

    /* checked as the line holds it: see cc_log_draw_line */
    if (cc_check_request_id(p, (size_t) (last - p)) != 0) {
        *why = "bad request_id";
        return -1;
    }

    memset(g, 0, sizeof(*g));
    g->uid = uid;
    g->peer = peer;
    g->card = (uint32_t) card;
    g->in = in;
    g->ts_ms = (int64_t) ts;
    memcpy(g->request_id, p, (size_t) (last - p));

    return cc_gift_check(g, why);
}


void
cc_log_entry_init(cc_log_entry_t *e)
{
    memset(e, 0, sizeof(*e));
}


void
cc_log_entry_field(cc_log_entry_t *e, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
    const char  **f;

    if (nlen != 1) {
        return;
    }

    switch (name[0]) {
    case 'd': f = e->d; break;
    case 'y': f = e->y; break;
    case 'u': f = e->u; break;
    case 'r': f = e->r; break;
    case 't': f = e->t; break;
    case 'g': f = e->g; break;
    case 'p': f = e->p; break;
    case 'k': f = e->k; break;
    case 'w': f = e->w; break;
    case 'm': f = e->m; break;
    case 'o': f = e->o; break;
    case 'i': f = e->i; break;
    default: return;
    }

    f[0] = value;
    f[1] = value + vlen;
}


/* a decimal field [v[0], v[1]) whole, in 0..max */
static int
cc_log_value(const char *const v[2], uint64_t max, uint64_t *n)
{
    const char  *end;

    end = v[0] == NULL ? NULL : cc_log_number(v[0], v[1], max, n);

    return end != NULL && end == v[1] ? 0 : -1;
}


/* a gift's half from g u p k t, e->gift.in already set */
static int
cc_log_gift(cc_log_entry_t *e, const char **why)
{
    uint64_t    giver, card, ts;
    cc_gift_t  *g;

    g = &e->gift;

    if (e->u[0] == NULL
        || cc_parse_uid(e->u[0], (size_t) (e->u[1] - e->u[0]), &g->uid) != 0)
    {
        *why = "bad uid";
        return -1;
    }

    if (e->p[0] == NULL
        || cc_parse_uid(e->p[0], (size_t) (e->p[1] - e->p[0]), &g->peer)
           != 0
        || g->peer == g->uid)
    {
        *why = g->in ? "bad from" : "bad to";
        return -1;
    }

    if (cc_log_value(e->k, CC_KINDS_MAX - 1, &card) != 0) {
        *why = "bad card";
        return -1;
    }

    if (cc_log_value(e->t, (uint64_t) CC_TS_MAX, &ts) != 0) {
        *why = "bad ts";
        return -1;
    }

    if (e->g[0] == NULL
        || cc_gift_id_parse(e->g[0], (size_t) (e->g[1] - e->g[0]), &giver,
                            g->request_id) != 0
        || giver != cc_gift_giver(g))
    {
        *why = "bad gift_id";
        return -1;
    }

    e->kind = CC_LOG_GIFT;
    g->card = (uint32_t) card;
    g->ts_ms = (int64_t) ts;

    return cc_gift_check(g, why);
}


/*
 * A combine's k, w and m into its wildcard fields (cc_combine_check checks
 * them together): all three, or none (an entry from before the wildcard,
 * or with none configured: every kind taken).
 */
static int
cc_log_combine_wild(cc_log_entry_t *e, const char **why)
{
    uint64_t  kind, wild, mask;

    if (e->k[0] == NULL) {
        if (e->w[0] != NULL || e->m[0] != NULL) {
            *why = "bad wild";
            return -1;
        }

        return 0;
    }

    if (cc_log_value(e->k, CC_KINDS_MAX - 1, &kind) != 0) {
        *why = "bad wildcard";
        return -1;
    }

    if (cc_log_value(e->w, CC_KINDS_MAX - 1, &wild) != 0) {
        *why = "bad wild";
        return -1;
    }

    if (cc_log_value(e->m, (1u << CC_KINDS_MAX) - 1, &mask) != 0) {
        *why = "bad replaced";
        return -1;
    }

    e->combine.wildcard = (uint32_t) kind + 1;
    e->combine.wild = (uint32_t) wild;
    e->combine.replaced = (uint32_t) mask;

    return 0;
}


/*
 * The fields were taken by name first, the kind is decided now: y = c
 * makes a combine, checked whole from u, r and t; otherwise d makes a
 * draws entry, whose lines cc_log_next_draw reads one at a time so that a
 * bad line costs only itself.
 */
int
cc_log_entry_end(cc_log_entry_t *e, const char **why)
{
    size_t       rlen;
    uint64_t     ts;
    const char  *end;

    if (e->y[0] != NULL && e->y[1] - e->y[0] == 2 && e->y[0][0] == 'g'
        && (e->y[0][1] == 'o' || e->y[0][1] == 'i'))
    {
        e->gift.in = e->y[0][1] == 'i';
        return cc_log_gift(e, why);
    }

    if (e->y[0] != NULL) {
        if (e->y[1] - e->y[0] != 1 || e->y[0][0] != 'c') {
            *why = "unknown type";
            return -1;
        }

        if (e->u[0] == NULL
            || cc_parse_uid(e->u[0], (size_t) (e->u[1] - e->u[0]),
                            &e->combine.uid) != 0)
        {
            *why = "bad uid";
            return -1;
        }

        end = e->t[0] == NULL ? NULL
              : cc_log_number(e->t[0], e->t[1], (uint64_t) CC_TS_MAX, &ts);

        if (end == NULL || end != e->t[1]) {
            *why = "bad ts";
            return -1;
        }

        rlen = e->r[0] == NULL ? 0 : (size_t) (e->r[1] - e->r[0]);

        if (e->r[0] == NULL || cc_check_request_id(e->r[0], rlen) != 0) {
            *why = "bad request_id";
            return -1;
        }

        if (cc_log_combine_wild(e, why) != 0) {
            return -1;
        }

        e->kind = CC_LOG_COMBINE;
        e->combine.ts_ms = (int64_t) ts;
        memcpy(e->combine.request_id, e->r[0], rlen);

        return cc_combine_check(&e->combine, why);
    }

    if (e->o[0] != NULL || e->i[0] != NULL) {
        if (e->d[0] != NULL || (e->o[0] != NULL && e->i[0] != NULL)) {
            *why = "draws and gifts in one entry";
            return -1;
        }

        e->kind = CC_LOG_GIFTS;
        e->gift.in = e->i[0] != NULL;
        e->next = e->gift.in ? e->i[0] : e->o[0];
        e->last = e->gift.in ? e->i[1] : e->o[1];

        return 0;
    }

    if (e->d[0] == NULL) {
        *why = "no draw and no combine in it";
        return -1;
    }

    e->kind = CC_LOG_DRAWS;
    e->next = e->d[0];
    e->last = e->d[1];

    return 0;
}


/*
 * The next line [*p, *nl) of a draws or gifts entry of kind, or 0 when
 * none is left, CC_LOG_TOO_MANY past CC_LOG_BATCH_MAX (then none left).
 */
static int
cc_log_next_line(cc_log_entry_t *e, cc_log_kind_e kind, const char **p,
    const char **nl, const char **why)
{
    if (e->kind != kind || e->next >= e->last) {
        return 0;
    }

    if (e->lines == CC_LOG_BATCH_MAX) {
        e->next = e->last;
        *why = kind == CC_LOG_DRAWS ? "more draws than a flip batch holds"
                                    : "more gifts than a batch holds";
        return CC_LOG_TOO_MANY;
    }

    *p = e->next;
    *nl = memchr(*p, '\n', (size_t) (e->last - *p));
    if (*nl == NULL) {
        *nl = e->last;
    }

    e->next = *nl + 1 < e->last ? *nl + 1 : e->last;
    e->lines++;

    return 1;
}


int
cc_log_next_gift(cc_log_entry_t *e, cc_gift_t *g, const char **why)
{
    int          rc;
    const char  *p, *nl;

    rc = cc_log_next_line(e, CC_LOG_GIFTS, &p, &nl, why);

    if (rc != 1) {
        return rc;
    }

    return cc_log_gift_line(p, (size_t) (nl - p), e->gift.in, g, why) == 0
           ? 1 : -1;
}


int
cc_log_next_draw(cc_log_entry_t *e, cc_draw_t *d, const char **why)
{
    int          rc;
    const char  *p, *nl;

    rc = cc_log_next_line(e, CC_LOG_DRAWS, &p, &nl, why);

    if (rc != 1) {
        return rc;
    }

    return cc_log_draw_line(p, (size_t) (nl - p), d, why) == 0 ? 1 : -1;
}


int
cc_log_stream_id(const char *s, size_t len, uint64_t *ms, uint64_t *seq)
{
    uint64_t     a, b;
    const char  *dash;

    dash = memchr(s, '-', len);

    if (dash == NULL
        || cc_parse_uint(s, (size_t) (dash - s), UINT64_MAX, &a) != 0
        || cc_parse_uint(dash + 1, len - (size_t) (dash - s) - 1,
                         UINT64_MAX, &b) != 0)
    {
        return -1;
    }

    *ms = a;
    *seq = b;
    return 0;
}


int
cc_log_stream_id_next(const char *s, size_t len, char *out, size_t outlen)
{
    int       n;
    uint64_t  ms, seq;

    if (cc_log_stream_id(s, len, &ms, &seq) != 0) {
        return -1;
    }

    if (seq < UINT64_MAX) {
        seq++;

    } else if (ms < UINT64_MAX) {
        ms++;
        seq = 0;

    } else {
        return -1;                  /* nothing comes after the last id */
    }

    n = snprintf(out, outlen, "%llu-%llu", (unsigned long long) ms,
                 (unsigned long long) seq);

    return n > 0 && (size_t) n < outlen ? 0 : -1;
}
