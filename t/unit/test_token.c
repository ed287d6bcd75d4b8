/*
 * Unit tests of common/cc_token.c: signed user tokens.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cc_token.h"
#include "cc_check.h"


#define NOW       1764240000LL          /* 2025-11-27 */
#define LATER     2000000000LL          /* 2033-05-18 */
#define SENTINEL  424242ULL             /* *uid must not change on failure */

/* the secret of the known answers (43 bytes) */
static const char  *secret = "cardcampaign-known-answer-secret-0123456789";
static const char  *other = "cardcampaign-known-answer-secret-0123456788";

/* the known answer of uid 7, exp LATER, key "0" under secret */
#define GOOD  "7.2000000000.0.rKduZuYVej1h0ghfVXphM_tuMeOYCinfxFpuhFPekrc"
#define SIG   "rKduZuYVej1h0ghfVXphM_tuMeOYCinfxFpuhFPekrc"

/* HMAC(secret, "7.2000000000"): the signature of the same payload without
 * the "cc1|0|" domain, as another use of the secret would make it */
#define NODOMAIN  "82phtP4GFm-97kC9XcAu9S0XrFAjwOG7q1ThTZdMEeQ"


static size_t
slen(const char *s)
{
    return strlen(s);
}


/* one key, "0", and no bound on the lifetime */
static cc_token_rc_e
verify(const char *key, const char *tok, size_t len, int64_t now,
    uint64_t *uid)
{
    cc_token_key_t  k = { "0", 1, (const unsigned char *) key, 0 };

    k.slen = key ? slen(key) : 0;
    *uid = SENTINEL;

    return cc_token_verify(&k, 1, tok, len, now, 0, uid);
}


static int
sign(const char *key, uint64_t uid, int64_t exp, char *out, size_t outlen)
{
    return cc_token_sign((const unsigned char *) key, slen(key), "0", uid,
                         exp, out, outlen);
}


/*
 * Known answers, computed apart from this code:
 *   printf '%s' 'cc1|0|7.2000000000' \
 *   | openssl dgst -sha256 -hmac "$SECRET" -binary | basenc --base64url
 * (and the same with python3's hmac and base64.urlsafe_b64encode), the
 * '=' stripped.  Between them they hold both '-' and '_'.
 */
static const struct {
    uint64_t     uid;
    int64_t      exp;
    const char  *token;
} kat[] = {
    { 7, LATER, GOOD },
    { 6, LATER, "6.2000000000.0.lD3rnGZApqK-vxbCVtVc4yqQofQzUzXlj-4eoPDnZvw" },
    { UINT64_MAX, 99999999999LL,
      "18446744073709551615.99999999999.0."
      "nN-P4K-BoDxLA04hn_ictsqXbslHIA91MUpN7dw_6IU" },
    { 1, 1, "1.1.0.zIG83EIdRIlofRtpP88t97d4fcK1Pk5P4r8ve6scToI" },
};


START_TEST(test_known_answer)
{
    int       n;
    char      out[CC_TOKEN_MAX + 1];
    uint64_t  uid;

    n = sign(secret, kat[_i].uid, kat[_i].exp, out, sizeof(out));
    ck_assert_int_eq(n, (int) strlen(kat[_i].token));
    ck_assert_str_eq(out, kat[_i].token);

    ck_assert_int_eq(verify(secret, kat[_i].token, strlen(kat[_i].token),
                            kat[_i].exp - 1, &uid), CC_TOKEN_OK);
    ck_assert_uint_eq(uid, kat[_i].uid);
}
END_TEST


START_TEST(test_roundtrip)
{
    uint64_t  uids[] = { 1, 7, 1000000, 9007199254740993ULL, UINT64_MAX };
    char      out[CC_TOKEN_MAX + 1];
    size_t    i;
    uint64_t  uid;
    int       n;

    for (i = 0; i < sizeof(uids) / sizeof(uids[0]); i++) {
        n = sign(secret, uids[i], LATER, out, sizeof(out));
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(n, (int) strlen(out));
        ck_assert_int_le(n, CC_TOKEN_MAX);
        ck_assert_int_eq(verify(secret, out, (size_t) n, NOW, &uid),
                         CC_TOKEN_OK);
        ck_assert_uint_eq(uid, uids[i]);
    }

    /* the longest token there is: 20 + 1 + 11 + 1 + 16 + 1 + 43 */
    n = sign(secret, UINT64_MAX, 99999999999LL, out, sizeof(out));
    ck_assert_int_eq(n, 78);
    n = cc_token_sign((const unsigned char *) secret, slen(secret),
                      "0123456789abcdef", UINT64_MAX, 99999999999LL, out,
                      sizeof(out));
    ck_assert_int_eq(n, 93);
    ck_assert_int_le(n, CC_TOKEN_MAX);
}
END_TEST


START_TEST(test_not_nul_terminated)
{
    char      buf[sizeof(GOOD) - 1 + 8];
    uint64_t  uid;

    /* exactly the token's bytes, then garbage: len is the bound */
    memcpy(buf, GOOD, sizeof(GOOD) - 1);
    memcpy(buf + sizeof(GOOD) - 1, "AAAA.xyz", 8);
    ck_assert_int_eq(verify(secret, buf, sizeof(GOOD) - 1, NOW, &uid),
                     CC_TOKEN_OK);
    ck_assert_uint_eq(uid, 7);
    ck_assert_int_eq(verify(secret, buf, sizeof(buf), NOW, &uid),
                     CC_TOKEN_MALFORMED);
    ck_assert_uint_eq(uid, SENTINEL);
}
END_TEST


