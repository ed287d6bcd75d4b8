/*
 * cc_wallet_sign: see cc_wallet_sign.h.  The message, its parts joined by
 * "\n", is put in one buffer and signed with libcrypto's one-shot HMAC().
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cc_wallet_sign.h"


/* the parts p[0..n) (the last one, the body, plen[n-1] bytes) */
static int
cc_wallet_sign_parts(const unsigned char *secret, size_t slen,
    const char *const *p, const size_t *plen, size_t n, char *out)
{
    size_t          i, len, at;
    unsigned int    mdlen;
    unsigned char  *msg, md[EVP_MAX_MD_SIZE];

    static const char  hex[] = "0123456789abcdef";

    for (i = 0, len = 0; i < n; i++) {
        if (i + 1 < n && memchr(p[i], '\n', plen[i]) != NULL) {
            return -1;
        }

        len += plen[i] + 1;
    }

    msg = malloc(len ? len : 1);
    if (msg == NULL) {
        return -1;
    }

    for (i = 0, at = 0; i < n; i++) {
        memcpy(msg + at, p[i], plen[i]);
        at += plen[i];

        if (i + 1 < n) {
            msg[at++] = '\n';
        }
    }

    mdlen = 0;

    if (HMAC(EVP_sha256(), secret, (int) slen, msg, at, md, &mdlen) == NULL
        || mdlen != 32)
    {
        free(msg);
        return -1;
    }

    free(msg);

    for (i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }

    out[CC_WALLET_SIG_HEX] = '\0';

    return 0;
}


int
cc_wallet_sign_request(const unsigned char *secret, size_t slen,
    const char *method, const char *path, const char *key, const char *ts,
    const char *body, size_t blen, char *out)
{
    const char  *p[5] = { method, path, key, ts, body };
    size_t       plen[5];

    plen[0] = strlen(method);
    plen[1] = strlen(path);
    plen[2] = strlen(key);
    plen[3] = strlen(ts);
    plen[4] = blen;

    return cc_wallet_sign_parts(secret, slen, p, plen, 5, out);
}


int
cc_wallet_sign_answer(const unsigned char *secret, size_t slen,
    long status, const char *key, const char *ts, const char *body,
    size_t blen, char *out)
{
    char         st[24];
    const char  *p[4] = { st, key, ts, body };
    size_t       plen[4];

    if (status < 100 || status > 999) {
        return -1;
    }

    snprintf(st, sizeof(st), "%ld", status);
    plen[0] = strlen(st);
    plen[1] = strlen(key);
    plen[2] = strlen(ts);
    plen[3] = blen;

    return cc_wallet_sign_parts(secret, slen, p, plen, 4, out);
}


int
cc_wallet_sign_eq(const char *want, const char *sig, size_t siglen)
{
    char    low[CC_WALLET_SIG_HEX];
    size_t  i;

    if (siglen != CC_WALLET_SIG_HEX) {
        return 0;
    }

    for (i = 0; i < CC_WALLET_SIG_HEX; i++) {
        low[i] = (char) tolower((unsigned char) sig[i]);
    }

    return CRYPTO_memcmp(want, low, CC_WALLET_SIG_HEX) == 0;
}
