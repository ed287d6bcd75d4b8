/*
 * Unit tests of workers/money/cc_ledger_phase: what a refused batch leaves
 * in its entries.  cc-payout reuses its credits[] between batches, so an
 * entry whose rc is not set on every path would keep the last batch's
 * result (a DONE read as "credited now").  The checks of the ids come
 * before any query, so no MySQL is needed (db NULL).
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_ledger_phase.h"
#include "cc_check.h"


START_TEST(test_pending_bad_id_sets_every_rc)
{
    char                 err[256];
    size_t               i;
    cc_ledger_phase_e    st[4];
    cc_ledger_credit_t   c[4] = {
        { "c:1", 1, 100, CC_LEDGER_DONE },
        { "c:2'", 2, 100, CC_LEDGER_DONE },     /* the bad one */
        { "c:3", 3, 100, CC_LEDGER_DONE },      /* last batch's results */
        { "c:4", 4, 100, CC_LEDGER_EXISTS }
    };

    err[0] = '\0';
    ck_assert_int_eq(cc_ledger_phase_pending(NULL, "c", c, 4, st, err,
                                             sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "bad award"));

    for (i = 0; i < 4; i++) {
        ck_assert_msg(c[i].rc == CC_LEDGER_ERROR, "c[%zu].rc is %s", i,
                      cc_ledger_rc_name(c[i].rc));
    }
}
END_TEST


START_TEST(test_pending_first_bad)
{
    char                 err[256];
    size_t               i;
    cc_ledger_phase_e    st[3];
    cc_ledger_credit_t   c[3] = {
        { "", 1, 100, CC_LEDGER_DONE },
        { "c:2", 2, 100, CC_LEDGER_DONE },
        { "c:3", 3, 0, CC_LEDGER_MISMATCH }     /* amount 0: bad too */
    };

    ck_assert_int_eq(cc_ledger_phase_pending(NULL, "c", c, 3, st, err,
                                             sizeof(err)), -1);

    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(c[i].rc, CC_LEDGER_ERROR);
    }
}
END_TEST


START_TEST(test_pending_bad_campaign)
{
    char                 err[256];
    cc_ledger_phase_e    st[2];
    cc_ledger_credit_t   c[2] = {
        { "c:1", 1, 100, CC_LEDGER_DONE },
        { "c:2", 2, 100, CC_LEDGER_EXISTS }
    };

    ck_assert_int_eq(cc_ledger_phase_pending(NULL, "c'x", c, 2, st, err,
                                             sizeof(err)), -1);
    ck_assert_int_eq(c[0].rc, CC_LEDGER_ERROR);
    ck_assert_int_eq(c[1].rc, CC_LEDGER_ERROR);
}
END_TEST


static Suite *
ledger_phase_suite(void)
{
    Suite  *s;

    s = suite_create("ledger_phase");
    cc_check_tcase(s, "pending", test_pending_bad_id_sets_every_rc,
                   test_pending_first_bad, test_pending_bad_campaign);

    return s;
}


CC_CHECK_MAIN(ledger_phase_suite)
