/*
 * Unit tests of common/cc_award.c: the field w of the user hash, as the
 * module's award and claim read it.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_award.h"
#include "cc_check.h"


static const struct {
    const char  *s;
    int          credited;
    uint64_t     amount;
    const char  *id;
} good[] = {
    { "p:1500:cny2027:42", 0, 1500, "cny2027:42" },
    { "c:1:a", 1, 1, "a" },
    { "c:1000000000000000:A_z-9", 1, 1000000000000000ULL, "A_z-9" },
    { "p:7:"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      0, 7,
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
    { "p:7::", 0, 7, ":" },
};


START_TEST(test_good)
{
    cc_award_t  aw;
    const char *s = good[_i].s;

    memset(&aw, 0, sizeof(aw));
    ck_assert_msg(cc_award_parse(s, strlen(s), &aw) == 0, "refused %s", s);
    ck_assert_int_eq(aw.credited, good[_i].credited);
    ck_assert_uint_eq(aw.amount, good[_i].amount);
    ck_assert_uint_eq(aw.id_len, strlen(good[_i].id));
    ck_assert_int_eq(memcmp(aw.id, good[_i].id, aw.id_len), 0);

    /* the id points into the text, at its end */
    ck_assert_ptr_eq(aw.id + aw.id_len, s + strlen(s));
}
END_TEST


static const char *const  bad[] = {
    "",
    "p",
    "p:1:",
    "p:1",
    "x:1:a",
    "P:1:a",
    "p;1:a",
    "p::a",
    "p:0:a",
    "p:01:a",
    "p:-1:a",
    "p:+1:a",
    "p: 1:a",
    "p:1a:b",
    "c:1000000000000001:a",
    "c:9999999999999999:a",
    "c:10000000000000000:a",
    "c:18446744073709551616:a",
    "p:1:a b",
    "p:1:a\"b",
    "p:1:a\\b",
    "p:1:a.b",
    "p:1:\xc3\xa9",
    "p:1:"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};


START_TEST(test_bad)
{
    cc_award_t  aw, before;

    memset(&aw, 0x5a, sizeof(aw));
    before = aw;
    ck_assert_msg(cc_award_parse(bad[_i], strlen(bad[_i]), &aw) == -1,
                  "accepted \"%s\"", bad[_i]);
    ck_assert_msg(memcmp(&aw, &before, sizeof(aw)) == 0,
                  "\"%s\" wrote the award", bad[_i]);
}
END_TEST


/* a NUL anywhere is a byte like any other bad one, never an end */
START_TEST(test_nul)
{
    cc_award_t  aw;
    static const char  amount[] = "p:1\0:a";
    static const char  id[] = "p:1:ab\0c";

    ck_assert_int_eq(cc_award_parse(amount, sizeof(amount) - 1, &aw), -1);
    ck_assert_int_eq(cc_award_parse(id, sizeof(id) - 1, &aw), -1);

    /* the length rules, not the NUL: the same text cut before it is good */
    ck_assert_int_eq(cc_award_parse(id, 6, &aw), 0);
    ck_assert_uint_eq(aw.id_len, 2);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("award");
    tc = tcase_create("parse");
    cc_check_loop(tc, test_good, good);
    cc_check_loop(tc, test_bad, bad);
    cc_check_add(tc, test_nul);
    suite_add_tcase(s, tc);

    return cc_check_run(s);
}
