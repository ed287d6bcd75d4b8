/*
 * Unit tests of common/cc_log.c: the entries of a shard's draw log, both
 * kinds, and every reason one is refused.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_log.h"
#include "cc_check.h"


/*
 * An entry from "name=value" strings, as the stream holds them (not NUL
 * terminated where they end: the lengths do).
 */
static int
entry(cc_log_entry_t *e, const char **why, const char *const *kv, size_t n)
{
    size_t       i;
    const char  *eq;

    cc_log_entry_init(e);

    for (i = 0; i < n; i++) {
        eq = strchr(kv[i], '=');
        ck_assert_ptr_nonnull(eq);
        cc_log_entry_field(e, kv[i], (size_t) (eq - kv[i]), eq + 1,
                           strlen(eq + 1));
    }

    return cc_log_entry_end(e, why);
}

#define ENTRY(e, why, ...)                                                    \
    entry(e, why, (const char *const []) { __VA_ARGS__ },                     \
          sizeof((const char *const []) { __VA_ARGS__ }) / sizeof(char *))


START_TEST(test_log_line)
{
    cc_draw_t    d;
    const char  *why;
    const char  *line = "18446744073709551615:4294967295:15:4102444800000:"
                        "r-1_x\nnext";

    /* a line of a log entry: its length, not a NUL, ends it */
    ck_assert_int_eq(cc_log_draw_line(line, strlen(line) - 5, &d, &why), 0);
    ck_assert_uint_eq(d.uid, UINT64_MAX);
    ck_assert_uint_eq(d.seq, UINT32_MAX);
    ck_assert_uint_eq(d.card, 15);
    ck_assert_int_eq(d.ts_ms, 4102444800000LL);
    ck_assert_str_eq(d.request_id, "r-1_x");
}
END_TEST


static const struct {
    const char  *line;
    const char  *why;
} bad_lines[] = {
    { "", "bad draw line" },
    { "5:1:2:1700000000000", "bad draw line" },
    { "5:1:2:1700000000000:", "bad request_id" },
    { ":1:2:1700000000000:r", "bad draw line" },
    { "5::2:1700000000000:r", "bad draw line" },
    { "-5:1:2:1700000000000:r", "bad draw line" },
    { "5:1:x:1700000000000:r", "bad draw line" },
    { "5:1:2:17e11:r", "bad draw line" },
    { "18446744073709551616:1:2:1700000000000:r", "bad draw line" },
    { "5:4294967296:2:1700000000000:r", "bad draw line" },
    { "5:1:2:4102444800001:r", "bad draw line" },
    { "0:1:2:1700000000000:r", "bad uid" },
    { "5:0:2:1700000000000:r", "bad seq" },
    { "5:1:16:1700000000000:r", "bad card" },
    { "5:1:2:0:r", "bad ts" },
    { "5:1:2:1700000000000:a b", "bad request_id" },
    { "5:1:2:1700000000000:a:b", "bad request_id" },
    { "5:1:2:1700000000000:"
      "12345678901234567890123456789012345678901234567890123456789012345",
      "bad request_id" },
};


START_TEST(test_log_line_rejects)
{
    cc_draw_t    d;
    const char  *why = NULL;

    ck_assert_msg(cc_log_draw_line(bad_lines[_i].line,
                                     strlen(bad_lines[_i].line), &d, &why)
                  == -1, "accepted #%d: %s", _i, bad_lines[_i].line);
    ck_assert_msg(why && strcmp(why, bad_lines[_i].why) == 0,
                  "#%d: reason \"%s\", expected \"%s\"", _i, why,
                  bad_lines[_i].why);
}
END_TEST


/*
 * Each number of a line, spelled every way in turn with the others valid:
 * "7" and "10" are read, "07" and "00" refused (leading zeros: one number,
 * one spelling), "0" read where 0 is a value (card) and refused by the
 * check elsewhere.  Each field's spelling, and its reason or value.
 */
static const char  *spellings[] = { "0", "7", "10", "07", "00" };