START_TEST(test_sign_rejects)
{
    char     out[CC_TOKEN_MAX + 1];
    char     big[CC_TOKEN_SECRET_MAX + 2];
    size_t   len;

    len = strlen(GOOD);

    ck_assert_int_eq(sign(secret, 0, LATER, out, sizeof(out)), -1);
    ck_assert_int_eq(sign(secret, 7, 0, out, sizeof(out)), -1);
    ck_assert_int_eq(sign(secret, 7, -1, out, sizeof(out)), -1);
    ck_assert_int_eq(sign(secret, 7, INT64_MIN, out, sizeof(out)), -1);
    ck_assert_int_eq(sign(secret, 7, 100000000000LL, out, sizeof(out)), -1);
    ck_assert_int_eq(sign(secret, 7, INT64_MAX, out, sizeof(out)), -1);

    /* the NUL must fit too */
    ck_assert_int_eq(sign(secret, 7, LATER, out, len), -1);
    ck_assert_int_eq(sign(secret, 7, LATER, out, 0), -1);
    ck_assert_int_eq(sign(secret, 7, LATER, out, len + 1), (int) len);
    ck_assert_str_eq(out, GOOD);

    /* secrets: 31 bytes is short, 32 and 1024 do, 1025 is long */
    ck_assert_int_eq(cc_token_sign((const unsigned char *) secret, 31, "0", 7,
                                   LATER, out, sizeof(out)), -1);
    ck_assert_int_eq(cc_token_sign((const unsigned char *) secret, 32, "0", 7,
                                   LATER, out, sizeof(out)), (int) len);
    ck_assert_int_eq(cc_token_sign(NULL, 32, "0", 7, LATER, out,
                                   sizeof(out)), -1);

    memset(big, 'k', sizeof(big));
    ck_assert_int_eq(cc_token_sign((unsigned char *) big, CC_TOKEN_SECRET_MAX,
                                   "0", 7, LATER, out, sizeof(out)),
                     (int) len);
    ck_assert_int_eq(cc_token_sign((unsigned char *) big,
                                   CC_TOKEN_SECRET_MAX + 1, "0", 7, LATER,
                                   out, sizeof(out)), -1);

    /* key ids: 1..16 of [A-Za-z0-9_-] */
    ck_assert_int_eq(cc_token_sign((const unsigned char *) secret, 32, NULL,
                                   7, LATER, out, sizeof(out)), -1);
    ck_assert_int_eq(cc_token_sign((const unsigned char *) secret, 32, "",
                                   7, LATER, out, sizeof(out)), -1);
    ck_assert_int_eq(cc_token_sign((const unsigned char *) secret, 32,
                                   "0123456789abcdefg", 7, LATER, out,
                                   sizeof(out)), -1);
    ck_assert_int_eq(cc_token_sign((const unsigned char *) secret, 32, "a.b",
                                   7, LATER, out, sizeof(out)), -1);
    ck_assert_int_eq(cc_token_sign((const unsigned char *) secret, 32, "a/b",
                                   7, LATER, out, sizeof(out)), -1);
}
END_TEST


START_TEST(test_secret_length_in_verify)
{
    char            out[CC_TOKEN_MAX + 1];
    uint64_t        uid;
    int             n;
    cc_token_key_t  k = { "0", 1, (const unsigned char *) secret, 32 };

    /* a 31-byte secret signs nothing and verifies nothing */
    n = cc_token_sign((const unsigned char *) secret, 32, "0", 7, LATER, out,
                      sizeof(out));
    ck_assert_int_gt(n, 0);
    uid = SENTINEL;
    ck_assert_int_eq(cc_token_verify(&k, 1, out, (size_t) n, NOW, 0, &uid),
                     CC_TOKEN_OK);
    k.slen = 31;
    ck_assert_int_eq(cc_token_verify(&k, 1, out, (size_t) n, NOW, 0, &uid),
                     CC_TOKEN_BAD_SIGNATURE);
    k.secret = NULL;
    k.slen = 0;
    ck_assert_int_eq(cc_token_verify(&k, 1, out, (size_t) n, NOW, 0, &uid),
                     CC_TOKEN_BAD_SIGNATURE);
    ck_assert_int_eq(cc_token_verify(NULL, 0, out, (size_t) n, NOW, 0, &uid),
                     CC_TOKEN_UNKNOWN_KEY);
}
END_TEST


