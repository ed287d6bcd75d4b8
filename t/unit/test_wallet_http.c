/*
 * Unit tests of workers/money/cc_wallet_http.c: a batch whose calls fail
 * in libcurl leaves nothing of itself in the wallet.  The file is
 * included, so its static cc_wallet_http_calls runs as cc-payout runs it
 * (the archive's copy of it is then never linked).
 *
 * A wallet on a loopback port that listens and never answers: the first
 * job's call is in flight when the second cannot be started (a body too
 * long for its slot, the one failure a test reaches without reaching into
 * libcurl).  The batch returns -1 and cc_wallet_http_credit frees its
 * jobs; the wallet serves the next batch.  A call left on the multi handle
 * with its slot's job set would answer into the freed jobs there.
 */

#include "cc_wallet_http.c"

#include <arpa/inet.h>
#include <fcntl.h>
#include <check.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cc_check.h"


static int  lfd = -1;
static char dir[] = "/tmp/cc-wallet-http-XXXXXX";


static cc_wallet_http_t *
wallet_on_silent_port(void)
{
    int                  fd;
    char                 err[256];
    socklen_t            alen;
    cc_campaign_t        camp;
    cc_wallet_http_t    *w;
    struct sockaddr_in   a;

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(lfd, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *) &a, sizeof(a)), 0);
    ck_assert_int_eq(listen(lfd, 16), 0);
    alen = sizeof(a);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *) &a, &alen), 0);

    ck_assert_ptr_nonnull(mkdtemp(dir));
    memset(&camp, 0, sizeof(camp));
    snprintf(camp.id, sizeof(camp.id), "t");
    snprintf(camp.wallet_url, sizeof(camp.wallet_url),
             "http://127.0.0.1:%u", (unsigned) ntohs(a.sin_port));
    snprintf(camp.wallet_secret_file, sizeof(camp.wallet_secret_file),
             "%s/secret", dir);
    snprintf(camp.currency, sizeof(camp.currency), "CNY");
    camp.wallet_timeout_ms = 60000;
    camp.wallet_insecure_loopback = 1;

    fd = open(camp.wallet_secret_file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "0123456789abcdef0123456789abcdef", 32), 32);
    close(fd);

    w = cc_wallet_http_open(&camp, err, sizeof(err));
    unlink(camp.wallet_secret_file);    /* read: no longer needed */
    rmdir(dir);
    ck_assert_msg(w != NULL, "cc_wallet_http_open: %s", err);

    return w;
}


START_TEST(test_failed_batch_leaves_no_call)
{
    int                    running;
    char                   err[256], long_id[300];
    size_t                 i;
    cc_wallet_http_t      *w;
    cc_ledger_credit_t     c[2];
    cc_wallet_http_job_t  *jobs;

    w = wallet_on_silent_port();
    cc_worker_run = 1;

    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';

    memset(c, 0, sizeof(c));
    c[0].award_id = "t:1";
    c[0].uid = 1;
    c[0].amount_cents = 100;
    c[1].award_id = long_id;
    c[1].uid = 2;
    c[1].amount_cents = 200;

    jobs = calloc(2, sizeof(cc_wallet_http_job_t));
    ck_assert_ptr_nonnull(jobs);
    jobs[0].i = 0;
    jobs[1].i = 1;

    ck_assert_int_eq(cc_wallet_http_calls(w, c, jobs, 2, err, sizeof(err)),
                     -1);
    ck_assert_str_eq(err, "libcurl: cannot start a call");
    ck_assert_int_eq(jobs[0].state, CC_WALLET_HTTP_RUNNING);  /* was sent */

    for (i = 0; i < CC_WALLET_HTTP_INFLIGHT; i++) {
        ck_assert_msg(w->slot[i].job == NULL,
                      "slot %zu still holds a job of the failed batch", i);
    }

    ck_assert_int_eq(curl_multi_perform(w->multi, &running), CURLM_OK);
    ck_assert_int_eq(running, 0);

    free(jobs);     /* as cc_wallet_http_credit does */
    cc_wallet_http_close(w);
    close(lfd);
}
END_TEST


static Suite *
wallet_http_suite(void)
{
    Suite  *s;

    s = suite_create("wallet_http");
    cc_check_tcase(s, "failure", test_failed_batch_leaves_no_call);

    return s;
}


CC_CHECK_MAIN(wallet_http_suite)
