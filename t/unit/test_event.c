/*
 * Unit tests of common/cc_event.c: the draw message on Kafka.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_event.h"
#include "cc_check.h"


/* a message that must be a draw */
static int
cc_draw_decode(const char *p, size_t len, cc_draw_t *d, const char **why)
{
    cc_event_t  ev;

    if (cc_event_decode(p, len, &ev, why) != 0) {
        return -1;
    }

    if (ev.type != CC_EVENT_DRAW) {
        *why = "not a draw";
        return -1;
    }

    *d = ev.u.draw;
    return 0;
}


static cc_draw_t
draw(uint64_t uid, uint32_t seq, uint32_t card, int64_t ts, const char *rid)
{
    cc_draw_t  d;

    memset(&d, 0, sizeof(d));
    d.uid = uid;
    d.seq = seq;
    d.card = card;
    d.ts_ms = ts;
    strcpy(d.request_id, rid);

    return d;
}


START_TEST(test_encode_exact)
{
    cc_draw_t   d = draw(7, 3, 2, 1764240000123LL, "abc");
    char       *json;

    json = cc_draw_encode(&d);
    ck_assert_ptr_nonnull(json);
    ck_assert_str_eq(json, "{\"draw_id\":\"7:3\",\"uid\":\"7\",\"seq\":3,"
                     "\"card\":2,\"request_id\":\"abc\","
                     "\"ts\":1764240000123}");
    free(json);
}
END_TEST


START_TEST(test_roundtrip_bounds)
{
    cc_draw_t    in[] = {
        draw(1, 1, 0, 1, "a"),
        draw(UINT64_MAX, UINT32_MAX, 15, 4102444800000LL,
             "0123456789012345678901234567890123456789012345678901234567890123"),
        draw(9007199254740993ULL, 12, 4, 1764240000123LL, "A-_z"),
    };
    cc_draw_t    out;
    const char  *why = NULL;
    char        *json;
    size_t       i;

    for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        json = cc_draw_encode(&in[i]);
        ck_assert_ptr_nonnull(json);
        ck_assert_msg(cc_draw_decode(json, strlen(json), &out, &why) == 0,
                      "#%zu: %s: %s", i, json, why);
        ck_assert_uint_eq(out.uid, in[i].uid);   /* 2^53+1 survives */
        ck_assert_uint_eq(out.seq, in[i].seq);
        ck_assert_uint_eq(out.card, in[i].card);
        ck_assert_int_eq(out.ts_ms, in[i].ts_ms);
        ck_assert_str_eq(out.request_id, in[i].request_id);
        ck_assert_int_eq(cc_draw_check(&out, &why), 0);
        free(json);
    }
}
END_TEST


START_TEST(test_decode_not_nul_terminated)
{
    const char  *msg = "{\"draw_id\":\"5:1\",\"uid\":\"5\",\"seq\":1,\"card\":1,"
                       "\"request_id\":\"r\",\"ts\":10}GARBAGE";
    cc_draw_t    d;
    const char  *why;

    /* a Kafka payload has a length, not a NUL */
    ck_assert_int_eq(cc_draw_decode(msg, strlen(msg) - 7, &d, &why), 0);
    ck_assert_uint_eq(d.uid, 5);
}
END_TEST


