/*
 * cc_wallet_sign: see cc_wallet_sign.h.  The message "ts\nbody" is put in
 * one buffer and signed with libcrypto's one-shot HMAC().
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cc_wallet_sign.h"


static int
cc_wallet_mac(const unsigned char *secret, size_t slen, const char *ts,
    size_t tslen, const char *body, size_t blen, unsigned char *md)
{
    unsigned int    mdlen;
    unsigned char  *msg;

    msg = malloc(tslen + 1 + blen + 1);
    if (msg == NULL) {
        return -1;
    }

    memcpy(msg, ts, tslen);
    msg[tslen] = '\n';
    memcpy(msg + tslen + 1, body, blen);

    mdlen = 0;

    if (HMAC(EVP_sha256(), secret, (int) slen, msg, tslen + 1 + blen, md,
             &mdlen) == NULL || mdlen != 32)
    {
        free(msg);
        return -1;
    }

    free(msg);

    return 0;
}


int
cc_wallet_sign(const unsigned char *secret, size_t slen, const char *ts,
    size_t tslen, const char *body, size_t blen, char *out)
{
    size_t          i;
    unsigned char   md[EVP_MAX_MD_SIZE];
    static const char  hex[] = "0123456789abcdef";

    if (cc_wallet_mac(secret, slen, ts, tslen, body, blen, md) != 0) {
        return -1;
    }

    for (i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }

    out[CC_WALLET_SIG_HEX] = '\0';

    return 0;
}


int
cc_wallet_sign_ok(const unsigned char *secret, size_t slen, const char *ts,
    size_t tslen, const char *body, size_t blen, const char *sig,
    size_t siglen)
{
    char    want[CC_WALLET_SIG_HEX + 1], low[CC_WALLET_SIG_HEX];
    size_t  i;

    if (siglen != CC_WALLET_SIG_HEX
        || cc_wallet_sign(secret, slen, ts, tslen, body, blen, want) != 0)
    {
        return 0;
    }

    for (i = 0; i < CC_WALLET_SIG_HEX; i++) {
        low[i] = (char) tolower((unsigned char) sig[i]);
    }

    return CRYPTO_memcmp(want, low, CC_WALLET_SIG_HEX) == 0;
}
