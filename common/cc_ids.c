/*
 * cc_ids: validation of the identifiers that enter from outside.
 */

#include "cc_ids.h"


static int
cc_parse_decimal(const char *s, size_t len, size_t max_digits, uint64_t *out)
{
    uint64_t  v, d;
    size_t    i;

    if (len == 0 || len > max_digits || s[0] == '0') {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        d = (uint64_t) (s[i] - '0');

        if (v > (UINT64_MAX - d) / 10) {
            return -1;                        /* overflow */
        }

        v = v * 10 + d;
    }

    *out = v;
    return 0;
}


int
cc_parse_uid(const char *s, size_t len, uint64_t *uid)
{
    return cc_parse_decimal(s, len, CC_UID_MAX_DIGITS, uid);
}


int
cc_check_request_id(const char *s, size_t len)
{
    size_t  i;
    char    ch;

    if (len == 0 || len > CC_REQUEST_ID_MAX) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        ch = s[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')
        {
            continue;
        }

        return -1;
    }

    return 0;
}


int
cc_parse_count(const char *s, size_t len, uint64_t max, uint64_t *n)
{
    uint64_t  v;

    if (cc_parse_decimal(s, len, CC_UID_MAX_DIGITS, &v) != 0 || v > max) {
        return -1;
    }

    *n = v;
    return 0;
}


int
cc_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *n)
{
    if (len == 1 && s[0] == '0') {
        *n = 0;
        return 0;
    }

    return cc_parse_count(s, len, max, n);
}


int
cc_check_award_id(const char *s, size_t len)
{
    size_t  i;
    char    ch;

    if (len == 0 || len > CC_AWARD_ID_MAX) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        ch = s[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'
            || ch == ':')
        {
            continue;
        }

        return -1;
    }

    return 0;
}