START_TEST(test_expired)
{
    char      out[CC_TOKEN_MAX + 1];
    uint64_t  uid;
    int       n;

    ck_assert_int_eq(verify(secret, GOOD, strlen(GOOD), LATER, &uid),
                     CC_TOKEN_EXPIRED);
    ck_assert_uint_eq(uid, SENTINEL);
    ck_assert_int_eq(verify(secret, GOOD, strlen(GOOD), LATER + 1, &uid),
                     CC_TOKEN_EXPIRED);
    ck_assert_int_eq(verify(secret, GOOD, strlen(GOOD), INT64_MAX, &uid),
                     CC_TOKEN_EXPIRED);
    ck_assert_int_eq(verify(secret, GOOD, strlen(GOOD), LATER - 1, &uid),
                     CC_TOKEN_OK);
    ck_assert_int_eq(verify(secret, GOOD, strlen(GOOD), INT64_MIN, &uid),
                     CC_TOKEN_OK);

    n = sign(secret, 7, NOW - 1, out, sizeof(out));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(verify(secret, out, (size_t) n, NOW, &uid),
                     CC_TOKEN_EXPIRED);
    ck_assert_uint_eq(uid, SENTINEL);
}
END_TEST


/* a character of the base64url alphabet other than ch */
static char
other_b64(char ch)
{
    return ch == 'A' ? 'B' : 'A';
}


START_TEST(test_forged_sig_char)
{
    char      tok[sizeof(GOOD)];
    size_t    at;
    uint64_t  uid;

    memcpy(tok, GOOD, sizeof(GOOD));
    at = sizeof(GOOD) - 1 - CC_TOKEN_SIG_LEN + (size_t) _i;
    tok[at] = other_b64(tok[at]);

    ck_assert_int_eq(verify(secret, tok, strlen(tok), NOW, &uid),
                     CC_TOKEN_BAD_SIGNATURE);
    ck_assert_uint_eq(uid, SENTINEL);
}
END_TEST


/* tokens with the signature of something else */
static const char  *forged[] = {
    "8.2000000000.0." SIG,                          /* another uid */
    "17.2000000000.0." SIG,
    "7.2000000001.0." SIG,                          /* another exp */
    "7.3000000000.0." SIG,
    "7.99999999999.0." SIG,
    "7.2000000000.0.rKduZuYVej1h0ghfVXphM_tuMeOYCinfxFpuhFPekrd",
                         /* decodes to the same bytes: strings are compared */
    "7.2000000000.0.lD3rnGZApqK-vxbCVtVc4yqQofQzUzXlj-4eoPDnZvw",  /* 6's */
    "6.2000000000.0." SIG,
    "7.2000000000.0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "7.2000000000.0." NODOMAIN,       /* the secret's MAC of "7.2000000000" */
    "7.2000000000.0.L68OBMV9PPudz1Eh0cDDEeE5WnKoO0jIJ_yRDq5rkto",
                                      /* key "1"'s MAC, under key "0" */
};


START_TEST(test_forged)
{
    uint64_t  uid;

    ck_assert_msg(verify(secret, forged[_i], strlen(forged[_i]), NOW, &uid)
                  == CC_TOKEN_BAD_SIGNATURE, "#%d: %s", _i, forged[_i]);
    ck_assert_uint_eq(uid, SENTINEL);
}
END_TEST


START_TEST(test_forged_other_secret)
{
    char      out[CC_TOKEN_MAX + 1];
    uint64_t  uid;
    int       n;

    n = sign(other, 7, LATER, out, sizeof(out));
    ck_assert_int_gt(n, 0);
    ck_assert_str_ne(out, GOOD);
    ck_assert_int_eq(verify(secret, out, (size_t) n, NOW, &uid),
                     CC_TOKEN_BAD_SIGNATURE);
    ck_assert_int_eq(verify(other, GOOD, strlen(GOOD), NOW, &uid),
                     CC_TOKEN_BAD_SIGNATURE);
    ck_assert_uint_eq(uid, SENTINEL);
}
END_TEST


START_TEST(test_forged_expired)
{
    char      out[CC_TOKEN_MAX + 1];
    uint64_t  uid;
    int       n;

    /* the signature is checked before the expiry */
    n = sign(other, 7, NOW - 10, out, sizeof(out));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(verify(secret, out, (size_t) n, NOW, &uid),
                     CC_TOKEN_BAD_SIGNATURE);
    ck_assert_int_eq(verify(secret, "7.1000000000.0." SIG,
                            strlen("7.1000000000.0." SIG), NOW, &uid),
                     CC_TOKEN_BAD_SIGNATURE);
    ck_assert_int_eq(verify(secret, GOOD, strlen(GOOD), LATER, &uid),
                     CC_TOKEN_EXPIRED);
    ck_assert_uint_eq(uid, SENTINEL);
}
END_TEST


/* a literal with its length, NULs inside included */
#define T(s)  { s, sizeof(s) - 1 }