static const struct {
    const char  *json;
    const char  *why;
} bad[] = {
    { "", "bad length" },
    { "garbage", "not a JSON object" },
    { "[1,2]", "not a JSON object" },
    { "{\"draw_id\":\"5:1\",\"uid\":\"5\",\"seq\":1,\"card\":1", "not a JSON object" },
    { "{}", "bad uid" },
    { "{\"uid\":5,\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:1\"}", "bad uid" },
    { "{\"uid\":\"0\",\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"0:1\"}", "bad uid" },
    { "{\"uid\":\"05\",\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"05:1\"}", "bad uid" },
    { "{\"uid\":\"18446744073709551616\",\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"x\"}", "bad uid" },
    { "{\"uid\":\"\xe4\xb8\xad\",\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"x\"}", "bad uid" },
    { "{\"uid\":\"5\",\"seq\":0,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:0\"}", "bad seq" },
    { "{\"uid\":\"5\",\"seq\":4294967296,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:4294967296\"}", "bad seq" },
    { "{\"uid\":\"5\",\"seq\":1.5,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:1\"}", "a number not in the integer form" },
    { "{\"uid\":\"5\",\"seq\":\"1\",\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:1\"}", "bad seq" },
    { "{\"uid\":\"5\",\"seq\":1,\"card\":16,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:1\"}", "bad card" },
    { "{\"uid\":\"5\",\"seq\":1,\"card\":-1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:1\"}", "bad card" },
    { "{\"uid\":\"5\",\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":0,\"draw_id\":\"5:1\"}", "bad ts" },
    { "{\"uid\":\"5\",\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":1e300,\"draw_id\":\"5:1\"}", "a number not in the integer form" },
    { "{\"uid\":\"5\",\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":99999999999999999999,\"draw_id\":\"5:1\"}", "bad ts" },
    /*
     * numbers in another form than the one cJSON writes: cJSON alone
     * read each as the integer (seq 7, card 2, ts 1), so the draw-log's
     * rule (no leading zero) now holds on Kafka too
     */
    { "{\"uid\":\"5\",\"seq\":007,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:7\"}", "a number not in the integer form" },
    { "{\"uid\":\"5\",\"seq\":7.0,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:7\"}", "a number not in the integer form" },
    { "{\"uid\":\"5\",\"seq\":7,\"card\":2e0,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:7\"}", "a number not in the integer form" },
    { "{\"uid\":\"5\",\"seq\":7,\"card\":2E0,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:7\"}", "a number not in the integer form" },
    { "{\"uid\":\"5\",\"seq\":7,\"card\":-0,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:7\"}", "a number not in the integer form" },
    { "{\"uid\":\"5\",\"seq\":7,\"card\":00,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:7\"}", "a number not in the integer form" },
    { "{\"uid\":\"5\",\"seq\":7,\"card\":1,\"request_id\":\"r\",\"ts\":0.1e1,\"draw_id\":\"5:7\"}", "a number not in the integer form" },
    { "{\"uid\":\"5\",\"seq\":7,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:7\",\"x\":[0.5]}", "a number not in the integer form" },
    { "{\"type\":\"combine\",\"uid\":\"5\",\"request_id\":\"r\",\"ts\":01}", "a number not in the integer form" },
    /*
     * a control byte: cJSON took it for a blank, "ts":<0x13>526 was 526
     * (found by fuzz_event; fuzz/regressions/event/ts-after-control-byte)
     */
    { "{\"uid\":\"5\",\"seq\":7,\"card\":1,\"request_id\":\"r\",\"ts\":\023526,\"draw_id\":\"5:7\"}", "a control byte in the message" },
    { "{\"uid\":\"5\",\"seq\":7,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:7\",\"x\":\"\001\"}", "a control byte in the message" },
    { "\f{\"uid\":\"5\",\"seq\":7,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:7\"}", "a control byte in the message" },
    /* the object is the whole message */
    { "{\"uid\":\"5\",\"seq\":7,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:7\"}x", "not a JSON object" },
    { "{\"uid\":\"5\",\"seq\":7,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:7\"}{}", "not a JSON object" },
    { "{\"uid\":\"5\",\"seq\":1,\"card\":1,\"request_id\":\"a b\",\"ts\":1,\"draw_id\":\"5:1\"}", "bad request_id" },
    { "{\"uid\":\"5\",\"seq\":1,\"card\":1,\"request_id\":\"\",\"ts\":1,\"draw_id\":\"5:1\"}", "bad request_id" },
    { "{\"uid\":\"5\",\"seq\":1,\"card\":1,\"request_id\":\"r'); DROP TABLE draws; --\",\"ts\":1,\"draw_id\":\"5:1\"}", "bad request_id" },
    { "{\"uid\":\"5\",\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:2\"}", "draw_id is not uid:seq" },
    { "{\"uid\":\"5\",\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":1}", "draw_id is not uid:seq" },
    /* a NUL escaped: cJSON keeps it and the strings were cut there */
    { "{\"uid\":\"5\\u0000\",\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:1\"}", "a NUL in the message" },
    { "{\"uid\":\"5\",\"seq\":1,\"card\":1,\"request_id\":\"r\\u0000x\",\"ts\":1,\"draw_id\":\"5:1\"}", "a NUL in the message" },
    { "{\"uid\":\"5\",\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:1\\u0000:9\"}", "a NUL in the message" },
    { "{\"x\":\"\\u0000\",\"uid\":\"5\",\"seq\":1,\"card\":1,\"request_id\":\"r\",\"ts\":1,\"draw_id\":\"5:1\"}", "a NUL in the message" },
    /* an escaped backslash, then the text u0000: no NUL, a bad id */
    { "{\"uid\":\"5\",\"seq\":1,\"card\":1,\"request_id\":\"r\\\\u0000\",\"ts\":1,\"draw_id\":\"5:1\"}", "bad request_id" },
};