static const struct {
    const char  *field;
    const char  *zero;               /* the reason "0" is refused, or NULL */
} number_fields[] = {
    { "uid", "bad uid" },
    { "seq", "bad seq" },
    { "card", NULL },
    { "ts", "bad ts" },
};

#define NSPELLINGS  (sizeof(spellings) / sizeof(spellings[0]))


START_TEST(test_log_line_numbers)
{
    int          rc;
    char         line[128];
    size_t       f, k;
    uint64_t     got, want;
    cc_draw_t    d;
    const char  *v[4], *why, *sp;

    f = (size_t) _i / NSPELLINGS;
    k = (size_t) _i % NSPELLINGS;
    sp = spellings[k];

    v[0] = "5";
    v[1] = "3";
    v[2] = "2";
    v[3] = "1700000000000";
    v[f] = sp;
    snprintf(line, sizeof(line), "%s:%s:%s:%s:r", v[0], v[1], v[2], v[3]);

    why = NULL;
    rc = cc_log_draw_line(line, strlen(line), &d, &why);

    if (strlen(sp) > 1 && sp[0] == '0') {
        ck_assert_msg(rc == -1 && why && strcmp(why, "bad draw line") == 0,
                      "%s \"%s\" (%s): rc %d, reason \"%s\"",
                      number_fields[f].field, sp, line, rc, why);
        return;
    }

    if (k == 0 && number_fields[f].zero != NULL) {
        ck_assert_msg(rc == -1 && why
                      && strcmp(why, number_fields[f].zero) == 0,
                      "%s \"0\" (%s): rc %d, reason \"%s\"",
                      number_fields[f].field, line, rc, why);
        return;
    }

    ck_assert_msg(rc == 0, "%s \"%s\" (%s) refused: %s",
                  number_fields[f].field, sp, line, why);

    got = f == 0 ? d.uid : f == 1 ? d.seq : f == 2 ? d.card
                                                   : (uint64_t) d.ts_ms;
    want = strtoull(sp, NULL, 10);
    ck_assert_uint_eq(got, want);
}
END_TEST


/* the same spellings in a combine's u and t ("0" is no uid and no ts) */
START_TEST(test_combine_numbers)
{
    int             rc, uid;
    char            kv[32];
    const char     *sp, *why, *want;
    cc_log_entry_t  e;

    uid = _i < (int) NSPELLINGS;
    sp = spellings[(size_t) _i % NSPELLINGS];
    snprintf(kv, sizeof(kv), "%s=%s", uid ? "u" : "t", sp);

    why = NULL;
    rc = uid ? ENTRY(&e, &why, "y=c", "r=a", "t=1", kv)
             : ENTRY(&e, &why, "y=c", "u=5", "r=a", kv);

    if (sp[0] == '0') {
        want = uid ? "bad uid" : "bad ts";
        ck_assert_msg(rc == -1 && why && strcmp(why, want) == 0,
                      "%s: rc %d, reason \"%s\"", kv, rc, why);
        return;
    }

    ck_assert_msg(rc == 0, "%s refused: %s", kv, why);

    if (uid) {
        ck_assert_uint_eq(e.combine.uid, strtoull(sp, NULL, 10));

    } else {
        ck_assert_int_eq(e.combine.ts_ms, strtoll(sp, NULL, 10));
    }
}
END_TEST


START_TEST(test_combine_entry)
{
    cc_log_entry_t  e;
    cc_draw_t       d;
    const char     *why = NULL;

    ck_assert_int_eq(ENTRY(&e, &why, "y=c", "u=18446744073709551615",
                           "r=set-1_x", "t=1764240000123"), 0);
    ck_assert_int_eq(e.kind, CC_LOG_COMBINE);
    ck_assert_uint_eq(e.combine.uid, UINT64_MAX);
    ck_assert_int_eq(e.combine.ts_ms, 1764240000123LL);
    ck_assert_str_eq(e.combine.request_id, "set-1_x");

    /* a combine has no draws, even with a d field beside it */
    ck_assert_int_eq(ENTRY(&e, &why, "d=5:1:2:1700000000000:r", "y=c",
                           "u=5", "r=a", "t=1"), 0);
    ck_assert_int_eq(e.kind, CC_LOG_COMBINE);
    ck_assert_int_eq(cc_log_next_draw(&e, &d, &why), 0);

    /* other fields and longer names are ignored; the last value counts */
    ck_assert_int_eq(ENTRY(&e, &why, "u=1", "yy=z", "x=1", "y=c", "u=7",
                           "r=b", "t=4102444800000", "uid=0"), 0);
    ck_assert_uint_eq(e.combine.uid, 7);
    ck_assert_int_eq(e.combine.ts_ms, 4102444800000LL);
}
END_TEST