static const struct {
    const char  *tok;
    size_t       len;
} malformed[] = {
    T(""),
    T("."),
    T(".."),
    T("..."),
    T("7"),
    T("7.2000000000"),                              /* missing parts */
    T("7.2000000000."),
    T("7..0." SIG),
    T(".2000000000.0." SIG),
    T(SIG),
    T("2000000000.0." SIG),
    T("7.2000000000.0." SIG "."),                     /* extra dots */
    T(".7.2000000000.0." SIG),
    T("7.2000000000.." SIG),
    T("7..2000000000.0." SIG),
    T("7.2000000000.0." SIG ".7"),
    T("7.2000000000.0.rKduZuYVej-97kC9XcAu9S0Xr.AjwOG7q1ThTZdMEeQ"),
    T("07.2000000000.0." SIG),                        /* leading zeros */
    T("007.2000000000.0." SIG),
    T("7.02000000000.0." SIG),
    T("7.0.0." SIG),                                /* exp 0 */
    T("0.2000000000.0." SIG),                         /* uid 0 */
    T("00.2000000000.0." SIG),
    T("18446744073709551616.2000000000.0." SIG),      /* 2^64 */
    T("99999999999999999999.2000000000.0." SIG),
    T("100000000000000000000.2000000000.0." SIG),     /* 21 digits */
    T("7.100000000000.0." SIG),                     /* exp above bound */
    T("7.999999999999.0." SIG),
    T("-7.2000000000.0." SIG),                        /* signs, hex */
    T("+7.2000000000.0." SIG),
    T("7.-2000000000.0." SIG),
    T("7.+2000000000.0." SIG),
    T("0x7.2000000000.0." SIG),
    T("7.2000000000.0." SIG "="),                     /* padding */
    T("7.2000000000.0.rKduZuYVej-97kC9XcAu9S0XrFAjwOG7q1ThTZdMEe="),
    T("7.2000000000.0.rKduZuYVej+97kC9XcAu9S0XrFAjwOG7q1ThTZdMEeQ"),  /* std */
    T("6.2000000000.0.H/RrWl_YqcwzktKHk7jiCJOjVppZGbKT1Fb-FVu2hw4"),
    T("6.2000000000.0.H_RrWl/YqcwzktKHk7jiCJOjVppZGbKT1Fb+FVu2hw4"),
    T(" 7.2000000000.0." SIG),                        /* spaces */
    T("7.2000000000.0." SIG " "),
    T("7 .2000000000.0." SIG),
    T("7. 2000000000.0." SIG),
    T("7.2000000000. " SIG),
    T("7.2000000000.0.rKduZuYVej 97kC9XcAu9S0XrFAjwOG7q1ThTZdMEeQ"),
    T("7.2000000000.0." SIG "\n"),
    T("7.2000000000.0." SIG "\r\n"),
    T("7.2000000000.0.rKduZuYVej\t97kC9XcAu9S0XrFAjwOG7q1ThTZdMEeQ"),
    T("7\0.2000000000.0." SIG),                       /* NUL inside */
    T("7.2000000000\0." SIG),
    T("7.2000000000.0.rKduZuYVej\0" "97kC9XcAu9S0XrFAjwOG7q1ThTZdMEeQ"),
    T("7.2000000000.0." SIG "\0"),
    T("\0" "7.2000000000.0." SIG),
    T("\xe4\xb8\xad.2000000000.0." SIG),              /* UTF-8 "中" */
    T("7.2000000000.0.rKduZuYVej\xe4\xb8\xad" "kC9XcAu9S0XrFAjwOG7q1ThTZdMEeQ"),
    T("7.2000000000.0." SIG "\xe4\xb8\xad"),
    T("\xef\xbc\x97.2000000000.0." SIG),              /* fullwidth "7" */
    T("7.2000000000.0.rKduZuYVej-97kC9XcAu9S0XrFAjwOG7q1ThTZdMEe\x80"),
    T("7.2000000000.0." SIG "A"),                     /* 44-char sig */
    T("7.2000000000.0.rKduZuYVej-97kC9XcAu9S0XrFAjwOG7q1ThTZdMEe"), /* 42 */
    T("7.2000000000.0.rKduZuYVej-97kC9XcAu9S0XrFAjwOG7q1ThTZdMEeQ82ph"),
    T("7.2000000000.0.rKduZuYVej-97kC9XcAu9S0XrFAjwOG7q1ThTZdMEeQ="),
    T("7.2000000000." SIG),                         /* the old format */
    T("7.2000000000." NODOMAIN),
    T("7.2000000000..." SIG),                       /* key ids */
    T("7.2000000000.0123456789abcdefg." SIG),
    T("7.2000000000.a+b." SIG),
    T("7.2000000000.a/b." SIG),
    T("7.2000000000.a=." SIG),
    T("7.2000000000.a b." SIG),
    T("7.2000000000.0\0." SIG),
    T("7.2000000000.\xe4\xb8\xad." SIG),
    T("7.2000000000.%30." SIG),
    T("7.2000000000.0.0." SIG),
};


START_TEST(test_malformed)
{
    uint64_t  uid;

    ck_assert_msg(verify(secret, malformed[_i].tok, malformed[_i].len, NOW,
                         &uid) == CC_TOKEN_MALFORMED,
                  "#%d accepted or misreported", _i);
    ck_assert_uint_eq(uid, SENTINEL);
    ck_assert_uint_eq(uid, SENTINEL);
}
END_TEST


START_TEST(test_truncated)
{
    uint64_t  uid;

    /* every prefix of a good token, _i bytes long */
    ck_assert_msg(verify(secret, GOOD, (size_t) _i, NOW, &uid)
                  == CC_TOKEN_MALFORMED, "prefix of %d bytes", _i);
    ck_assert_uint_eq(uid, SENTINEL);
}
END_TEST