START_TEST(test_decode_rejects)
{
    cc_draw_t    d;
    const char  *why = NULL;

    ck_assert_msg(cc_draw_decode(bad[_i].json, strlen(bad[_i].json), &d, &why)
                  == -1, "accepted #%d: %s", _i, bad[_i].json);
    ck_assert_msg(why && strcmp(why, bad[_i].why) == 0,
                  "#%d: reason \"%s\", expected \"%s\"", _i, why, bad[_i].why);
}
END_TEST


/*
 * A raw NUL, and a combine's escaped one: "abc\u0000x" was read as the
 * request id abc (seen while writing fuzz/fuzz_event.c, whose contract
 * now checks it; the inputs are in fuzz/regressions/event/).
 */
START_TEST(test_decode_nul)
{
    cc_event_t   ev;
    const char  *why = NULL;
    static const char  raw[] = "{\"type\":\"combine\",\"uid\":\"7\","
                               "\"request_id\":\"abc\0x\",\"ts\":1}";
    static const char  esc[] = "{\"type\":\"combine\",\"uid\":\"7\","
                               "\"request_id\":\"abc\\u0000x\",\"ts\":1}";
    static const char  ok[] = "{\"type\":\"combine\",\"uid\":\"7\","
                              "\"request_id\":\"abc\",\"ts\":1}";

    ck_assert_int_eq(cc_event_decode(raw, sizeof(raw) - 1, &ev, &why), -1);
    ck_assert_str_eq(why, "a NUL in the message");

    why = NULL;
    ck_assert_int_eq(cc_event_decode(esc, sizeof(esc) - 1, &ev, &why), -1);
    ck_assert_str_eq(why, "a NUL in the message");

    ck_assert_int_eq(cc_event_decode(ok, sizeof(ok) - 1, &ev, &why), 0);
    ck_assert_int_eq(ev.type, CC_EVENT_COMBINE);
    ck_assert_str_eq(ev.u.combine.request_id, "abc");
}
END_TEST


/* the integer rule looks at numbers only: digits in strings, 0, blanks */
START_TEST(test_decode_integer_forms)
{
    cc_event_t   ev;
    const char  *why = NULL;
    static const char  ok[] = "{\"uid\":\"5\",\"seq\":10,\"card\":0,"
                              "\"request_id\":\"007-15e3\",\"ts\":1,"
                              "\"draw_id\":\"5:10\",\"x\":[-3,true,null]}"
                              " \r\n";

    ck_assert_msg(cc_event_decode(ok, sizeof(ok) - 1, &ev, &why) == 0,
                  "refused: %s", why);
    ck_assert_int_eq(ev.type, CC_EVENT_DRAW);
    ck_assert_uint_eq(ev.u.draw.seq, 10);
    ck_assert_uint_eq(ev.u.draw.card, 0);
    ck_assert_str_eq(ev.u.draw.request_id, "007-15e3");
}
END_TEST


