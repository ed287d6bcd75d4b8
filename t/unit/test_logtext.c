/*
 * Unit tests of common/cc_logtext: a wallet's words made fit for one log
 * line (escapes, the bound, "..." on a cut, never half an escape).
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_logtext.h"
#include "cc_check.h"


static const char *
lt(char *out, size_t outlen, const char *in, size_t inlen)
{
    size_t  n;

    n = cc_logtext(out, outlen, in, inlen);
    ck_assert_uint_eq(n, strlen(out));
    ck_assert_uint_lt(n, outlen);

    return out;
}


START_TEST(test_logtext_plain)
{
    char  out[64];

    ck_assert_str_eq(lt(out, sizeof(out), "{\"a\":1}", 7), "{\"a\":1}");
    ck_assert_str_eq(lt(out, sizeof(out), "", 0), "");
    ck_assert_str_eq(lt(out, sizeof(out), "~ !", 3), "~ !");
}
END_TEST


START_TEST(test_logtext_escapes)
{
    char  out[64];

    /* a forged log line cannot start: the newline is two bytes */
    ck_assert_str_eq(lt(out, sizeof(out), "ok\naward c:1 credited", 21),
                     "ok\\naward c:1 credited");
    ck_assert_str_eq(lt(out, sizeof(out), "a\rb\tc\\d", 7),
                     "a\\rb\\tc\\\\d");
    ck_assert_str_eq(lt(out, sizeof(out), "\x1b[2J", 4), "\\x1b[2J");
    ck_assert_str_eq(lt(out, sizeof(out), "a\0b", 3), "a\\x00b");
    ck_assert_str_eq(lt(out, sizeof(out), "\x7f", 1), "\\x7f");
    /* non-ASCII (UTF-8 of 中) byte by byte */
    ck_assert_str_eq(lt(out, sizeof(out), "\xe4\xb8\xad", 3),
                     "\\xe4\\xb8\\xad");
}
END_TEST


START_TEST(test_logtext_bound)
{
    char    out[16], big[10000];
    size_t  i;

    /* fits exactly: 15 bytes, no "..." */
    ck_assert_str_eq(lt(out, sizeof(out), "abcdefghijklmno", 15),
                     "abcdefghijklmno");
    /* one more: cut, with "..." inside the 15 */
    ck_assert_str_eq(lt(out, sizeof(out), "abcdefghijklmnop", 16),
                     "abcdefghijkl...");

    /* an escape is never cut in half */
    ck_assert_str_eq(lt(out, sizeof(out), "abcdefghij\x01xyz", 14),
                     "abcdefghij...");
    ck_assert_str_eq(lt(out, sizeof(out), "\x01\x01\x01\x01", 4),
                     "\\x01\\x01\\x01...");

    memset(big, '\n', sizeof(big));
    ck_assert_uint_le(cc_logtext(out, sizeof(out), big, sizeof(big)), 15);
    ck_assert_str_eq(out, "\\n\\n\\n\\n\\n\\n...");

    for (i = 0; i < sizeof(big); i++) {
        big[i] = (char) (i & 0xff);
    }

    for (i = 0; i < 40; i++) {
        char  *o = malloc(i + 1);

        ck_assert_ptr_nonnull(o);
        o[i] = 'Z';                 /* the byte past the buffer given */
        cc_logtext(o, i, big, sizeof(big));
        ck_assert_int_eq(o[i], 'Z');

        if (i > 0) {
            ck_assert_uint_lt(strlen(o), i);
        }

        free(o);
    }

    /* too small for "...": an empty line rather than half an escape */
    ck_assert_str_eq(lt(out, 3, "\x01\x02", 2), "");
    ck_assert_uint_eq(cc_logtext(out, 0, "abc", 3), 0);
}
END_TEST


static Suite *
logtext_suite(void)
{
    Suite  *s;

    s = suite_create("logtext");
    cc_check_tcase(s, "logtext", test_logtext_plain, test_logtext_escapes,
                   test_logtext_bound);

    return s;
}


CC_CHECK_MAIN(logtext_suite)