START_TEST(test_too_long)
{
    char      buf[CC_TOKEN_MAX + 2];
    uint64_t  uid;
    size_t    len;

    /* a good token, then 'A's up to CC_TOKEN_MAX + 1 bytes */
    len = strlen(GOOD);
    memcpy(buf, GOOD, len);
    memset(buf + len, 'A', sizeof(buf) - len);

    ck_assert_int_eq(verify(secret, buf, CC_TOKEN_MAX + 1, NOW, &uid),
                     CC_TOKEN_MALFORMED);
    ck_assert_int_eq(verify(secret, buf, CC_TOKEN_MAX, NOW, &uid),
                     CC_TOKEN_MALFORMED);
    ck_assert_int_eq(verify(secret, buf, (size_t) -1, NOW, &uid),
                     CC_TOKEN_MALFORMED);

    memset(buf, '1', sizeof(buf));
    ck_assert_int_eq(verify(secret, buf, CC_TOKEN_MAX + 1, NOW, &uid),
                     CC_TOKEN_MALFORMED);
    ck_assert_int_eq(verify(secret, NULL, 0, NOW, &uid), CC_TOKEN_MALFORMED);
    ck_assert_uint_eq(uid, SENTINEL);
}
END_TEST





/* key ids: a token names its key; one of the verifier's, or unknown */
START_TEST(test_kid_valid)
{
    ck_assert_int_eq(cc_token_kid_valid("0", 1), 1);
    ck_assert_int_eq(cc_token_kid_valid("key-2027_b", 10), 1);
    ck_assert_int_eq(cc_token_kid_valid("0123456789abcdef", 16), 1);
    ck_assert_int_eq(cc_token_kid_valid("0123456789abcdefg", 17), 0);
    ck_assert_int_eq(cc_token_kid_valid("", 0), 0);
    ck_assert_int_eq(cc_token_kid_valid(NULL, 1), 0);
    ck_assert_int_eq(cc_token_kid_valid("a.b", 3), 0);
    ck_assert_int_eq(cc_token_kid_valid("a b", 3), 0);
    ck_assert_int_eq(cc_token_kid_valid("a\0b", 3), 0);
    ck_assert_int_eq(cc_token_kid_valid("a+b", 3), 0);
    ck_assert_int_eq(cc_token_kid_valid("\xe4\xb8\xad", 3), 0);
}
END_TEST


/*
 * A rotation: the old key "0" and the new "key-2027_b" both verify, each
 * its own tokens; a token of the new key relabelled "0", or of a key id
 * the verifier does not hold, is refused.
 */
START_TEST(test_rotation)
{
    int             n;
    char            out[CC_TOKEN_MAX + 1];
    uint64_t        uid;
    cc_token_key_t  keys[2] = {
        { "0", 1, (const unsigned char *) "", 0 },
        { "key-2027_b", 10, (const unsigned char *) "", 0 },
    };

    keys[0].secret = (const unsigned char *) secret;
    keys[0].slen = slen(secret);
    keys[1].secret = (const unsigned char *) other;
    keys[1].slen = slen(other);

    /* the known answer of key "key-2027_b" (secret, not other) */
    n = cc_token_sign((const unsigned char *) secret, slen(secret),
                      "key-2027_b", 7, LATER, out, sizeof(out));
    ck_assert_str_eq(out, "7.2000000000.key-2027_b."
                     "VTmnbzpNy49oMj9hWNwCObAA8P8E9ErkGTkHDNhvUAY");

    uid = SENTINEL;
    ck_assert_int_eq(cc_token_verify(keys, 2, GOOD, strlen(GOOD), NOW, 0,
                                     &uid), CC_TOKEN_OK);
    ck_assert_uint_eq(uid, 7);

    n = cc_token_sign((const unsigned char *) other, slen(other),
                      "key-2027_b", 8, LATER, out, sizeof(out));
    ck_assert_int_gt(n, 0);
    uid = SENTINEL;
    ck_assert_int_eq(cc_token_verify(keys, 2, out, (size_t) n, NOW, 0, &uid),
                     CC_TOKEN_OK);
    ck_assert_uint_eq(uid, 8);

    /* the new key's token, relabelled as the old key's */
    ck_assert_int_eq(cc_token_verify(keys, 1, out, (size_t) n, NOW, 0, &uid),
                     CC_TOKEN_UNKNOWN_KEY);

    n = cc_token_sign((const unsigned char *) other, slen(other), "0", 8,
                      LATER, out, sizeof(out));
    ck_assert_int_eq(cc_token_verify(keys, 2, out, (size_t) n, NOW, 0, &uid),
                     CC_TOKEN_BAD_SIGNATURE);

    /* a key id nobody holds, signed or not: unknown, even if expired */
    n = cc_token_sign((const unsigned char *) secret, slen(secret), "1", 7,
                      LATER, out, sizeof(out));
    ck_assert_int_eq(cc_token_verify(keys, 2, out, (size_t) n, NOW, 0, &uid),
                     CC_TOKEN_UNKNOWN_KEY);
    ck_assert_int_eq(cc_token_verify(keys, 2, out, (size_t) n, INT64_MAX, 0,
                                     &uid), CC_TOKEN_UNKNOWN_KEY);
    ck_assert_int_eq(cc_token_verify(keys, 2, "7.2000000000.KEY-2027_B." SIG,
                                     strlen("7.2000000000.KEY-2027_B." SIG),
                                     NOW, 0, &uid), CC_TOKEN_UNKNOWN_KEY);
    ck_assert_int_eq(cc_token_verify(keys, 0, GOOD, strlen(GOOD), NOW, 0,
                                     &uid), CC_TOKEN_UNKNOWN_KEY);
    ck_assert_uint_eq(uid, 8);
}
END_TEST