START_TEST(test_combine_value_lengths)
{
    cc_log_entry_t  e;
    const char     *why = NULL;
    const char      buf[] = "c7rid9";

    /* each value ends where its length says, not at a NUL */
    cc_log_entry_init(&e);
    cc_log_entry_field(&e, "yx", 1, buf, 1);
    cc_log_entry_field(&e, "u", 1, buf + 1, 1);
    cc_log_entry_field(&e, "r", 1, buf + 2, 3);
    cc_log_entry_field(&e, "t", 1, buf + 5, 1);
    ck_assert_int_eq(cc_log_entry_end(&e, &why), 0);
    ck_assert_uint_eq(e.combine.uid, 7);
    ck_assert_str_eq(e.combine.request_id, "rid");
    ck_assert_int_eq(e.combine.ts_ms, 9);
}
END_TEST

/* the two halves of a gift, and what each refuses */
START_TEST(test_gift_entries)
{
    size_t          i;
    cc_draw_t       d;
    cc_log_entry_t  e;
    const char     *why = NULL;
    static const struct {
        const char  *k, *v, *why;
    } bad[] = {
        { "g", "8:g-1", "bad gift_id" },         /* not the giver's id */
        { "g", "7:", "bad gift_id" },
        { "g", "7", "bad gift_id" },
        { "g", "07:g-1", "bad gift_id" },
        { "g", "7:a b", "bad gift_id" },
        { "u", "0", "bad uid" },
        { "u", "7x", "bad uid" },
        { "p", "7", "bad to" },                  /* a gift to oneself */
        { "p", "", "bad to" },
        { "k", "16", "bad card" },
        { "k", "02", "bad card" },
        { "k", "", "bad card" },
        { "t", "0", "bad ts" },
        { "t", "4102444800001", "bad ts" },
    };

    ck_assert_int_eq(ENTRY(&e, &why, "y=go", "g=7:g-1", "u=7", "p=9",
                           "k=2", "t=1764240000123"), 0);
    ck_assert_int_eq(e.kind, CC_LOG_GIFT);
    ck_assert_uint_eq(e.gift.in, 0);
    ck_assert_uint_eq(e.gift.uid, 7);
    ck_assert_uint_eq(e.gift.peer, 9);
    ck_assert_uint_eq(e.gift.card, 2);
    ck_assert_int_eq(e.gift.ts_ms, 1764240000123LL);
    ck_assert_str_eq(e.gift.request_id, "g-1");
    ck_assert_int_eq(cc_log_next_draw(&e, &d, &why), 0);

    /* the receiver's half: the gift id names the peer, the giver */
    ck_assert_int_eq(ENTRY(&e, &why, "y=gi", "g=7:g-1", "u=9", "p=7",
                           "k=15", "t=1"), 0);
    ck_assert_int_eq(e.kind, CC_LOG_GIFT);
    ck_assert_uint_eq(e.gift.in, 1);
    ck_assert_uint_eq(e.gift.uid, 9);
    ck_assert_uint_eq(e.gift.card, 15);
    ck_assert_int_eq(ENTRY(&e, &why, "y=gi", "g=9:g-1", "u=9", "p=7",
                           "k=1", "t=1"), -1);
    ck_assert_str_eq(why, "bad gift_id");
    ck_assert_int_eq(ENTRY(&e, &why, "y=gi", "g=7:g-1", "u=9", "p=9",
                           "k=1", "t=1"), -1);
    ck_assert_str_eq(why, "bad from");
    ck_assert_int_eq(ENTRY(&e, &why, "y=gx", "g=7:g-1", "u=9", "p=7",
                           "k=1", "t=1"), -1);
    ck_assert_str_eq(why, "unknown type");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char  *kv[6] = { "y=go", "g=7:g-1", "u=7", "p=9", "k=2",
                               "t=5" };
        char         f[80];
        size_t       j;

        snprintf(f, sizeof(f), "%s=%s", bad[i].k, bad[i].v);

        for (j = 1; j < 6; j++) {
            if (kv[j][0] == bad[i].k[0]) {
                kv[j] = f;
            }
        }

        why = NULL;
        ck_assert_msg(entry(&e, &why, kv, 6) == -1, "accepted %s", f);
        ck_assert_msg(why && strcmp(why, bad[i].why) == 0,
                      "%s: \"%s\", expected \"%s\"", f, why, bad[i].why);
    }

    /* a missing field */
    ck_assert_int_eq(ENTRY(&e, &why, "y=go", "g=7:g-1", "u=7", "p=9",
                           "t=5"), -1);
    ck_assert_str_eq(why, "bad card");
}
END_TEST


