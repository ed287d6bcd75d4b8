/*
 * Unit tests of workers/money/cc_wallet_answer.c: what a wallet's 200 says.
 * Money is integer cents: the echo is our amount written as an integer,
 * or it is not our amount.  cc-payout compared doubles, so 1e2, 100.0,
 * 0100 and 100.00000000000001 all passed for 100 cents.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_wallet_answer.h"
#include "cc_check.h"


static const struct {
    const char        *answer;
    cc_wallet_answer_e   rc;
    const char        *why;
    uint64_t           echoed;       /* 12345: left alone */
} cases[] = {
    { "{\"award_id\":\"c:7\",\"amount_cents\":100}",
      CC_WALLET_ANSWER_APPLIED, "applied", 100 },
    { " {\"status\":\"ok\",\"amount_cents\":100,\"award_id\":\"c:7\","
      "\"n\":[0,-3]}\r\n", CC_WALLET_ANSWER_APPLIED, "applied", 100 },

    /* the echo, another amount or not integer cents: a person decides */
    { "{\"award_id\":\"c:7\",\"amount_cents\":101}",
      CC_WALLET_ANSWER_MISMATCH, "another amount", 101 },
    { "{\"award_id\":\"c:7\",\"amount_cents\":-100}",
      CC_WALLET_ANSWER_MISMATCH, "another amount", 12345 },
    { "{\"award_id\":\"c:7\",\"amount_cents\":1000000000000100}",
      CC_WALLET_ANSWER_MISMATCH, "another amount", 12345 },
    { "{\"award_id\":\"c:7\",\"amount_cents\":1e2}",
      CC_WALLET_ANSWER_MISMATCH, "an amount that is not integer cents", 12345 },
    { "{\"award_id\":\"c:7\",\"amount_cents\":100.0}",
      CC_WALLET_ANSWER_MISMATCH, "an amount that is not integer cents", 12345 },
    { "{\"award_id\":\"c:7\",\"amount_cents\":100.0000001}",
      CC_WALLET_ANSWER_MISMATCH, "an amount that is not integer cents", 12345 },
    { "{\"award_id\":\"c:7\",\"amount_cents\":100.00000000000001}",
      CC_WALLET_ANSWER_MISMATCH, "an amount that is not integer cents", 12345 },
    { "{\"award_id\":\"c:7\",\"amount_cents\":0100}",
      CC_WALLET_ANSWER_MISMATCH, "an amount that is not integer cents", 12345 },
    /* the wallet's own fields are its business: only our amount is read */
    { "{\"award_id\":\"c:7\",\"amount_cents\":100,\"fee\":0.5}",
      CC_WALLET_ANSWER_APPLIED, "applied", 100 },
    { "{\"balance\":12.50,\"award_id\":\"c:7\",\"ts\":1.7e9,"
      "\"amount_cents\":100,\"x\":{\"amount_cents\":1.5}}",
      CC_WALLET_ANSWER_APPLIED, "applied", 100 },
    /* ... but a nested amount_cents is not ours, nor one in a string */
    { "{\"x\":{\"amount_cents\":100},\"award_id\":\"c:7\","
      "\"amount_cents\":100.0}",
      CC_WALLET_ANSWER_MISMATCH, "an amount that is not integer cents", 12345 },
    { "{\"note\":\"\\\"amount_cents\\\":100\",\"award_id\":\"c:7\","
      "\"amount_cents\":1E2}",
      CC_WALLET_ANSWER_MISMATCH, "an amount that is not integer cents", 12345 },
    { "{\"award_id\":\"c:7\",\"amount_cents\" : -0}",
      CC_WALLET_ANSWER_MISMATCH, "an amount that is not integer cents", 12345 },

    /* no echo of our credit: asked again with the same key */
    { "", CC_WALLET_ANSWER_UNREADABLE, "not a JSON object", 12345 },
    { "OK", CC_WALLET_ANSWER_UNREADABLE, "not a JSON object", 12345 },
    { "[100]", CC_WALLET_ANSWER_UNREADABLE, "not a JSON object", 12345 },
    { "{\"award_id\":\"c:7\",\"amount_cents\":100}x",
      CC_WALLET_ANSWER_UNREADABLE, "not a JSON object", 12345 },
    { "{\"award_id\":\"c:7\",\"amount_cents\":100", CC_WALLET_ANSWER_UNREADABLE,
      "not a JSON object", 12345 },
    { "{\"award_id\":\"c:8\",\"amount_cents\":100}",
      CC_WALLET_ANSWER_UNREADABLE, "the credit is not echoed", 12345 },
    { "{\"award_id\":\"c:7\"}", CC_WALLET_ANSWER_UNREADABLE,
      "the credit is not echoed", 12345 },
    { "{\"award_id\":\"c:7\",\"amount_cents\":\"100\"}",
      CC_WALLET_ANSWER_UNREADABLE, "the credit is not echoed", 12345 },
    { "{\"award_id\":7,\"amount_cents\":100}", CC_WALLET_ANSWER_UNREADABLE,
      "the credit is not echoed", 12345 },
    { "{\"award_id\":\"c:7\\u0000x\",\"amount_cents\":100}",
      CC_WALLET_ANSWER_UNREADABLE, "a NUL in the answer", 12345 },
    { "{\"award_id\":\"c:7\",\"amount_cents\":\023100}",
      CC_WALLET_ANSWER_UNREADABLE, "a control byte in the answer", 12345 },
    /*
     * cJSON prints 10^15 as 1e+15: not integer cents, whoever wrote it
     * (found by fuzz_wallet; fuzz/regressions/wallet/)
     */
    { "{\"award_id\":\"c:7\",\"amount_cents\":1e+15}",
      CC_WALLET_ANSWER_MISMATCH, "an amount that is not integer cents", 12345 },
};


