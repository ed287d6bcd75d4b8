/*
 * Unit tests of common/cc_addr.c: host:port as every part is given it.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_addr.h"
#include "cc_check.h"


static const struct {
    const char  *s;
    const char  *host;
    unsigned     port;
} good[] = {
    { "127.0.0.1:6379", "127.0.0.1", 6379 },
    { "redis.internal:6379", "redis.internal", 6379 },
    { "redis-0_a:1", "redis-0_a", 1 },
    { "h:65535", "h", 65535 },
    { "h:06379", "h", 6379 },
    { "[::1]:6379", "::1", 6379 },
    { "[fe80::1%eth0]:6379", "fe80::1%eth0", 6379 },
    { "[2001:DB8::a:1]:3306", "2001:DB8::a:1", 3306 },
    { "[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80 },
};


START_TEST(test_good)
{
    cc_addr_t    a;
    const char  *why = NULL;

    memset(&a, 0x5a, sizeof(a));
    ck_assert_msg(cc_addr_parse(good[_i].s, strlen(good[_i].s), &a, &why)
                  == 0, "refused %s: %s", good[_i].s, why);
    ck_assert_str_eq(a.host, good[_i].host);
    ck_assert_uint_eq(a.port, good[_i].port);
}
END_TEST


static const struct {
    const char  *s;
    const char  *why;
} bad[] = {
    { "", "missing port" },
    { "host", "missing port" },
    { "host:", "missing port" },
    { "[::1]", "missing port" },
    { "[::1]:", "missing port" },
    { "host:0", "bad port" },
    { "host:65536", "bad port" },
    { "host:99999999999999999999", "bad port" },
    { "host:-1", "bad port" },
    { "host:+80", "bad port" },
    { "host:80 ", "bad port" },
    { "host:6a79", "bad port" },
    { ":6379", "empty host" },
    { "[]:6379", "empty host" },
    { "[::1:6379", "unclosed bracket" },
    { "[", "unclosed bracket" },
    { "::1:6379", "IPv6 address not in brackets" },
    { "host:80:81", "IPv6 address not in brackets" },
    { "[::1]x:6379", "bad IPv6 address" },
    { "[::g]:6379", "bad IPv6 address" },
    { "[127.0.0.1]:6379", "bad IPv6 address" },
    { "[::1%]:6379", "bad IPv6 address" },
    { "[::1%et h0]:6379", "bad IPv6 address" },
    { "ho st:6379", "bad host" },
    { "host]:6379", "bad host" },
    { "host/db:6379", "bad host" },
};


START_TEST(test_bad)
{
    cc_addr_t    a;
    const char  *why = NULL;

    ck_assert_msg(cc_addr_parse(bad[_i].s, strlen(bad[_i].s), &a, &why)
                  == -1, "accepted #%d: %s", _i, bad[_i].s);
    ck_assert_msg(why != NULL && strcmp(why, bad[_i].why) == 0,
                  "#%d %s: reason \"%s\", expected \"%s\"", _i, bad[_i].s,
                  why, bad[_i].why);
}
END_TEST


START_TEST(test_host_length)
{
    char         s[CC_ADDR_HOST_MAX + 16];
    cc_addr_t    a;
    const char  *why = NULL;

    /* the longest host fits, with its NUL */
    memset(s, 'h', CC_ADDR_HOST_MAX);
    strcpy(s + CC_ADDR_HOST_MAX, ":6379");
    ck_assert_int_eq(cc_addr_parse(s, strlen(s), &a, &why), 0);
    ck_assert_uint_eq(strlen(a.host), CC_ADDR_HOST_MAX);
    ck_assert_uint_eq(a.port, 6379);

    memset(s, 'h', CC_ADDR_HOST_MAX + 1);
    strcpy(s + CC_ADDR_HOST_MAX + 1, ":6379");
    ck_assert_int_eq(cc_addr_parse(s, strlen(s), &a, &why), -1);
    ck_assert_str_eq(why, "host too long");

    /* in brackets too */
    s[0] = '[';
    memset(s + 1, ':', CC_ADDR_HOST_MAX + 1);
    strcpy(s + CC_ADDR_HOST_MAX + 2, "]:6379");
    ck_assert_int_eq(cc_addr_parse(s, strlen(s), &a, &why), -1);
    ck_assert_str_eq(why, "host too long");
}
END_TEST


START_TEST(test_length_not_nul)
{
    cc_addr_t    a;
    const char  *why = NULL;

    /* the length ends the address: "h:6379/db" read as its first 6 */
    ck_assert_int_eq(cc_addr_parse("h:6379/db", 6, &a, &why), 0);
    ck_assert_str_eq(a.host, "h");
    ck_assert_uint_eq(a.port, 6379);

    ck_assert_int_eq(cc_addr_parse("[::1]:63", 7, &a, &why), 0);
    ck_assert_uint_eq(a.port, 6);

    /* a NUL inside is refused, wherever it is */
    ck_assert_int_eq(cc_addr_parse("h\0st:6379", 9, &a, &why), -1);
    ck_assert_str_eq(why, "embedded NUL");
    ck_assert_int_eq(cc_addr_parse("host:63\0" "79", 10, &a, &why), -1);
    ck_assert_str_eq(why, "embedded NUL");
    ck_assert_int_eq(cc_addr_parse("[::1\0]:6379", 11, &a, &why), -1);
    ck_assert_str_eq(why, "embedded NUL");
}
END_TEST


/* CC_ADDR_PORT_ANY takes port 0 and changes nothing else */
START_TEST(test_port_any)
{
    size_t       i;
    cc_addr_t    a;
    const char  *why = NULL;

    ck_assert_int_eq(cc_addr_parse_flags("127.0.0.1:0", 11, CC_ADDR_PORT_ANY,
                                         &a, &why), 0);
    ck_assert_str_eq(a.host, "127.0.0.1");
    ck_assert_uint_eq(a.port, 0);

    ck_assert_int_eq(cc_addr_parse_flags("[::1]:00", 8, CC_ADDR_PORT_ANY,
                                         &a, &why), 0);
    ck_assert_str_eq(a.host, "::1");
    ck_assert_uint_eq(a.port, 0);

    ck_assert_int_eq(cc_addr_parse_flags("h:0", 3, 0, &a, &why), -1);
    ck_assert_str_eq(why, "bad port");

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_int_eq(cc_addr_parse_flags(good[i].s, strlen(good[i].s),
                                             CC_ADDR_PORT_ANY, &a, &why), 0);
        ck_assert_str_eq(a.host, good[i].host);
        ck_assert_uint_eq(a.port, good[i].port);
    }

    /* every other refusal stays, with its reason */
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (strcmp(bad[i].s, "host:0") == 0) {
            continue;
        }

        why = NULL;
        ck_assert_msg(cc_addr_parse_flags(bad[i].s, strlen(bad[i].s),
                                          CC_ADDR_PORT_ANY, &a, &why) == -1,
                      "accepted %s", bad[i].s);
        ck_assert_str_eq(why, bad[i].why);
    }
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("addr");
    tc = tcase_create("parse");
    cc_check_loop(tc, test_good, good);
    cc_check_loop(tc, test_bad, bad);
    cc_check_add(tc, test_host_length, test_length_not_nul, test_port_any);
    suite_add_tcase(s, tc);

    return cc_check_run(s);
}
