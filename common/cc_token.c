/*
 * cc_token: signed user tokens, "<uid>.<exp>.<kid>.<sig>".
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cc_token.h"
#include "cc_ids.h"
#include "cc_secretfile.h"


#define CC_TOKEN_MAC_LEN     32    /* SHA-256 */
#define CC_TOKEN_EXP_DIGITS  11
#define CC_TOKEN_PAYLOAD_MAX (CC_UID_MAX_DIGITS + 1 + CC_TOKEN_EXP_DIGITS)
/* what is signed: "cc1|<kid>|<uid>.<exp>" */
#define CC_TOKEN_SIGNED_MAX  (sizeof(CC_TOKEN_DOMAIN) + CC_TOKEN_KID_MAX + 1 \
                              + CC_TOKEN_PAYLOAD_MAX)


/*
 * a token taken apart: the payload is "<uid>.<exp>", its first
 * payload_len bytes; kid the key id, sig its signature
 */
typedef struct {
    uint64_t     uid;
    int64_t      exp;
    size_t       payload_len;
    const char  *kid;
    size_t       kid_len;
    const char  *sig;
} cc_token_parts_t;


static int cc_token_secret_take(const unsigned char *data, size_t n,
    const char *path, unsigned char *buf, size_t cap, size_t *len, char *err,
    size_t errlen);


static int
cc_token_b64url_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}


int
cc_token_kid_valid(const char *kid, size_t len)
{
    size_t  i;

    if (kid == NULL || len == 0 || len > CC_TOKEN_KID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!cc_token_b64url_char((unsigned char) kid[i])) {
            return 0;
        }
    }

    return 1;
}


/*
 * The shape: bounded, exactly three dots, only digits before the second,
 * a key id between the second and the third, only base64url after it,
 * canonical decimals, a 43-character signature.  Anything else (NUL,
 * spaces, non-ASCII, '=', '+', '/') is malformed.
 */
static int
cc_token_parse(const char *tok, size_t len, cc_token_parts_t *t)
{
    size_t          i, n, dot[3], elen;
    int64_t         exp;
    const char     *e;
    unsigned char   ch;

    if (tok == NULL || len == 0 || len > CC_TOKEN_MAX) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        ch = (unsigned char) tok[i];

        if (ch == '.') {
            if (n == 3) {
                return -1;
            }

            dot[n++] = i;
            continue;
        }

        if (n < 2 ? (ch < '0' || ch > '9') : !cc_token_b64url_char(ch)) {
            return -1;
        }
    }

    if (n != 3 || len - dot[2] - 1 != CC_TOKEN_SIG_LEN) {
        return -1;
    }

    if (cc_parse_uid(tok, dot[0], &t->uid) != 0) {
        return -1;
    }

    e = tok + dot[0] + 1;
    elen = dot[1] - dot[0] - 1;

    if (elen == 0 || elen > CC_TOKEN_EXP_DIGITS || e[0] == '0') {
        return -1;
    }

    exp = 0;

    for (i = 0; i < elen; i++) {
        exp = exp * 10 + (e[i] - '0');       /* 11 digits: no overflow */
    }

    if (exp > CC_TOKEN_EXP_MAX) {
        return -1;
    }

    t->kid = tok + dot[1] + 1;
    t->kid_len = dot[2] - dot[1] - 1;

    if (!cc_token_kid_valid(t->kid, t->kid_len)) {
        return -1;
    }

    t->exp = exp;
    t->payload_len = dot[1];
    t->sig = tok + dot[2] + 1;

    return 0;
}


/*
 * sig = base64url(HMAC-SHA256(secret, "cc1|<kid>|<payload>")) without
 * padding: 43 characters and a NUL.  0, or -1 when libcrypto fails.
 */
