/*
 * Unit tests of common/: id validation, Redis key names, card weights, the
 * uid ring.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_ids.h"
#include "cc_json.h"
#include "cc_keys.h"
#include "cc_ring.h"
#include "cc_cards.h"
#include "cc_check.h"


/* ---- ids ---- */

START_TEST(test_uid_good)
{
    uint64_t  uid;

    ck_assert_int_eq(cc_parse_uid("1", 1, &uid), 0);
    ck_assert_uint_eq(uid, 1);
    ck_assert_int_eq(cc_parse_uid("18446744073709551615", 20, &uid), 0);
    ck_assert_uint_eq(uid, UINT64_MAX);
    ck_assert_int_eq(cc_parse_uid("4200000000", 10, &uid), 0);
    ck_assert_uint_eq(uid, 4200000000ULL);
}
END_TEST


START_TEST(test_uid_bad)
{
    uint64_t    uid = 77;
    size_t      i;
    const char *bad[] = {
        "", "0", "07", "-1", "+1", " 1", "1 ", "1a", "abc", "1.5",
        "18446744073709551616",                  /* 2^64 */
        "99999999999999999999",
        "184467440737095516150",                 /* 21 digits */
        "\xc3\xa9", "1\x00" "2",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(cc_parse_uid(bad[i], strlen(bad[i]) + (i == 14), &uid)
                      == -1, "accepted bad uid #%zu", i);
    }

    ck_assert_uint_eq(uid, 77);                  /* untouched on error */
}
END_TEST


START_TEST(test_request_id)
{
    char  id[CC_REQUEST_ID_MAX + 2];

    ck_assert_int_eq(cc_check_request_id("a", 1), 0);
    ck_assert_int_eq(cc_check_request_id("Abc_09-z", 8), 0);
    ck_assert_int_eq(cc_check_request_id("", 0), -1);
    ck_assert_int_eq(cc_check_request_id("a b", 3), -1);
    ck_assert_int_eq(cc_check_request_id("a%20", 4), -1);
    ck_assert_int_eq(cc_check_request_id("a:b", 3), -1);
    ck_assert_int_eq(cc_check_request_id("a{b}", 4), -1);
    ck_assert_int_eq(cc_check_request_id("\xe4\xb8\xad", 3), -1);

    memset(id, 'x', sizeof(id));
    ck_assert_int_eq(cc_check_request_id(id, CC_REQUEST_ID_MAX), 0);
    ck_assert_int_eq(cc_check_request_id(id, CC_REQUEST_ID_MAX + 1), -1);
}
END_TEST


START_TEST(test_award_id)
{
    char  id[CC_AWARD_ID_MAX + 2];

    ck_assert_int_eq(cc_check_award_id("c:7", 3), 0);
    ck_assert_int_eq(cc_check_award_id("post:cny2027:12", 15), 0);
    ck_assert_int_eq(cc_check_award_id("Abc_09-z", 8), 0);
    ck_assert_int_eq(cc_check_award_id("", 0), -1);
    ck_assert_int_eq(cc_check_award_id("c:7'", 4), -1);
    ck_assert_int_eq(cc_check_award_id("c 7", 3), -1);
    ck_assert_int_eq(cc_check_award_id("c,7", 3), -1);
    ck_assert_int_eq(cc_check_award_id("\xe4\xb8\xad", 3), -1);

    memset(id, 'x', sizeof(id));
    ck_assert_int_eq(cc_check_award_id(id, CC_AWARD_ID_MAX), 0);
    ck_assert_int_eq(cc_check_award_id(id, CC_AWARD_ID_MAX + 1), -1);
}
END_TEST


