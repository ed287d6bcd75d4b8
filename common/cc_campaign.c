/*
 * cc_campaign: the campaign file parser.
 *
 * One pass over the lines.  Each line is cut at its comment (a '#' at the
 * start of the line or after a space or tab: "seed a#b" keeps its '#'),
 * trimmed, and split into a name and a value.  Every value is one token,
 * except alert's, which is the rest of the line (a command may take
 * arguments).  A name seen twice, a name not known, a value out of range:
 * the line's number and the reason go into err and nothing else is read.
 * The rules between names (required ones, cap_cents only in random mode)
 * are checked once the whole file is read.
 */

#define _GNU_SOURCE                  /* strptime, timegm */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cc_campaign.h"
#include "cc_ids.h"


#define CC_CAMPAIGN_FILE_MAX      65536
#define CC_CAMPAIGN_LINE_MAX      2048
#define CC_CAMPAIGN_PENDING_MAX   31536000      /* a year, in seconds */
#define CC_CAMPAIGN_CUTOFF_MAX    253402300799LL /* 9999-12-31T23:59:59Z */
#define CC_CAMPAIGN_TIMEOUT_MAX   600000        /* ms */


enum {
    CC_F_CAMPAIGN = 0,
    CC_F_POOL,
    CC_F_SPLIT,
    CC_F_CAP,
    CC_F_SEED,
    CC_F_CREDIT,
    CC_F_CUTOFF,
    CC_F_PENDING,
    CC_F_ALERT,
    CC_F_WALLET,
    CC_F_WALLET_URL,
    CC_F_WALLET_TIMEOUT,
    CC_F_WALLET_SECRET,
    CC_F_CURRENCY,
    CC_F_WALLET_CA,
    CC_F_WALLET_ANSWER_SECRET,
    CC_F_WALLET_INSECURE,
    CC_F_WALLET_MODE,
    CC_F_WALLET_BATCH_MAX,
    CC_F_WALLET_BATCH_AGE,
    CC_F_COUNT
};

static const char *const  cc_campaign_names[CC_F_COUNT] = {
    "campaign", "pool_cents", "split", "cap_cents", "seed", "credit",
    "cutoff", "pending_max", "alert", "wallet", "wallet_url",
    "wallet_timeout_ms", "wallet_secret_file", "currency", "wallet_ca_file",
    "wallet_answer_secret_file", "wallet_insecure_loopback", "wallet_mode",
    "wallet_batch_max", "wallet_batch_age_ms"
};

/* the names only wallet http takes */
static const int  cc_campaign_http_only[] = {
    CC_F_WALLET_URL, CC_F_WALLET_TIMEOUT, CC_F_WALLET_SECRET, CC_F_WALLET_CA,
    CC_F_WALLET_ANSWER_SECRET, CC_F_WALLET_INSECURE, CC_F_WALLET_MODE,
    CC_F_WALLET_BATCH_MAX, CC_F_WALLET_BATCH_AGE
};

/* the names every file must give */
static const int  cc_campaign_required[] = {
    CC_F_CAMPAIGN, CC_F_POOL, CC_F_SPLIT, CC_F_SEED, CC_F_CREDIT, CC_F_CUTOFF
};


static int
cc_campaign_fail(char *err, size_t errlen, unsigned line, const char *fmt,
    ...)
{
    int      n;
    va_list  ap;

    if (err == NULL || errlen == 0) {
        return -1;
    }

    n = line ? snprintf(err, errlen, "line %u: ", line) : 0;

    if (n < 0 || (size_t) n >= errlen) {
        return -1;
    }

    va_start(ap, fmt);
    vsnprintf(err + n, errlen - n, fmt, ap);
    va_end(ap);

    return -1;
}


static int
cc_campaign_is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}