START_TEST(test_decode_oversized)
{
    char         big[CC_EVENT_MAX_LEN + 2];
    cc_draw_t    d;
    const char  *why;

    memset(big, ' ', sizeof(big));
    ck_assert_int_eq(cc_draw_decode(big, sizeof(big), &d, &why), -1);
    ck_assert_str_eq(why, "bad length");
}
END_TEST


START_TEST(test_check)
{
    cc_draw_t    d = draw(5, 1, 1, 1, "ok");
    const char  *why;

    ck_assert_int_eq(cc_draw_check(&d, &why), 0);
    d.card = 16;
    ck_assert_int_eq(cc_draw_check(&d, &why), -1);
    ck_assert_str_eq(why, "bad card");
    d = draw(5, 1, 1, 1, "bad id");
    ck_assert_int_eq(cc_draw_check(&d, &why), -1);
    ck_assert_str_eq(why, "bad request_id");
    d = draw(5, 0, 1, 1, "ok");
    ck_assert_int_eq(cc_draw_check(&d, &why), -1);
    d = draw(0, 1, 1, 1, "ok");
    ck_assert_int_eq(cc_draw_check(&d, &why), -1);
    d = draw(5, 1, 1, 0, "ok");
    ck_assert_int_eq(cc_draw_check(&d, &why), -1);
}
END_TEST


START_TEST(test_combine)
{
    cc_combine_t   c, back;
    cc_event_t     ev;
    const char    *why;
    char          *json;
    const char    *typed = "{\"type\":\"refund\",\"uid\":\"5\"}";
    const char    *draw = "{\"draw_id\":\"5:1\",\"uid\":\"5\",\"seq\":1,"
                          "\"card\":1,\"request_id\":\"r\",\"ts\":10}";

    memset(&c, 0, sizeof(c));
    c.uid = 18446744073709551615ULL;
    c.ts_ms = 1764240000123LL;
    strcpy(c.request_id, "set-1");

    json = cc_combine_encode(&c);
    ck_assert_str_eq(json, "{\"type\":\"combine\",\"uid\":"
                     "\"18446744073709551615\",\"request_id\":\"set-1\","
                     "\"ts\":1764240000123}");

    ck_assert_int_eq(cc_event_decode(json, strlen(json), &ev, &why), 0);
    ck_assert_int_eq(ev.type, CC_EVENT_COMBINE);
    back = ev.u.combine;
    ck_assert_uint_eq(back.uid, c.uid);
    ck_assert_int_eq(back.ts_ms, c.ts_ms);
    ck_assert_str_eq(back.request_id, "set-1");
    ck_assert_int_eq(cc_combine_check(&back, &why), 0);

    /* a combine is not a draw */
    ck_assert_int_eq(cc_draw_decode(json, strlen(json), &ev.u.draw, &why),
                     -1);
    ck_assert_str_eq(why, "not a draw");
    free(json);

    ck_assert_int_eq(cc_event_decode(typed, strlen(typed), &ev, &why), -1);
    ck_assert_str_eq(why, "unknown type");

    ck_assert_int_eq(cc_event_decode(draw, strlen(draw), &ev, &why), 0);
    ck_assert_int_eq(ev.type, CC_EVENT_DRAW);

    c.uid = 0;
    ck_assert_int_eq(cc_combine_check(&c, &why), -1);
    ck_assert_str_eq(why, "bad uid");
    c.uid = 1;
    strcpy(c.request_id, "a b");
    ck_assert_int_eq(cc_combine_check(&c, &why), -1);
    ck_assert_str_eq(why, "bad request_id");
}
END_TEST


