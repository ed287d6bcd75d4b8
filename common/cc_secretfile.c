/*
 * cc_secretfile: see cc_secretfile.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cc_secretfile.h"


/* memset that the compiler may not drop: the buffer held a secret */
static void
cc_secretfile_wipe(char *buf, size_t n)
{
    volatile char  *p = buf;

    while (n--) {
        *p++ = '\0';
    }
}


cc_secretfile_rc_e
cc_secretfile_read(const char *path, char *buf, size_t cap,
    cc_secretfile_t *sf)
{
    int                 fd;
    size_t              n;
    ssize_t             r;
    struct stat         sb;
    cc_secretfile_rc_e  rc;

    sf->len = 0;
    sf->mode = 0;
    sf->errnum = 0;

    /* O_NONBLOCK: a FIFO opens at once (and is refused below) */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd == -1) {
        sf->errnum = errno;
        return CC_SECRETFILE_OPEN;
    }

    /* the file opened, not a name that may have changed since */
    if (fstat(fd, &sb) != 0) {
        sf->errnum = errno;
        rc = CC_SECRETFILE_READ;
        goto failed;
    }

    sf->mode = (unsigned int) (sb.st_mode & 07777);

    if (!S_ISREG(sb.st_mode)) {
        rc = CC_SECRETFILE_NOT_REGULAR;
        goto failed;
    }

    if (sb.st_mode & 077) {
        rc = CC_SECRETFILE_MODE;
        goto failed;
    }

    /* up to cap bytes: cap of them means the file is too long */
    n = 0;
    while (n < cap && (r = read(fd, buf + n, cap - n)) != 0) {
        if (r == -1) {
            if (errno == EINTR) {
                continue;
            }
            sf->errnum = errno;
            rc = CC_SECRETFILE_READ;
            goto failed;
        }
        n += (size_t) r;
    }

    if (n == cap) {
        rc = CC_SECRETFILE_TOO_LONG;
        goto failed;
    }

    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r') {
            n--;
        }
    }

    if (n == 0) {
        rc = CC_SECRETFILE_EMPTY;
        goto failed;
    }

    if (memchr(buf, '\0', n) != NULL) {
        rc = CC_SECRETFILE_NUL;
        goto failed;
    }

    buf[n] = '\0';
    sf->len = n;

    close(fd);
    return CC_SECRETFILE_OK;

failed:

    cc_secretfile_wipe(buf, cap);
    close(fd);

    return rc;
}


const char *
cc_secretfile_strerror(cc_secretfile_rc_e rc)
{
    switch (rc) {
    case CC_SECRETFILE_OK:          return "ok";
    case CC_SECRETFILE_OPEN:        return "cannot open it";
    case CC_SECRETFILE_NOT_REGULAR: return "not a regular file";
    case CC_SECRETFILE_MODE:        return "group or others have access";
    case CC_SECRETFILE_READ:        return "cannot read it";
    case CC_SECRETFILE_TOO_LONG:    return "too long";
    case CC_SECRETFILE_EMPTY:       return "empty";
    case CC_SECRETFILE_NUL:         return "holds a NUL byte";
    }

    return "unknown";
}
