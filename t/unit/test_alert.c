/*
 * Unit tests of workers/lib/cc_alert.c: the alert command gets its JSON on
 * stdin and a cleared environment, never the worker's secrets, and only
 * stdin, stdout and stderr of the worker's descriptors (its Redis and
 * MySQL sockets are logged in as the worker).
 */

#include <check.h>
#include <fcntl.h>
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


/*
 * The command lists its own descriptors while the worker holds two more
 * (not close-on-exec, as hiredis's and MySQL's sockets are): 0, 1, 2, and
 * the one ls opens to read /proc/self/fd (3, the lowest free), nothing
 * else.
 */
START_TEST(test_alert_fds_closed)
{
    int    held, high, i, seen[4] = { 0 };
    char   dir[] = "/tmp/cc-alert-XXXXXX", cmd[512], path[128], *p, *end;
    long   fd;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/fds", dir);
    snprintf(cmd, sizeof(cmd), "ls /proc/self/fd > %s", path);

    held = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(held, 3);
    high = dup2(held, 200);
    ck_assert_int_eq(high, 200);

    ck_assert_int_eq(cc_alert_run(cmd, "{\"breaks\":[]}", 10), 0);

    for (p = slurp(path); *p != '\0'; p = end) {
        fd = strtol(p, &end, 10);
        ck_assert_msg(end != p && *end == '\n', "not a descriptor: %s", p);
        ck_assert_msg(fd >= 0 && fd <= 3, "the command got descriptor %ld", fd);
        seen[fd] = 1;
        end++;
    }

    for (i = 0; i < 4; i++) {
        ck_assert_msg(seen[i], "descriptor %d not listed", i);
    }

    close(held);
    close(high);
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
    cc_check_tcase(s, "alert", test_alert_env_cleared, test_alert_fds_closed);

    return cc_check_run(s);
}
