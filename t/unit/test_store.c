/*
 * Unit tests of workers/lib/cc_store.c that need no server: shard names and
 * the shard a uid's draws go to.
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cc_store.h"
#include "cc_check.h"


START_TEST(test_names)
{
    cc_store_t   st;
    char        *good[] = { "db1.internal:3306/cc_s0", "10.0.0.2:3307/cc_s1",
                            "[::1]:3306/x", "[fe80::1%lo]:3306/x" };
    char        *bad[][1] = { { "host/db" }, { "host:0/db" },
                              { "host:65536/db" }, { ":3306/db" },
                              { "host:3306/" }, { "host:3306" },
                              { "host:33a6/db" }, { "host:3306/d-b" },
                              { "host:3306/db;drop" }, { "[::1:3306/db" },
                              { "::1:3306/db" }, { "h\x01st:3306/db" } };
    size_t       i;

    ck_assert_int_eq(cc_store_open(&st, good, 4, "root", NULL), 0);
    ck_assert_uint_eq(st.nshards, 4);
    ck_assert_str_eq(st.shards[0].host, "db1.internal");
    ck_assert_uint_eq(st.shards[0].port, 3306);
    ck_assert_str_eq(st.shards[0].db, "cc_s0");
    ck_assert_str_eq(st.shards[2].host, "::1");
    ck_assert_str_eq(st.shards[3].host, "fe80::1%lo");
    ck_assert_str_eq(st.shards[3].name, "[fe80::1%lo]:3306/x");
    ck_assert_ptr_null(st.shards[0].conn);         /* nothing connected */
    cc_store_close(&st);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(cc_store_open(&st, bad[i], 1, "root", NULL) == -1,
                      "accepted %s", bad[i][0]);
        ck_assert_msg(strstr(st.err, "bad MySQL shard") != NULL, "%s",
                      st.err);
    }

    /* the reason is cc_addr's, or the database's */
    ck_assert_int_eq(cc_store_open(&st, bad[0], 1, "root", NULL), -1);
    ck_assert_str_eq(st.err, "bad MySQL shard \"host/db\", expected "
                     "host:port/database (missing port)");
    ck_assert_int_eq(cc_store_open(&st, bad[7], 1, "root", NULL), -1);
    ck_assert_str_eq(st.err, "bad MySQL shard \"host:3306/d-b\", expected "
                     "host:port/database (bad database name)");
    ck_assert_int_eq(cc_store_open(&st, bad[9], 1, "root", NULL), -1);
    ck_assert_str_eq(st.err, "bad MySQL shard \"[::1:3306/db\", expected "
                     "host:port/database (unclosed bracket)");

    ck_assert_int_eq(cc_store_open(&st, good, 0, "root", NULL), -1);
}
END_TEST


START_TEST(test_shard_of_is_the_ring)
{
    cc_store_t        st;
    cc_ring_t         ring;
    cc_ring_point_t  *points;
    char             *names[] = { "h:1/a", "h:1/b", "h:2/a", "h:2/b" };
    const char       *keys[4];
    size_t            lens[4], i;
    uint64_t          uid;
    size_t            count[4] = { 0 };

    ck_assert_int_eq(cc_store_open(&st, names, 4, "root", NULL), 0);

    for (i = 0; i < 4; i++) {
        keys[i] = names[i];
        lens[i] = strlen(names[i]);
    }

    points = malloc(cc_ring_npoints(4) * sizeof(cc_ring_point_t));
    ck_assert_int_eq(cc_ring_build(&ring, points, keys, lens, 4), 0);

    /* the same ring as the module's: a uid's shard is its name's arc */
    for (uid = 1; uid <= 20000; uid++) {
        ck_assert_uint_eq(cc_store_shard_of(&st, uid),
                          cc_ring_shard(&ring, uid));
        count[cc_store_shard_of(&st, uid)]++;
    }

    for (i = 0; i < 4; i++) {
        ck_assert_msg(count[i] > 3500, "shard %zu got %zu of 20000", i,
                      count[i]);
    }

    free(points);
    cc_store_close(&st);
}
END_TEST


START_TEST(test_candidates)
{
    cc_store_t   st, one;
    char        *names[] = { "10.0.0.1:3306,10.0.0.2:3306/cc_s0",
                             "h:1/a" };
    char        *single[] = { "10.0.0.1:3306/cc_s0", "h:1/a" };
    char        *bad[][1] = { { "a:1,/db" }, { "a:1,b/db" },
                              { "a:1,b:2,c:3,d:4,e:5/db" }, { ",a:1/db" } };
    size_t       i;
    uint64_t     uid;

    ck_assert_int_eq(cc_store_open(&st, names, 2, "root", NULL), 0);
    ck_assert_uint_eq(st.shards[0].ncand, 2);
    ck_assert_str_eq(st.shards[0].cand[0].host, "10.0.0.1");
    ck_assert_str_eq(st.shards[0].cand[1].host, "10.0.0.2");
    ck_assert_uint_eq(st.shards[0].cand[1].port, 3306);
    ck_assert_str_eq(st.shards[0].host, "10.0.0.1");  /* tried first */
    ck_assert_str_eq(st.shards[0].db, "cc_s0");
    ck_assert_str_eq(st.shards[0].name, names[0]);
    ck_assert_uint_eq(st.shards[1].ncand, 1);

    /* keyed by the spec as written: not the single form's ring */
    ck_assert_int_eq(cc_store_open(&one, single, 2, "root", NULL), 0);
    for (i = 0, uid = 1; uid <= 2000; uid++) {
        i += cc_store_shard_of(&st, uid) != cc_store_shard_of(&one, uid);
    }
    ck_assert_uint_gt(i, 0);
    cc_store_close(&one);
    cc_store_close(&st);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(cc_store_open(&st, bad[i], 1, "root", NULL) == -1,
                      "accepted %s", bad[i][0]);
    }

    ck_assert_int_eq(cc_store_open(&st, bad[2], 1, "root", NULL), -1);
    ck_assert_str_eq(st.err, "bad MySQL shard \"a:1,b:2,c:3,d:4,e:5/db\", "
                     "expected host:port/database (more than 4 host:port)");
}
END_TEST


int
main(void)
{
    Suite  *s;

    s = suite_create("store");
    cc_check_tcase(s, "shards", test_names, test_shard_of_is_the_ring,
                   test_candidates);

    return cc_check_run(s);
}
