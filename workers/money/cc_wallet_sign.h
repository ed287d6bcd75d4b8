/*
 * cc_wallet_sign: the signature of a call to the external wallet, shared
 * by the adapter (cc_wallet.c, which signs) and the simulator
 * (cc_wallet_sim.c, which checks).
 *
 *   X-CC-Timestamp: <unix ms, decimal>
 *   X-CC-Signature: hex(HMAC-SHA256(secret, timestamp + "\n" + body))
 *
 * The secret is a file of 32..1024 bytes (cc_token_load_secret's rules:
 * one trailing newline is not part of it).
 */

#ifndef CC_WALLET_SIGN_H
#define CC_WALLET_SIGN_H

#include <stddef.h>

#define CC_WALLET_SIG_HEX  64

/*
 * Writes the 64 lower-case hex digits and a NUL into out (65 bytes).
 * 0, or -1 when libcrypto failed or memory ran out.
 */
int cc_wallet_sign(const unsigned char *secret, size_t slen, const char *ts,
    size_t tslen, const char *body, size_t blen, char *out);

/* 1 when sig (hex, any case) is the signature, in constant time; else 0 */
int cc_wallet_sign_ok(const unsigned char *secret, size_t slen,
    const char *ts, size_t tslen, const char *body, size_t blen,
    const char *sig, size_t siglen);

#endif /* CC_WALLET_SIGN_H */
