/*
 * cc_secret: who a worker is to its stores, and the secrets that prove it.
 *
 * Each worker role has its own MySQL user with only the grants its SQL
 * needs (sql/grants.sql); CC_ROLE_* are their names, each worker's default
 * --user.  A password is never an argument (ps shows argv to everyone):
 * it comes from a file option, else from systemd's credentials directory
 * (LoadCredential=), else from the environment, the documented fallback:
 *
 *   MySQL  --mysql-password-file F, $CREDENTIALS_DIRECTORY/cc-mysql-password,
 *          $CC_MYSQL_PASSWORD
 *   Redis  --redis-password-file F, $CREDENTIALS_DIRECTORY/cc-redis-password,
 *          $CC_REDIS_PASSWORD (AUTH as --redis-user, else $CC_REDIS_USER,
 *          else as "default")
 *
 * A file that group or others may read or write is refused.  Read once,
 * at start (cc_secret_load); cc_redis_connect() then sends AUTH on every
 * new connection.
 */

#ifndef CC_SECRET_H
#define CC_SECRET_H

#include <stddef.h>

#define CC_ROLE_OWNER      "cc_owner"      /* cc-ingest --init-shards */
#define CC_ROLE_INGEST     "cc_ingest"
#define CC_ROLE_RECONCILE  "cc_reconcile"
#define CC_ROLE_DRAW       "cc_draw"       /* and the test tool cc-ledger-cli */
#define CC_ROLE_PAYOUT     "cc_payout"
#define CC_ROLE_BOOKS      "cc_books"      /* cc-reconcile --money */
#define CC_ROLE_REPAIR     "cc_repair"     /* cc-reconcile --money --repair */

#define CC_SECRET_MAX      4096             /* bytes in a secret file */

/* getopt_long values of the options below; cc_secret_opt() takes them */
#define CC_SECRET_OPT_MYSQL_FILE  0x5301
#define CC_SECRET_OPT_REDIS_USER  0x5302
#define CC_SECRET_OPT_REDIS_FILE  0x5303

#define CC_SECRET_MYSQL_OPTIONS                                              \
    { "mysql-password-file", required_argument, NULL,                        \
      CC_SECRET_OPT_MYSQL_FILE }

#define CC_SECRET_REDIS_OPTIONS                                              \
    { "redis-user", required_argument, NULL, CC_SECRET_OPT_REDIS_USER },     \
    { "redis-password-file", required_argument, NULL,                        \
      CC_SECRET_OPT_REDIS_FILE }

#define CC_SECRET_MYSQL_HELP                                                 \
"  --mysql-password-file F  the MySQL password, read from file F (no\n"      \
"                   access for group or others); else from\n"                \
"                   $CREDENTIALS_DIRECTORY/cc-mysql-password (systemd\n"     \
"                   LoadCredential=), else $CC_MYSQL_PASSWORD\n"

#define CC_SECRET_REDIS_HELP                                                 \
"  --redis-user NAME  the Redis ACL user to AUTH as (default\n"             \
"                   $CC_REDIS_USER, else \"default\")\n"                    \
"  --redis-password-file F  its password, read from file F (as above);\n"    \
"                   else $CREDENTIALS_DIRECTORY/cc-redis-password, else\n"   \
"                   $CC_REDIS_PASSWORD; none: no AUTH\n"

/*
 * One of the options above: noted, 1.  Any other c: 0.  The files are
 * read by cc_secret_load().
 */
int cc_secret_opt(int c, const char *arg);

/*
 * Reads the secrets the options, the credentials directory or the
 * environment give: 0, or -1 after "cc-NAME: why" on stderr (a file
 * missing, unreadable, empty, too big, or open to group or others;
 * --redis-user without a password): the worker then exits 2.
 */
int cc_secret_load(void);

/*
 * The MySQL password only, for a worker that never connects to Redis
 * (cc-ingest): $CC_REDIS_USER and the Redis password are not looked at,
 * so the one workers.env of every unit does not stop it.
 */
int cc_secret_load_mysql(void);

/* what cc_secret_load() read; NULL: none */
const char *cc_secret_mysql_password(void);
const char *cc_secret_redis_user(void);      /* NULL: AUTH with no user */
const char *cc_secret_redis_password(void);  /* NULL: no AUTH */

/*
 * Reads a secret file into buf (one trailing newline dropped): 0, or -1
 * with err set.  Refused: not a regular file, any of mode 077 set,
 * empty, or len bytes or more.
 */
int cc_secret_read(const char *path, char *buf, size_t len, char *err,
    size_t errlen);

/* forgets what was loaded (the tests) */
void cc_secret_reset(void);

#endif /* CC_SECRET_H */
