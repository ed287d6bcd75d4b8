/*
 * cc_award: the strict reading of the field w of the user hash.
 */

#include "cc_award.h"


static int
cc_award_id_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9') || ch == '_' || ch == ':'
           || ch == '-';
}


/*
 * One pass: the status letter and its ':', at most 16 digits (10^15 has
 * 16, so the sum cannot overflow before the bound is checked), the ':'
 * that ends them, then the id to the end.
 */
int
cc_award_parse(const char *s, size_t len, cc_award_t *aw)
{
    size_t       i;
    uint64_t     amount;
    const char  *p, *last, *digits;

    if (len < sizeof("p:1:a") - 1 || (s[0] != 'p' && s[0] != 'c')
        || s[1] != ':')
    {
        return -1;
    }

    p = s + 2;
    last = s + len;
    digits = p;
    amount = 0;

    while (p < last && *p >= '0' && *p <= '9') {
        if (p - digits == 16) {
            return -1;
        }

        amount = amount * 10 + (uint64_t) (*p++ - '0');
    }

    if (p == digits || *digits == '0' || amount > CC_AWARD_AMOUNT_MAX
        || p == last || *p++ != ':')
    {
        return -1;
    }

    if (last - p == 0 || last - p > CC_AWARD_ID_MAX) {
        return -1;
    }

    for (i = 0; p + i < last; i++) {
        if (!cc_award_id_char(p[i])) {
            return -1;
        }
    }

    aw->credited = (s[0] == 'c');
    aw->amount = amount;
    aw->id = p;
    aw->id_len = (size_t) (last - p);

    return 0;
}
