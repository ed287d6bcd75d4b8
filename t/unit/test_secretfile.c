/*
 * Unit tests of common/cc_secretfile.c, the one reader of a secret file
 * (cc_redis_auth, cc_identity token, the workers): what it takes, what it
 * refuses (never truncates), and that a FIFO is refused, not waited on.
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cc_secretfile.h"
#include "cc_check.h"


static char  dir[] = "/tmp/cc-secretfile-XXXXXX";


/* a file of n bytes of text, mode mode: its path */
static const char *
put(const char *name, const char *text, size_t n, mode_t mode)
{
    static char  path[4][256];
    static int   i;
    char        *p;
    FILE        *f;

    p = path[i++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, n, f), n);
    fclose(f);
    ck_assert_int_eq(chmod(p, mode), 0);

    return p;
}


#define PUT(name, text, mode)  put(name, text, sizeof(text) - 1, mode)


START_TEST(test_secretfile_taken)
{
    char             buf[8];
    cc_secretfile_t  sf;

    /* one "\n" or "\r\n" dropped, no more; the rest byte for byte */
    ck_assert_int_eq(cc_secretfile_read(PUT("a", "pw\n", 0600), buf,
                                        sizeof(buf), &sf), CC_SECRETFILE_OK);
    ck_assert_str_eq(buf, "pw");
    ck_assert_uint_eq(sf.len, 2);

    ck_assert_int_eq(cc_secretfile_read(PUT("b", "pw\r\n", 0400), buf,
                                        sizeof(buf), &sf), CC_SECRETFILE_OK);
    ck_assert_str_eq(buf, "pw");

    ck_assert_int_eq(cc_secretfile_read(PUT("c", " p\r\n\n", 0600), buf,
                                        sizeof(buf), &sf), CC_SECRETFILE_OK);
    ck_assert_str_eq(buf, " p\r\n");

    /* a lone "\r" is part of the secret */
    ck_assert_int_eq(cc_secretfile_read(PUT("d", "pw\r", 0600), buf,
                                        sizeof(buf), &sf), CC_SECRETFILE_OK);
    ck_assert_str_eq(buf, "pw\r");

    /* cap - 1 bytes: the most that fits */
    ck_assert_int_eq(cc_secretfile_read(PUT("e", "1234567", 0600), buf,
                                        sizeof(buf), &sf), CC_SECRETFILE_OK);
    ck_assert_str_eq(buf, "1234567");
}
END_TEST


START_TEST(test_secretfile_refused)
{
    char             buf[8], path[256];
    cc_secretfile_t  sf;

    /* cap bytes or more: refused, never truncated, buf wiped */
    ck_assert_int_eq(cc_secretfile_read(PUT("f", "12345678", 0600), buf,
                                        sizeof(buf), &sf),
                     CC_SECRETFILE_TOO_LONG);
    ck_assert_mem_eq(buf, "\0\0\0\0\0\0\0\0", sizeof(buf));

    ck_assert_int_eq(cc_secretfile_read(PUT("g", "1234567\n", 0600), buf,
                                        sizeof(buf), &sf),
                     CC_SECRETFILE_TOO_LONG);

    ck_assert_int_eq(cc_secretfile_read(PUT("h", "p\0w", 0600), buf,
                                        sizeof(buf), &sf), CC_SECRETFILE_NUL);
    ck_assert_int_eq(cc_secretfile_read(PUT("i", "\n", 0600), buf,
                                        sizeof(buf), &sf),
                     CC_SECRETFILE_EMPTY);
    ck_assert_int_eq(cc_secretfile_read(PUT("j", "", 0600), buf,
                                        sizeof(buf), &sf),
                     CC_SECRETFILE_EMPTY);

    ck_assert_int_eq(cc_secretfile_read(PUT("k", "pw", 0640), buf,
                                        sizeof(buf), &sf), CC_SECRETFILE_MODE);
    ck_assert_uint_eq(sf.mode, 0640);
    ck_assert_int_eq(cc_secretfile_read(PUT("l", "pw", 0602), buf,
                                        sizeof(buf), &sf), CC_SECRETFILE_MODE);

    ck_assert_int_eq(cc_secretfile_read(dir, buf, sizeof(buf), &sf),
                     CC_SECRETFILE_NOT_REGULAR);

    /* a FIFO nobody writes: refused at once (alarm: a hang fails) */
    snprintf(path, sizeof(path), "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    alarm(5);
    ck_assert_int_eq(cc_secretfile_read(path, buf, sizeof(buf), &sf),
                     CC_SECRETFILE_NOT_REGULAR);
    alarm(0);

    snprintf(path, sizeof(path), "%s/none", dir);
    ck_assert_int_eq(cc_secretfile_read(path, buf, sizeof(buf), &sf),
                     CC_SECRETFILE_OPEN);
    ck_assert_int_eq(sf.errnum, ENOENT);

    ck_assert_str_eq(cc_secretfile_strerror(CC_SECRETFILE_NUL),
                     "holds a NUL byte");
}
END_TEST


int
main(void)
{
    int     rc;
    char    cmd[64];
    Suite  *s;

    if (mkdtemp(dir) == NULL) {
        perror("test_secretfile: mkdtemp");
        return EXIT_FAILURE;
    }

    s = suite_create("secretfile");
    cc_check_tcase(s, "secretfile", test_secretfile_taken,
                   test_secretfile_refused);

    rc = cc_check_run_fork(s, CK_NOFORK);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);    /* ours only */
    if (system(cmd) != 0) {
        fprintf(stderr, "test_secretfile: could not remove %s\n", dir);
    }

    return rc;
}