START_TEST(test_count)
{
    uint64_t  n = 5;

    ck_assert_int_eq(cc_parse_count("1", 1, 100, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(cc_parse_count("100", 3, 100, &n), 0);
    ck_assert_uint_eq(n, 100);
    ck_assert_int_eq(cc_parse_count("101", 3, 100, &n), -1);
    ck_assert_int_eq(cc_parse_count("0", 1, 100, &n), -1);
    ck_assert_int_eq(cc_parse_count("-3", 2, 100, &n), -1);
    ck_assert_int_eq(cc_parse_count("", 0, 100, &n), -1);
    ck_assert_uint_eq(n, 100);
}
END_TEST


/* ---- keys ---- */

START_TEST(test_key_user_round_trip)
{
    char      key[CC_KEY_MAX];
    size_t    len, i;
    uint64_t  uid;
    uint64_t  uids[] = { 1, 42, 4200000000ULL, UINT64_MAX };

    for (i = 0; i < sizeof(uids) / sizeof(uids[0]); i++) {
        len = cc_key_user(key, uids[i]);
        ck_assert_uint_eq(len, strlen(key));
        uid = 0;
        ck_assert_int_eq(cc_key_user_uid(key, len, &uid), 0);
        ck_assert_uint_eq(uid, uids[i]);
    }

    ck_assert_str_eq(key, "cc:{18446744073709551615}:u");
    ck_assert_str_eq(CC_KEY_USER_MATCH, "cc:{*}:u");
}
END_TEST


START_TEST(test_key_user_uid_bad)
{
    char        key[CC_KEY_MAX];
    size_t      i, len;
    uint64_t    uid = 77;
    const char *bad[] = {
        "", "cc:{}:u", "cc:{", "}:u", "cc:{1}:g", "cc:{1}:", "cc:{1}u",
        "cc:1:u", "xc:{1}:u", "cc:{1}:uu", "cc:{0}:u", "cc:{01}:u",
        "cc:{-1}:u", "cc:{1a}:u", "cc:{1}:g}:u", "cc:{ 1}:u",
        "cc:{18446744073709551616}:u",                        /* 2^64 */
        "cc:draws", "cc:claims", "cc:stock:4",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(cc_key_user_uid(bad[i], strlen(bad[i]), &uid) == -1,
                      "accepted bad key #%zu \"%s\"", i, bad[i]);
    }

    /* a NUL inside, and a prefix of a good key cut short */
    ck_assert_int_eq(cc_key_user_uid("cc:{1\0}:u", 9, &uid), -1);
    len = cc_key_grants(key, 5);
    ck_assert_int_eq(cc_key_user_uid(key, len, &uid), -1);
    len = cc_key_user(key, 5);
    ck_assert_int_eq(cc_key_user_uid(key, len - 1, &uid), -1);

    ck_assert_uint_eq(uid, 77);                  /* untouched on error */
}
END_TEST


/* a decimal that may be 0, still in one form */
START_TEST(test_uint)
{
    size_t       i;
    uint64_t     n = 5;
    static const char  *bad[] = {
        "", "00", "01", "-0", "+0", " 0", "0 ", "-1", "+1", "1.0", "1e0",
        "0x10", "18446744073709551616", "99999999999999999999"
    };

    ck_assert_int_eq(cc_parse_uint("0", 1, 10, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(cc_parse_uint("10", 2, 10, &n), 0);
    ck_assert_uint_eq(n, 10);
    ck_assert_int_eq(cc_parse_uint("18446744073709551615", 20, UINT64_MAX,
                                   &n), 0);
    ck_assert_uint_eq(n, UINT64_MAX);

    n = 5;
    ck_assert_int_eq(cc_parse_uint("11", 2, 10, &n), -1);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(cc_parse_uint(bad[i], strlen(bad[i]), UINT64_MAX, &n)
                      == -1, "accepted \"%s\"", bad[i]);
    }

    ck_assert_uint_eq(n, 5);
}
END_TEST


/* ---- json: what cJSON does not check ---- */

START_TEST(test_json_ints)
{
    size_t       i;
    static const char  *good[] = {
        "{\"a\":0}", "{\"a\":-7,\"b\":[1,20,300]}", "{\"s\":\"1.5e3 007 +1\"}",
        "{\"s\":\"\\\"1.5\"}", "[true,false,null]", "{}", ""
    };
    static const char  *bad[] = {
        "{\"a\":007}", "{\"a\":00}", "{\"a\":-0}", "{\"a\":-01}",
        "{\"a\":1.0}", "{\"a\":1e2}", "{\"a\":1E2}", "{\"a\":1e+2}",
        "{\"a\":+1}", "{\"a\":-}", "{\"a\":[1,2.5]}",
        "{\"a\":100.00000000000001}", "{\"s\":\"\\\\\",\"a\":1.5}"
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(cc_json_ints_canonical(good[i], strlen(good[i])) == 1,
                      "refused %s", good[i]);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(cc_json_ints_canonical(bad[i], strlen(bad[i])) == 0,
                      "accepted %s", bad[i]);
    }

    /* a length, not a NUL, ends the text: 1.5 cut to 1 is an integer */
    ck_assert_int_eq(cc_json_ints_canonical("[1.5]", 2), 1);
}
END_TEST


/* one member's number, the rest of the text left to its writer */
START_TEST(test_json_member_int)
{
    size_t       i;
    static const struct {
        const char  *text;
        int          ok;
    } t[] = {
        { "{\"k\":100}", 1 },
        { "{ \"k\" :\t0 , \"f\":0.5}", 1 },
        { "{\"a\":1.5e3,\"k\":-7,\"b\":[1.5,{\"k\":1.5}]}", 1 },
        { "{\"v\":\"k\",\"k\":12}", 1 },          /* "k" as a value */
        { "{\"s\":\"\\\"k\\\":1.5\",\"k\":3}", 1 },   /* in a string */
        { "{\"k\":100.0}", 0 },
        { "{\"k\":1e2}", 0 },
        { "{\"k\":007}", 0 },
        { "{\"k\":-0}", 0 },
        { "{\"k\":+1}", 0 },
        { "{\"k\":\"100\"}", 0 },                  /* not a number */
        { "{\"x\":{\"k\":100}}", 0 },               /* not the object's own */
        { "{\"k\":1.5,\"k\":100}", 0 },            /* the first, as cJSON */
        { "{\"\\u006b\":100}", 0 },                /* escaped: not found */
        { "{\"kk\":100}", 0 },
        { "{\"k\"", 0 },
        { "", 0 },
    };

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        ck_assert_msg(cc_json_member_int_canonical(t[i].text, strlen(t[i].text),
                                                   "k") == t[i].ok,
                      "%s: expected %d", t[i].text, t[i].ok);
    }

    /* a length, not a NUL, ends the text */
    ck_assert_int_eq(cc_json_member_int_canonical("{\"k\":1.5}", 6, "k"), 1);
    ck_assert_int_eq(cc_json_member_int_canonical("{\"k\":1.5}", 7, "k"), 0);
}
END_TEST


START_TEST(test_json_nul)
{
    size_t       i;
    static const char  raw[] = "\"a\0\"";
    static const struct {
        const char  *text;
        int          nul;
    } t[] = {
        { "\"a\\u0000\"", 1 },
        { "\"a\\\\u0000\"", 0 },     /* an escaped backslash, then u0000 */
        { "\"a\\\\\\u0000\"", 1 },
        { "\"a\\u0001\"", 0 },
        { "\"a\\u000", 0 },          /* cut before the escape's end */
    };

    ck_assert_int_eq(cc_json_has_nul(raw, sizeof(raw) - 1), 1);

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        ck_assert_msg(cc_json_has_nul(t[i].text, strlen(t[i].text))
                      == t[i].nul, "%s", t[i].text);
    }
}
END_TEST


START_TEST(test_json_ctl)
{
    ck_assert_int_eq(cc_json_has_ctl("{\"a\":\t1\r\n}", 10), 0);
    ck_assert_int_eq(cc_json_has_ctl("{\"a\":\0231}", 7), 1);
    ck_assert_int_eq(cc_json_has_ctl("{\"a\":\"\001\"}", 8), 1);
    ck_assert_int_eq(cc_json_has_ctl("{\"a\":\"\x7f\xff\"}", 9), 0);
}
END_TEST


/* ---- cards ---- */

START_TEST(test_cards_default)
{
    cc_cards_t  cards;
    char        buf[128];

    cc_cards_default(&cards);
    ck_assert_uint_eq(cards.nkinds, 5);
    ck_assert_uint_eq(cards.total, 10000);
    ck_assert_uint_eq(cards.weight[4], 100);     /* the rare kind */

    ck_assert_int_eq(cc_cards_lua_weights(&cards, buf, sizeof(buf)), 25);
    ck_assert_str_eq(buf, "{3000,3000,2500,1400,100}");
}
END_TEST


START_TEST(test_cards_pick)
{
    cc_cards_t  cards;
    unsigned    i, n[5] = { 0 };
    uint64_t    r;

    cc_cards_default(&cards);               /* 3000 3000 2500 1400 100 */

    /* the edges of each kind's range, and r wrapping around the total */
    ck_assert_uint_eq(cc_cards_pick(&cards, 0), 0);
    ck_assert_uint_eq(cc_cards_pick(&cards, 2999), 0);
    ck_assert_uint_eq(cc_cards_pick(&cards, 3000), 1);
    ck_assert_uint_eq(cc_cards_pick(&cards, 5999), 1);
    ck_assert_uint_eq(cc_cards_pick(&cards, 6000), 2);
    ck_assert_uint_eq(cc_cards_pick(&cards, 8499), 2);
    ck_assert_uint_eq(cc_cards_pick(&cards, 8500), 3);
    ck_assert_uint_eq(cc_cards_pick(&cards, 9899), 3);
    ck_assert_uint_eq(cc_cards_pick(&cards, 9900), 4);
    ck_assert_uint_eq(cc_cards_pick(&cards, 9999), 4);
    ck_assert_uint_eq(cc_cards_pick(&cards, 10000), 0);
    ck_assert_uint_eq(cc_cards_pick(&cards, 19999), 4);
    ck_assert_uint_eq(cc_cards_pick(&cards, 0x7fffffff), 1);  /* 3647 */

    /* every r of one period: exactly the weights */
    for (r = 0; r < cards.total; r++) {
        n[cc_cards_pick(&cards, r)]++;
    }

    for (i = 0; i < 5; i++) {
        ck_assert_uint_eq(n[i], cards.weight[i]);
    }
}
END_TEST


START_TEST(test_cards_bounds)
{
    cc_cards_t      cards;
    uint32_t        w[CC_KINDS_MAX + 1];
    unsigned        i;
    char            small[8];

    for (i = 0; i < CC_KINDS_MAX + 1; i++) {
        w[i] = CC_WEIGHT_MAX;
    }

    cc_cards_default(&cards);

    ck_assert_int_eq(cc_cards_set(&cards, w, 1), -1);
    ck_assert_int_eq(cc_cards_set(&cards, w, CC_KINDS_MAX + 1), -1);
    ck_assert_uint_eq(cards.nkinds, 5);          /* untouched on error */

    ck_assert_int_eq(cc_cards_set(&cards, w, CC_KINDS_MAX), 0);
    ck_assert_uint_eq(cards.total, (uint64_t) CC_KINDS_MAX * CC_WEIGHT_MAX);

    w[3] = 0;
    ck_assert_int_eq(cc_cards_set(&cards, w, 5), -1);
    w[3] = CC_WEIGHT_MAX + 1;
    ck_assert_int_eq(cc_cards_set(&cards, w, 5), -1);

    /* the largest table fits the module's buffer; a small one refuses */
    {
        char  big[CC_KINDS_MAX * 12 + 4];

        ck_assert_int_gt(cc_cards_lua_weights(&cards, big, sizeof(big)),
                         0);
    }

    ck_assert_int_eq(cc_cards_lua_weights(&cards, small, sizeof(small)),
                     -1);
}
END_TEST


/* ---- ring ---- */

static void
ring_make(cc_ring_t *ring, size_t n)
{
    static char          names[16][32];
    static const char   *ptrs[16];
    static size_t        lens[16];
    cc_ring_point_t     *points;
    size_t               i;

    for (i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "10.0.0.%zu:6379", i + 1);
        ptrs[i] = names[i];
        lens[i] = strlen(names[i]);
    }

    points = malloc(cc_ring_npoints(n) * sizeof(cc_ring_point_t));
    ck_assert_ptr_nonnull(points);
    ck_assert_int_eq(cc_ring_build(ring, points, ptrs, lens, n), 0);
}


