/*
 * Unit tests of workers/lib/cc_alert.c: the alert command gets its JSON on
 * stdin and a cleared environment, never the worker's secrets.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc_alert.h"
#include "cc_worker.h"
#include "cc_check.h"


static char *
slurp(const char *path)
{
    static char  buf[65536];
    size_t       n;
    FILE        *f;

    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);

    return buf;
}


START_TEST(test_alert_env_cleared)
{
    char   dir[] = "/tmp/cc-alert-XXXXXX", cmd[512], path[128], *env;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/env", dir);
    snprintf(cmd, sizeof(cmd), "cat > %s.json; env > %s", path, path);

    setenv("CC_MYSQL_PASSWORD", "hunter2-secret", 1);
    setenv("CC_REDIS_PASSWORD", "redis-secret", 1);
    setenv("CREDENTIALS_DIRECTORY", "/run/credentials/cc-books.service", 1);

    ck_assert_int_eq(cc_alert_run(cmd, "{\"breaks\":[]}", 10), 0);

    env = slurp(path);
    ck_assert_ptr_null(strstr(env, "secret"));
    ck_assert_ptr_null(strstr(env, "CC_MYSQL_PASSWORD"));
    ck_assert_ptr_null(strstr(env, "CREDENTIALS_DIRECTORY"));
    ck_assert_ptr_nonnull(strstr(env, "PATH=/usr/bin:/bin\n"));

    /* the JSON still came on stdin */
    snprintf(cmd, sizeof(cmd), "%s.json", path);
    ck_assert_str_eq(slurp(cmd), "{\"breaks\":[]}");

    unlink(cmd);
    unlink(path);
    rmdir(dir);
}
END_TEST


int
main(void)
{
    Suite  *s;

    cc_worker_init("test_alert");

    s = suite_create("alert");
    cc_check_tcase(s, "alert", test_alert_env_cleared);

    return cc_check_run(s);
}
