/*
 * cc-token: mints and checks the signed user tokens of common/cc_token.h,
 * for ops, the tests and the demo.
 *
 *   cc-token --secret FILE [--kid KID] --uid UID [--ttl SEC | --exp UNIXTIME]
 *       prints "<uid>.<exp>.<kid>.<sig>" and a newline
 *   cc-token --secret FILE [--kid KID] [--max-ttl SEC] --verify TOKEN
 *       prints "uid=<uid> exp=<exp> kid=<kid>" and exits 0, or the reason
 *       on stderr and exits 1
 *
 * Bad usage, an unreadable or short secret file: exit 2, naming the
 * option.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cc_worker.h"
#include "cc_ids.h"
#include "cc_token.h"


#define CC_TOK_TTL_DEFAULT  3600
#define CC_TOK_TTL_MAX      31536000        /* a year */


typedef struct {
    const char  *secret;
    const char  *kid;
    long long    max_ttl;                   /* -1: not given */
    const char  *verify;
    int          has_uid;
    uint64_t     uid;
    long long    ttl;                       /* -1: not given */
    long long    exp;                       /* -1: not given */
} cc_tok_opts_t;


static void
cc_tok_usage(FILE *out)
{
    fprintf(out,
"usage: cc-token --secret FILE [--kid KID] --uid UID\n"
"                [--ttl SEC | --exp UNIXTIME]\n"
"       cc-token --secret FILE [--kid KID] [--max-ttl SEC] --verify TOKEN\n"
"\n"
"Mints a signed user token \"<uid>.<exp>.<kid>.<sig>\" (sig: base64url of\n"
"HMAC-SHA256(secret, \"cc1|<kid>|<uid>.<exp>\")) and prints it, or verifies\n"
"one and prints \"uid=<uid> exp=<exp> kid=<kid>\".\n"
"\n"
"  --secret FILE     the shared secret, %d..%d bytes (one trailing\n"
"                    newline is not part of it), mode 0600 or 0400\n"
"  --kid KID         the secret's key id, 1..%d of [A-Za-z0-9_-] (default\n"
"                    \"%s\", the key of \"cc_identity token FILE\")\n"
"  --uid UID         the user, a positive 64-bit decimal\n"
"  --ttl SEC         valid for SEC seconds from now, 1..%d (default %d)\n"
"  --exp UNIXTIME    valid until UNIXTIME instead, 1..%lld (a past one\n"
"                    mints an expired token)\n"
"  --verify TOKEN    check TOKEN: exit 0, or 1 with the reason on stderr\n"
"                    (malformed, unknown key, bad signature, expired, too\n"
"                    long lived)\n"
"  --max-ttl SEC     with --verify: refuse an exp more than SEC seconds\n"
"                    ahead, 0..%d, 0 for no bound (default %d, as\n"
"                    nginx's cc_token_max_ttl)\n"
"  --help            this text\n"
"\n"
"Exit status: 0 done, 1 token rejected, 2 bad usage or secret file.\n",
            CC_TOKEN_SECRET_MIN, CC_TOKEN_SECRET_MAX, CC_TOKEN_KID_MAX,
            CC_TOKEN_KID_DEFAULT, CC_TOK_TTL_MAX, CC_TOK_TTL_DEFAULT,
            CC_TOKEN_EXP_MAX, CC_TOK_TTL_MAX, CC_TOKEN_MAX_TTL);
}