/*
 * The lifetime: exp - now up to max_ttl is good, one second more is too
 * long lived; checked after the signature and the expiry.
 */
START_TEST(test_max_ttl)
{
    int             n;
    char            out[CC_TOKEN_MAX + 1];
    uint64_t        uid;
    cc_token_key_t  k = { "0", 1, (const unsigned char *) "", 0 };

    k.secret = (const unsigned char *) secret;
    k.slen = slen(secret);

    uid = SENTINEL;
    ck_assert_int_eq(cc_token_verify(&k, 1, GOOD, strlen(GOOD),
                                     LATER - 86400, 86400, &uid),
                     CC_TOKEN_OK);
    ck_assert_uint_eq(uid, 7);
    uid = SENTINEL;
    ck_assert_int_eq(cc_token_verify(&k, 1, GOOD, strlen(GOOD),
                                     LATER - 86401, 86400, &uid),
                     CC_TOKEN_TOO_LONG_LIVED);
    ck_assert_uint_eq(uid, SENTINEL);
    ck_assert_int_eq(cc_token_verify(&k, 1, GOOD, strlen(GOOD), NOW,
                                     CC_TOKEN_MAX_TTL, &uid),
                     CC_TOKEN_TOO_LONG_LIVED);
    ck_assert_int_eq(cc_token_verify(&k, 1, GOOD, strlen(GOOD), INT64_MIN,
                                     1, &uid), CC_TOKEN_TOO_LONG_LIVED);
    ck_assert_int_eq(cc_token_verify(&k, 1, GOOD, strlen(GOOD), NOW, 0, &uid),
                     CC_TOKEN_OK);

    /* expired first, forged first */
    ck_assert_int_eq(cc_token_verify(&k, 1, GOOD, strlen(GOOD), LATER, 1,
                                     &uid), CC_TOKEN_EXPIRED);
    n = sign(other, 7, LATER, out, sizeof(out));
    ck_assert_int_eq(cc_token_verify(&k, 1, out, (size_t) n, NOW, 60, &uid),
                     CC_TOKEN_BAD_SIGNATURE);
}
END_TEST


START_TEST(test_strerror)
{
    ck_assert_str_eq(cc_token_strerror(CC_TOKEN_OK), "ok");
    ck_assert_str_eq(cc_token_strerror(CC_TOKEN_MALFORMED), "malformed");
    ck_assert_str_eq(cc_token_strerror(CC_TOKEN_BAD_SIGNATURE),
                     "bad signature");
    ck_assert_str_eq(cc_token_strerror(CC_TOKEN_EXPIRED), "expired");
    ck_assert_str_eq(cc_token_strerror(CC_TOKEN_UNKNOWN_KEY), "unknown key");
    ck_assert_str_eq(cc_token_strerror(CC_TOKEN_TOO_LONG_LIVED),
                     "too long lived");
}
END_TEST


