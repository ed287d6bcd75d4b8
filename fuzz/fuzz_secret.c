/*
 * fuzz_secret: the rules of a secret file (common/cc_token.h,
 * cc_token_secret_parse), read by nginx (cc_identity token), cc-token,
 * cc-payout and cc-wallet-sim.
 *
 * The first byte picks the caller's buffer size (0..1055, allocated
 * exactly, so a write past it is ASan's), the rest is the file.  The
 * contract, against a reference reader written here from the rules:
 * strip one "\n" or "\r\n"; 32..1024 bytes that fit are the secret, byte
 * for byte; anything else is refused with buf and *len untouched and a
 * reason in err.
 */

#include "fuzz.h"
#include "cc_token.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc;
    char            err[160];
    size_t          cap, n, len;
    unsigned char  *buf, *file;

    if (size == 0) {
        return 0;
    }

    cap = (size_t) data[0] * 4 + (data[0] & 3) * 8 + (data[0] >> 6);
    data++;
    size--;

    buf = malloc(cap ? cap : 1);
    file = malloc(size ? size : 1);
    FUZZ_ASSERT(buf != NULL && file != NULL);
    memcpy(file, data, size);
    memset(buf, 0x5a, cap ? cap : 1);

    len = 0x5a5a;
    rc = cc_token_secret_parse(file, size, "f", buf, cap, &len, err,
                               sizeof(err));

    /* the reference */
    n = size;

    if (n > 0 && file[n - 1] == '\n') {
        n--;

        if (n > 0 && file[n - 1] == '\r') {
            n--;
        }
    }

    if (n >= CC_TOKEN_SECRET_MIN && n <= CC_TOKEN_SECRET_MAX && n <= cap) {
        FUZZ_ASSERT(rc == 0 && len == n && memcmp(buf, file, n) == 0);

    } else {
        FUZZ_ASSERT(rc == -1 && len == 0x5a5a && err[0] != '\0');
        FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);

        for (n = 0; n < cap; n++) {
            FUZZ_ASSERT(buf[n] == 0x5a);
        }
    }

    free(file);
    free(buf);

    return 0;
}
