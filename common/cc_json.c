/*
 * cc_json: the checks cJSON does not make (see the header).
 *
 * Both walk the text once, knowing only where strings start and end: a
 * '"' outside a string opens one, a '\' inside skips the character after
 * it, a '"' inside closes it.  Outside the strings, a number starts at a
 * '-' or a digit (the letters of true, false and null never hold one) and
 * runs over [0-9.eE+-]; it is read back as the one integer form.
 */

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
cc_json_is_num_char(char ch)
{
    return (ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E'
           || ch == '+' || ch == '-';
}


int
cc_json_ints_canonical(const char *p, size_t len)
{
    int          in_string;
    size_t       i, start, digits;
    const char  *d;

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

        d = p + start + (p[start] == '-');
        digits = (size_t) (p + i - d);

        /* no digit, a leading zero, or -0 (0 has one form: "0") */
        if (digits == 0 || (d[0] == '0' && digits > 1)
            || (d[0] == '0' && d > p + start))
        {
            return 0;
        }

        for (; d < p + i; d++) {
            if (*d < '0' || *d > '9') {
                return 0;
            }
        }

        i--;                        /* the loop's i++ reads the next one */
    }

    return 1;
}