START_TEST(test_echo)
{
    uint64_t           echoed;
    const char        *why = NULL;
    cc_wallet_answer_e   rc;

    echoed = 12345;
    rc = cc_wallet_answer_read(cases[_i].answer, strlen(cases[_i].answer),
                             "c:7", 100, &echoed, &why);

    ck_assert_msg(rc == cases[_i].rc, "#%d %s: %d, expected %d (%s)", _i,
                  cases[_i].answer, rc, cases[_i].rc, why);
    ck_assert_msg(why != NULL && strcmp(why, cases[_i].why) == 0,
                  "#%d: \"%s\", expected \"%s\"", _i, why, cases[_i].why);
    ck_assert_msg(echoed == cases[_i].echoed, "#%d: echoed %llu", _i,
                  (unsigned long long) echoed);
}
END_TEST


/* a NUL raw in the answer, and a length (not a NUL) that ends it */
START_TEST(test_echo_bytes)
{
    uint64_t            e;
    const char         *why;
    static const char   raw[] = "{\"award_id\":\"c:7\0x\","
                                "\"amount_cents\":100}";
    static const char   longer[] = "{\"award_id\":\"c:7\",\"amount_cents\":100}"
                                   "garbage";
    static const char   esc[] = "{\"award_id\":\"\\u0063:7\\u0004\","
                                "\"amount_cents\":100}";
    static const char   big[] = "{\"award_id\":\"c:7\","
                                "\"amount_cents\":999999999999999}";

    ck_assert_int_eq(cc_wallet_answer_read(raw, sizeof(raw) - 1, "c:7", 100, &e,
                                         &why), CC_WALLET_ANSWER_UNREADABLE);
    ck_assert_str_eq(why, "a NUL in the answer");

    ck_assert_int_eq(cc_wallet_answer_read(longer, sizeof(longer) - 8, "c:7",
                                         100, &e, &why),
                     CC_WALLET_ANSWER_APPLIED);

    /* an id echoed with escapes is the same id */
    ck_assert_int_eq(cc_wallet_answer_read(esc, strlen(esc), "c:7\004", 100, &e,
                                         &why), CC_WALLET_ANSWER_APPLIED);

    /* the largest amount a pool holds is exact: not one cent off */
    ck_assert_int_eq(cc_wallet_answer_read(big, strlen(big), "c:7",
                                         999999999999998ULL, &e, &why),
                     CC_WALLET_ANSWER_MISMATCH);
    ck_assert_uint_eq(e, 999999999999999ULL);
    ck_assert_int_eq(cc_wallet_answer_read(big, strlen(big), "c:7",
                                         999999999999999ULL, &e, &why),
                     CC_WALLET_ANSWER_APPLIED);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("wallet_answer");
    tc = tcase_create("echo");
    cc_check_loop(tc, test_echo, cases);
    cc_check_add(tc, test_echo_bytes);
    suite_add_tcase(s, tc);

    return cc_check_run(s);
}