static int
cc_token_mac(const unsigned char *secret, size_t slen, const char *kid,
    size_t kid_len, const char *payload, size_t plen, char *sig)
{
    int             rc;
    size_t          i, n;
    unsigned int    mlen;
    unsigned char   mac[EVP_MAX_MD_SIZE];
    unsigned char   b64[4 * ((CC_TOKEN_MAC_LEN + 2) / 3) + 1];
    char            msg[CC_TOKEN_SIGNED_MAX];

    rc = -1;
    mlen = 0;

    if (kid_len > CC_TOKEN_KID_MAX || plen > CC_TOKEN_PAYLOAD_MAX) {
        return -1;
    }

    n = sizeof(CC_TOKEN_DOMAIN) - 1;
    memcpy(msg, CC_TOKEN_DOMAIN, n);
    msg[n++] = '|';
    memcpy(msg + n, kid, kid_len);
    n += kid_len;
    msg[n++] = '|';
    memcpy(msg + n, payload, plen);
    n += plen;

    if (HMAC(EVP_sha256(), secret, (int) slen, (const unsigned char *) msg,
             n, mac, &mlen)
        == NULL || mlen != CC_TOKEN_MAC_LEN)
    {
        goto done;
    }

    /* 44 characters, the last one '=' */
    if (EVP_EncodeBlock(b64, mac, CC_TOKEN_MAC_LEN) != sizeof(b64) - 1) {
        goto done;
    }

    for (i = 0; i < CC_TOKEN_SIG_LEN; i++) {
        switch (b64[i]) {
        case '+':
            sig[i] = '-';
            break;
        case '/':
            sig[i] = '_';
            break;
        default:
            sig[i] = (char) b64[i];
        }
    }

    sig[CC_TOKEN_SIG_LEN] = '\0';
    rc = 0;

done:

    OPENSSL_cleanse(mac, sizeof(mac));
    OPENSSL_cleanse(b64, sizeof(b64));

    return rc;
}


static int
cc_token_secret_ok(const unsigned char *secret, size_t slen)
{
    return secret != NULL && slen >= CC_TOKEN_SECRET_MIN
           && slen <= CC_TOKEN_SECRET_MAX;
}


int
cc_token_sign(const unsigned char *secret, size_t slen, const char *kid,
    uint64_t uid, int64_t exp, char *out, size_t outlen)
{
    int     n;
    char    payload[CC_TOKEN_PAYLOAD_MAX + 1];
    char    sig[CC_TOKEN_SIG_LEN + 1];
    size_t  len, klen;

    if (uid == 0 || exp < 1 || exp > CC_TOKEN_EXP_MAX || out == NULL
        || kid == NULL || !cc_token_secret_ok(secret, slen))
    {
        return -1;
    }

    klen = strnlen(kid, CC_TOKEN_KID_MAX + 1);

    if (!cc_token_kid_valid(kid, klen)) {
        return -1;
    }

    n = snprintf(payload, sizeof(payload), "%llu.%lld",
                 (unsigned long long) uid, (long long) exp);

    if (n < 0 || (size_t) n >= sizeof(payload)) {
        return -1;
    }

    len = (size_t) n + 1 + klen + 1 + CC_TOKEN_SIG_LEN;

    if (len >= outlen || len > CC_TOKEN_MAX) {
        return -1;
    }

    if (cc_token_mac(secret, slen, kid, klen, payload, (size_t) n, sig) != 0)
    {
        return -1;
    }

    memcpy(out, payload, (size_t) n);
    out[n] = '.';
    memcpy(out + n + 1, kid, klen);
    out[n + 1 + klen] = '.';
    memcpy(out + n + 1 + klen + 1, sig, CC_TOKEN_SIG_LEN + 1);

    return (int) len;
}


cc_token_rc_e
cc_token_verify(const cc_token_key_t *keys, size_t nkeys, const char *tok,
    size_t len, int64_t now, int64_t max_ttl, uint64_t *uid)
{
    int                    diff;
    char                   sig[CC_TOKEN_SIG_LEN + 1];
    size_t                 i;
    cc_token_parts_t       t;
    const cc_token_key_t  *key;

    if (cc_token_parse(tok, len, &t) != 0) {
        return CC_TOKEN_MALFORMED;
    }

    key = NULL;

    for (i = 0; keys != NULL && i < nkeys; i++) {
        if (keys[i].kid_len == t.kid_len
            && memcmp(keys[i].kid, t.kid, t.kid_len) == 0)
        {
            key = &keys[i];
            break;
        }
    }

    if (key == NULL) {
        return CC_TOKEN_UNKNOWN_KEY;
    }

    if (!cc_token_secret_ok(key->secret, key->slen)
        || cc_token_mac(key->secret, key->slen, t.kid, t.kid_len, tok,
                        t.payload_len, sig)
           != 0)
    {
        return CC_TOKEN_BAD_SIGNATURE;          /* fail closed */
    }

    /* all 43 bytes, whatever the first difference */
    diff = CRYPTO_memcmp(sig, t.sig, CC_TOKEN_SIG_LEN);

    /* the expected signature of a payload the caller chose: a forgery */
    OPENSSL_cleanse(sig, sizeof(sig));

    if (diff != 0) {
        return CC_TOKEN_BAD_SIGNATURE;
    }

    if (t.exp <= now) {
        return CC_TOKEN_EXPIRED;
    }

    /* exp - now > max_ttl, written so that neither side overflows */
    if (max_ttl > 0 && now < t.exp - max_ttl) {
        return CC_TOKEN_TOO_LONG_LIVED;
    }

    *uid = t.uid;

    return CC_TOKEN_OK;
}


