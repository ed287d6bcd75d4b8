/*
 * cc_promfile: a worker's figures as a Prometheus textfile (see the
 * header).  The text is built in the struct, so a figure added after an
 * overflow is dropped and the commit refuses to write a cut file.
 */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cc_promfile.h"


static void
cc_promfile_printf(cc_promfile_t *pf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));


void
cc_promfile_begin(cc_promfile_t *pf)
{
    pf->len = 0;
    pf->overflow = 0;
    pf->text[0] = '\0';
    pf->last[0] = '\0';
}


static void
cc_promfile_printf(cc_promfile_t *pf, const char *fmt, ...)
{
    int      n;
    size_t   room;
    va_list  ap;

    if (pf->overflow) {
        return;
    }

    room = sizeof(pf->text) - pf->len;

    va_start(ap, fmt);
    n = vsnprintf(pf->text + pf->len, room, fmt, ap);
    va_end(ap);

    if (n < 0 || (size_t) n >= room) {
        pf->overflow = 1;
        pf->text[pf->len] = '\0';
        return;
    }

    pf->len += (size_t) n;
}


/*
 * The exposition format's HELP text escapes only backslash and newline;
 * a sample's value is a Go float: NaN, +Inf, -Inf, or a decimal (whole
 * numbers are written without a fraction, so counters read as counts).
 */
void
cc_promfile_add(cc_promfile_t *pf, const char *name, const char *type,
    const char *help, double value)
{
    size_t       blen;
    const char  *p, *brace;

    brace = strchr(name, '{');
    blen = brace ? (size_t) (brace - name) : strlen(name);

    if (blen == 0 || blen >= sizeof(pf->last)) {
        pf->overflow = 1;
        return;
    }

    if (strncmp(pf->last, name, blen) != 0 || pf->last[blen] != '\0') {
        cc_promfile_printf(pf, "# HELP %.*s ", (int) blen, name);

        for (p = help; *p; p++) {
            if (*p == '\\') {
                cc_promfile_printf(pf, "\\\\");

            } else if (*p == '\n') {
                cc_promfile_printf(pf, "\\n");

            } else {
                cc_promfile_printf(pf, "%c", *p);
            }
        }

        cc_promfile_printf(pf, "\n# TYPE %.*s %s\n", (int) blen, name,
                           type);

        memcpy(pf->last, name, blen);
        pf->last[blen] = '\0';
    }

    if (isnan(value)) {
        cc_promfile_printf(pf, "%s NaN\n", name);

    } else if (isinf(value)) {
        cc_promfile_printf(pf, "%s %cInf\n", name, value > 0 ? '+' : '-');

    } else if (value == floor(value) && fabs(value) < 1e17) {
        cc_promfile_printf(pf, "%s %.0f\n", name, value);

    } else {
        cc_promfile_printf(pf, "%s %.17g\n", name, value);
    }
}


int
cc_promfile_commit(cc_promfile_t *pf, const char *path)
{
    int          fd, saved;
    char         tmp[4096];
    size_t       off;
    ssize_t      n;

    if (path == NULL) {
        return 0;
    }

    if (pf->overflow) {
        errno = ENOBUFS;
        return -1;
    }

    if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        return -1;
    }

    for (off = 0; off < pf->len; off += (size_t) n) {
        n = write(fd, pf->text + off, pf->len - off);
        if (n == -1) {
            if (errno == EINTR) {
                n = 0;
                continue;
            }
            goto failed;
        }
    }

    if (close(fd) != 0) {
        fd = -1;
        goto failed;
    }

    fd = -1;

    if (rename(tmp, path) != 0) {
        goto failed;
    }

    return 0;

failed:

    saved = errno;
    if (fd != -1) {
        close(fd);
    }
    unlink(tmp);
    errno = saved;
    return -1;
}
