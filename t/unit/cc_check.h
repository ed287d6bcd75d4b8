/*
 * What every Check runner in t/unit does with its suite: build it from its
 * tests, run it, print the results, and exit 0 only when no test failed.
 * Header-only, so each test stays one .c file linked as before.
 *
 *     cc_check_tcase(s, "parse", test_a, test_b)  a test case of suite s
 *                                          with these tests, in this order
 *     cc_check_add(tc, test_c, test_d)     more tests of a test case
 *     cc_check_loop(tc, test_e, table)     test_e once for each entry of
 *                                          the array table (_i its index)
 *     CC_CHECK_MAIN(campaign_suite)        a main that runs campaign_suite()
 *     return cc_check_run(s);              from a main that sets up first
 *     return cc_check_run_fork(s, CK_NOFORK);
 */

#ifndef CC_CHECK_H
#define CC_CHECK_H

#include <check.h>
#include <stddef.h>
#include <stdlib.h>


/* the tests (START_TEST names) of a list, as an array and its length */
#define CC_CHECK_TESTS(...)                                                   \
    (const TTest *[]) { __VA_ARGS__ },                                        \
    sizeof((const TTest *[]) { __VA_ARGS__ }) / sizeof(const TTest *)

#define cc_check_add(tc, ...)                                                 \
    cc_check_add_n((tc), CC_CHECK_TESTS(__VA_ARGS__))

#define cc_check_tcase(s, name, ...)                                          \
    cc_check_tcase_n((s), (name), CC_CHECK_TESTS(__VA_ARGS__))

#define cc_check_loop(tc, test, table)                                        \
    tcase_add_loop_test((tc), test, 0,                                        \
                        (int) (sizeof(table) / sizeof((table)[0])))


static inline void
cc_check_add_n(TCase *tc, const TTest *const *tests, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        tcase_add_test(tc, tests[i]);
    }
}


static inline TCase *
cc_check_tcase_n(Suite *s, const char *name, const TTest *const *tests,
    size_t n)
{
    TCase  *tc;

    tc = tcase_create(name);
    cc_check_add_n(tc, tests, n);
    suite_add_tcase(s, tc);

    return tc;
}


/* runs s (and frees it); fork is a Check fork status, CK_FORK_GETENV for
 * Check's default (CK_FORK unless the environment says otherwise) */
static inline int
cc_check_run_fork(Suite *s, enum fork_status fork)
{
    SRunner  *sr;
    int       failed;

    sr = srunner_create(s);
    srunner_set_fork_status(sr, fork);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}


static inline int
cc_check_run(Suite *s)
{
    return cc_check_run_fork(s, CK_FORK_GETENV);
}


#define CC_CHECK_MAIN(suite_fn)                                               \
    int                                                                       \
    main(void)                                                                \
    {                                                                         \
        return cc_check_run(suite_fn());                                      \
    }

#endif /* CC_CHECK_H */
