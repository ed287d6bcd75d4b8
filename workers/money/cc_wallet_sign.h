/*
 * cc_wallet_sign: the signatures of the external wallet's protocol, shared
 * by the adapter (cc_wallet_http.c: signs its calls, checks the answers)
 * and the simulator (cc_wallet_sim.c: checks the calls, signs the
 * answers).
 *
 * A call (the request):
 *
 *   X-CC-Timestamp: <unix ms, decimal>
 *   X-CC-Signature: hex(HMAC-SHA256(secret, method "\n" path "\n"
 *                       idempotency key "\n" timestamp "\n" body))
 *
 * the path as sent (the request target without the host, "/api/credits"),
 * so a call cannot be replayed to another endpoint or under another key.
 *
 * An answer, every one the wallet gives (200, 201, 409, 4xx, 5xx):
 *
 *   X-CC-Timestamp: <unix ms, decimal>
 *   X-CC-Signature: hex(HMAC-SHA256(answer secret, status "\n"
 *                       idempotency key "\n" timestamp "\n" body))
 *
 * the status in three digits, the key of the call it answers.  Without it
 * anyone on the path could answer "applied" for a credit the wallet never
 * saw.  The answer secret is the campaign's wallet_answer_secret_file, by
 * default the call's own secret.
 *
 * A secret is a file of 32..1024 bytes (cc_token_load_secret's rules: one
 * trailing newline is not part of it).  No line of the message holds a
 * newline but the body, which comes last, so the parts cannot shift.
 */

#ifndef CC_WALLET_SIGN_H
#define CC_WALLET_SIGN_H

#include <stddef.h>

#define CC_WALLET_SIG_HEX  64

/*
 * Each writes the 64 lower-case hex digits and a NUL into out (65 bytes).
 * 0, or -1 when libcrypto failed, memory ran out, or a part other than
 * the body holds a newline.
 */
int cc_wallet_sign_request(const unsigned char *secret, size_t slen,
    const char *method, const char *path, const char *key, const char *ts,
    const char *body, size_t blen, char *out);

int cc_wallet_sign_answer(const unsigned char *secret, size_t slen,
    long status, const char *key, const char *ts, const char *body,
    size_t blen, char *out);

/* 1 when sig (hex, any case, siglen bytes) is want, in constant time */
int cc_wallet_sign_eq(const char *want, const char *sig, size_t siglen);

#endif /* CC_WALLET_SIGN_H */