/* a temporary file holding len bytes of data; its path in path */
static void
temp_file(char *path, size_t size, const void *data, size_t len)
{
    int  fd;

    snprintf(path, size, "/tmp/cc-test-token-XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t) len);
    close(fd);
}


/* loads a file of data: the return code, the secret and its length */
static int
load(const void *data, size_t len, size_t cap, unsigned char *buf,
    size_t *out, char *err, size_t errlen)
{
    int   rc;
    char  path[64];

    temp_file(path, sizeof(path), data, len);
    rc = cc_token_load_secret(path, buf, cap, out, err, errlen);
    unlink(path);

    return rc;
}


START_TEST(test_load_secret)
{
    char           data[CC_TOKEN_SECRET_MAX + 8], err[256];
    unsigned char  buf[CC_TOKEN_SECRET_MAX];
    size_t         len;

    memset(data, 'k', sizeof(data));

    /* exactly 40 bytes */
    len = 0;
    ck_assert_int_eq(load(secret, 40, sizeof(buf), buf, &len, err,
                          sizeof(err)), 0);
    ck_assert_uint_eq(len, 40);
    ck_assert_int_eq(memcmp(buf, secret, 40), 0);

    /* one "\n" stripped */
    memcpy(data, secret, 40);
    data[40] = '\n';
    ck_assert_int_eq(load(data, 41, sizeof(buf), buf, &len, err,
                          sizeof(err)), 0);
    ck_assert_uint_eq(len, 40);
    ck_assert_int_eq(memcmp(buf, secret, 40), 0);

    /* one "\r\n" stripped */
    data[40] = '\r';
    data[41] = '\n';
    ck_assert_int_eq(load(data, 42, sizeof(buf), buf, &len, err,
                          sizeof(err)), 0);
    ck_assert_uint_eq(len, 40);
    ck_assert_int_eq(memcmp(buf, secret, 40), 0);

    /* only one: "\n\n" leaves a "\n"; a lone "\r" stays */
    data[40] = '\n';
    data[41] = '\n';
    ck_assert_int_eq(load(data, 42, sizeof(buf), buf, &len, err,
                          sizeof(err)), 0);
    ck_assert_uint_eq(len, 41);
    ck_assert_int_eq(buf[40], '\n');

    data[40] = '\r';
    ck_assert_int_eq(load(data, 41, sizeof(buf), buf, &len, err,
                          sizeof(err)), 0);
    ck_assert_uint_eq(len, 41);
    ck_assert_int_eq(buf[40], '\r');

    /* the bounds: 32 and 1024 bytes, with or without a newline */
    memset(data, 'k', sizeof(data));
    ck_assert_int_eq(load(data, 32, sizeof(buf), buf, &len, err,
                          sizeof(err)), 0);
    ck_assert_uint_eq(len, 32);
    data[32] = '\n';
    ck_assert_int_eq(load(data, 33, sizeof(buf), buf, &len, err,
                          sizeof(err)), 0);
    ck_assert_uint_eq(len, 32);

    memset(data, 'k', sizeof(data));
    ck_assert_int_eq(load(data, CC_TOKEN_SECRET_MAX, sizeof(buf), buf, &len,
                          err, sizeof(err)), 0);
    ck_assert_uint_eq(len, CC_TOKEN_SECRET_MAX);
    data[CC_TOKEN_SECRET_MAX] = '\r';
    data[CC_TOKEN_SECRET_MAX + 1] = '\n';
    ck_assert_int_eq(load(data, CC_TOKEN_SECRET_MAX + 2, sizeof(buf), buf,
                          &len, err, sizeof(err)), 0);
    ck_assert_uint_eq(len, CC_TOKEN_SECRET_MAX);

    /* a loaded secret signs like the literal one */
    {
        char  out[CC_TOKEN_MAX + 1];

        memcpy(data, secret, 43);
        data[43] = '\n';
        ck_assert_int_eq(load(data, 44, sizeof(buf), buf, &len, err,
                              sizeof(err)), 0);
        ck_assert_int_eq(cc_token_sign(buf, len, "0", 7, LATER, out,
                                       sizeof(out)),
                         (int) strlen(GOOD));
        ck_assert_str_eq(out, GOOD);
    }
}
END_TEST


/*
 * The rules alone (cc_token_secret_parse, fuzz/fuzz_secret.c): one "\n"
 * or "\r\n" stripped, no more; the bytes kept as they are, a NUL too;
 * buf and *len untouched on a refusal.
 */
START_TEST(test_secret_parse)
{
    char           err[256];
    size_t         len;
    unsigned char  data[40], buf[40], want[40];

    memset(data, 'k', sizeof(data));
    data[5] = '\0';

    len = 0;
    ck_assert_int_eq(cc_token_secret_parse(data, 32, "f", buf, sizeof(buf),
                                           &len, err, sizeof(err)), 0);
    ck_assert_uint_eq(len, 32);
    ck_assert_int_eq(memcmp(buf, data, 32), 0);

    /* "\n\n": one stripped, the other is the secret's 33rd byte */
    data[32] = '\n';
    data[33] = '\n';
    ck_assert_int_eq(cc_token_secret_parse(data, 34, "f", buf, sizeof(buf),
                                           &len, err, sizeof(err)), 0);
    ck_assert_uint_eq(len, 33);
    ck_assert_int_eq(buf[32], '\n');

    /* "\r\n" stripped; a lone "\r" kept */
    data[32] = '\r';
    ck_assert_int_eq(cc_token_secret_parse(data, 34, "f", buf, sizeof(buf),
                                           &len, err, sizeof(err)), 0);
    ck_assert_uint_eq(len, 32);
    ck_assert_int_eq(cc_token_secret_parse(data, 33, "f", buf, sizeof(buf),
                                           &len, err, sizeof(err)), 0);
    ck_assert_uint_eq(len, 33);
    ck_assert_int_eq(buf[32], '\r');

    /* refused: too short, longer than the caller's buffer; untouched */
    memset(buf, 0x5a, sizeof(buf));
    memset(want, 0x5a, sizeof(want));
    len = 777;
    ck_assert_int_eq(cc_token_secret_parse(data, 31, "f", buf, sizeof(buf),
                                           &len, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "secret file \"f\" holds 31 bytes"), "%s",
                  err);
    ck_assert_int_eq(cc_token_secret_parse(data, 40, "f", buf, 33, &len, err,
                                           sizeof(err)), -1);
    ck_assert_msg(strstr(err, "40 bytes do not fit in 33"), "%s", err);
    ck_assert_uint_eq(len, 777);
    ck_assert_int_eq(memcmp(buf, want, sizeof(buf)), 0);
}
END_TEST


/*
 * A secret file open to its group or to others is refused, whatever it
 * holds: 0600 and 0400 are read, any of the bits 077 is not.
 */
START_TEST(test_load_secret_mode)
{
    char           data[40], err[256], path[64];
    size_t         len, i;
    unsigned char  buf[CC_TOKEN_SECRET_MAX];

    static const mode_t  bad[] = { 0644, 0640, 0604, 0620, 0602, 0610, 0601,
                                   0666, 0444, 0660 };

    memset(data, 'k', sizeof(data));

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        temp_file(path, sizeof(path), data, sizeof(data));
        ck_assert_int_eq(chmod(path, bad[i]), 0);
        len = 12345;
        ck_assert_int_eq(cc_token_load_secret(path, buf, sizeof(buf), &len,
                                              err, sizeof(err)), -1);
        ck_assert_uint_eq(len, 12345);
        ck_assert_msg(strstr(err, "open to its group or others")
                      && strstr(err, path) && strstr(err, "0600"),
                      "mode %04o: %s", (unsigned int) bad[i], err);
        unlink(path);
    }

    temp_file(path, sizeof(path), data, sizeof(data));
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_int_eq(cc_token_load_secret(path, buf, sizeof(buf), &len, err,
                                          sizeof(err)), 0);
    ck_assert_uint_eq(len, sizeof(data));
    ck_assert_int_eq(chmod(path, 0400), 0);
    ck_assert_int_eq(cc_token_load_secret(path, buf, sizeof(buf), &len, err,
                                          sizeof(err)), 0);
    unlink(path);
}
END_TEST


