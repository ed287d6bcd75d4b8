/*
 * Unit tests of common/cc_campaign.c: the campaign file, its good forms
 * and every reason it is refused.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc_campaign.h"
#include "cc_check.h"


#define GOOD_EQUAL \
    "# the spring campaign\n" \
    "campaign    cny2027\n" \
    "pool_cents  50000000000   # 5 * 10^8 yuan\n" \
    "split       equal\n" \
    "seed        d41d8cd98f00b204e980\n" \
    "credit      async_client_sync\n" \
    "cutoff      2027-02-10T15:00:00Z\n"

#define GOOD_RANDOM \
    "campaign cny2027\n" \
    "pool_cents 1000\n" \
    "split random\n" \
    "cap_cents 20\n" \
    "seed s\n" \
    "credit sync\n" \
    "cutoff 1800000000\n"


static int
parse(const char *text, cc_campaign_t *c, char *err)
{
    return cc_campaign_parse(text, strlen(text), c, err, 256);
}


START_TEST(test_good_equal)
{
    char           err[256];
    cc_campaign_t  c;

    ck_assert_int_eq(parse(GOOD_EQUAL, &c, err), 0);
    ck_assert_str_eq(c.id, "cny2027");
    ck_assert_uint_eq(c.pool_cents, 50000000000ULL);
    ck_assert_int_eq(c.split, CC_SPLIT_EQUAL);
    ck_assert_uint_eq(c.cap_cents, 0);
    ck_assert_str_eq(c.seed, "d41d8cd98f00b204e980");
    ck_assert_int_eq(c.credit, CC_CREDIT_ASYNC_CLIENT_SYNC);
    ck_assert_int_eq(c.cutoff, 1802271600);      /* date -d ... +%s */
    ck_assert_int_eq(c.pending_max, 3600);       /* the default */
    ck_assert_str_eq(c.alert, "");
    ck_assert_int_eq(c.wallet, CC_WALLET_LEDGER);
    ck_assert_str_eq(cc_split_mode_name(c.split), "equal");
    ck_assert_str_eq(cc_credit_mode_name(c.credit), "async_client_sync");
}
END_TEST


START_TEST(test_good_random_and_optional)
{
    char           err[256];
    cc_campaign_t  c;

    ck_assert_int_eq(parse(GOOD_RANDOM
                           "pending_max 60\n"
                           "alert /usr/local/bin/page --team money  # x\n"
                           "wallet ledger", &c, err), 0);
    ck_assert_int_eq(c.split, CC_SPLIT_RANDOM);
    ck_assert_uint_eq(c.cap_cents, 20);
    ck_assert_int_eq(c.credit, CC_CREDIT_SYNC);
    ck_assert_int_eq(c.cutoff, 1800000000);
    ck_assert_int_eq(c.pending_max, 60);
    ck_assert_str_eq(c.alert, "/usr/local/bin/page --team money");
    ck_assert_str_eq(cc_split_mode_name(c.split), "random");
    ck_assert_str_eq(cc_credit_mode_name(c.credit), "sync");
    ck_assert_str_eq(cc_credit_mode_name(CC_CREDIT_ASYNC), "async");

    /* CRLF lines, tabs, a '#' inside the seed, the largest pool */
    ck_assert_int_eq(parse("campaign\tA-b_9\r\npool_cents 1000000000000000\r\n"
                           "split equal\r\nseed a#b\r\ncredit async\r\n"
                           "cutoff 1\r\n", &c, err), 0);
    ck_assert_str_eq(c.id, "A-b_9");
    ck_assert_uint_eq(c.pool_cents, 1000000000000000ULL);
    ck_assert_str_eq(c.seed, "a#b");
    ck_assert_int_eq(c.credit, CC_CREDIT_ASYNC);
    ck_assert_int_eq(c.cutoff, 1);
}
END_TEST


/* a good file with one line replaced or added: refused with this reason */
typedef struct {
    const char  *text;
    const char  *err;
} bad_case_t;


