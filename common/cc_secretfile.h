/*
 * cc_secretfile: the one reader of a secret file, for nginx (cc_redis_auth,
 * cc_identity token, read by the master) and the workers (cc_secret.c).
 * Plain C, no allocation: the secret goes into the caller's buffer only.
 *
 * The file is opened without blocking, so a FIFO or a device is refused,
 * never waited on (nginx -t would hang in open() or read()).  Refused: not
 * a regular file, any of mode 077 set (a secret others may read is none),
 * cap bytes or more (never truncated), empty once one trailing "\n" or
 * "\r\n" is dropped, a NUL byte.  Each caller words its own messages from
 * the code and the details.
 */

#ifndef CC_SECRETFILE_H
#define CC_SECRETFILE_H

#include <stddef.h>

typedef enum {
    CC_SECRETFILE_OK = 0,
    CC_SECRETFILE_OPEN,             /* open() failed: errnum */
    CC_SECRETFILE_NOT_REGULAR,
    CC_SECRETFILE_MODE,             /* group or others have access: mode */
    CC_SECRETFILE_READ,             /* read() or fstat() failed: errnum */
    CC_SECRETFILE_TOO_LONG,         /* cap bytes or more */
    CC_SECRETFILE_EMPTY,
    CC_SECRETFILE_NUL               /* a NUL byte in the secret */
} cc_secretfile_rc_e;

typedef struct {
    size_t        len;              /* the secret's bytes, on success */
    unsigned int  mode;             /* the file's mode & 07777 */
    int           errnum;           /* errno of OPEN and READ */
} cc_secretfile_t;

/*
 * Reads path into buf (cap bytes, cap >= 1): CC_SECRETFILE_OK with the
 * secret in buf, NUL-terminated, its length in sf->len; or another code
 * with buf wiped.
 */
cc_secretfile_rc_e cc_secretfile_read(const char *path, char *buf,
    size_t cap, cc_secretfile_t *sf);

/* a reason without the path: "not a regular file", "empty", ... */
const char *cc_secretfile_strerror(cc_secretfile_rc_e rc);

#endif /* CC_SECRETFILE_H */
