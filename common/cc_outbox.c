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
cc_outbox_parse(const char *id, size_t idlen, const char *v, size_t vlen,
    cc_outbox_gift_t *g, const char **why)
{
    const char        *c1, *c2, *end;
    uint64_t           kind, ms;
    cc_outbox_gift_t   t;

    if (cc_gift_id_parse(id, idlen, &t.giver, t.request_id) != 0) {
        *why = "bad gift_id";
        return -1;
    }

    end = v + vlen;
    c1 = memchr(v, ':', vlen);
    c2 = c1 ? memchr(c1 + 1, ':', (size_t) (end - c1 - 1)) : NULL;

    if (c1 == NULL || cc_parse_uid(v, (size_t) (c1 - v), &t.to) != 0) {
        *why = "bad to";
        return -1;
    }

    if (c2 == NULL
        || cc_outbox_num(c1 + 1, (size_t) (c2 - c1 - 1), CC_KINDS_MAX - 1,
                         &kind) != 0)
    {
        *why = "bad kind";
        return -1;
    }

    if (cc_outbox_num(c2 + 1, (size_t) (end - c2 - 1), CC_TS_MAX, &ms) != 0
        || ms == 0)
    {
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