/*
 * A batch of gift halves (o: the giver's, i: the receiver's), one line a
 * gift: each read on its own, a bad line skipped alone with its reason,
 * the lines past CC_LOG_BATCH_MAX refused once.
 */
START_TEST(test_gifts_entry)
{
    int              i;
    char            *big, *p;
    cc_gift_t        g;
    cc_draw_t        d;
    const char      *why;
    cc_log_entry_t   e;

    ck_assert_int_eq(ENTRY(&e, &why, "o=7:9:2:1764240000123:g-1\n"
                                     "7:9:2:1764240000123:g-1\n"
                                     "7:7:2:1764240000123:g-2\n"
                                     "7:9:16:1764240000123:g-3\n"
                                     "07:9:2:1764240000123:g-4\n"
                                     "7:9:2:1764240000123\n"
                                     "7:9:2:0:g-6\n"
                                     "7:9:2:1:g 7\n"
                                     "0:9:2:1:g-8\n"
                                     "8:7:15:1:x"), 0);
    ck_assert_int_eq(e.kind, CC_LOG_GIFTS);
    ck_assert_int_eq(cc_log_next_draw(&e, &d, &why), 0);

    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), 1);
    ck_assert_uint_eq(g.in, 0);
    ck_assert_uint_eq(g.uid, 7);
    ck_assert_uint_eq(g.peer, 9);
    ck_assert_uint_eq(g.card, 2);
    ck_assert_int_eq(g.ts_ms, 1764240000123LL);
    ck_assert_str_eq(g.request_id, "g-1");

    /* the same line twice is two halves: the store makes it one row */
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), 1);
    ck_assert_str_eq(g.request_id, "g-1");

    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), -1);
    ck_assert_str_eq(why, "bad to");
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), -1);
    ck_assert_str_eq(why, "bad card");
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), -1);
    ck_assert_str_eq(why, "bad gift line");
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), -1);
    ck_assert_str_eq(why, "bad gift line");
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), -1);
    ck_assert_str_eq(why, "bad ts");
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), -1);
    ck_assert_str_eq(why, "bad request_id");
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), -1);
    ck_assert_str_eq(why, "bad uid");
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), 1);
    ck_assert_uint_eq(g.uid, 8);
    ck_assert_uint_eq(g.card, 15);
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), 0);
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), 0);
    ck_assert_uint_eq(e.lines, 10);

    /* the receiver's side: in set, the peer is the giver */
    ck_assert_int_eq(ENTRY(&e, &why, "i=9:7:2:5:g-1"), 0);
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), 1);
    ck_assert_uint_eq(g.in, 1);
    ck_assert_uint_eq(g.uid, 9);
    ck_assert_uint_eq(g.peer, 7);
    ck_assert_int_eq(ENTRY(&e, &why, "i=9:9:2:5:g-1"), 0);
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), -1);
    ck_assert_str_eq(why, "bad from");

    /* a draws entry has no gifts */
    ck_assert_int_eq(ENTRY(&e, &why, "d=5:1:2:1700000000000:r"), 0);
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), 0);

    /* past CC_LOG_BATCH_MAX lines: refused once, then none */
    big = malloc((CC_LOG_BATCH_MAX + 2) * 32 + 3);
    ck_assert_ptr_nonnull(big);
    p = big + sprintf(big, "o=");
    for (i = 0; i < CC_LOG_BATCH_MAX + 2; i++) {
        p += sprintf(p, "%s7:9:1:5:r%d", i ? "\n" : "", i);
    }
    ck_assert_int_eq(ENTRY(&e, &why, big), 0);
    for (i = 0; i < CC_LOG_BATCH_MAX; i++) {
        ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), 1);
    }
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), CC_LOG_TOO_MANY);
    ck_assert_str_eq(why, "more gifts than a batch holds");
    ck_assert_int_eq(cc_log_next_gift(&e, &g, &why), 0);
    free(big);
}
END_TEST


