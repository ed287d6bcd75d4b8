/*
 * cc_token: signed user tokens, "<uid>.<exp>.<kid>.<sig>".
 *
 * uid is a positive 64-bit decimal as cc_parse_uid() accepts it, exp the
 * expiry in unix seconds (decimal, no leading zero, 1..99999999999), kid
 * the id of the key that signed it (1..16 of [A-Za-z0-9_-]; "0" is the
 * key of "cc_identity token FILE"), sig the base64url, without padding, of
 * HMAC-SHA256(secret, "cc1|<kid>|<uid>.<exp>"): 43 characters.  The
 * "cc1|" prefix is the format's version and domain, so that a MAC the
 * same secret made for something else is never a token.  The uid is in
 * clear on purpose, so that an edge proxy can route by it without the
 * secret; only the signature makes it true.
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
#define CC_TOKEN_KID_MAX     16
#define CC_TOKEN_KID_DEFAULT "0"   /* the key of "cc_identity token FILE" */
#define CC_TOKEN_MAX_TTL     86400 /* the default bound of exp - now */
#define CC_TOKEN_DOMAIN      "cc1"  /* signed first: the format, version 1 */

typedef enum {
    CC_TOKEN_OK = 0,
    CC_TOKEN_MALFORMED,
    CC_TOKEN_UNKNOWN_KEY,
    CC_TOKEN_BAD_SIGNATURE,
    CC_TOKEN_EXPIRED,
    CC_TOKEN_TOO_LONG_LIVED
} cc_token_rc_e;


/* a verifying key: its id and its secret (not owned) */
typedef struct {
    const char           *kid;
    size_t                kid_len;
    const unsigned char  *secret;
    size_t                slen;
} cc_token_key_t;


/* 1 when kid (len bytes) is a key id: 1..CC_TOKEN_KID_MAX of [A-Za-z0-9_-] */
int cc_token_kid_valid(const char *kid, size_t len);

/*
 * Writes the NUL-terminated token, signed with secret under the key id kid
 * (NUL-terminated), into out and returns its length, or -1: uid 0, exp
 * outside 1..CC_TOKEN_EXP_MAX, a kid cc_token_kid_valid() refuses, out too
 * small, a secret shorter than CC_TOKEN_SECRET_MIN or longer than
 * CC_TOKEN_SECRET_MAX bytes.
 */
int cc_token_sign(const unsigned char *secret, size_t slen, const char *kid,
    uint64_t uid, int64_t exp, char *out, size_t outlen);

/*
 * Checks, in this order, the shape (bounds, characters, the canonical
 * decimals), the key id (one of the nkeys keys, else unknown key), the
 * signature (compared in constant time), the expiry (exp <= now is
 * expired) and the lifetime (exp - now > max_ttl is too long lived;
 * max_ttl 0: no bound), so a forged token is a bad signature whatever its
 * exp.  tok is len bytes, not NUL-terminated.  Sets *uid only on
 * CC_TOKEN_OK.  A secret of a length sign refuses never verifies.
 */
cc_token_rc_e cc_token_verify(const cc_token_key_t *keys, size_t nkeys,
    const char *tok, size_t len, int64_t now, int64_t max_ttl,
    uint64_t *uid);

/*
 * Reads a secret file into buf (cap bytes) and sets *len; one trailing
 * "\n" or "\r\n" is stripped.  Returns 0, or -1 with a message in err
 * when the file is unreadable, open to its group or to others (any of
 * the mode bits 077: a secret file is 0600 or 0400), shorter
 * than CC_TOKEN_SECRET_MIN or longer than CC_TOKEN_SECRET_MAX bytes, or
 * longer than cap.
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

/*
 * "ok", "malformed", "unknown key", "bad signature", "expired",
 * "too long lived"
 */
const char *cc_token_strerror(cc_token_rc_e rc);

#endif /* CC_TOKEN_H */