/* a combine with a wildcard: its fields encoded, read back, checked */
START_TEST(test_combine_wild)
{
    cc_combine_t   c, back;
    cc_event_t     ev;
    const char    *why;
    char          *json;
    const char    *old = "{\"type\":\"combine\",\"uid\":\"5\","
                         "\"request_id\":\"r\",\"ts\":10}";

    memset(&c, 0, sizeof(c));
    c.uid = 7;
    c.ts_ms = 1764240000123LL;
    strcpy(c.request_id, "w1");
    c.wildcard = 4 + 1;
    c.wild = 2;
    c.replaced = 10;

    json = cc_combine_encode(&c);
    ck_assert_str_eq(json, "{\"type\":\"combine\",\"uid\":\"7\","
                     "\"request_id\":\"w1\",\"ts\":1764240000123,"
                     "\"wildcard\":4,\"wild\":2,\"replaced\":10}");

    ck_assert_int_eq(cc_event_decode(json, strlen(json), &ev, &why), 0);
    back = ev.u.combine;
    ck_assert_uint_eq(back.wildcard, 5);
    ck_assert_uint_eq(back.wild, 2);
    ck_assert_uint_eq(back.replaced, 10);
    free(json);

    /* the wildcard configured, none used: the fields say 0 */
    c.wild = 0;
    c.replaced = 0;
    c.wildcard = 1;
    json = cc_combine_encode(&c);
    ck_assert_str_eq(json, "{\"type\":\"combine\",\"uid\":\"7\","
                     "\"request_id\":\"w1\",\"ts\":1764240000123,"
                     "\"wildcard\":0,\"wild\":0,\"replaced\":0}");
    ck_assert_int_eq(cc_event_decode(json, strlen(json), &ev, &why), 0);
    ck_assert_uint_eq(ev.u.combine.wildcard, 1);
    free(json);

    /* a message from before the wildcard: none, every kind taken */
    memset(&ev, 0xff, sizeof(ev));
    ck_assert_int_eq(cc_event_decode(old, strlen(old), &ev, &why), 0);
    ck_assert_uint_eq(ev.u.combine.wildcard, 0);
    ck_assert_uint_eq(ev.u.combine.wild, 0);
    ck_assert_uint_eq(ev.u.combine.replaced, 0);

    /* the highest kind is a wildcard; 15 kinds replaced by it */
    c.wildcard = 16;
    c.wild = 15;
    c.replaced = 0x7fff;
    ck_assert_int_eq(cc_combine_check(&c, &why), 0);
    json = cc_combine_encode(&c);
    ck_assert_int_eq(cc_event_decode(json, strlen(json), &ev, &why), 0);
    ck_assert_uint_eq(ev.u.combine.replaced, 0x7fff);
    free(json);

    /* check: what a hand-made combine must hold */
    c.replaced = 0xffff;
    c.wild = 16;
    ck_assert_int_eq(cc_combine_check(&c, &why), -1);
    ck_assert_str_eq(why, "bad replaced");
    c.wildcard = 17;
    ck_assert_int_eq(cc_combine_check(&c, &why), -1);
    ck_assert_str_eq(why, "bad wildcard");
    c.wildcard = 1;
    c.replaced = 6;
    c.wild = 1;
    ck_assert_int_eq(cc_combine_check(&c, &why), -1);
    ck_assert_str_eq(why, "bad wild");
    c.wildcard = 0;
    c.replaced = 0;
    c.wild = 1;
    ck_assert_int_eq(cc_combine_check(&c, &why), -1);
    ck_assert_str_eq(why, "bad wild");
    c.wild = 0;
    c.replaced = 1;
    ck_assert_int_eq(cc_combine_check(&c, &why), -1);
    ck_assert_str_eq(why, "bad wild");
}
END_TEST


#define CC_COMBINE_JSON(tail)                                                 \
    "{\"type\":\"combine\",\"uid\":\"5\",\"request_id\":\"r\",\"ts\":10" tail "}"