START_TEST(test_ring_stable_and_balanced)
{
    cc_ring_t  a, b;
    size_t     count[4] = { 0 }, i;
    uint64_t   uid;

    ring_make(&a, 4);
    ring_make(&b, 4);

    for (uid = 1; uid <= 200000; uid++) {
        uint32_t s = cc_ring_shard(&a, uid);

        ck_assert_uint_lt(s, 4);
        ck_assert_uint_eq(s, cc_ring_shard(&b, uid));   /* same everywhere */
        count[s]++;
    }

    /* 160 points a shard keep each within +-15% of a quarter */
    for (i = 0; i < 4; i++) {
        ck_assert_msg(count[i] > 42500 && count[i] < 57500,
                      "shard %zu has %zu of 200000 users", i, count[i]);
    }

    free(a.points);
    free(b.points);
}
END_TEST


START_TEST(test_ring_add_shard_moves_a_fifth)
{
    cc_ring_t  four, five;
    size_t     moved = 0;
    uint64_t   uid;

    ring_make(&four, 4);
    ring_make(&five, 5);

    for (uid = 1; uid <= 100000; uid++) {
        uint32_t from = cc_ring_shard(&four, uid);
        uint32_t to = cc_ring_shard(&five, uid);

        if (from != to) {
            /* a user only ever moves to the new shard */
            ck_assert_uint_eq(to, 4);
            moved++;
        }
    }

    ck_assert_msg(moved > 15000 && moved < 25000,
                  "%zu of 100000 users moved, expected about 1/5", moved);

    free(four.points);
    free(five.points);
}
END_TEST