int
cc_token_secret_parse(const unsigned char *data, size_t n, const char *path,
    unsigned char *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
    if (n > 0 && data[n - 1] == '\n') {
        n--;

        if (n > 0 && data[n - 1] == '\r') {
            n--;
        }
    }

    return cc_token_secret_take(data, n, path, buf, cap, len, err, errlen);
}


/* a secret, its newline dropped: its bounds, then into the caller's buf */
static int
cc_token_secret_take(const unsigned char *data, size_t n, const char *path,
    unsigned char *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
    if (errlen > 0) {
        err[0] = '\0';
    }

    if (n > CC_TOKEN_SECRET_MAX) {
        snprintf(err, errlen, "secret file \"%s\" is longer than %d bytes",
                 path, CC_TOKEN_SECRET_MAX);
        return -1;
    }

    if (n < CC_TOKEN_SECRET_MIN) {
        snprintf(err, errlen, "secret file \"%s\" holds %zu bytes, "
                 "at least %d are needed", path, n, CC_TOKEN_SECRET_MIN);
        return -1;
    }

    if (n > cap) {
        snprintf(err, errlen, "secret file \"%s\": %zu bytes do not fit in "
                 "%zu", path, n, cap);
        return -1;
    }

    memcpy(buf, data, n);
    *len = n;

    return 0;
}


/* the common reader (common/cc_secretfile.c), with the token's bounds */
int
cc_token_load_secret(const char *path, unsigned char *buf, size_t cap,
    size_t *len, char *err, size_t errlen)
{
    int                 rc;
    char                tmp[CC_TOKEN_SECRET_MAX + 3];  /* max, "\r\n", one */
    cc_secretfile_t     sf;
    cc_secretfile_rc_e  frc;

    if (errlen > 0) {
        err[0] = '\0';
    }

    frc = cc_secretfile_read(path, tmp, sizeof(tmp), &sf);

    switch (frc) {

    case CC_SECRETFILE_OK:
        rc = cc_token_secret_take((unsigned char *) tmp, sf.len, path, buf,
                                  cap, len, err, errlen);
        OPENSSL_cleanse(tmp, sizeof(tmp));
        return rc;

    case CC_SECRETFILE_OPEN:
        snprintf(err, errlen, "cannot open secret file \"%s\": %s", path,
                 strerror(sf.errnum));
        break;

    case CC_SECRETFILE_READ:
        snprintf(err, errlen, "cannot read secret file \"%s\": %s", path,
                 strerror(sf.errnum));
        break;

    /* a secret others may read is no secret: refused, as ssh does */
    case CC_SECRETFILE_MODE:
        snprintf(err, errlen, "secret file \"%s\" is open to its group or "
                 "others (mode %04o): make it 0600 or 0400", path, sf.mode);
        break;

    case CC_SECRETFILE_TOO_LONG:
        snprintf(err, errlen, "secret file \"%s\" is longer than %d bytes",
                 path, CC_TOKEN_SECRET_MAX);
        break;

    case CC_SECRETFILE_EMPTY:
        snprintf(err, errlen, "secret file \"%s\" holds 0 bytes, "
                 "at least %d are needed", path, CC_TOKEN_SECRET_MIN);
        break;

    default:
        snprintf(err, errlen, "secret file \"%s\": %s", path,
                 cc_secretfile_strerror(frc));
    }

    return -1;
}


const char *
cc_token_strerror(cc_token_rc_e rc)
{
    switch (rc) {
    case CC_TOKEN_OK:
        return "ok";
    case CC_TOKEN_MALFORMED:
        return "malformed";
    case CC_TOKEN_UNKNOWN_KEY:
        return "unknown key";
    case CC_TOKEN_BAD_SIGNATURE:
        return "bad signature";
    case CC_TOKEN_EXPIRED:
        return "expired";
    case CC_TOKEN_TOO_LONG_LIVED:
        return "too long lived";
    }

    return "unknown";
}
