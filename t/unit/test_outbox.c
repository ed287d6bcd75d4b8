/*
 * test_outbox: an outbox entry read back (common/cc_outbox.h), as
 * gift_out.lua writes it (the member "giver:request_id:to:kind" and its
 * score, the ms) and older versions did (a bare gift id member and its
 * value "to:kind:ms" in cc:outbox:g), and cc-redrive reads both.
 */

#include <string.h>

#include "cc_check.h"
#include "cc_outbox.h"


static const struct {
    const char  *id;
    const char  *value;
    const char  *why;            /* NULL: accepted */
} cases[] = {
    /* the old shape: a bare gift id, "to:kind:ms" */
    { "7:abc", "9:2:1764240000123", NULL },
    { "18446744073709551615:a-b_C", "1:15:4102444800000", NULL },
    { "7:abc", "7:2:1764240000123", "gift to its giver" },
    { "07:abc", "9:2:1", "bad gift_id" },
    { "7:", "9:2:1", "bad gift_id" },
    { "7:a%2Db", "9:2:1", "bad gift_id" },
    { "7", "9:2:1", "bad gift_id" },
    { "", "9:2:1", "bad gift_id" },
    { "7:abc", "09:2:1", "bad to" },
    { "7:abc", ":2:1", "bad to" },
    { "7:abc", "9", "bad to" },
    { "7:abc", "", "bad to" },
    { "7:abc", "9:16:1", "bad kind" },
    { "7:abc", "9:02:1", "bad kind" },
    { "7:abc", "9:-1:1", "bad kind" },
    { "7:abc", "9::1", "bad kind" },
    { "7:abc", "9:2", "bad ms" },
    { "7:abc", "9:2:0", "bad ms" },
    { "7:abc", "9:2:4102444800001", "bad ms" },
    { "7:abc", "9:2:01", "bad ms" },
    { "7:abc", "9:2:1:", "bad ms" },
    { "7:abc", "9:2:", "bad ms" },

    /* this version's: "giver:request_id:to:kind", the score */
    { "7:abc:9:2", "1764240000123", NULL },
    { "18446744073709551615:a-b_C:1:15", "4102444800000", NULL },
    { "7:abc:7:2", "1764240000123", "gift to its giver" },
    { "07:abc:9:2", "1", "bad gift_id" },
    { "7::9:2", "1", "bad gift_id" },
    { "7:a%2Db:9:2", "1", "bad gift_id" },
    { "7:abc:09:2", "1", "bad to" },
    { "7:abc::2", "1", "bad to" },
    { "7:abc:9", "1", "bad to" },
    { "7:abc:", "1", "bad to" },
    { "7:a:b", "9:2:1", "bad to" },
    { "7:abc:9:16", "1", "bad kind" },
    { "7:abc:9:2:1", "1", "bad kind" },
    { "7:abc:9:", "1", "bad kind" },
    { "7:abc:9:2", "0", "bad ms" },
    { "7:abc:9:2", "", "bad ms" },
    { "7:abc:9:2", "1.5e12", "bad ms" },
    { "7:abc:9:2", "4102444800001", "bad ms" },
    { "7:abc:9:2", "9:2:1", "bad ms" },
};


START_TEST(test_outbox_parse)
{
    const char        *why;
    cc_outbox_gift_t   g, untouched;

    memset(&g, 0x5a, sizeof(g));
    memcpy(&untouched, &g, sizeof(g));
    why = NULL;

    if (cases[_i].why == NULL) {
        ck_assert_int_eq(cc_outbox_parse(cases[_i].id, strlen(cases[_i].id),
                                         cases[_i].value,
                                         strlen(cases[_i].value), &g, &why),
                         0);
        return;
    }

    ck_assert_int_eq(cc_outbox_parse(cases[_i].id, strlen(cases[_i].id),
                                     cases[_i].value, strlen(cases[_i].value),
                                     &g, &why),
                     -1);
    ck_assert_str_eq(why, cases[_i].why);
    ck_assert(memcmp(&g, &untouched, sizeof(g)) == 0);
}
END_TEST


START_TEST(test_outbox_fields)
{
    const char        *why;
    cc_outbox_gift_t   g;

    ck_assert_int_eq(cc_outbox_parse("7:abc", 5, "9:2:1764240000123", 17, &g,
                                     &why), 0);
    ck_assert_uint_eq(g.giver, 7);
    ck_assert_str_eq(g.request_id, "abc");
    ck_assert_uint_eq(g.to, 9);
    ck_assert_uint_eq(g.kind, 2);
    ck_assert_int_eq(g.ms, 1764240000123LL);
    ck_assert_uint_eq(g.idlen, 5);
    ck_assert_int_eq(g.old, 1);

    ck_assert_int_eq(cc_outbox_parse("7:abc:9:2", 9, "1764240000123", 13, &g,
                                     &why), 0);
    ck_assert_uint_eq(g.giver, 7);
    ck_assert_str_eq(g.request_id, "abc");
    ck_assert_uint_eq(g.to, 9);
    ck_assert_uint_eq(g.kind, 2);
    ck_assert_int_eq(g.ms, 1764240000123LL);
    ck_assert_uint_eq(g.idlen, 5);
    ck_assert_int_eq(g.old, 0);

    ck_assert_int_eq(cc_outbox_is_old("7:abc", 5), 1);
    ck_assert_int_eq(cc_outbox_is_old("7", 1), 1);
    ck_assert_int_eq(cc_outbox_is_old("7:abc:9:2", 9), 0);
    ck_assert_int_eq(cc_outbox_is_old("7:abc:", 6), 0);
}
END_TEST


static Suite *
outbox_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("outbox");
    tc = cc_check_tcase(s, "parse", test_outbox_fields);
    cc_check_loop(tc, test_outbox_parse, cases);

    return s;
}


CC_CHECK_MAIN(outbox_suite)
