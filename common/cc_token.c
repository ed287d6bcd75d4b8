/*
 * cc_token: signed user tokens, "<uid>.<exp>.<sig>".
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


#define CC_TOKEN_MAC_LEN     32    /* SHA-256 */
#define CC_TOKEN_EXP_DIGITS  11
#define CC_TOKEN_PAYLOAD_MAX (CC_UID_MAX_DIGITS + 1 + CC_TOKEN_EXP_DIGITS)


/* a token taken apart; the payload is "<uid>.<exp>", sig its signature */
typedef struct {
    uint64_t     uid;
    int64_t      exp;
    size_t       payload_len;
    const char  *sig;
} cc_token_parts_t;


static int
cc_token_b64url_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}


/*
 * The shape: bounded, exactly two dots, only digits before the second and
 * only base64url after it, canonical decimals, a 43-character signature.
 * Anything else (NUL, spaces, non-ASCII, '=', '+', '/') is malformed.
 */
static int
cc_token_parse(const char *tok, size_t len, cc_token_parts_t *t)
{
    size_t          i, n, dot[2], elen;
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
            if (n == 2) {
                return -1;
            }

            dot[n++] = i;
            continue;
        }

        if (n < 2 ? (ch < '0' || ch > '9') : !cc_token_b64url_char(ch)) {
            return -1;
        }
    }

    if (n != 2 || len - dot[1] - 1 != CC_TOKEN_SIG_LEN) {
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

    t->exp = exp;
    t->payload_len = dot[1];
    t->sig = tok + dot[1] + 1;

    return 0;
}


/*
 * sig = base64url(HMAC-SHA256(secret, payload)) without padding: 43
 * characters and a NUL.  0, or -1 when libcrypto fails.
 */
static int
cc_token_mac(const unsigned char *secret, size_t slen, const char *payload,
    size_t plen, char *sig)
{
    int             rc;
    size_t          i;
    unsigned int    mlen;
    unsigned char   mac[EVP_MAX_MD_SIZE];
    unsigned char   b64[4 * ((CC_TOKEN_MAC_LEN + 2) / 3) + 1];

    rc = -1;
    mlen = 0;

    if (HMAC(EVP_sha256(), secret, (int) slen, (const unsigned char *) payload,
             plen, mac, &mlen)
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
cc_token_sign(const unsigned char *secret, size_t slen, uint64_t uid,
    int64_t exp, char *out, size_t outlen)
{
    int     n;
    char    payload[CC_TOKEN_PAYLOAD_MAX + 1];
    char    sig[CC_TOKEN_SIG_LEN + 1];
    size_t  len;

    if (uid == 0 || exp < 1 || exp > CC_TOKEN_EXP_MAX || out == NULL
        || !cc_token_secret_ok(secret, slen))
    {
        return -1;
    }

    n = snprintf(payload, sizeof(payload), "%llu.%lld",
                 (unsigned long long) uid, (long long) exp);

    if (n < 0 || (size_t) n >= sizeof(payload)) {
        return -1;
    }

    len = (size_t) n + 1 + CC_TOKEN_SIG_LEN;

    if (len >= outlen) {
        return -1;
    }

    if (cc_token_mac(secret, slen, payload, (size_t) n, sig) != 0) {
        return -1;
    }

    memcpy(out, payload, (size_t) n);
    out[n] = '.';
    memcpy(out + n + 1, sig, CC_TOKEN_SIG_LEN + 1);

    return (int) len;
}


cc_token_rc_e
cc_token_verify(const unsigned char *secret, size_t slen, const char *tok,
    size_t len, int64_t now, uint64_t *uid)
{
    int               diff;
    char              sig[CC_TOKEN_SIG_LEN + 1];
    cc_token_parts_t  t;

    if (cc_token_parse(tok, len, &t) != 0) {
        return CC_TOKEN_MALFORMED;
    }

    if (!cc_token_secret_ok(secret, slen)
        || cc_token_mac(secret, slen, tok, t.payload_len, sig) != 0)
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

    *uid = t.uid;

    return CC_TOKEN_OK;
}


int
cc_token_secret_parse(const unsigned char *data, size_t n, const char *path,
    unsigned char *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
    if (errlen > 0) {
        err[0] = '\0';
    }

    if (n > 0 && data[n - 1] == '\n') {
        n--;

        if (n > 0 && data[n - 1] == '\r') {
            n--;
        }
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


int
cc_token_load_secret(const char *path, unsigned char *buf, size_t cap,
    size_t *len, char *err, size_t errlen)
{
    int            fd, rc;
    size_t         n;
    ssize_t        r;
    struct stat    st;
    unsigned char  tmp[CC_TOKEN_SECRET_MAX + 3];  /* the max, "\r\n", one */

    rc = -1;
    n = 0;

    if (errlen > 0) {
        err[0] = '\0';
    }

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "cannot open secret file \"%s\": %s", path,
                 strerror(errno));
        return -1;
    }

    /* a secret others may read is no secret: refused, as ssh does */
    if (fstat(fd, &st) == -1) {
        snprintf(err, errlen, "cannot stat secret file \"%s\": %s", path,
                 strerror(errno));
        goto done;
    }

    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen, "secret file \"%s\" is open to its group or "
                 "others (mode %04o): make it 0600 or 0400", path,
                 (unsigned int) (st.st_mode & 07777));
        goto done;
    }

    /* read one byte past any acceptable file, to tell "too long" */
    while (n < sizeof(tmp)) {
        r = read(fd, tmp + n, sizeof(tmp) - n);

        if (r == -1) {
            if (errno == EINTR) {
                continue;
            }

            snprintf(err, errlen, "cannot read secret file \"%s\": %s", path,
                     strerror(errno));
            goto done;
        }

        if (r == 0) {
            break;
        }

        n += (size_t) r;
    }

    rc = cc_token_secret_parse(tmp, n, path, buf, cap, len, err, errlen);

done:

    OPENSSL_cleanse(tmp, sizeof(tmp));
    close(fd);

    return rc;
}


const char *
cc_token_strerror(cc_token_rc_e rc)
{
    switch (rc) {
    case CC_TOKEN_OK:
        return "ok";
    case CC_TOKEN_MALFORMED:
        return "malformed";
    case CC_TOKEN_BAD_SIGNATURE:
        return "bad signature";
    case CC_TOKEN_EXPIRED:
        return "expired";
    }

    return "unknown";
}
