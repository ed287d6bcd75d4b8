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

#include "cc_ledger_bulk.h"
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


/* the attempts' pending ids: the award id, then <award id>#<n> */
START_TEST(test_attempt_id)
{
    char  id[CC_LEDGER_PHASE_ID_MAX + 1];

    cc_ledger_phase_attempt_id(id, sizeof(id), "c:7", 1);
    ck_assert_str_eq(id, "c:7");
    cc_ledger_phase_attempt_id(id, sizeof(id), "c:7", 0);
    ck_assert_str_eq(id, "c:7");
    cc_ledger_phase_attempt_id(id, sizeof(id), "c:7", 2);
    ck_assert_str_eq(id, "c:7#2");
    cc_ledger_phase_attempt_id(id, sizeof(id), "c:7", 4294967295U);
    ck_assert_str_eq(id, "c:7#4294967295");
}
END_TEST


/* the longest award id (64) and attempt fit the column (80) */
START_TEST(test_attempt_id_fits)
{
    char  award[65], id[CC_LEDGER_PHASE_ID_MAX + 1];

    memset(award, 'a', 64);
    award[64] = '\0';

    cc_ledger_phase_attempt_id(id, sizeof(id), award, 4294967295U);
    ck_assert_uint_eq(strlen(id), 64 + 11);
    ck_assert_uint_le(strlen("void:") + strlen(id), CC_LEDGER_PHASE_ID_MAX);
}
END_TEST


/* what is refused before any query (db NULL): nothing written */
START_TEST(test_retry_guards)
{
    int                  sel[2] = { 1, 0 }, none[2] = { 0, 0 };
    char                 err[256];
    unsigned             failed[2] = { 1, 0 };
    cc_ledger_credit_t   c[2] = {
        { "c:1", 1, 100, CC_LEDGER_ERROR },
        { "c:2'", 2, 100, CC_LEDGER_ERROR }     /* not selected */
    };

    ck_assert_int_eq(cc_ledger_phase_retry(NULL, "c", c, failed, none,
                                           NULL, 2, err, sizeof(err)), 0);

    err[0] = '\0';
    ck_assert_int_eq(cc_ledger_phase_retry(NULL, "c'x", c, failed, sel,
                                           NULL, 2, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "bad campaign"));

    failed[0] = 0;                  /* no attempt was made: none failed */
    ck_assert_int_eq(cc_ledger_phase_retry(NULL, "c", c, failed, sel,
                                           NULL, 2, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "bad award \"c:1\" or attempt 0"));

    failed[0] = 1;
    sel[1] = 1;
    failed[1] = 3;
    ck_assert_int_eq(cc_ledger_phase_retry(NULL, "c", c, failed, sel,
                                           NULL, 2, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "bad award \"c:2'\""));

    c[1].award_id = "c:2";
    c[1].amount_cents = 0;
    ck_assert_int_eq(cc_ledger_phase_retry(NULL, "c", c, failed, sel,
                                           NULL, 2, err, sizeof(err)), -1);
}
END_TEST


/*
 * The order every batch writes in: award ids ascending, ties in entry
 * order; the same whether the entries came sorted (no sort made) or not.
 */
START_TEST(test_bulk_order)
{
    size_t              *o, i;
    cc_ledger_credit_t   c[5];
    const char          *sorted[] = { "c:1", "c:10", "c:10", "c:2", "c:3" };
    const char          *mixed[] = { "c:3", "c:10", "c:1", "c:2", "c:10" };
    const size_t         want_mixed[] = { 2, 1, 4, 3, 0 };

    memset(c, 0, sizeof(c));

    for (i = 0; i < 5; i++) {
        c[i].award_id = sorted[i];
    }

    o = cc_ledger_bulk_order(c, 5);
    ck_assert_ptr_nonnull(o);
    for (i = 0; i < 5; i++) {
        ck_assert_uint_eq(o[i], i);
    }
    free(o);

    for (i = 0; i < 5; i++) {
        c[i].award_id = mixed[i];
    }

    o = cc_ledger_bulk_order(c, 5);
    ck_assert_ptr_nonnull(o);
    for (i = 0; i < 5; i++) {
        ck_assert_uint_eq(o[i], want_mixed[i]);
    }
    free(o);

    /* sorted but for the last pair: the check must look at every pair */
    c[0].award_id = "c:1";
    c[1].award_id = "c:2";
    c[2].award_id = "c:3";
    c[3].award_id = "c:5";
    c[4].award_id = "c:4";
    o = cc_ledger_bulk_order(c, 5);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(o[3], 4);
    ck_assert_uint_eq(o[4], 3);
    free(o);

    o = cc_ledger_bulk_order(c, 0);
    ck_assert_ptr_nonnull(o);
    free(o);
}
END_TEST


static Suite *
ledger_phase_suite(void)
{
    Suite  *s;

    s = suite_create("ledger_phase");
    cc_check_tcase(s, "pending", test_pending_bad_id_sets_every_rc,
                   test_pending_first_bad, test_pending_bad_campaign);
    cc_check_tcase(s, "void", test_attempt_id, test_attempt_id_fits,
                   test_retry_guards);
    cc_check_tcase(s, "order", test_bulk_order);

    return s;
}


CC_CHECK_MAIN(ledger_phase_suite)
