/*
 * fuzz_token: the signed token (common/cc_token.h).
 *
 * The input is taken apart: a secret length byte and the secret, the uid,
 * exp and "now" of a token to mint, a byte position and a mask to damage
 * it with, a lifetime bound (4 bytes, 0: none), and the rest as a token
 * from outside.  The verifier holds one key, "0", the secret.  The
 * contract:
 *
 *   - sign refuses exactly uid 0, exp outside 1..CC_TOKEN_EXP_MAX and a
 *     secret outside 32..1024 bytes;
 *   - a minted token verifies, with its uid, until exp, then is expired;
 *     under a bound, it is too long lived exactly when exp - now exceeds
 *     it;
 *   - any one byte changed, it never verifies;
 *   - a token from outside is malformed exactly when its shape is wrong
 *     (checked here by its own reading), of an unknown key exactly when
 *     its key id is not "0"; if it verifies, minting its uid and exp gives
 *     it back byte for byte, so no two spellings pass.
 */

#include "fuzz.h"
#include "cc_ids.h"
#include "cc_token.h"


static int
fuzz_b64url(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}


/*
 * the shape by another reading: 0 with the uid, exp and key id
 * ("<uid>.<exp>.<kid>.<sig>"), or -1
 */
static int
fuzz_ref_shape(const char *t, size_t len, uint64_t *uid, int64_t *exp,
    const char **kid, size_t *klen)
{
    size_t       i, ulen, elen, slen;
    const char  *d1, *d2, *d3, *e, *sig;

    if (len == 0 || len > CC_TOKEN_MAX) {
        return -1;
    }

    d1 = memchr(t, '.', len);
    if (d1 == NULL) {
        return -1;
    }

    d2 = memchr(d1 + 1, '.', (size_t) (t + len - d1 - 1));
    if (d2 == NULL) {
        return -1;
    }

    d3 = memchr(d2 + 1, '.', (size_t) (t + len - d2 - 1));
    if (d3 == NULL) {
        return -1;
    }

    ulen = (size_t) (d1 - t);
    e = d1 + 1;
    elen = (size_t) (d2 - e);
    *kid = d2 + 1;
    *klen = (size_t) (d3 - *kid);
    sig = d3 + 1;
    slen = (size_t) (t + len - sig);

    if (cc_parse_uid(t, ulen, uid) != 0 || elen == 0 || elen > 11
        || e[0] == '0' || *klen == 0 || *klen > 16
        || slen != CC_TOKEN_SIG_LEN)
    {
        return -1;
    }

    *exp = 0;

    for (i = 0; i < elen; i++) {
        if (e[i] < '0' || e[i] > '9') {
            return -1;
        }

        *exp = *exp * 10 + (e[i] - '0');
    }

    if (*exp > CC_TOKEN_EXP_MAX) {
        return -1;
    }

    for (i = 0; i < *klen; i++) {
        if (!fuzz_b64url((*kid)[i])) {
            return -1;
        }
    }

    for (i = 0; i < slen; i++) {
        if (!fuzz_b64url(sig[i])) {
            return -1;
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              n, m;
    char             tok[CC_TOKEN_MAX + 1], again[CC_TOKEN_MAX + 1];
    char             bad[CC_TOKEN_MAX + 1], *small;
    size_t           slen, pos, klen;
    int64_t          exp, now, rexp, ttl;
    uint64_t         uid, got, ruid;
    uint8_t          mask;
    fuzz_in_t        in;
    const char      *ext, *kid;
    unsigned char    secret[80];
    cc_token_rc_e    rc, want;
    cc_token_key_t   key;

    in.p = data;
    in.left = size;

    /* 0..79 bytes: both sides of the 32-byte minimum */
    slen = fuzz_take(&in, 1) % sizeof(secret);
    memset(secret, 0, sizeof(secret));
    memcpy(secret, in.p, slen < in.left ? slen : in.left);
    in.p += slen < in.left ? slen : in.left;
    in.left -= slen < in.left ? slen : in.left;

    uid = fuzz_take(&in, 8);
    exp = (int64_t) fuzz_take(&in, 8);
    now = (int64_t) fuzz_take(&in, 8);
    pos = (size_t) fuzz_take(&in, 1);
    mask = (uint8_t) fuzz_take(&in, 1);
    ttl = (int64_t) fuzz_take(&in, 4);

    key.kid = CC_TOKEN_KID_DEFAULT;
    key.kid_len = 1;
    key.secret = secret;
    key.slen = slen;

    /* small values are where the edges are: take them often */
    if (uid & 0x8000000000000000ULL) {
        uid &= 0xff;
    }

    if (exp & 0x4000000000000000LL) {
        exp = (exp & 0xff) - 1 + CC_TOKEN_EXP_MAX - 0x7f;
    }

    n = cc_token_sign(secret, slen, CC_TOKEN_KID_DEFAULT, uid, exp, tok,
                      sizeof(tok));

    if (uid == 0 || exp < 1 || exp > CC_TOKEN_EXP_MAX
        || slen < CC_TOKEN_SECRET_MIN)
    {
        FUZZ_ASSERT(n == -1);
        FUZZ_ASSERT(slen >= CC_TOKEN_SECRET_MIN
                    || cc_token_verify(&key, 1, (const char *) in.p,
                                       in.left, now, 0, &got)
                       != CC_TOKEN_OK);

    } else {
        FUZZ_ASSERT(n > 0 && (size_t) n == strlen(tok));
        FUZZ_ASSERT(fuzz_ref_shape(tok, (size_t) n, &ruid, &rexp, &kid,
                                   &klen) == 0
                    && ruid == uid && rexp == exp && klen == 1
                    && kid[0] == '0');

        got = 0;
        rc = cc_token_verify(&key, 1, tok, (size_t) n, now, 0, &got);
        FUZZ_ASSERT(rc == (exp > now ? CC_TOKEN_OK : CC_TOKEN_EXPIRED));
        FUZZ_ASSERT(rc != CC_TOKEN_OK || got == uid);

        /* under a bound: too long lived exactly when exp - now > ttl */
        want = exp <= now ? CC_TOKEN_EXPIRED
               : (ttl > 0 && (__int128) exp - now > ttl)
                 ? CC_TOKEN_TOO_LONG_LIVED : CC_TOKEN_OK;
        FUZZ_ASSERT(cc_token_verify(&key, 1, tok, (size_t) n, now, ttl, &got)
                    == want);

        /* too small an out buffer: refused, nothing past it written */
        small = malloc((size_t) n);
        FUZZ_ASSERT(small != NULL);
        FUZZ_ASSERT(cc_token_sign(secret, slen, CC_TOKEN_KID_DEFAULT, uid,
                                  exp, small, (size_t) n)
                    == -1);
        free(small);

        /* one byte changed, anywhere: never good */
        if (mask != 0) {
            memcpy(bad, tok, (size_t) n + 1);
            bad[pos % (size_t) n] ^= (char) mask;
            FUZZ_ASSERT(cc_token_verify(&key, 1, bad, (size_t) n, INT64_MIN,
                                        0, &got)
                        != CC_TOKEN_OK);
        }
    }

    /* the rest: a token from outside */
    ext = (const char *) in.p;
    got = 0;
    rc = cc_token_verify(&key, 1, ext, in.left, now, ttl, &got);

    FUZZ_ASSERT((rc == CC_TOKEN_MALFORMED)
                == (fuzz_ref_shape(ext, in.left, &ruid, &rexp, &kid, &klen)
                    != 0));

    if (rc != CC_TOKEN_MALFORMED) {
        FUZZ_ASSERT((rc == CC_TOKEN_UNKNOWN_KEY)
                    == !(klen == 1 && kid[0] == '0'));
    }

    if (rc == CC_TOKEN_OK) {
        FUZZ_ASSERT(got == ruid && rexp > now);
        FUZZ_ASSERT(ttl == 0 || (__int128) rexp - now <= ttl);
        m = cc_token_sign(secret, slen, CC_TOKEN_KID_DEFAULT, ruid, rexp,
                          again, sizeof(again));
        FUZZ_ASSERT(m > 0 && (size_t) m == in.left
                    && memcmp(again, ext, in.left) == 0);
    }

    FUZZ_ASSERT(strcmp(cc_token_strerror(rc), "unknown") != 0);

    return 0;
}