/* unix seconds, or YYYY-MM-DDTHH:MM:SSZ that prints back the same */
static int
cc_campaign_time(const char *v, size_t len, int64_t *out)
{
    char       buf[32], back[32];
    char      *end;
    time_t     t;
    uint64_t   u;
    struct tm  tm;

    if (len > 0 && v[0] >= '0' && v[0] <= '9' && memchr(v, '-', len) == NULL)
    {
        if (cc_parse_count(v, len, CC_CAMPAIGN_CUTOFF_MAX, &u) != 0) {
            return -1;
        }

        *out = (int64_t) u;
        return 0;
    }

    if (len >= sizeof(buf)) {
        return -1;
    }

    memcpy(buf, v, len);
    buf[len] = '\0';

    memset(&tm, 0, sizeof(tm));
    end = strptime(buf, "%Y-%m-%dT%H:%M:%SZ", &tm);

    if (end == NULL || *end != '\0') {
        return -1;
    }

    t = timegm(&tm);

    /* strptime takes "2027-2-30T..." and timegm moves it to March */
    if (t <= 0 || gmtime_r(&t, &tm) == NULL
        || strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0
        || strcmp(back, buf) != 0)
    {
        return -1;
    }

    *out = (int64_t) t;
    return 0;
}


/* v is one of the n words; its index in *k, or -1 */
static int
cc_campaign_word(const char *v, size_t len, const char *const *words,
    int n, int *k)
{
    int  i;

    for (i = 0; i < n; i++) {
        if (strlen(words[i]) == len && memcmp(words[i], v, len) == 0) {
            *k = i;
            return 0;
        }
    }

    return -1;
}


/* 1..128 printable characters, no blank */
static int
cc_campaign_seed(cc_campaign_t *c, const char *v, size_t len,
    const char **why)
{
    size_t  i;

    if (len == 0 || len > CC_CAMPAIGN_SEED_MAX) {
        *why = "1..128 printable characters expected";
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (v[i] <= ' ' || v[i] > '~') {
            *why = "1..128 printable characters expected";
            return -1;
        }
    }

    memcpy(c->seed, v, len);
    c->seed[len] = '\0';
    return 0;
}


/*
 * http:// or https://, a host, printable ASCII, no user (an '@' before
 * the path: "http://127.0.0.1@evil/" is a request to evil); the trailing
 * '/' is dropped so "{base}/credits" has one.  Whether http:// may be
 * used is cc_campaign_rules' (cc_campaign_loopback).  libcurl checks the
 * rest when it is used.
 */
static int
cc_campaign_wallet_url(cc_campaign_t *c, const char *v, size_t len,
    const char **why)
{
    size_t  i;

    i = len >= 7 && memcmp(v, "http://", 7) == 0 ? 7
        : len >= 8 && memcmp(v, "https://", 8) == 0 ? 8 : 0;

    if (i == 0 || i == len || v[i] == '/') {
        *why = "http://HOST[:PORT][/PATH] or https://... expected";
        return -1;
    }

    if (len > CC_CAMPAIGN_URL_MAX) {
        *why = "longer than 512 bytes";
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (v[i] <= ' ' || v[i] > '~') {
            *why = "http://HOST[:PORT][/PATH] or https://... expected";
            return -1;
        }
    }

    for (i = v[4] == 's' ? 8 : 7; i < len && v[i] != '/'; i++) {
        if (v[i] == '@' || v[i] == '?' || v[i] == '#' || v[i] == '\\') {
            *why = "a user, query or fragment in the host: "
                   "http://HOST[:PORT][/PATH] or https://... expected";
            return -1;
        }
    }

    while (len > 0 && v[len - 1] == '/') {
        len--;
    }

    memcpy(c->wallet_url, v, len);
    c->wallet_url[len] = '\0';
    return 0;
}


/*
 * 1 when a wallet_url's host is the loopback by name: 127.0.0.1, [::1] or
 * localhost, exactly (not 127.0.0.1.example.com, not localhost.).
 */