static int
cc_tok_parse(int argc, char **argv, cc_tok_opts_t *o)
{
    int  c;

    static const struct option  opts[] = {
        { "secret", required_argument, NULL, 's' },
        { "kid",    required_argument, NULL, 'k' },
        { "max-ttl", required_argument, NULL, 'm' },
        { "uid",    required_argument, NULL, 'u' },
        { "ttl",    required_argument, NULL, 't' },
        { "exp",    required_argument, NULL, 'e' },
        { "verify", required_argument, NULL, 'v' },
        { "help",   no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(o, 0, sizeof(*o));
    o->ttl = -1;
    o->exp = -1;
    o->max_ttl = -1;
    o->kid = CC_TOKEN_KID_DEFAULT;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {

        case 's':
            o->secret = optarg;
            break;

        case 'k':
            if (!cc_token_kid_valid(optarg, strlen(optarg))) {
                fprintf(stderr, "cc-token: --kid must be 1..%d of "
                        "[A-Za-z0-9_-], not \"%s\"\n", CC_TOKEN_KID_MAX,
                        optarg);
                return -1;
            }

            o->kid = optarg;
            break;

        case 'm':
            if (cc_opt_int("--max-ttl", optarg, 0, CC_TOK_TTL_MAX,
                           &o->max_ttl)
                != 0)
            {
                return -1;
            }

            break;

        case 'u':
            if (cc_parse_uid(optarg, strlen(optarg), &o->uid) != 0) {
                fprintf(stderr, "cc-token: --uid must be a positive 64-bit "
                        "decimal with no leading zero, not \"%s\"\n", optarg);
                return -1;
            }

            o->has_uid = 1;
            break;

        case 't':
            if (cc_opt_int("--ttl", optarg, 1, CC_TOK_TTL_MAX, &o->ttl) != 0) {
                return -1;
            }

            break;

        case 'e':
            if (cc_opt_int("--exp", optarg, 1, CC_TOKEN_EXP_MAX, &o->exp)
                != 0)
            {
                return -1;
            }

            break;

        case 'v':
            o->verify = optarg;
            break;

        case 'h':
            cc_tok_usage(stdout);
            return CC_OPT_HELP;

        default:
            /* getopt_long said which option */
            fprintf(stderr, "cc-token: see --help\n");
            return -1;
        }
    }

    if (optind != argc) {
        fprintf(stderr, "cc-token: unexpected argument \"%s\"\n",
                argv[optind]);
        return -1;
    }

    if (o->secret == NULL) {
        fprintf(stderr, "cc-token: --secret FILE is needed (see --help)\n");
        return -1;
    }

    if (o->verify == NULL && o->max_ttl != -1) {
        fprintf(stderr, "cc-token: --max-ttl is taken with --verify only\n");
        return -1;
    }

    if (o->verify != NULL) {
        if (o->has_uid || o->ttl != -1 || o->exp != -1) {
            fprintf(stderr, "cc-token: --verify takes no --uid, --ttl or "
                    "--exp\n");
            return -1;
        }

        return 0;
    }

    if (!o->has_uid) {
        fprintf(stderr, "cc-token: --uid or --verify is needed "
                "(see --help)\n");
        return -1;
    }

    if (o->ttl != -1 && o->exp != -1) {
        fprintf(stderr, "cc-token: --ttl and --exp exclude each other\n");
        return -1;
    }

    return 0;
}


static int
cc_tok_sign(const cc_tok_opts_t *o, const unsigned char *secret, size_t slen)
{
    char     out[CC_TOKEN_MAX + 1];
    int64_t  exp;

    if (o->exp != -1) {
        exp = o->exp;

    } else {
        exp = (int64_t) time(NULL)
              + (o->ttl != -1 ? o->ttl : CC_TOK_TTL_DEFAULT);
    }

    if (cc_token_sign(secret, slen, o->kid, o->uid, exp, out, sizeof(out))
        < 0)
    {
        fprintf(stderr, "cc-token: cannot sign uid %llu exp %lld\n",
                (unsigned long long) o->uid, (long long) exp);
        return 1;
    }

    printf("%s\n", out);

    return 0;
}


static int
cc_tok_verify(const cc_tok_opts_t *o, const unsigned char *secret,
    size_t slen)
{
    uint64_t         uid;
    const char      *tok, *dot;
    cc_token_rc_e    rc;
    cc_token_key_t   key;

    tok = o->verify;

    key.kid = o->kid;
    key.kid_len = strlen(o->kid);
    key.secret = secret;
    key.slen = slen;

    rc = cc_token_verify(&key, 1, tok, strlen(tok), (int64_t) time(NULL),
                         o->max_ttl != -1 ? o->max_ttl : CC_TOKEN_MAX_TTL,
                         &uid);

    if (rc != CC_TOKEN_OK) {
        fprintf(stderr, "cc-token: %s\n", cc_token_strerror(rc));
        return 1;
    }

    /* a verified token is canonical: "<uid>.<exp>.<kid>.<sig>" */
    dot = strchr(tok, '.');

    printf("uid=%llu exp=%lld kid=%s\n", (unsigned long long) uid,
           strtoll(dot + 1, NULL, 10), o->kid);

    return 0;
}


int
main(int argc, char **argv)
{
    int            rc;
    char           err[512];
    size_t         slen;
    cc_tok_opts_t  o;
    unsigned char  secret[CC_TOKEN_SECRET_MAX];

    cc_worker_init("cc-token");

    rc = 2;

    if (cc_opt_done(cc_tok_parse(argc, argv, &o), &rc)) {
        goto done;
    }

    if (cc_token_load_secret(o.secret, secret, sizeof(secret), &slen, err,
                             sizeof(err))
        != 0)
    {
        fprintf(stderr, "cc-token: --secret: %s\n", err);
        goto done;
    }

    rc = o.verify ? cc_tok_verify(&o, secret, slen)
                  : cc_tok_sign(&o, secret, slen);

done:

    OPENSSL_cleanse(secret, sizeof(secret));

    return rc;
}
