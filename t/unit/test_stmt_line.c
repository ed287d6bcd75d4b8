/*
 * Unit tests of workers/reconcile/cc_stmt_line.c: one line of the
 * wallet's statement.  Each rejection is a bad line, which cc-reconcile
 * reports by its number and refuses the statement (t/072).  The old
 * reader cut a line at a NUL (strlen on getline's buffer) and read
 * applied_at_ms with strtoll (" 5", "+5", "-5", "05" passed).
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_stmt_line.h"
#include "cc_check.h"


#define LINE_OK  "cny2027:7,7,100,CNY,1764240000123"

static const struct {
    const char  *line;
    const char  *why;
} bad[] = {
    { "", "not five comma-separated fields" },
    { "\n", "not five comma-separated fields" },
    { "cny2027:7,7,100,CNY", "not five comma-separated fields" },
    { LINE_OK ",x", "not five comma-separated fields" },
    { LINE_OK ",", "not five comma-separated fields" },
    { ",7,100,CNY,1", "bad key" },
    { "a b,7,100,CNY,1", "bad key" },
    { "a\tb,7,100,CNY,1", "bad key" },
    { "\xe4\xb8\xad,7,100,CNY,1", "bad key" },
    { "k123456789k123456789k123456789k123456789k123456789k123456789"
      "k123456789k1234567890,7,100,CNY,1", "bad key" },
    { "c:7,0,100,CNY,1", "bad uid" },
    { "c:7,07,100,CNY,1", "bad uid" },
    { "c:7,+7,100,CNY,1", "bad uid" },
    { "c:7, 7,100,CNY,1", "bad uid" },
    { "c:7,-1,100,CNY,1", "bad uid" },
    { "c:7,18446744073709551616,100,CNY,1", "bad uid" },
    { "c:7,7,0,CNY,1", "bad amount_cents" },
    { "c:7,7,0100,CNY,1", "bad amount_cents" },
    { "c:7,7,+100,CNY,1", "bad amount_cents" },
    { "c:7,7, 100,CNY,1", "bad amount_cents" },
    { "c:7,7,100 ,CNY,1", "bad amount_cents" },
    { "c:7,7,-100,CNY,1", "bad amount_cents" },
    { "c:7,7,100.0,CNY,1", "bad amount_cents" },
    { "c:7,7,1e2,CNY,1", "bad amount_cents" },
    { "c:7,7,1000000000000001,CNY,1", "bad amount_cents" },
    { "c:7,7,100,cny,1", "bad currency" },
    { "c:7,7,100,CNYX,1", "bad currency" },
    { "c:7,7,100,CN,1", "bad currency" },
    { "c:7,7,100,CNY,", "bad applied_at_ms" },
    { "c:7,7,100,CNY,0", "bad applied_at_ms" },
    { "c:7,7,100,CNY, 5", "bad applied_at_ms" },
    { "c:7,7,100,CNY,+5", "bad applied_at_ms" },
    { "c:7,7,100,CNY,-5", "bad applied_at_ms" },
    { "c:7,7,100,CNY,05", "bad applied_at_ms" },
    { "c:7,7,100,CNY,5x", "bad applied_at_ms" },
    { "c:7,7,100,CNY,4102444800001", "bad applied_at_ms" },
    { "c:7,7,100,CNY,1\r\n", "bad applied_at_ms" },
    { "c:7,7,100,CNY,1\n\n", "bad applied_at_ms" },
};


START_TEST(test_line_rejects)
{
    const char      *why = NULL;
    cc_stmt_line_t   l, before;

    memset(&l, 0x5a, sizeof(l));
    before = l;

    ck_assert_msg(cc_stmt_line_parse(bad[_i].line, strlen(bad[_i].line), &l,
                                     &why) == -1,
                  "accepted #%d: %s", _i, bad[_i].line);
    ck_assert_msg(why != NULL && strcmp(why, bad[_i].why) == 0,
                  "#%d: \"%s\", expected \"%s\"", _i, why, bad[_i].why);
    ck_assert_int_eq(memcmp(&l, &before, sizeof(l)), 0);
}
END_TEST


START_TEST(test_line_good)
{
    const char          *why = NULL;
    cc_stmt_line_t       l;
    static const char    max[] = "c:18446744073709551615,"
                                 "18446744073709551615,1000000000000000,USD,"
                                 "4102444800000";

    ck_assert_int_eq(cc_stmt_line_parse(LINE_OK "\n", strlen(LINE_OK) + 1, &l,
                                        &why), 0);
    ck_assert_str_eq(l.key, "cny2027:7");
    ck_assert_uint_eq(l.uid, 7);
    ck_assert_uint_eq(l.amount, 100);
    ck_assert_str_eq(l.currency, "CNY");
    ck_assert_int_eq(l.applied_ms, 1764240000123LL);
    ck_assert_int_eq(l.seen, 0);

    /* no newline at the end of the file; the bounds */
    ck_assert_int_eq(cc_stmt_line_parse(LINE_OK, strlen(LINE_OK), &l, &why),
                     0);
    ck_assert_int_eq(cc_stmt_line_parse(max, strlen(max), &l, &why), 0);
    ck_assert_uint_eq(l.uid, 18446744073709551615ULL);
    ck_assert_uint_eq(l.amount, 1000000000000000ULL);
}
END_TEST


/* a NUL in the line: strlen cut it and the rest went unseen */
START_TEST(test_line_nul)
{
    const char          *why = NULL;
    cc_stmt_line_t       l;
    static const char    cut[] = LINE_OK "\0" ",x\n";
    static const char    amt[] = "c:7,7,1\0" "00,CNY,1\n";

    ck_assert_int_eq(cc_stmt_line_parse(cut, sizeof(cut) - 1, &l, &why), -1);
    ck_assert_str_eq(why, "a NUL byte in the line");
    ck_assert_int_eq(cc_stmt_line_parse(amt, sizeof(amt) - 1, &l, &why), -1);
    ck_assert_str_eq(why, "a NUL byte in the line");

    /* the length ends the line, not a NUL */
    ck_assert_int_eq(cc_stmt_line_parse(cut, strlen(LINE_OK), &l, &why), 0);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("statement_line");
    tc = tcase_create("line");
    cc_check_loop(tc, test_line_rejects, bad);
    cc_check_add(tc, test_line_good, test_line_nul);
    suite_add_tcase(s, tc);

    return cc_check_run(s);
}