static const struct {
    const char  *json;
    const char  *why;
} bad_wild[] = {
    { CC_COMBINE_JSON(",\"wild\":0"), "bad wild" },
    { CC_COMBINE_JSON(",\"replaced\":0"), "bad wild" },
    { CC_COMBINE_JSON(",\"wildcard\":4"), "bad wild" },
    { CC_COMBINE_JSON(",\"wildcard\":4,\"wild\":0"), "bad replaced" },
    { CC_COMBINE_JSON(",\"wildcard\":16,\"wild\":0,\"replaced\":0"), "bad wildcard" },
    { CC_COMBINE_JSON(",\"wildcard\":-1,\"wild\":0,\"replaced\":0"), "bad wildcard" },
    { CC_COMBINE_JSON(",\"wildcard\":\"4\",\"wild\":0,\"replaced\":0"), "bad wildcard" },
    { CC_COMBINE_JSON(",\"wildcard\":null,\"wild\":0,\"replaced\":0"), "bad wildcard" },
    { CC_COMBINE_JSON(",\"wildcard\":4,\"wild\":16,\"replaced\":0"), "bad wild" },
    { CC_COMBINE_JSON(",\"wildcard\":4,\"wild\":-1,\"replaced\":0"), "bad wild" },
    { CC_COMBINE_JSON(",\"wildcard\":4,\"wild\":1,\"replaced\":65536"), "bad replaced" },
    { CC_COMBINE_JSON(",\"wildcard\":4,\"wild\":1,\"replaced\":-1"), "bad replaced" },
    { CC_COMBINE_JSON(",\"wildcard\":4,\"wild\":1,\"replaced\":[1]"), "bad replaced" },
    /* the wildcard cannot stand in for itself */
    { CC_COMBINE_JSON(",\"wildcard\":4,\"wild\":1,\"replaced\":16"), "bad replaced" },
    /* as many wildcards as kinds replaced */
    { CC_COMBINE_JSON(",\"wildcard\":4,\"wild\":1,\"replaced\":10"), "bad wild" },
    { CC_COMBINE_JSON(",\"wildcard\":4,\"wild\":2,\"replaced\":2"), "bad wild" },
    { CC_COMBINE_JSON(",\"wildcard\":4,\"wild\":1.0,\"replaced\":2"), "a number not in the integer form" },
    { CC_COMBINE_JSON(",\"wildcard\":04,\"wild\":1,\"replaced\":2"), "a number not in the integer form" },
};


START_TEST(test_combine_wild_rejects)
{
    cc_event_t   ev;
    const char  *why = NULL;

    ck_assert_msg(cc_event_decode(bad_wild[_i].json, strlen(bad_wild[_i].json),
                                  &ev, &why)
                  == -1, "accepted #%d: %s", _i, bad_wild[_i].json);
    ck_assert_msg(why && strcmp(why, bad_wild[_i].why) == 0,
                  "#%d: reason \"%s\", expected \"%s\"", _i, why,
                  bad_wild[_i].why);
}
END_TEST


