/*
 * cc_outbox: an outbox entry read back (see cc_outbox.h).
 */

#include <string.h>

#include "cc_cards.h"
#include "cc_ids.h"
#include "cc_outbox.h"


/* a decimal in its one form, at most max: 0 and *v, or -1 */
static int
cc_outbox_num(const char *s, size_t len, uint64_t max, uint64_t *v)
{
    size_t    i;
    uint64_t  n;

    if (len == 0 || len > 20 || (len > 1 && s[0] == '0')) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9'
            || n > (max - (uint64_t) (s[i] - '0')) / 10)
        {
            return -1;
        }

        n = n * 10 + (uint64_t) (s[i] - '0');
    }

    *v = n;

    return 0;
}


int
cc_outbox_is_old(const char *m, size_t mlen)
{
    const char  *c;

    c = memchr(m, ':', mlen);

    return c == NULL || memchr(c + 1, ':', (size_t) (m + mlen - c - 1))
                        == NULL;
}


/*
 * A member "giver:request_id:to:kind" with its score "ms", or an old
 * "giver:request_id" with its value "to:kind:ms": either way the gift id
 * id[0..idlen), then "to:kind" tk[0..tklen), then the ms.
 */
int
cc_outbox_parse(const char *m, size_t mlen, const char *v, size_t vlen,
    cc_outbox_gift_t *g, const char **why)
{
    size_t             tklen, mslen;
    uint64_t           kind, ms;
    const char        *c, *tk, *msp;
    cc_outbox_gift_t   t;

    t.old = cc_outbox_is_old(m, mlen);

    if (t.old) {
        t.idlen = mlen;
        tk = v;
        c = memchr(v, ':', vlen);
        c = c ? memchr(c + 1, ':', (size_t) (v + vlen - c - 1)) : NULL;
        tklen = c ? (size_t) (c - v) : vlen;
        msp = c ? c + 1 : v + vlen;
        mslen = (size_t) (v + vlen - msp);

    } else {
        c = memchr(m, ':', mlen);
        c = memchr(c + 1, ':', (size_t) (m + mlen - c - 1));
        t.idlen = (size_t) (c - m);
        tk = c + 1;
        tklen = (size_t) (m + mlen - tk);
        msp = v;
        mslen = vlen;
    }

    if (cc_gift_id_parse(m, t.idlen, &t.giver, t.request_id) != 0) {
        *why = "bad gift_id";
        return -1;
    }

    c = memchr(tk, ':', tklen);

    if (c == NULL || cc_parse_uid(tk, (size_t) (c - tk), &t.to) != 0) {
        *why = "bad to";
        return -1;
    }

    if (cc_outbox_num(c + 1, (size_t) (tk + tklen - c - 1), CC_KINDS_MAX - 1,
                      &kind) != 0)
    {
        *why = "bad kind";
        return -1;
    }

    if (cc_outbox_num(msp, mslen, CC_TS_MAX, &ms) != 0 || ms == 0) {
        *why = "bad ms";
        return -1;
    }

    if (t.to == t.giver) {
        *why = "gift to its giver";
        return -1;
    }

    t.kind = (uint32_t) kind;
    t.ms = (int64_t) ms;
    *g = t;

    return 0;
}
