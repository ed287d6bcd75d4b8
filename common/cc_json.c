/*
 * cc_json: the checks cJSON does not make (see the header).
 *
 * Both walk the text once, knowing only where strings start and end: a
 * '"' outside a string opens one, a '\' inside skips the character after
 * it, a '"' inside closes it.  Outside the strings, a number starts at a
 * '-' or a digit (the letters of true, false and null never hold one) and
 * runs over [0-9.eE+-]; it is read back as the one integer form.
 */

#include <string.h>

#include "cc_json.h"


int
cc_json_has_nul(const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] == '\0') {
            return 1;
        }

        if (p[i] != '\\' || i + 1 >= len) {
            continue;
        }

        if (p[i + 1] == 'u' && len - i >= 6 && p[i + 2] == '0'
            && p[i + 3] == '0' && p[i + 4] == '0' && p[i + 5] == '0')
        {
            return 1;
        }

        i++;                                  /* the escaped character */
    }

    return 0;
}


int
cc_json_has_ctl(const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((unsigned char) p[i] < 0x20 && p[i] != '\t' && p[i] != '\n'
            && p[i] != '\r')
        {
            return 1;
        }
    }

    return 0;
}


static int
cc_json_is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}


static int
cc_json_is_num_char(char ch)
{
    return (ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E'
           || ch == '+' || ch == '-';
}


/* 1 when [p, end) is an integer in its one form (see the header) */
static int
cc_json_int_ok(const char *p, const char *end)
{
    size_t       digits;
    const char  *d;

    d = p + (p < end && *p == '-');
    digits = (size_t) (end - d);

    /* no digit, a leading zero, or -0 (0 has one form: "0") */
    if (digits == 0 || (d[0] == '0' && digits > 1) || (d[0] == '0' && d > p)) {
        return 0;
    }

    for (; d < end; d++) {
        if (*d < '0' || *d > '9') {
            return 0;
        }
    }

    return 1;
}


int
cc_json_member_int_canonical(const char *p, size_t len, const char *key)
{
    int          depth;
    size_t       i, klen, start;

    klen = strlen(key);
    depth = 0;

    for (i = 0; i < len; i++) {
        if (p[i] == '{' || p[i] == '[') {
            depth++;
            continue;
        }

        if (p[i] == '}' || p[i] == ']') {
            depth--;
            continue;
        }

        if (p[i] != '"') {
            continue;
        }

        /* a string: its raw text is p[start, i) */
        start = ++i;

        while (i < len && p[i] != '"') {
            i += (p[i] == '\\') ? 2 : 1;
        }

        if (i >= len) {
            return 0;
        }

        if (depth != 1 || i - start != klen
            || memcmp(p + start, key, klen) != 0)
        {
            continue;
        }

        /* the key of a member of the top object?  then its value */
        for (i++; i < len && cc_json_is_blank(p[i]); i++) { /* void */ }

        if (i >= len || p[i] != ':') {
            i--;
            continue;
        }

        for (i++; i < len && cc_json_is_blank(p[i]); i++) { /* void */ }

        for (start = i; i < len && cc_json_is_num_char(p[i]); i++) {
            /* void */
        }

        return cc_json_int_ok(p + start, p + i);
    }

    return 0;
}


int
cc_json_ints_canonical(const char *p, size_t len)
{
    int          in_string;
    size_t       i, start;

    in_string = 0;

    for (i = 0; i < len; i++) {
        if (in_string) {
            if (p[i] == '\\') {
                i++;

            } else if (p[i] == '"') {
                in_string = 0;
            }

            continue;
        }

        if (p[i] == '"') {
            in_string = 1;
            continue;
        }

        if (p[i] == '+') {
            return 0;
        }

        if (p[i] != '-' && (p[i] < '0' || p[i] > '9')) {
            continue;
        }

        /* the number's whole run, then its form */
        start = i;

        while (i < len && cc_json_is_num_char(p[i])) {
            i++;
        }

        if (!cc_json_int_ok(p + start, p + i)) {
            return 0;
        }

        i--;                        /* the loop's i++ reads the next one */
    }

    return 1;
}