static const struct {
    const char  *kv[8];
    const char  *why;
} bad_entries[] = {
    { { "q=1" }, "no draw and no combine in it" },
    { { "u=5", "r=a", "t=1" }, "no draw and no combine in it" },
    { { "dd=5:1:2:1700000000000:r" }, "no draw and no combine in it" },
    { { "y=z", "u=5", "r=a", "t=1" }, "unknown type" },
    { { "o=7:9:2:5:a", "i=9:7:2:5:a" }, "draws and gifts in one entry" },
    { { "d=5:1:2:1700000000000:r", "o=7:9:2:5:a" },
      "draws and gifts in one entry" },
    { { "i=9:7:2:5:a", "d=5:1:2:1700000000000:r" },
      "draws and gifts in one entry" },
    { { "y=", "u=5", "r=a", "t=1" }, "unknown type" },
    { { "y=cc", "u=5", "r=a", "t=1" }, "unknown type" },
    { { "y=z", "d=5:1:2:1700000000000:r" }, "unknown type" },
    { { "y=c", "r=a", "t=1" }, "bad uid" },
    { { "y=c", "u=0", "r=a", "t=1" }, "bad uid" },
    { { "y=c", "u=05", "r=a", "t=1" }, "bad uid" },
    { { "y=c", "u=-5", "r=a", "t=1" }, "bad uid" },
    { { "y=c", "u=18446744073709551616", "r=a", "t=1" }, "bad uid" },
    { { "y=c", "u=5", "r=a" }, "bad ts" },
    { { "y=c", "u=5", "r=a", "t=" }, "bad ts" },
    { { "y=c", "u=5", "r=a", "t=0" }, "bad ts" },
    { { "y=c", "u=5", "r=a", "t=12abc" }, "bad ts" },
    { { "y=c", "u=5", "r=a", "t=-1" }, "bad ts" },
    { { "y=c", "u=5", "r=a", "t=4102444800001" }, "bad ts" },
    { { "y=c", "u=5", "r=a", "t=1:2" }, "bad ts" },
    { { "y=c", "u=5", "t=1" }, "bad request_id" },
    { { "y=c", "u=5", "r=", "t=1" }, "bad request_id" },
    { { "y=c", "u=5", "r=a b", "t=1" }, "bad request_id" },
    { { "y=c", "u=5", "t=1", "r="
        "12345678901234567890123456789012345678901234567890123456789012345" },
      "bad request_id" },
    /* a combine's wildcard: all three of k, w, m or none, each a number */
    { { "y=c", "u=5", "r=a", "t=1", "w=0" }, "bad wild" },
    { { "y=c", "u=5", "r=a", "t=1", "m=0" }, "bad wild" },
    { { "y=c", "u=5", "r=a", "t=1", "k=4", "m=0" }, "bad wild" },
    { { "y=c", "u=5", "r=a", "t=1", "k=4", "w=0" }, "bad replaced" },
    { { "y=c", "u=5", "r=a", "t=1", "k=", "w=0", "m=0" }, "bad wildcard" },
    { { "y=c", "u=5", "r=a", "t=1", "k=16", "w=0", "m=0" }, "bad wildcard" },
    { { "y=c", "u=5", "r=a", "t=1", "k=04", "w=0", "m=0" }, "bad wildcard" },
    { { "y=c", "u=5", "r=a", "t=1", "k=-1", "w=0", "m=0" }, "bad wildcard" },
    { { "y=c", "u=5", "r=a", "t=1", "k=4", "w=16", "m=0" }, "bad wild" },
    { { "y=c", "u=5", "r=a", "t=1", "k=4", "w=1x", "m=2" }, "bad wild" },
    { { "y=c", "u=5", "r=a", "t=1", "k=4", "w=1", "m=65536" },
      "bad replaced" },
    { { "y=c", "u=5", "r=a", "t=1", "k=4", "w=1", "m=2:" }, "bad replaced" },
    /* the wildcard's own kind, and a count that is not the mask's */
    { { "y=c", "u=5", "r=a", "t=1", "k=4", "w=1", "m=16" }, "bad replaced" },
    { { "y=c", "u=5", "r=a", "t=1", "k=4", "w=1", "m=10" }, "bad wild" },
    { { "y=c", "u=5", "r=a", "t=1", "k=4", "w=2", "m=0" }, "bad wild" },
};