START_TEST(test_good_wallet_http)
{
    char           err[256];
    cc_campaign_t  c;

    ck_assert_int_eq(parse(GOOD_EQUAL, &c, err), 0);
    ck_assert_str_eq(c.currency, "CNY");               /* the defaults */
    ck_assert_int_eq(c.wallet_timeout_ms, 5000);
    ck_assert_str_eq(c.wallet_url, "");

    ck_assert_int_eq(parse(GOOD_EQUAL
                           "wallet http\n"
                           "wallet_url https://w.example:8443/api//\n"
                           "wallet_timeout_ms 250\n"
                           "wallet_secret_file /etc/cc/wallet.secret\n"
                           "currency USD\n", &c, err), 0);
    ck_assert_int_eq(c.wallet, CC_WALLET_HTTP);
    ck_assert_str_eq(c.wallet_url, "https://w.example:8443/api");
    ck_assert_int_eq(c.wallet_timeout_ms, 250);
    ck_assert_str_eq(c.wallet_secret_file, "/etc/cc/wallet.secret");
    ck_assert_str_eq(c.currency, "USD");

    ck_assert_str_eq(c.wallet_ca_file, "");            /* the defaults */
    ck_assert_str_eq(c.wallet_answer_secret_file, "");
    ck_assert_int_eq(c.wallet_insecure_loopback, 0);
    ck_assert_int_eq(c.wallet_mode, CC_WALLET_MODE_BATCH);
    ck_assert_uint_eq(c.wallet_batch_max, 500);
    ck_assert_int_eq(c.wallet_batch_age_ms, 600000);

    ck_assert_int_eq(parse(GOOD_EQUAL
                           "wallet http\n"
                           "wallet_url https://w.example/\n"
                           "wallet_secret_file /s\n"
                           "wallet_mode per_credit\n"
                           "wallet_batch_max 1000\n"
                           "wallet_batch_age_ms 1000\n", &c, err), 0);
    ck_assert_int_eq(c.wallet_mode, CC_WALLET_MODE_PER_CREDIT);
    ck_assert_uint_eq(c.wallet_batch_max, 1000);
    ck_assert_int_eq(c.wallet_batch_age_ms, 1000);

    ck_assert_int_eq(parse(GOOD_EQUAL
                           "wallet http\n"
                           "wallet_url https://w.example/\n"
                           "wallet_secret_file /s\n"
                           "wallet_batch_age_ms 604800000\n", &c, err), 0);
    ck_assert_int_eq(c.wallet_batch_age_ms, 604800000);

    ck_assert_int_eq(parse(GOOD_EQUAL
                           "wallet http\n"
                           "wallet_url https://w.example/\n"
                           "wallet_secret_file /s\n"
                           "wallet_ca_file /etc/cc/ca.pem\n"
                           "wallet_answer_secret_file /etc/cc/answer\n",
                           &c, err), 0);
    ck_assert_str_eq(c.wallet_ca_file, "/etc/cc/ca.pem");
    ck_assert_str_eq(c.wallet_answer_secret_file, "/etc/cc/answer");

    /* the simulator on this host, by its three names */
    ck_assert_int_eq(parse(GOOD_EQUAL "wallet http\n"
                           "wallet_url http://127.0.0.1:8080\n"
                           "wallet_secret_file /s\n"
                           "wallet_insecure_loopback yes\n", &c, err), 0);
    ck_assert_int_eq(c.wallet_insecure_loopback, 1);
    ck_assert_int_eq(parse(GOOD_EQUAL "wallet http\n"
                           "wallet_url http://[::1]:8080/w\n"
                           "wallet_secret_file /s\n"
                           "wallet_insecure_loopback yes\n", &c, err), 0);
    ck_assert_int_eq(parse(GOOD_EQUAL "wallet http\n"
                           "wallet_url http://localhost\n"
                           "wallet_secret_file /s\n"
                           "wallet_insecure_loopback yes\n", &c, err), 0);

    /* currency is for the ledger wallet too (the statement's column) */
    ck_assert_int_eq(parse(GOOD_EQUAL "currency EUR\n", &c, err), 0);
    ck_assert_str_eq(c.currency, "EUR");
}
END_TEST


