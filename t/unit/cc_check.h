/*
 * What every Check runner in t/unit does with its suite: run it, print the
 * results, and exit 0 only when no test failed.  Header-only, so each test
 * stays one .c file linked as before.
 *
 *     CC_CHECK_MAIN(campaign_suite)        a main that runs campaign_suite()
 *     return cc_check_run(s);              from a main that sets up first
 *     return cc_check_run_fork(s, CK_NOFORK);
 */

#ifndef CC_CHECK_H
#define CC_CHECK_H

#include <check.h>
#include <stdlib.h>


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