START_TEST(test_ring_limits)
{
    cc_ring_t         ring;
    cc_ring_point_t   pt[CC_RING_VNODES];
    const char       *name = "only:1";
    size_t            len = 6;

    ck_assert_int_eq(cc_ring_build(&ring, pt, &name, &len, 0), -1);
    ck_assert_int_eq(cc_ring_build(&ring, pt, &name, &len,
                                   CC_RING_SHARDS_MAX + 1), -1);
    ck_assert_int_eq(cc_ring_build(&ring, pt, &name, &len, 1), 0);
    ck_assert_uint_eq(cc_ring_shard(&ring, 1), 0);
    ck_assert_uint_eq(cc_ring_shard(&ring, UINT64_MAX), 0);
}
END_TEST


START_TEST(test_hash_known_values)
{
    /* pinned so that a change of the ring's hash (which would move every
     * user to another shard) cannot pass unnoticed */
    ck_assert_uint_eq(cc_hash_mix64(0), 0);
    ck_assert_uint_eq(cc_hash_mix64(1), 0x5692161d100b05e5ULL);
    ck_assert_uint_eq(cc_hash_bytes("", 0), cc_hash_mix64(0xcbf29ce484222325ULL));
}
END_TEST


static Suite *
common_suite(void)
{
    Suite  *s;

    s = suite_create("common");
    cc_check_tcase(s, "ids", test_uid_good, test_uid_bad, test_request_id,
                   test_award_id, test_count, test_uint);
    cc_check_tcase(s, "json", test_json_ints, test_json_member_int,
                   test_json_nul, test_json_ctl);
    cc_check_tcase(s, "keys", test_key_user_round_trip,
                   test_key_user_uid_bad);
    cc_check_tcase(s, "cards", test_cards_default, test_cards_bounds,
                   test_cards_pick);
    cc_check_tcase(s, "ring", test_ring_stable_and_balanced,
                   test_ring_add_shard_moves_a_fifth, test_ring_limits,
                   test_hash_known_values);

    return s;
}


CC_CHECK_MAIN(common_suite)