START_TEST(test_load_secret_rejects)
{
    char           data[CC_TOKEN_SECRET_MAX + 8], err[256], path[64];
    unsigned char  buf[CC_TOKEN_SECRET_MAX];
    size_t         len;

    memset(data, 'k', sizeof(data));
    len = 12345;

    /* missing */
    temp_file(path, sizeof(path), "", 0);
    unlink(path);
    ck_assert_int_eq(cc_token_load_secret(path, buf, sizeof(buf), &len, err,
                                          sizeof(err)), -1);
    ck_assert_msg(strstr(err, "cannot open") && strstr(err, path)
                  && strstr(err, "No such file"), "%s", err);

    /* a directory (0700: its mode is not what is wrong) */
    snprintf(path, sizeof(path), "/tmp/cc_token_dir_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(path));
    ck_assert_int_eq(cc_token_load_secret(path, buf, sizeof(buf), &len, err,
                                          sizeof(err)), -1);
    rmdir(path);
    ck_assert_msg(strstr(err, "not a regular file"), "%s", err);

    /* a FIFO nobody writes: refused at once, not waited on in read() */
    temp_file(path, sizeof(path), "", 0);
    unlink(path);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    alarm(5);
    ck_assert_int_eq(cc_token_load_secret(path, buf, sizeof(buf), &len, err,
                                          sizeof(err)), -1);
    alarm(0);
    unlink(path);
    ck_assert_msg(strstr(err, "not a regular file"), "%s", err);

    /* too short: empty, 31, 31 and a newline, a newline alone */
    ck_assert_int_eq(load(data, 0, sizeof(buf), buf, &len, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "holds 0 bytes, at least 32"), "%s", err);
    ck_assert_int_eq(load(data, 31, sizeof(buf), buf, &len, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "holds 31 bytes, at least 32"), "%s", err);
    data[31] = '\n';
    ck_assert_int_eq(load(data, 32, sizeof(buf), buf, &len, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "holds 31 bytes"), "%s", err);
    ck_assert_int_eq(load("\n", 1, sizeof(buf), buf, &len, err, sizeof(err)),
                     -1);

    /* too long: 1025, 1025 and a newline, much more */
    memset(data, 'k', sizeof(data));
    ck_assert_int_eq(load(data, CC_TOKEN_SECRET_MAX + 1, sizeof(buf), buf,
                          &len, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "longer than 1024 bytes"), "%s", err);
    data[CC_TOKEN_SECRET_MAX + 1] = '\n';
    ck_assert_int_eq(load(data, CC_TOKEN_SECRET_MAX + 2, sizeof(buf), buf,
                          &len, err, sizeof(err)), -1);
    data[CC_TOKEN_SECRET_MAX + 1] = '\r';
    data[CC_TOKEN_SECRET_MAX + 2] = '\n';
    ck_assert_int_eq(load(data, CC_TOKEN_SECRET_MAX + 3, sizeof(buf), buf,
                          &len, err, sizeof(err)), -1);
    memset(data, 'k', sizeof(data));
    ck_assert_int_eq(load(data, sizeof(data), sizeof(buf), buf, &len, err,
                          sizeof(err)), -1);
    ck_assert_msg(strstr(err, "longer than 1024 bytes"), "%s", err);

    /* more than the caller's buffer */
    ck_assert_int_eq(load(data, 40, 39, buf, &len, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "do not fit"), "%s", err);

    /* no room for a message is no crash */
    ck_assert_int_eq(load(data, 31, sizeof(buf), buf, &len, NULL, 0), -1);

    ck_assert_uint_eq(len, 12345);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("token");

    tc = tcase_create("sign");
    cc_check_loop(tc, test_known_answer, kat);
    cc_check_add(tc, test_roundtrip, test_not_nul_terminated, test_sign_rejects,
                 test_secret_length_in_verify, test_expired);
    suite_add_tcase(s, tc);

    tc = tcase_create("forged");
    tcase_add_loop_test(tc, test_forged_sig_char, 0, CC_TOKEN_SIG_LEN);
    cc_check_loop(tc, test_forged, forged);
    cc_check_add(tc, test_forged_other_secret, test_forged_expired);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    cc_check_loop(tc, test_malformed, malformed);
    tcase_add_loop_test(tc, test_truncated, 0, (int) strlen(GOOD));
    cc_check_add(tc, test_too_long, test_kid_valid, test_rotation,
                 test_max_ttl, test_strerror);
    suite_add_tcase(s, tc);

    cc_check_tcase(s, "secret", test_load_secret, test_load_secret_rejects,
                   test_load_secret_mode, test_secret_parse);

    return cc_check_run(s);
}
