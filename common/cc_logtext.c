/*
 * cc_logtext: see the header.  One pass; the place where "..." would
 * still fit is remembered, so a cut text ends there.
 */

#include <stdint.h>
#include <string.h>

#include "cc_logtext.h"


/* the escape of one byte into e (at most 4 bytes); its length */
static size_t
cc_logtext_escape(unsigned char ch, char *e)
{
    static const char  hex[] = "0123456789abcdef";

    switch (ch) {
    case '\\': e[0] = '\\'; e[1] = '\\'; return 2;
    case '\n': e[0] = '\\'; e[1] = 'n'; return 2;
    case '\r': e[0] = '\\'; e[1] = 'r'; return 2;
    case '\t': e[0] = '\\'; e[1] = 't'; return 2;
    }

    if (ch >= 0x20 && ch <= 0x7e) {
        e[0] = (char) ch;
        return 1;
    }

    e[0] = '\\';
    e[1] = 'x';
    e[2] = hex[ch >> 4];
    e[3] = hex[ch & 0xf];

    return 4;
}


size_t
cc_logtext(char *out, size_t outlen, const char *in, size_t inlen)
{
    char    e[4];
    size_t  i, o, cap, elen, cut;

    if (outlen == 0) {
        return 0;
    }

    cap = outlen - 1;
    cut = SIZE_MAX;

    for (i = 0, o = 0; i < inlen; i++) {
        elen = cc_logtext_escape((unsigned char) in[i], e);

        if (cut == SIZE_MAX && o + elen + 3 > cap) {
            cut = o;                /* the last place "..." fits after */
        }

        if (o + elen > cap) {
            if (cut + 3 <= cap) {
                memcpy(out + cut, "...", 3);
                o = cut + 3;

            } else {
                o = cut;
            }

            break;
        }

        memcpy(out + o, e, elen);
        o += elen;
    }

    out[o] = '\0';

    return o;
}