/* a gift's two halves: the exact text, back, and what decode refuses */
START_TEST(test_gift)
{
    size_t       i;
    char        *json, id[CC_GIFT_ID_MAX + 1];
    cc_gift_t    g;
    cc_event_t   ev;
    const char  *why;
    static const struct {
        const char  *json, *why;
    } bad[] = {
        { "{\"type\":\"gift_out\",\"gift_id\":\"8:r\",\"uid\":\"7\","
          "\"to\":\"9\",\"card\":2,\"ts\":5}", "bad gift_id" },
        { "{\"type\":\"gift_out\",\"gift_id\":\"7:r\",\"uid\":\"7\","
          "\"to\":\"7\",\"card\":2,\"ts\":5}", "bad to" },
        { "{\"type\":\"gift_out\",\"gift_id\":\"7:r\",\"uid\":\"7\","
          "\"from\":\"9\",\"card\":2,\"ts\":5}", "bad to" },
        { "{\"type\":\"gift_in\",\"gift_id\":\"7:r\",\"uid\":\"9\","
          "\"from\":\"0\",\"card\":2,\"ts\":5}", "bad from" },
        { "{\"type\":\"gift_in\",\"gift_id\":\"7:r\",\"uid\":\"9\","
          "\"from\":\"7\",\"card\":16,\"ts\":5}", "bad card" },
        { "{\"type\":\"gift_in\",\"gift_id\":\"7:r\",\"uid\":\"9\","
          "\"from\":\"7\",\"card\":1,\"ts\":0}", "bad ts" },
        { "{\"type\":\"gift_in\",\"gift_id\":\"7:\",\"uid\":\"9\","
          "\"from\":\"7\",\"card\":1,\"ts\":1}", "bad gift_id" },
        { "{\"type\":\"gift_in\",\"gift_id\":7,\"uid\":\"9\","
          "\"from\":\"7\",\"card\":1,\"ts\":1}", "bad gift_id" },
        { "{\"type\":\"gift_in\",\"gift_id\":\"7:r\",\"uid\":9,"
          "\"from\":\"7\",\"card\":1,\"ts\":1}", "bad uid" },
        { "{\"type\":\"gift\",\"gift_id\":\"7:r\",\"uid\":\"9\","
          "\"from\":\"7\",\"card\":1,\"ts\":1}", "unknown type" },
    };

    memset(&g, 0, sizeof(g));
    g.uid = 7;
    g.peer = 18446744073709551615ULL;
    g.card = 15;
    g.ts_ms = 1764240000123LL;
    strcpy(g.request_id, "g-1");

    json = cc_gift_encode(&g);
    ck_assert_str_eq(json, "{\"type\":\"gift_out\",\"gift_id\":\"7:g-1\","
                     "\"uid\":\"7\",\"to\":\"18446744073709551615\","
                     "\"card\":15,\"ts\":1764240000123}");
    ck_assert_int_eq(cc_event_decode(json, strlen(json), &ev, &why), 0);
    ck_assert_int_eq(ev.type, CC_EVENT_GIFT);
    ck_assert_int_eq(memcmp(&ev.u.gift, &g, sizeof(g)), 0);
    free(json);

    /* the receiver's half: its uid is the receiver, the id the giver's */
    g.in = 1;
    g.uid = 9;
    g.peer = 7;
    ck_assert_uint_eq(cc_gift_id(&g, id), 5);
    ck_assert_str_eq(id, "7:g-1");
    json = cc_gift_encode(&g);
    ck_assert_str_eq(json, "{\"type\":\"gift_in\",\"gift_id\":\"7:g-1\","
                     "\"uid\":\"9\",\"from\":\"7\",\"card\":15,"
                     "\"ts\":1764240000123}");
    memset(&ev, 0xff, sizeof(ev));
    ck_assert_int_eq(cc_event_decode(json, strlen(json), &ev, &why), 0);
    ck_assert_int_eq(ev.type, CC_EVENT_GIFT);
    ck_assert_int_eq(memcmp(&ev.u.gift, &g, sizeof(g)), 0);
    free(json);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        ck_assert_msg(cc_event_decode(bad[i].json, strlen(bad[i].json), &ev,
                                      &why) == -1, "accepted %zu", i);
        ck_assert_msg(why && strcmp(why, bad[i].why) == 0,
                      "%zu: \"%s\", expected \"%s\"", i, why, bad[i].why);
    }

    /* the longest id: a 20-digit giver and a 64-byte request id */
    g.in = 0;
    g.uid = 18446744073709551615ULL;
    memset(g.request_id, 'r', CC_REQUEST_ID_MAX);
    g.request_id[CC_REQUEST_ID_MAX] = '\0';
    ck_assert_uint_eq(cc_gift_id(&g, id), CC_GIFT_ID_MAX);
    ck_assert_int_eq(cc_gift_check(&g, &why), 0);
    g.peer = g.uid;
    ck_assert_int_eq(cc_gift_check(&g, &why), -1);
    ck_assert_str_eq(why, "bad to");
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("event");
    tc = tcase_create("draw");
    cc_check_add(tc, test_encode_exact, test_roundtrip_bounds,
                 test_decode_not_nul_terminated);
    cc_check_loop(tc, test_decode_rejects, bad);
    cc_check_add(tc, test_decode_nul, test_decode_integer_forms,
                 test_decode_oversized, test_check, test_combine, test_gift,
                 test_combine_wild);
    cc_check_loop(tc, test_combine_wild_rejects, bad_wild);
    suite_add_tcase(s, tc);

    return cc_check_run(s);
}
