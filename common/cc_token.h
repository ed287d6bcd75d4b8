/*
 * cc_token: signed user tokens, "<uid>.<exp>.<sig>".
 *
 * uid is a positive 64-bit decimal as cc_parse_uid() accepts it, exp the
 * expiry in unix seconds (decimal, no leading zero, 1..99999999999), sig
 * the base64url, without padding, of HMAC-SHA256(secret, "<uid>.<exp>"):
 * 43 characters.  The uid is in clear on purpose, so that an edge proxy
 * can route by it without the secret; only the signature makes it true.
 *
 * Shared by the nginx module and the workers; plain C over libcrypto, no
 * allocation.
 */

#ifndef CC_TOKEN_H
#define CC_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define CC_TOKEN_MAX         128   /* longer input is malformed */
#define CC_TOKEN_SECRET_MIN  32
#define CC_TOKEN_SECRET_MAX  1024
#define CC_TOKEN_SIG_LEN     43    /* base64url of 32 bytes, no padding */
#define CC_TOKEN_EXP_MAX     99999999999LL

typedef enum {
    CC_TOKEN_OK = 0,
    CC_TOKEN_MALFORMED,
    CC_TOKEN_BAD_SIGNATURE,
    CC_TOKEN_EXPIRED
} cc_token_rc_e;

/*
 * Writes the NUL-terminated token into out and returns its length, or -1:
 * uid 0, exp outside 1..CC_TOKEN_EXP_MAX, out too small, a secret shorter
 * than CC_TOKEN_SECRET_MIN or longer than CC_TOKEN_SECRET_MAX bytes.
 */
int cc_token_sign(const unsigned char *secret, size_t slen, uint64_t uid,
    int64_t exp, char *out, size_t outlen);

/*
 * Checks, in this order, the shape (bounds, characters, the canonical
 * decimals), the signature (compared in constant time) and the expiry
 * (exp <= now is expired), so a forged token is a bad signature even when
 * its exp has passed.  tok is len bytes, not NUL-terminated.  Sets *uid
 * only on CC_TOKEN_OK.  A secret of a length sign refuses never verifies.
 */
cc_token_rc_e cc_token_verify(const unsigned char *secret, size_t slen,
    const char *tok, size_t len, int64_t now, uint64_t *uid);

/*
 * Reads a secret file into buf (cap bytes) and sets *len; one trailing
 * "\n" or "\r\n" is stripped.  Returns 0, or -1 with a message in err
 * when the file is unreadable, open to its group or to others (any of
 * the mode bits 077: a secret file is 0600 or 0400), shorter than
 * CC_TOKEN_SECRET_MIN or longer than CC_TOKEN_SECRET_MAX bytes, or longer
 * than cap.
 */
int cc_token_load_secret(const char *path, unsigned char *buf, size_t cap,
    size_t *len, char *err, size_t errlen);

/*
 * The rules of cc_token_load_secret over a file's n bytes already read
 * (path only names it in err).  buf and *len are untouched on -1.
 */
int cc_token_secret_parse(const unsigned char *data, size_t n,
    const char *path, unsigned char *buf, size_t cap, size_t *len,
    char *err, size_t errlen);

/* "ok", "malformed", "bad signature", "expired" */
const char *cc_token_strerror(cc_token_rc_e rc);

#endif /* CC_TOKEN_H */