START_TEST(test_combine_wild)
{
    cc_log_entry_t  e;
    const char     *why = NULL;

    ck_assert_int_eq(ENTRY(&e, &why, "y=c", "u=7", "r=w1", "t=9", "k=4",
                           "w=2", "m=10"), 0);
    ck_assert_int_eq(e.kind, CC_LOG_COMBINE);
    ck_assert_uint_eq(e.combine.wildcard, 5);
    ck_assert_uint_eq(e.combine.wild, 2);
    ck_assert_uint_eq(e.combine.replaced, 10);

    ck_assert_int_eq(ENTRY(&e, &why, "y=c", "u=7", "r=w1", "t=9", "k=0",
                           "w=0", "m=0"), 0);
    ck_assert_uint_eq(e.combine.wildcard, 1);
    ck_assert_uint_eq(e.combine.wild, 0);

    ck_assert_int_eq(ENTRY(&e, &why, "y=c", "u=7", "r=w1", "t=9", "k=15",
                           "w=15", "m=32767"), 0);
    ck_assert_uint_eq(e.combine.wildcard, 16);
    ck_assert_uint_eq(e.combine.replaced, 32767);

    /* an entry from before the wildcard: none */
    ck_assert_int_eq(ENTRY(&e, &why, "y=c", "u=7", "r=w1", "t=9"), 0);
    ck_assert_uint_eq(e.combine.wildcard, 0);
    ck_assert_uint_eq(e.combine.wild, 0);
    ck_assert_uint_eq(e.combine.replaced, 0);
}
END_TEST


START_TEST(test_entry_rejects)
{
    size_t          n;
    cc_log_entry_t  e;
    const char     *why = NULL;

    for (n = 0; n < 8 && bad_entries[_i].kv[n] != NULL; n++) {
        /* count */
    }

    ck_assert_msg(entry(&e, &why, bad_entries[_i].kv, n) == -1,
                  "accepted #%d", _i);
    ck_assert_msg(why && strcmp(why, bad_entries[_i].why) == 0,
                  "#%d: reason \"%s\", expected \"%s\"", _i, why,
                  bad_entries[_i].why);
}
END_TEST


START_TEST(test_request_id_nul)
{
    cc_log_entry_t  e;
    const char     *why = NULL;

    /* a NUL inside a request id is refused, not cut short */
    cc_log_entry_init(&e);
    cc_log_entry_field(&e, "y", 1, "c", 1);
    cc_log_entry_field(&e, "u", 1, "5", 1);
    cc_log_entry_field(&e, "t", 1, "1", 1);
    cc_log_entry_field(&e, "r", 1, "ab\0cd", 5);
    ck_assert_int_eq(cc_log_entry_end(&e, &why), -1);
    ck_assert_str_eq(why, "bad request_id");
}
END_TEST


