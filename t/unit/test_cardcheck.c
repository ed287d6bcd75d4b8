/*
 * Unit tests of workers/reconcile/cc_cardcheck_rules.c: what the cards
 * check (cc-reconcile --cards, t/116) reads with no server.  What a
 * combine consumed decides every kind's sum, so its rule is pinned here;
 * an outbox entry that does not read is named by the check, never
 * counted as a gift in transit: the check reads it with cc-redrive's
 * reader, cc_outbox_parse (common/cc_outbox.h), whose refusals of a
 * value are pinned here as the check relies on them.
 */

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "cc_cards.h"
#include "cc_cardcheck_rules.h"
#include "cc_check.h"
#include "cc_outbox.h"


/* the value of a gift of uid 1 to uid "to" in an outbox: 0, or -1 */
static int
outbox_value(const char *v, size_t len, uint64_t *to, unsigned *kind)
{
    const char        *why;
    cc_outbox_gift_t   g;

    if (cc_outbox_parse("1:r", 3, v, len, &g, &why) != 0) {
        return -1;
    }

    *to = g.to;
    *kind = g.kind;

    return 0;
}


static const char  *bad[] = {
    "",
    "9",
    "9:2",
    "9:2:",
    ":2:1764240000123",
    "9::1764240000123",
    "0:2:1764240000123",                 /* uid 0 */
    "09:2:1764240000123",                /* a leading zero */
    "+9:2:1764240000123",
    " 9:2:1764240000123",
    "18446744073709551616:2:1",          /* past 2^64 - 1 */
    "9:16:1764240000123",                /* CC_KINDS_MAX */
    "9:02:1764240000123",
    "9:-1:1764240000123",
    "9:+2:1764240000123",
    "9:2x:1764240000123",
    "9:2:0",                             /* no time */
    "9:2:01764240000123",
    "9:2:4102444800001",                 /* past CC_TS_MAX */
    "9:2:1764240000123:5",               /* a field more */
    "9:2:17642400001x3",
    "9:2:99999999999999999999999",
};


START_TEST(test_outbox_rejects)
{
    unsigned     kind = 99;
    uint64_t     to = 99;
    const char  *v = bad[_i];

    ck_assert_msg(outbox_value(v, strlen(v), &to, &kind) == -1,
                  "\"%s\" read", v);
}
END_TEST


START_TEST(test_outbox_good)
{
    unsigned            kind;
    uint64_t            to;
    static const char   v[] = "9:2:1764240000123";
    static const char   max[] = "18446744073709551615:15:4102444800000";
    static const char   cut[] = "9:2:1764240000123\0:5";

    ck_assert_int_eq(outbox_value(v, strlen(v), &to, &kind), 0);
    ck_assert_uint_eq(to, 9);
    ck_assert_uint_eq(kind, 2);

    ck_assert_int_eq(outbox_value(max, strlen(max), &to, &kind), 0);
    ck_assert_uint_eq(to, UINT64_MAX);
    ck_assert_uint_eq(kind, CC_KINDS_MAX - 1);

    ck_assert_int_eq(outbox_value("7:0:1", 5, &to, &kind), 0);
    ck_assert_uint_eq(kind, 0);

    /* the length ends the value: a NUL inside it is a bad time */
    ck_assert_int_eq(outbox_value(cut, sizeof(cut) - 1, &to, &kind), -1);
}
END_TEST


/* one card of every kind of the campaign, and none of another */
START_TEST(test_consumed)
{
    unsigned                k;
    const char             *yes[CC_CARDCHECK_COMBINE_NCOLS] = { "1" };
    const char             *no[CC_CARDCHECK_COMBINE_NCOLS] = { "0" };
    const char             *null[CC_CARDCHECK_COMBINE_NCOLS] = { NULL };
    const char             *plain[CC_CARDCHECK_COMBINE_NCOLS] =
                                { "1", "4", "0", "0" };
    const char             *wild[CC_CARDCHECK_COMBINE_NCOLS] =
                                { "1", "4", "2", "10" };
    const char             *none[CC_CARDCHECK_COMBINE_NCOLS] =
                                { "0", NULL, NULL, NULL };
    cc_cardcheck_combine_t  c;

    cc_cardcheck_combine_read(yes, &c);

    for (k = 0; k < 5; k++) {
        ck_assert_int_eq(cc_cardcheck_consumed(&c, k, 5), 1);
    }

    ck_assert_int_eq(cc_cardcheck_consumed(&c, 5, 5), 0);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, CC_KINDS_MAX - 1, 5), 0);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 0, 0), 0);

    cc_cardcheck_combine_read(no, &c);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 0, 5), 0);

    cc_cardcheck_combine_read(null, &c);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 0, 5), 0);

    /* a wildcard campaign's combine without a wildcard: not of kind 4 */
    cc_cardcheck_combine_read(plain, &c);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 0, 5), 1);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 3, 5), 1);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 4, 5), 0);

    /* two wildcards of kind 4 for kinds 1 and 3 (mask 0b1010) */
    cc_cardcheck_combine_read(wild, &c);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 0, 5), 1);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 1, 5), 0);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 2, 5), 1);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 3, 5), 0);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 4, 5), 2);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 5, 5), 0);

    /* no row: the columns NULL beside "0" take nothing */
    cc_cardcheck_combine_read(none, &c);
    ck_assert_int_eq(cc_cardcheck_consumed(&c, 4, 5), 0);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("cardcheck");
    tc = tcase_create("rules");
    cc_check_loop(tc, test_outbox_rejects, bad);
    cc_check_add(tc, test_outbox_good, test_consumed);
    suite_add_tcase(s, tc);

    return cc_check_run(s);
}
