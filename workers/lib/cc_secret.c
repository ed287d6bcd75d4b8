/*
 * cc_secret: see cc_secret.h.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cc_secret.h"
#include "cc_secretfile.h"
#include "cc_worker.h"


typedef struct {
    const char  *option;            /* the option's file, or NULL */
    const char  *credential;        /* its name in $CREDENTIALS_DIRECTORY */
    const char  *env;               /* the fallback variable */
    char        *value;             /* owned, NULL: none */
} cc_secret_t;


static cc_secret_t   cc_secret_mysql = {
    NULL, "cc-mysql-password", "CC_MYSQL_PASSWORD", NULL
};
static cc_secret_t   cc_secret_redis = {
    NULL, "cc-redis-password", "CC_REDIS_PASSWORD", NULL
};
static const char   *cc_secret_redis_name;


int
cc_secret_opt(int c, const char *arg)
{
    switch (c) {
    case CC_SECRET_OPT_MYSQL_FILE: cc_secret_mysql.option = arg; return 1;
    case CC_SECRET_OPT_REDIS_FILE: cc_secret_redis.option = arg; return 1;
    case CC_SECRET_OPT_REDIS_USER: cc_secret_redis_name = arg; return 1;
    default: return 0;
    }
}


/* the common reader (common/cc_secretfile.c), in the workers' words */
int
cc_secret_read(const char *path, char *buf, size_t len, char *err,
    size_t errlen)
{
    cc_secretfile_t     sf;
    cc_secretfile_rc_e  rc;

    rc = cc_secretfile_read(path, buf, len, &sf);

    switch (rc) {
    case CC_SECRETFILE_OK:
        return 0;
    case CC_SECRETFILE_OPEN:
    case CC_SECRETFILE_READ:
        snprintf(err, errlen, "%s: %s", path, strerror(sf.errnum));
        break;
    case CC_SECRETFILE_MODE:
        snprintf(err, errlen, "%s: group or others have access (mode %04o); "
                 "a secret must be chmod 0600 or 0400", path, sf.mode);
        break;
    case CC_SECRETFILE_TOO_LONG:
        snprintf(err, errlen, "%s: longer than %zu bytes", path, len - 1);
        break;
    default:
        snprintf(err, errlen, "%s: %s", path, cc_secretfile_strerror(rc));
    }

    return -1;
}


/* the option's file, else the credential, else the variable */
static int
cc_secret_load_one(cc_secret_t *s, const char *option)
{
    char         path[4096], buf[CC_SECRET_MAX], err[4352];
    const char  *dir, *from, *env;

    free(s->value);
    s->value = NULL;

    from = s->option;
    dir = getenv("CREDENTIALS_DIRECTORY");

    if (from == NULL && dir != NULL && *dir != '\0') {
        snprintf(path, sizeof(path), "%s/%s", dir, s->credential);
        if (access(path, F_OK) == 0) {
            from = path;
        }
    }

    if (from != NULL) {
        if (cc_secret_read(from, buf, sizeof(buf), err, sizeof(err)) != 0) {
            fprintf(stderr, "%s: %s: %s\n", cc_worker_name,
                    from == s->option ? option : "credential", err);
            return -1;
        }

        s->value = strdup(buf);
        explicit_bzero(buf, sizeof(buf));

    } else if ((env = getenv(s->env)) != NULL) {
        s->value = strdup(env);

    } else {
        return 0;
    }

    if (s->value == NULL) {
        fprintf(stderr, "%s: out of memory\n", cc_worker_name);
        return -1;
    }

    return 0;
}


int
cc_secret_load(void)
{
    const char  *env;

    /* a name, no secret: the environment may give it (workers.env) */
    if (cc_secret_redis_name == NULL
        && (env = getenv("CC_REDIS_USER")) != NULL && *env != '\0')
    {
        cc_secret_redis_name = env;
    }

    if (cc_secret_load_one(&cc_secret_mysql, "--mysql-password-file") != 0
        || cc_secret_load_one(&cc_secret_redis, "--redis-password-file") != 0)
    {
        return -1;
    }

    if (cc_secret_redis_name != NULL && cc_secret_redis.value == NULL) {
        fprintf(stderr, "%s: --redis-user %s needs a password "
                "(--redis-password-file, the credential cc-redis-password "
                "or $CC_REDIS_PASSWORD)\n", cc_worker_name,
                cc_secret_redis_name);
        return -1;
    }

    return 0;
}


/* a worker without Redis (cc-ingest): workers.env's CC_REDIS_USER, meant
 * for the others, is none of its business, and needs no password here */
int
cc_secret_load_mysql(void)
{
    return cc_secret_load_one(&cc_secret_mysql, "--mysql-password-file");
}


const char *
cc_secret_mysql_password(void)
{
    return cc_secret_mysql.value;
}


const char *
cc_secret_redis_user(void)
{
    return cc_secret_redis_name;
}


const char *
cc_secret_redis_password(void)
{
    return cc_secret_redis.value;
}


void
cc_secret_reset(void)
{
    free(cc_secret_mysql.value);
    free(cc_secret_redis.value);
    cc_secret_mysql.value = NULL;
    cc_secret_redis.value = NULL;
    cc_secret_mysql.option = NULL;
    cc_secret_redis.option = NULL;
    cc_secret_redis_name = NULL;
}
