/*
 * Unit tests of workers/lib/cc_promfile.c: the text it builds (one HELP/TYPE
 * per metric, escaping, values) and its two failures: a text that did not
 * fit, and a file that cannot be written.  (t/045 runs promtool on real
 * workers' files.)
 */

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc_promfile.h"
#include "cc_check.h"


static char *
slurp(const char *path)
{
    FILE   *f;
    char   *buf;
    size_t  n;

    f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }

    buf = calloc(1, CC_PROMFILE_MAX + 1);
    n = fread(buf, 1, CC_PROMFILE_MAX, f);
    buf[n] = '\0';
    fclose(f);

    return buf;
}


START_TEST(test_text)
{
    cc_promfile_t  pf;

    cc_promfile_begin(&pf);
    cc_promfile_add(&pf, "cc_x_rows_total", "counter", "Rows\\read\nhere",
                    12345678901.0);
    cc_promfile_add(&pf, "cc_x_breaks{class=\"a\"}", "gauge", "Breaks", 1);
    cc_promfile_add(&pf, "cc_x_breaks{class=\"b\"}", "gauge", "Breaks", 0);
    cc_promfile_add(&pf, "cc_x_rate", "gauge", "Rate", 0.25);
    cc_promfile_add(&pf, "cc_x_nan", "gauge", "N", NAN);
    cc_promfile_add(&pf, "cc_x_inf", "gauge", "I", -INFINITY);

    ck_assert_int_eq(pf.overflow, 0);
    ck_assert_str_eq(pf.text,
        "# HELP cc_x_rows_total Rows\\\\read\\nhere\n"
        "# TYPE cc_x_rows_total counter\n"
        "cc_x_rows_total 12345678901\n"
        "# HELP cc_x_breaks Breaks\n"
        "# TYPE cc_x_breaks gauge\n"
        "cc_x_breaks{class=\"a\"} 1\n"
        "cc_x_breaks{class=\"b\"} 0\n"
        "# HELP cc_x_rate Rate\n"
        "# TYPE cc_x_rate gauge\n"
        "cc_x_rate 0.25\n"
        "# HELP cc_x_nan N\n"
        "# TYPE cc_x_nan gauge\n"
        "cc_x_nan NaN\n"
        "# HELP cc_x_inf I\n"
        "# TYPE cc_x_inf gauge\n"
        "cc_x_inf -Inf\n");
}
END_TEST


START_TEST(test_commit)
{
    char           dir[] = "/tmp/cc-promfile-XXXXXX", path[256], tmp[300];
    char          *got;
    cc_promfile_t  pf;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/x.prom", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);

    cc_promfile_begin(&pf);
    ck_assert_int_eq(cc_promfile_commit(&pf, NULL), 0);   /* no file: ok */
    cc_promfile_add(&pf, "cc_x_a", "gauge", "A", 1);
    ck_assert_int_eq(cc_promfile_commit(&pf, path), 0);

    got = slurp(path);
    ck_assert_str_eq(got, pf.text);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    free(got);

    /* a second commit replaces the file */
    cc_promfile_begin(&pf);
    cc_promfile_add(&pf, "cc_x_b", "gauge", "B", 2);
    ck_assert_int_eq(cc_promfile_commit(&pf, path), 0);
    got = slurp(path);
    ck_assert_str_eq(got, "# HELP cc_x_b B\n# TYPE cc_x_b gauge\ncc_x_b 2\n");
    free(got);

    unlink(path);
    rmdir(dir);
}
END_TEST


START_TEST(test_unwritable)
{
    cc_promfile_t  pf;

    cc_promfile_begin(&pf);
    cc_promfile_add(&pf, "cc_x_a", "gauge", "A", 1);

    errno = 0;
    ck_assert_int_eq(cc_promfile_commit(&pf, "/nonexistent-dir/x.prom"), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST


START_TEST(test_overflow)
{
    int            i;
    char           dir[] = "/tmp/cc-promfile-XXXXXX", path[256];
    char           name[64];
    cc_promfile_t  pf;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/x.prom", dir);

    cc_promfile_begin(&pf);
    for (i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "cc_x_metric_%d", i);
        cc_promfile_add(&pf, name, "gauge", "A metric with some help text",
                        i);
    }

    ck_assert_int_eq(pf.overflow, 1);
    ck_assert_uint_lt(pf.len, CC_PROMFILE_MAX);

    errno = 0;
    ck_assert_int_eq(cc_promfile_commit(&pf, path), -1);
    ck_assert_int_eq(errno, ENOBUFS);
    ck_assert_int_eq(access(path, F_OK), -1);          /* nothing cut */

    rmdir(dir);
}
END_TEST


int
main(void)
{
    Suite  *s;

    s = suite_create("promfile");
    cc_check_tcase(s, "promfile", test_text, test_commit, test_unwritable,
                   test_overflow);

    return cc_check_run(s);
}
