/*
 * fuzz_logtext: common/cc_logtext.h, the escape of outside text (a
 * wallet's answer) for a log line.  The first input byte is the output
 * buffer's size (0..255), the rest the text.  The contract:
 *
 *   - the output is NUL-terminated within the buffer, nothing written
 *     past it, and the count returned is its length;
 *   - it holds only printable ASCII: no newline, no control, no byte
 *     >= 0x80;
 *   - when it does not end in "..." (it was not cut), unescaping it gives
 *     the text back exactly;
 *   - a cut one, minus the "...", unescapes to a prefix of the text.
 */

#include "fuzz.h"
#include "cc_logtext.h"


/* unescapes s (as cc_logtext writes) into out; its length, or -1 */
static long
fuzz_unescape(const char *s, size_t len, unsigned char *out)
{
    size_t  i, o;

    for (i = 0, o = 0; i < len; i++) {
        if (s[i] != '\\') {
            out[o++] = (unsigned char) s[i];
            continue;
        }

        FUZZ_ASSERT(i + 1 < len);

        switch (s[++i]) {
        case '\\': out[o++] = '\\'; break;
        case 'n':  out[o++] = '\n'; break;
        case 'r':  out[o++] = '\r'; break;
        case 't':  out[o++] = '\t'; break;

        case 'x':
            FUZZ_ASSERT(i + 2 < len);
            out[o++] = (unsigned char) strtoul((char[]) { s[i + 1], s[i + 2],
                                                          '\0' }, NULL, 16);
            i += 2;
            break;

        default:
            return -1;
        }
    }

    return (long) o;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char           *out;
    long            n;
    size_t          i, outlen, len, body;
    unsigned char  *back;

    if (size == 0) {
        return 0;
    }

    outlen = data[0];
    data++;
    size--;

    out = malloc(outlen + 1);
    back = malloc(size + 1);
    FUZZ_ASSERT(out != NULL && back != NULL);
    out[outlen] = 'Z';                  /* past the buffer given */

    len = cc_logtext(out, outlen, (const char *) data, size);
    FUZZ_ASSERT(out[outlen] == 'Z');

    if (outlen == 0) {
        FUZZ_ASSERT(len == 0);
        goto done;
    }

    FUZZ_ASSERT(len < outlen && strlen(out) == len);

    for (i = 0; i < len; i++) {
        FUZZ_ASSERT(out[i] >= 0x20 && out[i] <= 0x7e);
    }

    body = len >= 3 && memcmp(out + len - 3, "...", 3) == 0
           ? len - 3 : len;
    n = fuzz_unescape(out, body, back);

    if (body == len && n >= 0 && (size_t) n == size) {
        FUZZ_ASSERT(memcmp(back, data, size) == 0);

    } else {
        /* cut (or the text itself ends in "..."): a prefix */
        if (n < 0 || (size_t) n > size || memcmp(back, data, (size_t) n)) {
            /* the text's own "..." unescaped with the rest */
            n = fuzz_unescape(out, len, back);
            FUZZ_ASSERT(n >= 0 && (size_t) n <= size
                        && memcmp(back, data, (size_t) n) == 0);
        }
    }

done:

    free(out);
    free(back);

    return 0;
}