/*
 * The same for a draw line, alone and in a draws entry: the request id
 * "ab\0cd" was read as "ab" (fuzz/regressions/log/line-nul-request-id).
 */
START_TEST(test_draw_line_nul)
{
    int              rc;
    cc_draw_t        d;
    cc_log_entry_t   e;
    const char      *why = NULL;
    static const char  line[] = "5:1:2:1700000000000:ab\0cd";
    static const char  lines[] = "5:1:2:1700000000000:ab\0cd\n"
                                 "5:2:2:1700000000000:ab";

    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(cc_log_draw_line(line, sizeof(line) - 1, &d, &why), -1);
    ck_assert_str_eq(why, "bad request_id");

    cc_log_entry_init(&e);
    cc_log_entry_field(&e, "d", 1, lines, sizeof(lines) - 1);
    ck_assert_int_eq(cc_log_entry_end(&e, &why), 0);

    why = NULL;
    rc = cc_log_next_draw(&e, &d, &why);
    ck_assert_int_eq(rc, -1);
    ck_assert_str_eq(why, "bad request_id");

    /* the bad line costs only itself */
    ck_assert_int_eq(cc_log_next_draw(&e, &d, &why), 1);
    ck_assert_uint_eq(d.seq, 2);
    ck_assert_str_eq(d.request_id, "ab");
    ck_assert_int_eq(cc_log_next_draw(&e, &d, &why), 0);
}
END_TEST


START_TEST(test_draws_entry)
{
    cc_log_entry_t  e;
    cc_draw_t       d;
    const char     *why = NULL;

    ck_assert_int_eq(ENTRY(&e, &why, "d=5:1:2:1700000000000:a\n"
                           "x:1:2:1700000000000:r\n"
                           "\n"
                           "6:3:15:1700000000001:b\n"), 0);
    ck_assert_int_eq(e.kind, CC_LOG_DRAWS);

    ck_assert_int_eq(cc_log_next_draw(&e, &d, &why), 1);
    ck_assert_uint_eq(d.uid, 5);
    ck_assert_str_eq(d.request_id, "a");
    ck_assert_uint_eq(e.lines, 1);

    /* a bad line costs only itself, and says which it was */
    ck_assert_int_eq(cc_log_next_draw(&e, &d, &why), -1);
    ck_assert_str_eq(why, "bad draw line");
    ck_assert_uint_eq(e.lines, 2);
    ck_assert_int_eq(cc_log_next_draw(&e, &d, &why), -1);
    ck_assert_str_eq(why, "bad draw line");

    ck_assert_int_eq(cc_log_next_draw(&e, &d, &why), 1);
    ck_assert_uint_eq(d.uid, 6);
    ck_assert_uint_eq(d.seq, 3);
    ck_assert_uint_eq(d.card, 15);
    ck_assert_int_eq(d.ts_ms, 1700000000001LL);
    ck_assert_str_eq(d.request_id, "b");

    /* the last "\n" ends the last line; it starts none */
    ck_assert_int_eq(cc_log_next_draw(&e, &d, &why), 0);
    ck_assert_int_eq(cc_log_next_draw(&e, &d, &why), 0);
    ck_assert_uint_eq(e.lines, 4);

    /* an empty d holds no draw */
    ck_assert_int_eq(ENTRY(&e, &why, "d="), 0);
    ck_assert_int_eq(cc_log_next_draw(&e, &d, &why), 0);
}
END_TEST


