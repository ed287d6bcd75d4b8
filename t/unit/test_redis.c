/*
 * Unit tests of workers/lib/cc_redis.c that need no server: --sentinel
 * and --redis as the options give them (an address, or with Sentinels a
 * master name), and which error replies mean "not a usable master".
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cc_redis.h"
#include "cc_worker.h"


/* the address form, before any --sentinel: cc_redis.c's list is static */
START_TEST(test_opts)
{
    char       name[80];
    cc_addr_t  a;

    ck_assert_uint_eq(cc_redis_sentinels(), 0);
    ck_assert_int_eq(cc_redis_opt_addr("127.0.0.1:6379", &a), 0);
    ck_assert_str_eq(a.host, "127.0.0.1");
    ck_assert_uint_eq(a.port, 6379);
    ck_assert_int_eq(cc_redis_opt_addr("cc0", &a), -1);     /* no port */

    ck_assert_int_eq(cc_redis_opt_sentinel("h"), -1);
    ck_assert_int_eq(cc_redis_opt_sentinel("[::1]:26379"), 0);
    ck_assert_uint_eq(cc_redis_sentinels(), 1);

    /* now --redis is a master name */
    ck_assert_int_eq(cc_redis_opt_addr("cc0", &a), 0);
    ck_assert_str_eq(a.host, "");
    ck_assert_int_eq(cc_redis_opt_addr("shard-1.eu_west", &a), 0);
    ck_assert_int_eq(cc_redis_opt_addr("127.0.0.1:6379", &a), -1);
    ck_assert_int_eq(cc_redis_opt_addr("", &a), -1);
    ck_assert_int_eq(cc_redis_opt_addr("a b", &a), -1);
    memset(name, 'x', 64);
    name[64] = '\0';
    ck_assert_int_eq(cc_redis_opt_addr(name, &a), 0);
    name[64] = 'x';
    name[65] = '\0';
    ck_assert_int_eq(cc_redis_opt_addr(name, &a), -1);

    while (cc_redis_sentinels() < CC_REDIS_SENTINELS_MAX) {
        ck_assert_int_eq(cc_redis_opt_sentinel("h:1"), 0);
    }
    ck_assert_int_eq(cc_redis_opt_sentinel("h:1"), -1);
}
END_TEST


START_TEST(test_reply_failover)
{
    redisReply  r;

    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(cc_redis_reply_failover(NULL), 0);

    r.type = REDIS_REPLY_ERROR;
    r.str = "READONLY You can't write against a read only replica.";
    ck_assert_int_eq(cc_redis_reply_failover(&r), 1);
    r.str = "LOADING Redis is loading the dataset in memory";
    ck_assert_int_eq(cc_redis_reply_failover(&r), 1);
    r.str = "NOSCRIPT No matching script.";
    ck_assert_int_eq(cc_redis_reply_failover(&r), 0);
    r.str = "ERR READONLY";
    ck_assert_int_eq(cc_redis_reply_failover(&r), 0);

    r.type = REDIS_REPLY_STATUS;
    r.str = "READONLY";
    ck_assert_int_eq(cc_redis_reply_failover(&r), 0);
}
END_TEST


int
main(void)
{
    int       failed;
    Suite    *s;
    TCase    *tc;
    SRunner  *sr;

    cc_worker_init("test_redis");

    s = suite_create("redis");
    tc = tcase_create("options");
    tcase_add_test(tc, test_opts);
    tcase_add_test(tc, test_reply_failover);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
