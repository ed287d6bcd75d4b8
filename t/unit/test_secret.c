/*
 * Unit tests of workers/lib/cc_secret.c: a secret file's checks and
 * trimming, and where each secret comes from, in order: the option's
 * file, $CREDENTIALS_DIRECTORY, the environment.
 */

#include <check.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cc_secret.h"
#include "cc_worker.h"
#include "cc_check.h"


static char  dir[] = "/tmp/cc-secret-XXXXXX";


static const char *
put(const char *name, const char *text, mode_t mode)
{
    static char  path[4][256];
    static int   n;
    char        *p;
    FILE        *f;

    p = path[n++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(p, mode), 0);

    return p;
}


START_TEST(test_secret_read)
{
    char  buf[16], err[512];

    ck_assert_int_eq(cc_secret_read(put("a", "pw\n", 0600), buf, sizeof(buf),
                                    err, sizeof(err)), 0);
    ck_assert_str_eq(buf, "pw");
    ck_assert_int_eq(cc_secret_read(put("b", "pw\r\n", 0400), buf,
                                    sizeof(buf), err, sizeof(err)), 0);
    ck_assert_str_eq(buf, "pw");
    ck_assert_int_eq(cc_secret_read(put("c", " p w \n\n", 0600), buf,
                                    sizeof(buf), err, sizeof(err)), 0);
    ck_assert_str_eq(buf, " p w \n");

    ck_assert_int_eq(cc_secret_read(put("d", "pw", 0640), buf, sizeof(buf),
                                    err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "group or others have access "
                                      "(mode 0640)"));
    ck_assert_int_eq(cc_secret_read(put("e", "pw", 0602), buf, sizeof(buf),
                                    err, sizeof(err)), -1);
    ck_assert_int_eq(cc_secret_read(put("f", "\n", 0600), buf, sizeof(buf),
                                    err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, ": empty"));
    ck_assert_int_eq(cc_secret_read(put("g", "0123456789abcdef", 0600), buf,
                                    sizeof(buf), err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "longer than 15 bytes"));
    ck_assert_int_eq(cc_secret_read(dir, buf, sizeof(buf), err, sizeof(err)),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
}
END_TEST


START_TEST(test_secret_order)
{
    char  cred[300];

    snprintf(cred, sizeof(cred), "%s/cred", dir);
    mkdir(cred, 0700);
    put("cred/cc-mysql-password", "from-cred\n", 0400);

    /* the environment, the fallback */
    cc_secret_reset();
    unsetenv("CREDENTIALS_DIRECTORY");
    setenv("CC_MYSQL_PASSWORD", "from-env", 1);
    unsetenv("CC_REDIS_PASSWORD");
    unsetenv("CC_REDIS_USER");
    ck_assert_int_eq(cc_secret_load(), 0);
    ck_assert_str_eq(cc_secret_mysql_password(), "from-env");
    ck_assert_ptr_null(cc_secret_redis_password());
    ck_assert_ptr_null(cc_secret_redis_user());

    /* the credential before it */
    setenv("CREDENTIALS_DIRECTORY", cred, 1);
    ck_assert_int_eq(cc_secret_load(), 0);
    ck_assert_str_eq(cc_secret_mysql_password(), "from-cred");

    /* the option before both */
    ck_assert_int_eq(cc_secret_opt(CC_SECRET_OPT_MYSQL_FILE,
                                   put("opt", "from-opt", 0600)), 1);
    ck_assert_int_eq(cc_secret_load(), 0);
    ck_assert_str_eq(cc_secret_mysql_password(), "from-opt");

    /* Redis: the user from the environment, a password required */
    cc_secret_reset();
    setenv("CC_REDIS_USER", "cc", 1);
    ck_assert_int_eq(cc_secret_load(), -1);
    setenv("CC_REDIS_PASSWORD", "r", 1);
    ck_assert_int_eq(cc_secret_load(), 0);
    ck_assert_str_eq(cc_secret_redis_user(), "cc");
    ck_assert_str_eq(cc_secret_redis_password(), "r");
    ck_assert_int_eq(cc_secret_opt(CC_SECRET_OPT_REDIS_USER, "other"), 1);
    ck_assert_int_eq(cc_secret_load(), 0);
    ck_assert_str_eq(cc_secret_redis_user(), "other");
    ck_assert_int_eq(cc_secret_opt('u', "x"), 0);

    /* a worker without Redis: the user from the environment, and no
     * password for it, is not its concern */
    cc_secret_reset();
    unsetenv("CC_REDIS_PASSWORD");
    unsetenv("CREDENTIALS_DIRECTORY");
    setenv("CC_MYSQL_PASSWORD", "m", 1);
    ck_assert_int_eq(cc_secret_load(), -1);
    ck_assert_int_eq(cc_secret_load_mysql(), 0);
    ck_assert_str_eq(cc_secret_mysql_password(), "m");
    ck_assert_ptr_null(cc_secret_redis_password());

    cc_secret_reset();
    unsetenv("CC_REDIS_USER");
    unsetenv("CC_REDIS_PASSWORD");
    unsetenv("CC_MYSQL_PASSWORD");
    unsetenv("CREDENTIALS_DIRECTORY");
}
END_TEST


int
main(void)
{
    int     rc;
    char    cmd[64];
    Suite  *s;

    cc_worker_init("test_secret");
    if (mkdtemp(dir) == NULL) {
        perror("test_secret: mkdtemp");
        return EXIT_FAILURE;
    }

    s = suite_create("secret");
    cc_check_tcase(s, "secret", test_secret_read, test_secret_order);

    rc = cc_check_run_fork(s, CK_NOFORK);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);    /* ours only */
    if (system(cmd) != 0) {
        fprintf(stderr, "test_secret: could not remove %s\n", dir);
    }

    return rc;
}