START_TEST(test_draws_over_batch)
{
    int             rc, good, bad, too_many;
    char           *lines, *p;
    size_t          i;
    cc_draw_t       d;
    cc_log_entry_t  e;
    const char     *why = NULL;

    lines = malloc((CC_LOG_BATCH_MAX + 2) * 40);
    ck_assert_ptr_nonnull(lines);

    for (p = lines, i = 1; i <= CC_LOG_BATCH_MAX + 2; i++) {
        p += sprintf(p, "%s9:%zu:1:1700000000000:m%zu", i > 1 ? "\n" : "",
                     i, i);
    }

    cc_log_entry_init(&e);
    cc_log_entry_field(&e, "d", 1, lines, (size_t) (p - lines));
    ck_assert_int_eq(cc_log_entry_end(&e, &why), 0);

    good = bad = too_many = 0;

    while ((rc = cc_log_next_draw(&e, &d, &why)) != 0) {
        if (rc == 1) {
            ck_assert_uint_eq(d.seq, (unsigned) good + 1);
            good++;

        } else if (rc == CC_LOG_TOO_MANY) {
            ck_assert_str_eq(why, "more draws than a flip batch holds");
            too_many++;

        } else {
            bad++;
        }
    }

    /* the first batch is read; the two past it are skipped, once */
    ck_assert_int_eq(good, CC_LOG_BATCH_MAX);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(too_many, 1);

    free(lines);
}
END_TEST



/*
 * Stream ids: the XTRIM bound of the log pass.  sscanf("%llu-%llu") took
 * " 5-1", "+5-1", "05-1" and "5--1" (as 2^64-1), and seq + 1 wrapped the
 * last seq of a millisecond to 0, a bound that trims nothing: the pass
 * would read the same entries forever.
 */
START_TEST(test_stream_ids)
{
    char         out[48];
    size_t       i;
    uint64_t     ms = 9, seq = 9;
    static const char  *bad[] = {
        "", "5", "-5", "5-", "-", "5-1-2", " 5-1", "5-1 ", "+5-1", "5-+1",
        "05-1", "5-01", "5--1", "-1-5", "5-18446744073709551616", "5_1",
        "5-1\n"
    };

    ck_assert_int_eq(cc_log_stream_id("1764240000123-0", 15, &ms, &seq), 0);
    ck_assert_uint_eq(ms, 1764240000123ULL);
    ck_assert_uint_eq(seq, 0);

    ck_assert_int_eq(cc_log_stream_id_next("1764240000123-0", 15, out,
                                           sizeof(out)), 0);
    ck_assert_str_eq(out, "1764240000123-1");
    ck_assert_int_eq(cc_log_stream_id_next("0-0", 3, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "0-1");
    ck_assert_int_eq(cc_log_stream_id_next("7-18446744073709551615", 22, out,
                                           sizeof(out)), 0);
    ck_assert_str_eq(out, "8-0");
    ck_assert_int_eq(cc_log_stream_id_next(
                         "18446744073709551615-18446744073709551615", 41, out,
                         sizeof(out)), -1);

    /* too small a buffer: refused, not cut to a smaller bound */
    ck_assert_int_eq(cc_log_stream_id_next("99-9", 4, out, 5), -1);
    ck_assert_int_eq(cc_log_stream_id_next("99-9", 4, out, 6), 0);
    ck_assert_str_eq(out, "99-10");

    ms = 9;
    seq = 9;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(cc_log_stream_id(bad[i], strlen(bad[i]), &ms, &seq)
                      == -1, "accepted \"%s\"", bad[i]);
        ck_assert_int_eq(cc_log_stream_id_next(bad[i], strlen(bad[i]), out,
                                               sizeof(out)), -1);
    }

    ck_assert_uint_eq(ms, 9);
    ck_assert_uint_eq(seq, 9);
}
END_TEST

int
main(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("log");
    tc = tcase_create("entries");
    cc_check_add(tc, test_log_line);
    cc_check_loop(tc, test_log_line_rejects, bad_lines);
    tcase_add_loop_test(tc, test_log_line_numbers, 0,
                        (int) (sizeof(number_fields) / sizeof(number_fields[0])
                               * NSPELLINGS));
    cc_check_add(tc, test_combine_entry);
    tcase_add_loop_test(tc, test_combine_numbers, 0, (int) (2 * NSPELLINGS));
    cc_check_add(tc, test_combine_value_lengths, test_combine_wild,
                 test_gift_entries, test_gifts_entry);
    cc_check_loop(tc, test_entry_rejects, bad_entries);
    cc_check_add(tc, test_request_id_nul, test_draw_line_nul, test_draws_entry,
                 test_draws_over_batch, test_stream_ids);
    suite_add_tcase(s, tc);

    return cc_check_run(s);
}