static int
cc_campaign_loopback(const char *url)
{
    size_t       i, len;
    const char  *h;

    static const char *const  hosts[] = { "127.0.0.1", "[::1]", "localhost" };

    h = url + (strncmp(url, "https://", 8) == 0 ? 8 : 7);
    len = strcspn(h, "/");

    if (h[0] == '[') {
        if (memchr(h, ']', len) == NULL) {
            return 0;
        }

        len = strcspn(h, "]") + 1;

    } else if (memchr(h, ':', len) != NULL) {
        len = (size_t) ((const char *) memchr(h, ':', len) - h);
    }

    if (h[len] != '\0' && h[len] != ':' && h[len] != '/') {
        return 0;
    }

    for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        if (strlen(hosts[i]) == len && memcmp(h, hosts[i], len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* a path of at most CC_CAMPAIGN_PATH_MAX bytes into dst */
static int
cc_campaign_path(char *dst, const char *v, size_t len, const char **why)
{
    if (len > CC_CAMPAIGN_PATH_MAX) {
        *why = "longer than 1024 bytes";
        return -1;
    }

    memcpy(dst, v, len);
    dst[len] = '\0';
    return 0;
}


/* ISO 4217's form: 3 capital letters */
static int
cc_campaign_currency(cc_campaign_t *c, const char *v, size_t len,
    const char **why)
{
    if (len != 3 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A'
        || v[1] > 'Z' || v[2] < 'A' || v[2] > 'Z')
    {
        *why = "3 capital letters (ISO 4217, e.g. CNY) expected";
        return -1;
    }

    memcpy(c->currency, v, 3);
    c->currency[3] = '\0';
    return 0;
}


/* the words of split, credit and wallet, in their enums' order */
static const char *const  cc_campaign_splits[] = { "equal", "random" };
static const char *const  cc_campaign_credits[] = {
    "sync", "async", "async_client_sync"
};
static const char *const  cc_campaign_wallets[] = { "ledger", "http" };
static const char *const  cc_campaign_yesno[] = { "yes", "no" };
static const char *const  cc_campaign_modes[] = { "batch", "per_credit" };

#define cc_campaign_nwords(a)  ((int) (sizeof(a) / sizeof((a)[0])))


/* the value of a wallet_* key (and wallet itself) into c */
static int
cc_campaign_wallet_value(cc_campaign_t *c, int f, const char *v, size_t len,
    const char **why)
{
    int       k;
    uint64_t  u;

    switch (f) {

    case CC_F_WALLET:
        if (cc_campaign_word(v, len, cc_campaign_wallets,
                             cc_campaign_nwords(cc_campaign_wallets), &k)
            != 0)
        {
            *why = "ledger or http expected";
            return -1;
        }

        c->wallet = (cc_wallet_e) k;
        return 0;

    case CC_F_WALLET_URL:
        return cc_campaign_wallet_url(c, v, len, why);

    case CC_F_WALLET_TIMEOUT:
        if (cc_parse_count(v, len, CC_CAMPAIGN_TIMEOUT_MAX, &u) != 0) {
            *why = "milliseconds in 1..600000 expected";
            return -1;
        }

        c->wallet_timeout_ms = (int64_t) u;
        return 0;

    case CC_F_WALLET_SECRET:
        return cc_campaign_path(c->wallet_secret_file, v, len, why);

    case CC_F_WALLET_CA:
        return cc_campaign_path(c->wallet_ca_file, v, len, why);

    case CC_F_WALLET_ANSWER_SECRET:
        return cc_campaign_path(c->wallet_answer_secret_file, v, len, why);

    case CC_F_WALLET_INSECURE:
        if (cc_campaign_word(v, len, cc_campaign_yesno,
                             cc_campaign_nwords(cc_campaign_yesno), &k)
            != 0)
        {
            *why = "yes or no expected";
            return -1;
        }

        c->wallet_insecure_loopback = k == 0;
        return 0;

    case CC_F_WALLET_MODE:
        if (cc_campaign_word(v, len, cc_campaign_modes,
                             cc_campaign_nwords(cc_campaign_modes), &k)
            != 0)
        {
            *why = "batch or per_credit expected";
            return -1;
        }

        c->wallet_mode = (cc_wallet_mode_e) k;
        return 0;

    case CC_F_WALLET_BATCH_MAX:
        if (cc_parse_count(v, len, CC_CAMPAIGN_BATCH_MAX, &u) != 0) {
            *why = "details in 1..1000 expected";
            return -1;
        }

        c->wallet_batch_max = (unsigned) u;
        return 0;

    default: /* CC_F_WALLET_BATCH_AGE */
        /* below a second, a wallet that answers in its time is alerted */
        if (cc_parse_count(v, len, CC_CAMPAIGN_BATCH_AGE_MAX, &u) != 0
            || u < CC_CAMPAIGN_BATCH_AGE_MIN)
        {
            *why = "milliseconds in 1000..604800000 expected";
            return -1;
        }

        c->wallet_batch_age_ms = (int64_t) u;
        return 0;
    }
}


/* a value of field f; 0, or -1 with the reason in *why */
static int
cc_campaign_value(cc_campaign_t *c, int f, const char *v, size_t len,
    const char **why)
{
    int       k;
    uint64_t  u;

    switch (f) {

    case CC_F_CAMPAIGN:
        if (len > CC_CAMPAIGN_ID_MAX || cc_check_request_id(v, len) != 0) {
            *why = "1..32 of [A-Za-z0-9_-] expected";
            return -1;
        }

        memcpy(c->id, v, len);
        c->id[len] = '\0';
        return 0;

    case CC_F_POOL:
    case CC_F_CAP:
        if (cc_parse_count(v, len, CC_CAMPAIGN_POOL_MAX, &u) != 0) {
            *why = "not a decimal in 1..10^15";
            return -1;
        }

        if (f == CC_F_POOL) {
            c->pool_cents = u;

        } else {
            c->cap_cents = u;
        }

        return 0;

    case CC_F_SPLIT:
        if (cc_campaign_word(v, len, cc_campaign_splits,
                             cc_campaign_nwords(cc_campaign_splits), &k)
            != 0)
        {
            *why = "equal or random expected";
            return -1;
        }

        c->split = (cc_split_mode_e) k;
        return 0;

    case CC_F_SEED:
        return cc_campaign_seed(c, v, len, why);

    case CC_F_CREDIT:
        if (cc_campaign_word(v, len, cc_campaign_credits,
                             cc_campaign_nwords(cc_campaign_credits), &k)
            != 0)
        {
            *why = "sync, async or async_client_sync expected";
            return -1;
        }

        c->credit = (cc_credit_mode_e) k;
        return 0;

    case CC_F_CUTOFF:
        if (cc_campaign_time(v, len, &c->cutoff) != 0) {
            *why = "unix seconds or YYYY-MM-DDTHH:MM:SSZ expected";
            return -1;
        }

        return 0;

    case CC_F_PENDING:
        if (cc_parse_count(v, len, CC_CAMPAIGN_PENDING_MAX, &u) != 0) {
            *why = "seconds in 1..31536000 expected";
            return -1;
        }

        c->pending_max = (int64_t) u;
        return 0;

    case CC_F_ALERT:
        return cc_campaign_path(c->alert, v, len, why);

    case CC_F_WALLET:
    case CC_F_WALLET_URL:
    case CC_F_WALLET_TIMEOUT:
    case CC_F_WALLET_SECRET:
    case CC_F_WALLET_CA:
    case CC_F_WALLET_ANSWER_SECRET:
    case CC_F_WALLET_INSECURE:
    case CC_F_WALLET_MODE:
    case CC_F_WALLET_BATCH_MAX:
    case CC_F_WALLET_BATCH_AGE:
        return cc_campaign_wallet_value(c, f, v, len, why);

    default: /* CC_F_CURRENCY */
        return cc_campaign_currency(c, v, len, why);
    }
}


/* the rules between names, once the whole file is read */
static int
cc_campaign_rules(const cc_campaign_t *c, const unsigned *seen, char *err,
    size_t errlen)
{
    int     f;
    size_t  i;

    for (i = 0; i < sizeof(cc_campaign_required) / sizeof(int); i++) {
        f = cc_campaign_required[i];

        if (!seen[f]) {
            return cc_campaign_fail(err, errlen, 0, "%s: missing",
                                    cc_campaign_names[f]);
        }
    }

    if (c->split == CC_SPLIT_RANDOM && !seen[CC_F_CAP]) {
        return cc_campaign_fail(err, errlen, 0,
                                "cap_cents: required in random mode");
    }

    if (c->split == CC_SPLIT_EQUAL && seen[CC_F_CAP]) {
        return cc_campaign_fail(err, errlen, seen[CC_F_CAP],
                                "cap_cents: only in random mode "
                                "(split is equal)");
    }

    for (i = 0; i < sizeof(cc_campaign_http_only) / sizeof(int); i++) {
        f = cc_campaign_http_only[i];

        if (c->wallet != CC_WALLET_HTTP && seen[f]) {
            return cc_campaign_fail(err, errlen, seen[f],
                                    "%s: only with wallet http",
                                    cc_campaign_names[f]);
        }
    }

    if (c->wallet == CC_WALLET_HTTP) {
        if (!seen[CC_F_WALLET_URL]) {
            return cc_campaign_fail(err, errlen, 0,
                                    "wallet_url: required with wallet http");
        }

        if (!seen[CC_F_WALLET_SECRET]) {
            return cc_campaign_fail(err, errlen, 0, "wallet_secret_file: "
                                    "required with wallet http");
        }

        if (c->credit == CC_CREDIT_SYNC) {
            return cc_campaign_fail(err, errlen, seen[CC_F_WALLET],
                                    "wallet http: needs credit async or "
                                    "async_client_sync (a sync credit is "
                                    "in the draw's transaction)");
        }

        /*
         * Anyone on the path of a plain http:// call can answer it:
         * https only, but for the simulator on this host when the file
         * says so.
         */
        if (strncmp(c->wallet_url, "https://", 8) != 0
            && !(c->wallet_insecure_loopback
                 && cc_campaign_loopback(c->wallet_url)))
        {
            return cc_campaign_fail(err, errlen, seen[CC_F_WALLET_URL],
                                    c->wallet_insecure_loopback
                                    ? "wallet_url: http:// only to "
                                      "127.0.0.1, [::1] or localhost; "
                                      "https:// expected"
                                    : "wallet_url: https:// expected "
                                      "(http:// only to the loopback, with "
                                      "wallet_insecure_loopback yes)");
        }
    }

    return 0;
}


int
cc_campaign_parse(const char *text, size_t len, cc_campaign_t *c,
    char *err, size_t errlen)
{
    int             f;
    size_t          i, nlen, vlen;
    unsigned        line, seen[CC_F_COUNT];
    const char     *p, *end, *eol, *name, *v, *why;
    cc_campaign_t   out;

    if (len > CC_CAMPAIGN_FILE_MAX) {
        return cc_campaign_fail(err, errlen, 0, "longer than %d bytes",
                                CC_CAMPAIGN_FILE_MAX);
    }

    if (memchr(text, '\0', len) != NULL) {
        return cc_campaign_fail(err, errlen, 0, "a NUL byte in the text");
    }

    memset(&out, 0, sizeof(out));
    memset(seen, 0, sizeof(seen));
    out.pending_max = 3600;
    out.wallet = CC_WALLET_LEDGER;
    out.wallet_timeout_ms = 5000;
    out.wallet_mode = CC_WALLET_MODE_BATCH;
    out.wallet_batch_max = 500;
    out.wallet_batch_age_ms = 600000;
    memcpy(out.currency, "CNY", 4);

    end = text + len;

    for (p = text, line = 1; p < end; p = eol + 1, line++) {
        eol = memchr(p, '\n', (size_t) (end - p));
        if (eol == NULL) {
            eol = end;
        }

        if (eol - p > CC_CAMPAIGN_LINE_MAX) {
            return cc_campaign_fail(err, errlen, line,
                                    "longer than %d bytes",
                                    CC_CAMPAIGN_LINE_MAX);
        }

        /* the comment: '#' first or after a blank */
        for (v = p; v < eol; v++) {
            if (*v == '#' && (v == p || cc_campaign_is_space(v[-1]))) {
                break;
            }
        }

        while (p < v && cc_campaign_is_space(*p)) {
            p++;
        }

        while (v > p && cc_campaign_is_space(v[-1])) {
            v--;
        }

        if (p == v) {
            continue;                               /* blank or comment */
        }

        /* now [p, v) is "name value..." with no blank at either end */

        name = p;
        while (p < v && !cc_campaign_is_space(*p)) {
            p++;
        }

        nlen = (size_t) (p - name);

        for (f = 0; f < CC_F_COUNT; f++) {
            if (strlen(cc_campaign_names[f]) == nlen
                && memcmp(cc_campaign_names[f], name, nlen) == 0)
            {
                break;
            }
        }

        if (f == CC_F_COUNT) {
            return cc_campaign_fail(err, errlen, line, "unknown name \"%.*s\"",
                                    (int) (nlen > 64 ? 64 : nlen), name);
        }

        if (seen[f]) {
            return cc_campaign_fail(err, errlen, line,
                                    "%s: given twice (first on line %u)",
                                    cc_campaign_names[f], seen[f]);
        }

        seen[f] = line;

        while (p < v && cc_campaign_is_space(*p)) {
            p++;
        }

        if (p == v) {
            return cc_campaign_fail(err, errlen, line, "%s: no value",
                                    cc_campaign_names[f]);
        }

        vlen = (size_t) (v - p);

        if (f != CC_F_ALERT) {
            for (i = 0; i < vlen; i++) {
                if (cc_campaign_is_space(p[i])) {
                    return cc_campaign_fail(err, errlen, line,
                                            "%s: one value expected",
                                            cc_campaign_names[f]);
                }
            }
        }

        why = "bad value";

        if (cc_campaign_value(&out, f, p, vlen, &why) != 0) {
            return cc_campaign_fail(err, errlen, line, "%s: %s",
                                    cc_campaign_names[f], why);
        }
    }

    if (cc_campaign_rules(&out, seen, err, errlen) != 0) {
        return -1;
    }

    *c = out;
    return 0;
}


int
cc_campaign_load(const char *path, cc_campaign_t *c, char *err,
    size_t errlen)
{
    int      fd, rc;
    char     buf[CC_CAMPAIGN_FILE_MAX + 1], tmp[512];
    size_t   len;
    ssize_t  n;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return cc_campaign_fail(err, errlen, 0, "%s: %s", path,
                                strerror(errno));
    }

    /* one byte more than allowed tells a file that is too long */
    len = 0;

    while (len < sizeof(buf)) {
        n = read(fd, buf + len, sizeof(buf) - len);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1) {
            rc = errno;
            close(fd);
            return cc_campaign_fail(err, errlen, 0, "%s: %s", path,
                                    strerror(rc));
        }

        if (n == 0) {
            break;
        }

        len += (size_t) n;
    }

    close(fd);

    if (len > CC_CAMPAIGN_FILE_MAX) {
        return cc_campaign_fail(err, errlen, 0, "%s: longer than %d bytes",
                                path, CC_CAMPAIGN_FILE_MAX);
    }

    rc = cc_campaign_parse(buf, len, c, err, errlen);

    if (rc != 0 && err != NULL && errlen > 0) {
        /* name the file in front of the parser's reason */
        snprintf(tmp, sizeof(tmp), "%s", err);
        snprintf(err, errlen, "%s: %s", path, tmp);
    }

    return rc;
}


const char *
cc_split_mode_name(cc_split_mode_e m)
{
    return m == CC_SPLIT_RANDOM ? "random" : "equal";
}


const char *
cc_credit_mode_name(cc_credit_mode_e m)
{
    switch (m) {
    case CC_CREDIT_SYNC:
        return "sync";
    case CC_CREDIT_ASYNC:
        return "async";
    default:
        return "async_client_sync";
    }
}