START_TEST(test_bad)
{
    size_t         i;
    char           err[256];
    cc_campaign_t  c;

    static const bad_case_t  cases[] = {
        { GOOD_EQUAL "color blue\n", "line 8: unknown name \"color\"" },
        { GOOD_EQUAL "seed again\n",
          "line 8: seed: given twice (first on line 5)" },
        { GOOD_EQUAL "pending_max\n", "line 8: pending_max: no value" },
        { GOOD_EQUAL "pending_max 1 2\n",
          "line 8: pending_max: one value expected" },
        { "campaign x\npool_cents 1\nsplit equal\nseed s\ncredit sync\n",
          "cutoff: missing" },
        { "pool_cents 1\nsplit equal\nseed s\ncredit sync\ncutoff 1\n",
          "campaign: missing" },
        { "campaign x\nsplit equal\nseed s\ncredit sync\ncutoff 1\n",
          "pool_cents: missing" },
        { "campaign x\npool_cents 1\nseed s\ncredit sync\ncutoff 1\n",
          "split: missing" },
        { "campaign x\npool_cents 1\nsplit equal\ncredit sync\ncutoff 1\n",
          "seed: missing" },
        { "campaign x\npool_cents 1\nsplit equal\nseed s\ncutoff 1\n",
          "credit: missing" },
        { "campaign x\npool_cents 5\nsplit random\nseed s\ncredit sync\n"
          "cutoff 1\n", "cap_cents: required in random mode" },
        { GOOD_EQUAL "cap_cents 5\n",
          "line 8: cap_cents: only in random mode (split is equal)" },
        { "", "campaign: missing" },
        { "campaign 123456789012345678901234567890123\n",
          "line 1: campaign: 1..32 of [A-Za-z0-9_-] expected" },
        { "campaign a:b\n",
          "line 1: campaign: 1..32 of [A-Za-z0-9_-] expected" },
        { "pool_cents 0\n", "line 1: pool_cents: not a decimal in 1..10^15" },
        { "pool_cents 1000000000000001\n",
          "line 1: pool_cents: not a decimal in 1..10^15" },
        { "pool_cents -5\n", "line 1: pool_cents: not a decimal in 1..10^15" },
        { "pool_cents 1.5\n",
          "line 1: pool_cents: not a decimal in 1..10^15" },
        { "pool_cents 0100\n",
          "line 1: pool_cents: not a decimal in 1..10^15" },
        { "pool_cents 99999999999999999999999\n",
          "line 1: pool_cents: not a decimal in 1..10^15" },
        { "cap_cents 0\n", "line 1: cap_cents: not a decimal in 1..10^15" },
        { "split fair\n", "line 1: split: equal or random expected" },
        { "split Equal\n", "line 1: split: equal or random expected" },
        { "seed \x01x\n",
          "line 1: seed: 1..128 printable characters expected" },
        { "seed caf\xc3\xa9\n",
          "line 1: seed: 1..128 printable characters expected" },
        { "seed 123456789012345678901234567890123456789012345678901234567890"
          "1234567890123456789012345678901234567890123456789012345678901234"
          "5678901\n",
          "line 1: seed: 1..128 printable characters expected" },
        { "credit later\n",
          "line 1: credit: sync, async or async_client_sync expected" },
        { "cutoff 2027-02-30T00:00:00Z\n",
          "line 1: cutoff: unix seconds or YYYY-MM-DDTHH:MM:SSZ expected" },
        { "cutoff 2027-02-10 15:00:00\n",
          "line 1: cutoff: one value expected" },
        { "cutoff 2027-02-10T15:00:00\n",
          "line 1: cutoff: unix seconds or YYYY-MM-DDTHH:MM:SSZ expected" },
        { "cutoff 2027-02-10T15:00:00Zjunk\n",
          "line 1: cutoff: unix seconds or YYYY-MM-DDTHH:MM:SSZ expected" },
        { "cutoff 0\n",
          "line 1: cutoff: unix seconds or YYYY-MM-DDTHH:MM:SSZ expected" },
        { "cutoff 1e9\n",
          "line 1: cutoff: unix seconds or YYYY-MM-DDTHH:MM:SSZ expected" },
        { "cutoff 9999999999999\n",
          "line 1: cutoff: unix seconds or YYYY-MM-DDTHH:MM:SSZ expected" },
        { "pending_max 0\n",
          "line 1: pending_max: seconds in 1..31536000 expected" },
        { "pending_max 31536001\n",
          "line 1: pending_max: seconds in 1..31536000 expected" },
        { "wallet bank\n", "line 1: wallet: ledger or http expected" },
        { "wallet HTTP\n", "line 1: wallet: ledger or http expected" },
        { GOOD_EQUAL "wallet http\nwallet_secret_file /s\n",
          "wallet_url: required with wallet http" },
        { GOOD_EQUAL "wallet http\nwallet_url http://h:1\n",
          "wallet_secret_file: required with wallet http" },
        { GOOD_EQUAL "wallet_url http://h:1\n",
          "line 8: wallet_url: only with wallet http" },
        { GOOD_EQUAL "wallet ledger\nwallet_timeout_ms 5\n",
          "line 9: wallet_timeout_ms: only with wallet http" },
        { GOOD_EQUAL "wallet_secret_file /s\n",
          "line 8: wallet_secret_file: only with wallet http" },
        { GOOD_EQUAL "wallet_mode batch\n",
          "line 8: wallet_mode: only with wallet http" },
        { GOOD_EQUAL "wallet_batch_max 10\n",
          "line 8: wallet_batch_max: only with wallet http" },
        { GOOD_EQUAL "wallet http\nwallet_mode bulk\n",
          "line 9: wallet_mode: batch or per_credit expected" },
        { GOOD_EQUAL "wallet http\nwallet_batch_max 0\n",
          "line 9: wallet_batch_max: details in 1..1000 expected" },
        { GOOD_EQUAL "wallet http\nwallet_batch_max 1001\n",
          "line 9: wallet_batch_max: details in 1..1000 expected" },
        { GOOD_EQUAL "wallet_batch_age_ms 60000\n",
          "line 8: wallet_batch_age_ms: only with wallet http" },
        { GOOD_EQUAL "wallet http\nwallet_batch_age_ms 999\n",
          "line 9: wallet_batch_age_ms: milliseconds in 1000..604800000 "
          "expected" },
        { GOOD_EQUAL "wallet http\nwallet_batch_age_ms 604800001\n",
          "line 9: wallet_batch_age_ms: milliseconds in 1000..604800000 "
          "expected" },
        { GOOD_EQUAL "wallet http\nwallet_batch_age_ms 0\n",
          "line 9: wallet_batch_age_ms: milliseconds in 1000..604800000 "
          "expected" },
        { GOOD_EQUAL "wallet http\nwallet_batch_age_ms 10s\n",
          "line 9: wallet_batch_age_ms: milliseconds in 1000..604800000 "
          "expected" },
        { GOOD_RANDOM "wallet http\nwallet_url http://h:1\n"
          "wallet_secret_file /s\n",
          "line 8: wallet http: needs credit async or async_client_sync "
          "(a sync credit is in the draw's transaction)" },
        { GOOD_EQUAL "wallet http\nwallet_url http://w.example:8080\n"
          "wallet_secret_file /s\n", "line 9: wallet_url: https:// expected "
          "(http:// only to the loopback, with wallet_insecure_loopback yes)" },
        { GOOD_EQUAL "wallet http\nwallet_url http://127.0.0.1:8080\n"
          "wallet_secret_file /s\n", "line 9: wallet_url: https:// expected "
          "(http:// only to the loopback, with wallet_insecure_loopback yes)" },
        { GOOD_EQUAL "wallet http\nwallet_url http://10.0.3.1:8080\n"
          "wallet_secret_file /s\nwallet_insecure_loopback yes\n",
          "line 9: wallet_url: http:// only to 127.0.0.1, [::1] or localhost;"
          " https:// expected" },
        { GOOD_EQUAL "wallet http\nwallet_url http://127.0.0.1.evil.com/\n"
          "wallet_secret_file /s\nwallet_insecure_loopback yes\n",
          "line 9: wallet_url: http:// only to 127.0.0.1, [::1] or localhost;"
          " https:// expected" },
        { GOOD_EQUAL "wallet http\nwallet_url http://localhost.:1/\n"
          "wallet_secret_file /s\nwallet_insecure_loopback yes\n",
          "line 9: wallet_url: http:// only to 127.0.0.1, [::1] or localhost;"
          " https:// expected" },
        { GOOD_EQUAL "wallet http\nwallet_url http://[::2]:1\n"
          "wallet_secret_file /s\nwallet_insecure_loopback yes\n",
          "line 9: wallet_url: http:// only to 127.0.0.1, [::1] or localhost;"
          " https:// expected" },
        { GOOD_EQUAL "wallet http\nwallet_url http://[::1\n"
          "wallet_secret_file /s\nwallet_insecure_loopback yes\n",
          "line 9: wallet_url: http:// only to 127.0.0.1, [::1] or localhost;"
          " https:// expected" },
        { "wallet_url http://127.0.0.1@evil.com/\n", "line 1: wallet_url: a "
          "user, query or fragment in the host: http://HOST[:PORT][/PATH] or "
          "https://... expected" },
        { "wallet_url https://h?x=1\n", "line 1: wallet_url: a "
          "user, query or fragment in the host: http://HOST[:PORT][/PATH] or "
          "https://... expected" },
        { "wallet_insecure_loopback 1\n",
          "line 1: wallet_insecure_loopback: yes or no expected" },
        { GOOD_EQUAL "wallet_ca_file /ca.pem\n",
          "line 8: wallet_ca_file: only with wallet http" },
        { GOOD_EQUAL "wallet_answer_secret_file /a\n",
          "line 8: wallet_answer_secret_file: only with wallet http" },
        { GOOD_EQUAL "wallet_insecure_loopback no\n",
          "line 8: wallet_insecure_loopback: only with wallet http" },
        { "wallet_url ftp://h\n", "line 1: wallet_url: "
          "http://HOST[:PORT][/PATH] or https://... expected" },
        { "wallet_url http://\n", "line 1: wallet_url: "
          "http://HOST[:PORT][/PATH] or https://... expected" },
        { "wallet_url http:///x\n", "line 1: wallet_url: "
          "http://HOST[:PORT][/PATH] or https://... expected" },
        { "wallet_url http://h\x7f\n", "line 1: wallet_url: "
          "http://HOST[:PORT][/PATH] or https://... expected" },
        { "wallet_url http://a b\n", "line 1: wallet_url: one value expected" },
        { "wallet_timeout_ms 0\n",
          "line 1: wallet_timeout_ms: milliseconds in 1..600000 expected" },
        { "wallet_timeout_ms 600001\n",
          "line 1: wallet_timeout_ms: milliseconds in 1..600000 expected" },
        { "wallet_timeout_ms 5s\n",
          "line 1: wallet_timeout_ms: milliseconds in 1..600000 expected" },
        { "wallet_secret_file\n", "line 1: wallet_secret_file: no value" },
        { "currency cny\n", "line 1: currency: 3 capital letters "
          "(ISO 4217, e.g. CNY) expected" },
        { "currency CNYY\n", "line 1: currency: 3 capital letters "
          "(ISO 4217, e.g. CNY) expected" },
        { "currency C1Y\n", "line 1: currency: 3 capital letters "
          "(ISO 4217, e.g. CNY) expected" },
        { "# only\n\n   \n\tsplit\tequal extra\n",
          "line 4: split: one value expected" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(err, 0, sizeof(err));
        memset(&c, 0x5a, sizeof(c));
        ck_assert_msg(parse(cases[i].text, &c, err) == -1,
                      "case %zu accepted", i);
        ck_assert_msg(strcmp(err, cases[i].err) == 0,
                      "case %zu: \"%s\", want \"%s\"", i, err, cases[i].err);
        ck_assert_msg(c.id[0] == 0x5a, "case %zu wrote the result", i);
    }
}
END_TEST


START_TEST(test_bad_sizes)
{
    char           err[256], *big;
    size_t         n;
    cc_campaign_t  c;

    /* a line of 2049 bytes */
    big = malloc(70000);
    ck_assert_ptr_nonnull(big);
    memset(big, '#', 2049);
    ck_assert_int_eq(cc_campaign_parse(big, 2049, &c, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "line 1: longer than 2048 bytes");

    /* a file of 65537 bytes, though every line is a comment */
    for (n = 0; n < 65537; n++) {
        big[n] = n % 64 == 63 ? '\n' : '#';
    }

    ck_assert_int_eq(cc_campaign_parse(big, 65537, &c, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "longer than 65536 bytes");
    ck_assert_int_eq(cc_campaign_parse(big, 65536, &c, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "campaign: missing");           /* size passes */

    ck_assert_int_eq(cc_campaign_parse("campaign x\0y", 12, &c, err,
                                       sizeof(err)), -1);
    ck_assert_str_eq(err, "a NUL byte in the text");

    /* an alert command over 1024 bytes */
    memcpy(big, "alert ", 6);
    memset(big + 6, 'a', 1025);
    ck_assert_int_eq(cc_campaign_parse(big, 6 + 1025, &c, err, sizeof(err)),
                     -1);
    ck_assert_str_eq(err, "line 1: alert: longer than 1024 bytes");

    /* a short err buffer is cut, never overrun */
    memset(err, 'z', sizeof(err));
    ck_assert_int_eq(cc_campaign_parse("split x", 7, &c, err, 8), -1);
    ck_assert_str_eq(err, "line 1:");
    ck_assert_int_eq(err[8], 'z');
    ck_assert_int_eq(cc_campaign_parse("split x", 7, &c, NULL, 0), -1);

    free(big);
}
END_TEST


START_TEST(test_load)
{
    int            fd;
    char           path[] = "/tmp/cc-campaign-XXXXXX", err[512], want[600];
    char          *big;
    cc_campaign_t  c;

    fd = mkstemp(path);
    ck_assert_int_ne(fd, -1);
    ck_assert_int_eq(write(fd, GOOD_RANDOM, strlen(GOOD_RANDOM)),
                     (ssize_t) strlen(GOOD_RANDOM));
    ck_assert_int_eq(cc_campaign_load(path, &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.cap_cents, 20);

    /* the parser's reason, with the file's name in front */
    ck_assert_int_eq(write(fd, "wallet x\n", 9), 9);
    ck_assert_int_eq(cc_campaign_load(path, &c, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: line 8: wallet: ledger or http expected",
             path);
    ck_assert_str_eq(err, want);

    /* more than 64 KiB */
    big = calloc(1, 70000);
    ck_assert_ptr_nonnull(big);
    memset(big, '\n', 70000);
    ck_assert_int_eq(ftruncate(fd, 0), 0);
    ck_assert_int_eq(pwrite(fd, big, 70000, 0), 70000);
    ck_assert_int_eq(cc_campaign_load(path, &c, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: longer than 65536 bytes", path);
    ck_assert_str_eq(err, want);
    free(big);

    close(fd);
    unlink(path);

    ck_assert_int_eq(cc_campaign_load(path, &c, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    ck_assert_str_eq(err, want);

    ck_assert_int_eq(cc_campaign_load("/", &c, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "/: Is a directory");
}
END_TEST


static Suite *
campaign_suite(void)
{
    Suite  *s;

    s = suite_create("campaign");
    cc_check_tcase(s, "parse", test_good_equal, test_good_random_and_optional,
                   test_good_wallet_http, test_bad, test_bad_sizes, test_load);

    return s;
}


CC_CHECK_MAIN(campaign_suite)
