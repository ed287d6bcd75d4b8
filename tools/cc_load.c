/*
 * cc-load: a load client for the campaign's HTTP API, and the witness of
 * what it sent and what it got back.
 *
 *   cc-load grant --url URL --users N --chances C [...]
 *   cc-load flip  --url URL --users N [--secret FILE] [--retry-pct P]
 *                 [--combine] [...]
 *   cc-load claim --url URL --users N [--secret FILE] [--pct P] [...]
 *
 * Every user of [first-uid, first-uid + users) is one session that runs
 * as a real client does: one request in flight at a time, the next one
 * after the answer.  --conc sessions run at once, each on its own
 * keep-alive HTTP/1.1 connection.  A grant session sends one grant; a
 * flip session flips until the answers say no chance is left (and, with
 * --combine, combines once its answers show a full set); a claim session
 * reads the award and claims a share of the winners.
 *
 * Why plain sockets and not libcurl: on this 2-core machine the client
 * shares the CPU with the nginx tiers and Redis, so its cost per request
 * is taken from the server.  libcurl's multi interface measured 18-20 us
 * of client CPU per request against a fixed nginx answer; this loop of
 * non-blocking sockets on epoll measured a fraction of that (see the
 * README).  The protocol spoken is the small subset the campaign's
 * servers use: requests without a body, answers with Content-Length or
 * chunked bodies, keep-alive until the server says close.
 *
 * Failures are retried as a client would: a keep-alive connection the
 * server closed is reopened and the request sent again; a refused or
 * timed-out request, a 429 and a 5xx are sent again with the same request
 * id after a backoff, up to --max-tries sends.  The request id makes a
 * resend safe, and every resend is counted.
 *
 * Output: a JSON-lines stats file (--stats, default stdout): one line a
 * second, then one total line.  A progress line on stderr each second.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cc_token.h"


#define CL_KINDS_MAX     16
#define CL_RBUF          16384     /* an answer, headers included */
#define CL_WBUF          1024      /* a request */
#define CL_BODY_MAX      4096
#define CL_TICK_MS       10        /* timeouts and backoffs are checked */
#define CL_STATUS_MAX    600

/*
 * Latency histogram, HDR-style: values below 64 us have a bucket each;
 * above, each power of two is split in 32 equal buckets, so a bucket is
 * within 1/32 (3%) of its values.  Bucket of v (msb = highest set bit):
 * v if v < 64, else (msb - 5) * 32 + (v >> (msb - 5)); the mantissa
 * v >> (msb - 5) is 32..63, so the indexes run on without gaps.
 */
#define CL_HIST_N        ((63 - 5) * 32 + 64)

typedef struct {
    uint64_t     n[CL_HIST_N];
    uint64_t     count;
    uint64_t     max;
    uint64_t     sum;
} cl_hist_t;

typedef enum {
    CL_PHASE_GRANT,
    CL_PHASE_FLIP,
    CL_PHASE_CLAIM
} cl_phase_e;

typedef enum {
    CL_EP_GRANT,
    CL_EP_FLIP,
    CL_EP_COMBINE,
    CL_EP_AWARD,
    CL_EP_CLAIM,
    CL_EP_N
} cl_ep_e;

static const char *cl_ep_names[CL_EP_N] = {
    "grant", "flip", "combine", "award", "claim"
};

typedef enum {
    CL_ERR_CONNECT,
    CL_ERR_TIMEOUT,
    CL_ERR_RESET,
    CL_ERR_BAD_RESPONSE,
    CL_ERR_N
} cl_err_e;

static const char *cl_err_names[CL_ERR_N] = {
    "connect", "timeout", "reset", "bad_response"
};

typedef enum {
    CL_C_FREE,          /* no session */
    CL_C_CONNECTING,
    CL_C_WRITING,
    CL_C_READING,
    CL_C_WAITING        /* backoff before a resend */
} cl_state_e;

/* one user's run: what it sends next and what its answers said */
typedef struct {
    uint64_t     uid;
    cl_ep_e      ep;              /* the request in flight or next */
    unsigned     flip_no;         /* request id <prefix>-<flip_no> */
    unsigned     tries;           /* sends of the current request */
    int          client_retry;    /* this send repeats an answered id */
    int64_t      chances_left;    /* from the last flip answer, -1: none */
    uint64_t     max_seq;         /* the newest draw seen */
    uint32_t     cards[CL_KINDS_MAX];
    int          combine_sent;
    size_t       last_len;
    char         last_body[256];  /* the answer a client retry must get */
    char         token[CC_TOKEN_MAX + 1];
} cl_session_t;

typedef struct {
    int          fd;
    cl_state_e   state;
    int          used;            /* answered requests on this fd */
    uint64_t     t_sent;          /* ns, first byte of the request */
    uint64_t     deadline;        /* ns */
    uint64_t     resume_at;       /* ns, CL_C_WAITING */
    size_t       wlen;
    size_t       woff;
    size_t       rlen;
    char         wbuf[CL_WBUF];
    char         rbuf[CL_RBUF];
    cl_session_t s;
} cl_conn_t;

/* the counters of one second, and of the whole run */
typedef struct {
    uint64_t     sent;
    uint64_t     answered;
    uint64_t     status[CL_STATUS_MAX];
    uint64_t     errors;
    uint64_t     draws;
    cl_hist_t    lat;
} cl_second_t;

typedef struct {
    cl_phase_e   phase;
    const char  *url;
    char         host[256];       /* Host header: host[:port] */
    struct sockaddr_storage addr;
    socklen_t    addrlen;
    uint64_t     users;
    uint64_t     first_uid;
    unsigned     conc;
    const char  *stats_path;
    unsigned     timeout_ms;
    unsigned     max_tries;
    const char  *secret_path;
    unsigned char secret[CC_TOKEN_SECRET_MAX];
    size_t       secret_len;
    long         token_ttl;
    unsigned     chances;
    const char  *grant_id;
    double       retry_pct;
    int          combine;
    unsigned     kinds;
    unsigned     max_flips;
    const char  *rid_prefix;
    uint64_t     seed;
    double       claim_pct;
    int          quiet;
} cl_opts_t;

typedef struct {
    cl_opts_t    o;
    FILE        *stats;
    int          epfd;
    cl_conn_t   *conns;
    uint64_t     next_uid;        /* the next user to start */
    uint64_t     users_done;
    unsigned     active;
    uint64_t     t0;              /* ns, monotonic */
    int64_t      wall0_ms;
    unsigned     second_no;

    cl_second_t  sec;
    cl_hist_t    lat_total;
    uint64_t     sent;
    uint64_t     answered;
    uint64_t     status[CL_EP_N][CL_STATUS_MAX];
    uint64_t     sent_ep[CL_EP_N];
    uint64_t     errors[CL_ERR_N];
    uint64_t     reconnects;      /* keep-alive closed by the server */
    uint64_t     resends;         /* same request sent again on failure */
    uint64_t     gave_up;
    uint64_t     bad_answers;     /* 200 whose body is not the contract */

    uint64_t     chances_sum;     /* grant: chances in the answers */

    uint64_t     flips_200;       /* flip answers 200, replays included */
    uint64_t     draws;           /* distinct new draw ids */
    uint64_t     retries_sent;
    uint64_t     retries_same;
    uint64_t     retries_differ;
    uint64_t     dup_draw_ids;    /* a new request id answered an old draw */
    uint64_t     users_no_chances;
    uint64_t     cards[CL_KINDS_MAX];
    uint64_t     combined;        /* combine 200 with "combined":true */

    uint64_t     award_none;
    uint64_t     award_pending;
    uint64_t     award_credited;
    uint64_t     award_cents;
    uint64_t     claims_sent;
    uint64_t     claimed_cents;   /* amounts of claims answered 200 */
} cl_run_t;


static volatile sig_atomic_t  cl_stop;


static void
cl_on_signal(int sig)
{
    (void) sig;
    cl_stop = 1;
}


static uint64_t
cl_now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}


static int64_t
cl_wall_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
cl_die(const char *fmt, ...)
{
    va_list  ap;

    fputs("cc-load: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}


/* ---- histogram ------------------------------------------------------- */

static unsigned
cl_hist_index(uint64_t v)
{
    int  msb, shift;

    if (v < 64) {
        return (unsigned) v;
    }
    msb = 63 - __builtin_clzll(v);
    shift = msb - 5;
    return (unsigned) (shift * 32 + (int) (v >> shift));
}


/* the highest value of a bucket: a percentile never reads low */
static uint64_t
cl_hist_value(unsigned i)
{
    unsigned  shift, mant;

    if (i < 64) {
        return i;
    }
    shift = i / 32 - 1;
    mant = i - shift * 32;
    return (((uint64_t) mant + 1) << shift) - 1;
}


static void
cl_hist_add(cl_hist_t *h, uint64_t v)
{
    h->n[cl_hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v > h->max) {
        h->max = v;
    }
}


static void
cl_hist_merge(cl_hist_t *to, const cl_hist_t *from)
{
    unsigned  i;

    for (i = 0; i < CL_HIST_N; i++) {
        to->n[i] += from->n[i];
    }
    to->count += from->count;
    to->sum += from->sum;
    if (from->max > to->max) {
        to->max = from->max;
    }
}


/* the value at or below which a share q of the samples lie */
static uint64_t
cl_hist_pct(const cl_hist_t *h, double q)
{
    uint64_t  rank, seen;
    unsigned  i;

    if (h->count == 0) {
        return 0;
    }
    rank = (uint64_t) ceil(q * (double) h->count);
    if (rank == 0) {
        rank = 1;
    }
    seen = 0;
    for (i = 0; i < CL_HIST_N; i++) {
        seen += h->n[i];
        if (seen >= rank) {
            uint64_t  v = cl_hist_value(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}


static cJSON *
cl_hist_json(const cl_hist_t *h, int full)
{
    cJSON  *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "p50", (double) cl_hist_pct(h, 0.50));
    cJSON_AddNumberToObject(o, "p90", (double) cl_hist_pct(h, 0.90));
    cJSON_AddNumberToObject(o, "p99", (double) cl_hist_pct(h, 0.99));
    if (full) {
        cJSON_AddNumberToObject(o, "p999", (double) cl_hist_pct(h, 0.999));
        cJSON_AddNumberToObject(o, "mean", h->count
                                ? (double) (h->sum / h->count) : 0);
    }
    cJSON_AddNumberToObject(o, "max", (double) h->max);
    return o;
}


/* ---- options ---------------------------------------------------------- */

static void
cl_usage(FILE *f)
{
    fputs(
"usage: cc-load PHASE --url URL --users N [options]\n"
"\n"
"A load client for the campaign's HTTP API.  Every user of\n"
"[--first-uid, --first-uid + --users) is one session, --conc at once,\n"
"each on its own keep-alive connection.\n"
"\n"
"phases:\n"
"  grant   POST /cc/grant?grant_id=ID&n=C with X-CC-Uid (internal port)\n"
"  flip    POST /cc/flip?request_id=PREFIX-K until no chance is left\n"
"          (chances_left 0 or 409); --combine: POST /cc/combine once the\n"
"          user's answers show every kind\n"
"  claim   GET /cc/award; POST /cc/claim for --pct percent of the users\n"
"          with an award\n"
"\n"
"options:\n"
"  --url URL          http://HOST:PORT of the server (required)\n"
"  --users N          users in the run (required)\n"
"  --first-uid U      the first uid (1)\n"
"  --conc C           sessions and connections at once (256)\n"
"  --stats FILE       JSON lines: one a second, then the totals (stdout)\n"
"  --timeout MS       an answer's deadline; then resend (5000)\n"
"  --max-tries N      sends of one request before giving up (10)\n"
"  --secret FILE      identity by signed tokens minted with this secret\n"
"                     (flip, claim); without it X-CC-Uid: UID\n"
"  --token-ttl SEC    the tokens' lifetime (3600)\n"
"  --quiet            no progress line on stderr\n"
"  --help\n"
"grant:\n"
"  --chances C        chances granted to each user (required)\n"
"  --grant-id ID      the grant id, the same for every user (load)\n"
"flip:\n"
"  --retry-pct P      resend P percent of the answered flips with the same\n"
"                     request id and check the answer is the same (0)\n"
"  --combine          combine once the user's answers show a full set\n"
"  --kinds K          card kinds (5)\n"
"  --max-flips N      at most N flips a user (0: until no chance left)\n"
"  --rid-prefix P     request ids P-1, P-2, ... per user (r)\n"
"  --seed S           chooses the retried flips (1)\n"
"claim:\n"
"  --pct P            percent of the winners who claim (100)\n"
"\n"
"Exit: 0 done; 1 a session gave up (a request failed --max-tries times)\n"
"or an answer broke the contract (a retry answered differently, a new\n"
"request id answered an old draw); 2 bad options or setup.\n",
          f);
}


static uint64_t
cl_parse_u64(const char *opt, const char *v, uint64_t min, uint64_t max)
{
    char                *end;
    unsigned long long   n;

    if (*v < '0' || *v > '9') {
        cl_die("%s: not a number: \"%s\"", opt, v);
    }
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0') {
        cl_die("%s: not a number: \"%s\"", opt, v);
    }
    if (n < min || n > max) {
        cl_die("%s: %s is outside %" PRIu64 "..%" PRIu64, opt, v, min, max);
    }
    return n;
}


static double
cl_parse_pct(const char *opt, const char *v)
{
    char    *end;
    double   d;

    errno = 0;
    d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(d >= 0 && d <= 100)) {
        cl_die("%s: not a percentage 0..100: \"%s\"", opt, v);
    }
    return d;
}


static int
cl_id_ok(const char *s, size_t max)
{
    size_t  n;

    for (n = 0; s[n]; n++) {
        char  c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return 0;
        }
    }
    return n >= 1 && n <= max;
}


/* http://HOST:PORT[/] with HOST an IPv4 or IPv6 literal or a name */
static void
cl_parse_url(cl_opts_t *o)
{
    const char       *p, *hs, *he, *port;
    char              hostbuf[256], portbuf[8];
    struct addrinfo   hints, *res;
    size_t            hl;
    int               rc;

    if (strncmp(o->url, "http://", 7) != 0) {
        cl_die("--url: must start with http:// : \"%s\"", o->url);
    }
    p = o->url + 7;
    if (*p == '[') {
        hs = p + 1;
        he = strchr(hs, ']');
        if (he == NULL) {
            cl_die("--url: unclosed [ in \"%s\"", o->url);
        }
        port = he + 1;
    } else {
        hs = p;
        he = hs + strcspn(hs, ":/");
        port = he;
    }
    hl = (size_t) (he - hs);
    if (hl == 0 || hl >= sizeof(hostbuf)) {
        cl_die("--url: no host in \"%s\"", o->url);
    }
    memcpy(hostbuf, hs, hl);
    hostbuf[hl] = '\0';
    if (*port == ':') {
        size_t  pl = strspn(port + 1, "0123456789");
        if (pl == 0 || pl > 5 || (port[1 + pl] != '\0'
                                  && strcmp(port + 1 + pl, "/") != 0))
        {
            cl_die("--url: bad port in \"%s\" (no path is taken)", o->url);
        }
        memcpy(portbuf, port + 1, pl);
        portbuf[pl] = '\0';
        if (atoi(portbuf) < 1 || atoi(portbuf) > 65535) {
            cl_die("--url: port outside 1..65535 in \"%s\"", o->url);
        }
    } else if (*port == '\0' || strcmp(port, "/") == 0) {
        strcpy(portbuf, "80");
    } else {
        cl_die("--url: bad URL \"%s\" (no path is taken)", o->url);
    }
    /* the Host header: the URL's authority as written */
    snprintf(o->host, sizeof(o->host), "%.*s", (int) strcspn(p, "/"), p);

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(hostbuf, portbuf, &hints, &res);
    if (rc != 0) {
        cl_die("--url: cannot resolve \"%s\": %s", hostbuf, gai_strerror(rc));
    }
    memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
    o->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
}


static void
cl_parse_opts(cl_opts_t *o, int argc, char **argv)
{
    enum {
        OPT_URL = 256, OPT_USERS, OPT_FIRST, OPT_CONC, OPT_STATS,
        OPT_TIMEOUT, OPT_TRIES, OPT_SECRET, OPT_TTL, OPT_QUIET, OPT_CHANCES,
        OPT_GRANT_ID, OPT_RETRY, OPT_COMBINE, OPT_KINDS, OPT_MAX_FLIPS,
        OPT_PREFIX, OPT_SEED, OPT_PCT
    };
    static const struct option  opts[] = {
        { "help",       no_argument,       NULL, 'h' },
        { "url",        required_argument, NULL, OPT_URL },
        { "users",      required_argument, NULL, OPT_USERS },
        { "first-uid",  required_argument, NULL, OPT_FIRST },
        { "conc",       required_argument, NULL, OPT_CONC },
        { "stats",      required_argument, NULL, OPT_STATS },
        { "timeout",    required_argument, NULL, OPT_TIMEOUT },
        { "max-tries",  required_argument, NULL, OPT_TRIES },
        { "secret",     required_argument, NULL, OPT_SECRET },
        { "token-ttl",  required_argument, NULL, OPT_TTL },
        { "quiet",      no_argument,       NULL, OPT_QUIET },
        { "chances",    required_argument, NULL, OPT_CHANCES },
        { "grant-id",   required_argument, NULL, OPT_GRANT_ID },
        { "retry-pct",  required_argument, NULL, OPT_RETRY },
        { "combine",    no_argument,       NULL, OPT_COMBINE },
        { "kinds",      required_argument, NULL, OPT_KINDS },
        { "max-flips",  required_argument, NULL, OPT_MAX_FLIPS },
        { "rid-prefix", required_argument, NULL, OPT_PREFIX },
        { "seed",       required_argument, NULL, OPT_SEED },
        { "pct",        required_argument, NULL, OPT_PCT },
        { NULL, 0, NULL, 0 }
    };
    const char  *phase;
    int          c, seen_phase_opt = 0;
    char         err[256];

    memset(o, 0, sizeof(*o));
    o->first_uid = 1;
    o->conc = 256;
    o->timeout_ms = 5000;
    o->max_tries = 10;
    o->token_ttl = 3600;
    o->grant_id = "load";
    o->kinds = 5;
    o->rid_prefix = "r";
    o->seed = 1;
    o->claim_pct = 100;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0
                      || strcmp(argv[1], "-h") == 0))
    {
        cl_usage(stdout);
        exit(0);
    }
    if (argc < 2 || argv[1][0] == '-') {
        cl_usage(stderr);
        cl_die("the first argument is the phase: grant, flip or claim");
    }
    phase = argv[1];
    if (strcmp(phase, "grant") == 0) {
        o->phase = CL_PHASE_GRANT;
    } else if (strcmp(phase, "flip") == 0) {
        o->phase = CL_PHASE_FLIP;
    } else if (strcmp(phase, "claim") == 0) {
        o->phase = CL_PHASE_CLAIM;
    } else {
        cl_die("unknown phase \"%s\" (grant, flip or claim)", phase);
    }

    optind = 2;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cl_usage(stdout);
            exit(0);
        case OPT_URL:
            o->url = optarg;
            break;
        case OPT_USERS:
            o->users = cl_parse_u64("--users", optarg, 1, 1000000000);
            break;
        case OPT_FIRST:
            o->first_uid = cl_parse_u64("--first-uid", optarg, 1,
                                        UINT64_MAX / 2);
            break;
        case OPT_CONC:
            o->conc = (unsigned) cl_parse_u64("--conc", optarg, 1, 60000);
            break;
        case OPT_STATS:
            o->stats_path = optarg;
            break;
        case OPT_TIMEOUT:
            o->timeout_ms = (unsigned) cl_parse_u64("--timeout", optarg,
                                                    1, 600000);
            break;
        case OPT_TRIES:
            o->max_tries = (unsigned) cl_parse_u64("--max-tries", optarg,
                                                   1, 1000);
            break;
        case OPT_SECRET:
            o->secret_path = optarg;
            break;
        case OPT_TTL:
            o->token_ttl = (long) cl_parse_u64("--token-ttl", optarg, 1,
                                               100000000);
            break;
        case OPT_QUIET:
            o->quiet = 1;
            break;
        case OPT_CHANCES:
            o->chances = (unsigned) cl_parse_u64("--chances", optarg,
                                                 1, 100000);
            seen_phase_opt |= 1 << CL_PHASE_GRANT;
            break;
        case OPT_GRANT_ID:
            if (!cl_id_ok(optarg, 64)) {
                cl_die("--grant-id: 1..64 of [A-Za-z0-9_-]: \"%s\"", optarg);
            }
            o->grant_id = optarg;
            seen_phase_opt |= 1 << CL_PHASE_GRANT;
            break;
        case OPT_RETRY:
            o->retry_pct = cl_parse_pct("--retry-pct", optarg);
            seen_phase_opt |= 1 << CL_PHASE_FLIP;
            break;
        case OPT_COMBINE:
            o->combine = 1;
            seen_phase_opt |= 1 << CL_PHASE_FLIP;
            break;
        case OPT_KINDS:
            o->kinds = (unsigned) cl_parse_u64("--kinds", optarg, 2,
                                               CL_KINDS_MAX);
            seen_phase_opt |= 1 << CL_PHASE_FLIP;
            break;
        case OPT_MAX_FLIPS:
            o->max_flips = (unsigned) cl_parse_u64("--max-flips", optarg,
                                                   0, 100000);
            seen_phase_opt |= 1 << CL_PHASE_FLIP;
            break;
        case OPT_PREFIX:
            /* with "-" and up to 10 digits the id stays within 64 */
            if (!cl_id_ok(optarg, 50)) {
                cl_die("--rid-prefix: 1..50 of [A-Za-z0-9_-]: \"%s\"",
                       optarg);
            }
            o->rid_prefix = optarg;
            seen_phase_opt |= 1 << CL_PHASE_FLIP;
            break;
        case OPT_SEED:
            o->seed = cl_parse_u64("--seed", optarg, 0, UINT64_MAX);
            break;
        case OPT_PCT:
            o->claim_pct = cl_parse_pct("--pct", optarg);
            seen_phase_opt |= 1 << CL_PHASE_CLAIM;
            break;
        default:
            /* getopt_long said which option */
            cl_die("see cc-load --help");
        }
    }
    if (optind < argc) {
        cl_die("unexpected argument \"%s\"", argv[optind]);
    }
    if (seen_phase_opt & ~(1 << o->phase)) {
        cl_die("an option of another phase was given to %s (see --help)",
               phase);
    }
    if (o->url == NULL) {
        cl_die("--url is required");
    }
    if (o->users == 0) {
        cl_die("--users is required");
    }
    if (o->first_uid + o->users - 1 < o->first_uid) {
        cl_die("--first-uid + --users overflows");
    }
    if (o->phase == CL_PHASE_GRANT && o->chances == 0) {
        cl_die("grant: --chances is required");
    }
    if (o->phase == CL_PHASE_GRANT && o->secret_path != NULL) {
        cl_die("grant: --secret is not taken (grants use X-CC-Uid on the"
               " internal port)");
    }
    cl_parse_url(o);

    if (o->secret_path != NULL
        && cc_token_load_secret(o->secret_path, o->secret,
                                sizeof(o->secret), &o->secret_len,
                                err, sizeof(err)) != 0)
    {
        cl_die("--secret: %s", err);
    }
}


/* ---- the deterministic choices --------------------------------------- */

/*
 * splitmix64: a well mixed 64-bit value from the seed, the uid and the
 * flip, so which flips are retried and which users claim is the same on
 * every run with the same options.
 */
static uint64_t
cl_mix(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t  z = a ^ (b * 0x9e3779b97f4a7c15ULL) ^ (c * 0xbf58476d1ce4e5b9ULL);

    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}


static int
cl_chosen(uint64_t seed, uint64_t uid, uint64_t n, double pct)
{
    return (double) (cl_mix(seed, uid, n) % 1000000) < pct * 10000.0;
}


/* ---- requests --------------------------------------------------------- */

static int
cl_identity(cl_run_t *r, cl_session_t *s, char *buf, size_t len)
{
    if (r->o.secret_len > 0) {
        return snprintf(buf, len, "Authorization: Bearer %s\r\n", s->token);
    }
    return snprintf(buf, len, "X-CC-Uid: %" PRIu64 "\r\n", s->uid);
}


static void
cl_build_request(cl_run_t *r, cl_conn_t *c)
{
    cl_session_t  *s = &c->s;
    char           id[400];
    int            n = 0;

    cl_identity(r, s, id, sizeof(id));
    switch (s->ep) {
    case CL_EP_GRANT:
        n = snprintf(c->wbuf, sizeof(c->wbuf),
                     "POST /cc/grant?grant_id=%s&n=%u HTTP/1.1\r\n"
                     "Host: %s\r\nX-CC-Uid: %" PRIu64 "\r\n"
                     "Content-Length: 0\r\n\r\n",
                     r->o.grant_id, r->o.chances, r->o.host, s->uid);
        break;
    case CL_EP_FLIP:
        n = snprintf(c->wbuf, sizeof(c->wbuf),
                     "POST /cc/flip?request_id=%s-%u HTTP/1.1\r\n"
                     "Host: %s\r\n%sContent-Length: 0\r\n\r\n",
                     r->o.rid_prefix, s->flip_no, r->o.host, id);
        break;
    case CL_EP_COMBINE:
        n = snprintf(c->wbuf, sizeof(c->wbuf),
                     "POST /cc/combine?request_id=%s-set HTTP/1.1\r\n"
                     "Host: %s\r\n%sContent-Length: 0\r\n\r\n",
                     r->o.rid_prefix, r->o.host, id);
        break;
    case CL_EP_AWARD:
        n = snprintf(c->wbuf, sizeof(c->wbuf),
                     "GET /cc/award HTTP/1.1\r\nHost: %s\r\n%s\r\n",
                     r->o.host, id);
        break;
    case CL_EP_CLAIM:
        n = snprintf(c->wbuf, sizeof(c->wbuf),
                     "POST /cc/claim HTTP/1.1\r\n"
                     "Host: %s\r\n%sContent-Length: 0\r\n\r\n",
                     r->o.host, id);
        break;
    default:
        break;
    }
    c->wlen = (size_t) n;
    c->woff = 0;
    c->rlen = 0;
}


/* ---- connections ------------------------------------------------------ */

static void cl_send(cl_run_t *r, cl_conn_t *c);
static void cl_session_end(cl_run_t *r, cl_conn_t *c);


static void
cl_close_fd(cl_run_t *r, cl_conn_t *c)
{
    if (c->fd >= 0) {
        epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->used = 0;
}


/* the session waits ms, then sends its current request again */
static void
cl_backoff(cl_run_t *r, cl_conn_t *c, unsigned ms)
{
    (void) r;
    c->state = CL_C_WAITING;
    c->resume_at = cl_now_ns() + (uint64_t) ms * 1000000ULL;
}


/* 50 ms doubling to 1 s by the sends so far */
static unsigned
cl_backoff_ms(unsigned tries)
{
    unsigned  ms = 50;

    while (tries-- > 1 && ms < 1000) {
        ms *= 2;
    }
    return ms < 1000 ? ms : 1000;
}


/*
 * The current request failed without an answer.  A keep-alive connection
 * closed by the server before any byte of the answer (the server's
 * keepalive_timeout or keepalive_requests) is not an error: the request
 * goes at once on a new connection.  Anything else counts, and the
 * request is sent again after a backoff with the same id, or the session
 * gives up after --max-tries sends.
 */
static void
cl_fail(cl_run_t *r, cl_conn_t *c, cl_err_e err)
{
    int  stale = (err == CL_ERR_RESET && c->used > 0 && c->rlen == 0
                  && c->state != CL_C_CONNECTING);

    cl_close_fd(r, c);
    if (stale) {
        r->reconnects++;
        cl_send(r, c);
        return;
    }
    r->errors[err]++;
    r->sec.errors++;
    if (c->s.tries >= r->o.max_tries) {
        r->gave_up++;
        cl_session_end(r, c);
        return;
    }
    r->resends++;
    cl_backoff(r, c, cl_backoff_ms(c->s.tries));
}


static int
cl_connect(cl_run_t *r, cl_conn_t *c)
{
    struct epoll_event  ev;
    int                 fd, one = 1;

    fd = socket(r->o.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->used = 0;
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.ptr = c;
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        cl_close_fd(r, c);
        return -1;
    }
    if (connect(fd, (struct sockaddr *) &r->o.addr, r->o.addrlen) != 0
        && errno != EINPROGRESS)
    {
        cl_close_fd(r, c);
        return -1;
    }
    c->state = CL_C_CONNECTING;
    return 0;
}


static void
cl_write(cl_run_t *r, cl_conn_t *c)
{
    ssize_t  n;

    while (c->woff < c->wlen) {
        n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return;
            }
            cl_fail(r, c, CL_ERR_RESET);
            return;
        }
        c->woff += (size_t) n;
    }
    c->state = CL_C_READING;
}


/* sends the session's current request, on the open connection or a new one */
static void
cl_send(cl_run_t *r, cl_conn_t *c)
{
    uint64_t  now = cl_now_ns();

    cl_build_request(r, c);
    c->s.tries++;
    c->t_sent = now;
    c->deadline = now + (uint64_t) r->o.timeout_ms * 1000000ULL;
    r->sent++;
    r->sent_ep[c->s.ep]++;
    r->sec.sent++;

    if (c->fd < 0) {
        if (cl_connect(r, c) != 0) {
            cl_fail(r, c, CL_ERR_CONNECT);
        }
        return;
    }
    c->state = CL_C_WRITING;
    cl_write(r, c);
}


/* ---- answers ---------------------------------------------------------- */

/*
 * Parses one answer in rbuf.  Returns 0 while incomplete, 1 when complete
 * (status, body, whether the server closes), -1 when it is not HTTP/1.x or
 * too large.  Bodies come with Content-Length or chunked; a body without
 * either ends with the connection (not used by nginx for these answers).
 */
static int
cl_parse(cl_conn_t *c, int *status, char *body, size_t *blen, int *close_after)
{
    char    *end, *p, *line, *le;
    size_t   hlen, cl = 0;
    int      has_cl = 0, chunked = 0;

    *close_after = 0;
    end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (end == NULL) {
        return c->rlen >= sizeof(c->rbuf) ? -1 : 0;
    }
    hlen = (size_t) (end - c->rbuf) + 4;
    if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.", 7) != 0
        || c->rbuf[8] != ' ' || c->rbuf[9] < '1' || c->rbuf[9] > '5'
        || c->rbuf[10] < '0' || c->rbuf[10] > '9'
        || c->rbuf[11] < '0' || c->rbuf[11] > '9')
    {
        return -1;
    }
    *status = (c->rbuf[9] - '0') * 100 + (c->rbuf[10] - '0') * 10
              + (c->rbuf[11] - '0');
    if (c->rbuf[7] == '0') {
        *close_after = 1;
    }

    line = memchr(c->rbuf, '\n', hlen) + 1;
    while (line < c->rbuf + hlen - 2) {
        le = memchr(line, '\n', (size_t) (c->rbuf + hlen - line));
        if (le == NULL) {
            break;
        }
        if (strncasecmp(line, "content-length:", 15) == 0) {
            cl = strtoul(line + 15, NULL, 10);
            has_cl = 1;
        } else if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
            chunked = memmem(line, (size_t) (le - line), "chunked", 7)
                      != NULL;
        } else if (strncasecmp(line, "connection:", 11) == 0) {
            if (memmem(line, (size_t) (le - line), "close", 5) != NULL) {
                *close_after = 1;
            } else if (memmem(line, (size_t) (le - line), "keep-alive", 10)
                       != NULL)
            {
                *close_after = 0;
            }
        }
        line = le + 1;
    }

    if (chunked) {
        size_t  out = 0;

        p = c->rbuf + hlen;
        for ( ;; ) {
            size_t  sz;
            char   *nl;

            nl = memmem(p, (size_t) (c->rbuf + c->rlen - p), "\r\n", 2);
            if (nl == NULL) {
                return c->rlen >= sizeof(c->rbuf) ? -1 : 0;
            }
            sz = strtoul(p, NULL, 16);
            p = nl + 2;
            if ((size_t) (c->rbuf + c->rlen - p) < sz + 2) {
                return c->rlen >= sizeof(c->rbuf) ? -1 : 0;
            }
            if (sz == 0) {
                /* no trailers are sent by nginx */
                if (p + 2 != c->rbuf + c->rlen) {
                    return -1;
                }
                break;
            }
            if (out + sz < CL_BODY_MAX) {
                memcpy(body + out, p, sz);
                out += sz;
            }
            p += sz + 2;
        }
        *blen = out;
        body[out] = '\0';
        return 1;
    }
    if (!has_cl) {
        return -1;
    }
    if (c->rlen < hlen + cl) {
        return hlen + cl > sizeof(c->rbuf) ? -1 : 0;
    }
    if (c->rlen != hlen + cl) {
        return -1;          /* bytes after the answer: nothing was asked */
    }
    *blen = cl < CL_BODY_MAX ? cl : CL_BODY_MAX - 1;
    memcpy(body, c->rbuf + hlen, *blen);
    body[*blen] = '\0';
    return 1;
}


static int
cl_full_set(cl_run_t *r, cl_session_t *s)
{
    unsigned  k;

    for (k = 0; k < r->o.kinds; k++) {
        if (s->cards[k] == 0) {
            return 0;
        }
    }
    return 1;
}


/* after a flip or a combine: the session's next request, or its end */
static void
cl_flip_next(cl_run_t *r, cl_conn_t *c)
{
    cl_session_t  *s = &c->s;

    if (r->o.combine && !s->combine_sent && cl_full_set(r, s)) {
        s->combine_sent = 1;
        s->ep = CL_EP_COMBINE;
    } else if (s->chances_left == 0
               || (r->o.max_flips && s->flip_no >= r->o.max_flips))
    {
        cl_session_end(r, c);
        return;
    } else {
        s->ep = CL_EP_FLIP;
        s->flip_no++;
    }
    s->tries = 0;
    s->client_retry = 0;
    cl_send(r, c);
}


static void
cl_on_flip_200(cl_run_t *r, cl_conn_t *c, const char *body, size_t blen)
{
    cl_session_t  *s = &c->s;
    cJSON         *j, *d, *k, *left;
    uint64_t       uid, seq;
    char          *colon;
    int            ok = 0;

    r->flips_200++;
    if (s->client_retry) {
        /* the same request id again: the first answer, byte for byte */
        if (blen == s->last_len && memcmp(body, s->last_body, blen) == 0) {
            r->retries_same++;
        } else {
            r->retries_differ++;
        }
        s->client_retry = 0;
        cl_flip_next(r, c);
        return;
    }

    j = cJSON_Parse(body);
    d = cJSON_GetObjectItemCaseSensitive(j, "draw_id");
    k = cJSON_GetObjectItemCaseSensitive(j, "card");
    left = cJSON_GetObjectItemCaseSensitive(j, "chances_left");
    if (cJSON_IsString(d) && cJSON_IsNumber(k) && cJSON_IsNumber(left)
        && k->valuedouble >= 0 && k->valuedouble < r->o.kinds
        && left->valuedouble >= 0)
    {
        uid = strtoull(d->valuestring, &colon, 10);
        if (*colon == ':' && uid == s->uid) {
            seq = strtoull(colon + 1, NULL, 10);
            ok = 1;
            s->chances_left = (int64_t) left->valuedouble;
            if (seq > s->max_seq) {
                s->max_seq = seq;
                s->cards[k->valueint]++;
                r->cards[k->valueint]++;
                r->draws++;
                r->sec.draws++;
            } else {
                r->dup_draw_ids++;
            }
        }
    }
    cJSON_Delete(j);
    if (!ok) {
        r->bad_answers++;
        cl_session_end(r, c);
        return;
    }

    if (r->o.retry_pct > 0
        && cl_chosen(r->o.seed, s->uid, s->flip_no, r->o.retry_pct)
        && blen < sizeof(s->last_body))
    {
        memcpy(s->last_body, body, blen);
        s->last_len = blen;
        s->client_retry = 1;
        s->tries = 0;
        r->retries_sent++;
        cl_send(r, c);
        return;
    }
    cl_flip_next(r, c);
}


static void
cl_on_award_200(cl_run_t *r, cl_conn_t *c, const char *body)
{
    cl_session_t  *s = &c->s;
    cJSON         *j, *st, *amt;
    int            winner = 0;

    j = cJSON_Parse(body);
    st = cJSON_GetObjectItemCaseSensitive(j, "status");
    amt = cJSON_GetObjectItemCaseSensitive(j, "amount_cents");
    if (!cJSON_IsString(st)) {
        r->bad_answers++;
    } else if (strcmp(st->valuestring, "none") == 0) {
        r->award_none++;
    } else if (cJSON_IsNumber(amt) && amt->valuedouble >= 0
               && (strcmp(st->valuestring, "pending") == 0
                   || strcmp(st->valuestring, "credited") == 0))
    {
        if (st->valuestring[0] == 'p') {
            r->award_pending++;
        } else {
            r->award_credited++;
        }
        r->award_cents += (uint64_t) amt->valuedouble;
        winner = 1;
    } else {
        r->bad_answers++;
    }
    cJSON_Delete(j);

    if (winner && cl_chosen(r->o.seed, s->uid, 0, r->o.claim_pct)) {
        s->ep = CL_EP_CLAIM;
        s->tries = 0;
        r->claims_sent++;
        cl_send(r, c);
        return;
    }
    cl_session_end(r, c);
}


static void
cl_on_claim_200(cl_run_t *r, const char *body)
{
    cJSON  *j, *amt;

    j = cJSON_Parse(body);
    amt = cJSON_GetObjectItemCaseSensitive(j, "amount_cents");
    if (cJSON_IsNumber(amt) && amt->valuedouble >= 0) {
        r->claimed_cents += (uint64_t) amt->valuedouble;
    } else {
        r->bad_answers++;
    }
    cJSON_Delete(j);
}


/* one complete answer to the session's current request */
static void
cl_on_answer(cl_run_t *r, cl_conn_t *c, int status, const char *body,
    size_t blen)
{
    cl_session_t  *s = &c->s;

    r->answered++;
    r->sec.answered++;
    r->status[s->ep][status]++;
    r->sec.status[status]++;

    /* too many requests, or the server's trouble: the same again later */
    if (status == 429 || status >= 500) {
        if (s->tries >= r->o.max_tries) {
            r->gave_up++;
            cl_session_end(r, c);
            return;
        }
        r->resends++;
        cl_backoff(r, c, cl_backoff_ms(s->tries));
        return;
    }

    switch (s->ep) {
    case CL_EP_GRANT:
        if (status == 200) {
            cJSON  *j = cJSON_Parse(body);
            cJSON  *n = cJSON_GetObjectItemCaseSensitive(j, "chances");
            if (cJSON_IsNumber(n) && n->valuedouble >= 0) {
                r->chances_sum += (uint64_t) n->valuedouble;
            } else {
                r->bad_answers++;
            }
            cJSON_Delete(j);
        }
        cl_session_end(r, c);
        return;

    case CL_EP_FLIP:
        if (status == 200) {
            cl_on_flip_200(r, c, body, blen);
            return;
        }
        if (s->client_retry) {
            r->retries_differ++;        /* an answered id must replay */
            s->client_retry = 0;
        }
        if (status == 409) {
            r->users_no_chances++;
            s->chances_left = 0;
            s->client_retry = 0;
            cl_flip_next(r, c);
            return;
        }
        cl_session_end(r, c);
        return;

    case CL_EP_COMBINE:
        if (status == 200 && strstr(body, "\"combined\":true") != NULL) {
            r->combined++;
        }
        if (status == 200 || status == 409) {
            cl_flip_next(r, c);
            return;
        }
        cl_session_end(r, c);
        return;

    case CL_EP_AWARD:
        if (status == 200) {
            cl_on_award_200(r, c, body);
            return;
        }
        cl_session_end(r, c);
        return;

    case CL_EP_CLAIM:
        if (status == 200) {
            cl_on_claim_200(r, body);
        }
        cl_session_end(r, c);
        return;

    default:
        cl_session_end(r, c);
    }
}


static void
cl_read(cl_run_t *r, cl_conn_t *c)
{
    char     body[CL_BODY_MAX];
    size_t   blen;
    ssize_t  n;
    int      status, close_after, rc;

    if (c->state != CL_C_READING && c->state != CL_C_WRITING) {
        /*
         * Nothing asked on this connection: the server closing an idle
         * keep-alive connection.  Close it; the next send reconnects.
         */
        cl_close_fd(r, c);
        return;
    }

    for ( ;; ) {
        n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
        if (n > 0) {
            c->rlen += (size_t) n;
            if (c->rlen < sizeof(c->rbuf)) {
                continue;
            }
        } else if (n == 0) {
            if (c->rlen == 0) {
                cl_fail(r, c, CL_ERR_RESET);
                return;
            }
        } else if (errno == EINTR) {
            continue;
        } else if (errno != EAGAIN) {
            cl_fail(r, c, CL_ERR_RESET);
            return;
        }
        break;
    }
    if (c->state != CL_C_READING) {
        if (c->rlen > 0) {
            /* an answer before the request was all written */
            cl_fail(r, c, CL_ERR_BAD_RESPONSE);
        }
        return;
    }

    rc = cl_parse(c, &status, body, &blen, &close_after);
    if (rc == 0) {
        if (n == 0) {
            cl_fail(r, c, CL_ERR_BAD_RESPONSE);     /* closed mid-answer */
        }
        return;
    }
    if (rc < 0) {
        cl_fail(r, c, CL_ERR_BAD_RESPONSE);
        return;
    }

    cl_hist_add(&r->sec.lat, (cl_now_ns() - c->t_sent) / 1000);
    c->used++;
    c->rlen = 0;
    c->state = CL_C_FREE;
    if (close_after || n == 0) {
        cl_close_fd(r, c);
    }
    cl_on_answer(r, c, status, body, blen);
}


static void
cl_on_event(cl_run_t *r, cl_conn_t *c, uint32_t events)
{
    if (c->fd < 0) {
        return;
    }
    if (c->state == CL_C_CONNECTING) {
        int        err = 0;
        socklen_t  len = sizeof(err);

        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
            cl_fail(r, c, CL_ERR_CONNECT);
            return;
        }
        c->state = CL_C_WRITING;
        cl_write(r, c);
        return;
    }
    if (c->state == CL_C_WRITING && (events & EPOLLOUT)) {
        cl_write(r, c);
    }
    if (c->fd >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        cl_read(r, c);
    }
}


/* ---- sessions --------------------------------------------------------- */

static int
cl_session_start(cl_run_t *r, cl_conn_t *c)
{
    cl_session_t  *s = &c->s;
    uint64_t       uid;

    if (cl_stop || r->next_uid >= r->o.first_uid + r->o.users) {
        return 0;
    }
    uid = r->next_uid++;
    memset(s, 0, sizeof(*s));
    s->uid = uid;
    s->chances_left = -1;
    if (r->o.secret_len > 0
        && cc_token_sign(r->o.secret, r->o.secret_len, uid,
                         (int64_t) time(NULL) + r->o.token_ttl,
                         s->token, sizeof(s->token)) < 0)
    {
        cl_die("cannot sign a token for uid %" PRIu64, uid);
    }
    switch (r->o.phase) {
    case CL_PHASE_GRANT:
        s->ep = CL_EP_GRANT;
        break;
    case CL_PHASE_FLIP:
        s->ep = CL_EP_FLIP;
        s->flip_no = 1;
        break;
    case CL_PHASE_CLAIM:
        s->ep = CL_EP_AWARD;
        break;
    }
    r->active++;
    cl_send(r, c);
    return 1;
}


/* the connection stays open for the next user */
static void
cl_session_end(cl_run_t *r, cl_conn_t *c)
{
    r->active--;
    r->users_done++;
    c->state = CL_C_FREE;
    if (c->fd >= 0 && c->rlen != 0) {
        cl_close_fd(r, c);
    }
    cl_session_start(r, c);
}


/* ---- stats ------------------------------------------------------------ */

static cJSON *
cl_status_json(const uint64_t *st)
{
    cJSON  *o = cJSON_CreateObject();
    char    code[8];
    int     i;

    for (i = 0; i < CL_STATUS_MAX; i++) {
        if (st[i]) {
            snprintf(code, sizeof(code), "%d", i);
            cJSON_AddNumberToObject(o, code, (double) st[i]);
        }
    }
    return o;
}


static const char *
cl_phase_name(cl_phase_e p)
{
    return p == CL_PHASE_GRANT ? "grant" : p == CL_PHASE_FLIP ? "flip"
                                                              : "claim";
}


static void
cl_emit(cl_run_t *r, cJSON *o)
{
    char  *text = cJSON_PrintUnformatted(o);

    if (text == NULL) {
        cl_die("out of memory");
    }
    fprintf(r->stats, "%s\n", text);
    fflush(r->stats);
    free(text);
    cJSON_Delete(o);
}


static double
cl_elapsed(cl_run_t *r)
{
    return (double) (cl_now_ns() - r->t0) / 1e9;
}


static void
cl_second(cl_run_t *r)
{
    cJSON  *o = cJSON_CreateObject();
    double  el = cl_elapsed(r);

    r->second_no++;
    cJSON_AddStringToObject(o, "type", "second");
    cJSON_AddStringToObject(o, "phase", cl_phase_name(r->o.phase));
    cJSON_AddNumberToObject(o, "t", r->second_no);
    cJSON_AddNumberToObject(o, "ts_ms", (double) cl_wall_ms());
    cJSON_AddNumberToObject(o, "sent", (double) r->sec.sent);
    cJSON_AddNumberToObject(o, "answered", (double) r->sec.answered);
    cJSON_AddItemToObject(o, "status", cl_status_json(r->sec.status));
    cJSON_AddNumberToObject(o, "errors", (double) r->sec.errors);
    cJSON_AddNumberToObject(o, "draws", (double) r->sec.draws);
    cJSON_AddItemToObject(o, "latency_us", cl_hist_json(&r->sec.lat, 0));
    cl_emit(r, o);

    if (!r->o.quiet) {
        fprintf(stderr, "cc-load %s: %4.0fs users %" PRIu64 "/%" PRIu64
                " sent %" PRIu64 " (%" PRIu64 "/s) 200 %" PRIu64
                " other %" PRIu64 " errors %" PRIu64 " p99 %.1fms\n",
                cl_phase_name(r->o.phase), el, r->users_done, r->o.users,
                r->sent, r->sec.sent, r->sec.status[200],
                r->sec.answered - r->sec.status[200],
                r->errors[0] + r->errors[1] + r->errors[2] + r->errors[3],
                (double) cl_hist_pct(&r->sec.lat, 0.99) / 1000.0);
    }
    cl_hist_merge(&r->lat_total, &r->sec.lat);
    memset(&r->sec, 0, sizeof(r->sec));
}


static void
cl_total(cl_run_t *r)
{
    cJSON     *o = cJSON_CreateObject(), *eps, *errs, *x;
    double     el = cl_elapsed(r);
    uint64_t   st[CL_STATUS_MAX], nerr = 0;
    unsigned   e, i;
    double     cards[CL_KINDS_MAX];

    cJSON_AddStringToObject(o, "type", "total");
    cJSON_AddStringToObject(o, "phase", cl_phase_name(r->o.phase));
    cJSON_AddStringToObject(o, "url", r->o.url);
    cJSON_AddNumberToObject(o, "users", (double) r->o.users);
    cJSON_AddNumberToObject(o, "first_uid", (double) r->o.first_uid);
    cJSON_AddNumberToObject(o, "users_done", (double) r->users_done);
    cJSON_AddNumberToObject(o, "conc", r->o.conc);
    cJSON_AddNumberToObject(o, "started_ms", (double) r->wall0_ms);
    cJSON_AddNumberToObject(o, "elapsed_s", el);
    cJSON_AddNumberToObject(o, "sent", (double) r->sent);
    cJSON_AddNumberToObject(o, "answered", (double) r->answered);
    cJSON_AddNumberToObject(o, "rps", el > 0 ? (double) r->answered / el
                                             : 0);
    memset(st, 0, sizeof(st));
    eps = cJSON_AddObjectToObject(o, "endpoints");
    for (e = 0; e < CL_EP_N; e++) {
        if (r->sent_ep[e] == 0) {
            continue;
        }
        x = cl_status_json(r->status[e]);
        cJSON_AddNumberToObject(x, "sent", (double) r->sent_ep[e]);
        cJSON_AddItemToObject(eps, cl_ep_names[e], x);
        for (i = 0; i < CL_STATUS_MAX; i++) {
            st[i] += r->status[e][i];
        }
    }
    cJSON_AddItemToObject(o, "status", cl_status_json(st));
    errs = cJSON_AddObjectToObject(o, "errors");
    for (e = 0; e < CL_ERR_N; e++) {
        cJSON_AddNumberToObject(errs, cl_err_names[e], (double) r->errors[e]);
        nerr += r->errors[e];
    }
    cJSON_AddNumberToObject(o, "errors_total", (double) nerr);
    cJSON_AddNumberToObject(o, "reconnects", (double) r->reconnects);
    cJSON_AddNumberToObject(o, "resends", (double) r->resends);
    cJSON_AddNumberToObject(o, "gave_up", (double) r->gave_up);
    cJSON_AddNumberToObject(o, "bad_answers", (double) r->bad_answers);
    cJSON_AddItemToObject(o, "latency_us", cl_hist_json(&r->lat_total, 1));

    switch (r->o.phase) {
    case CL_PHASE_GRANT:
        x = cJSON_AddObjectToObject(o, "grant");
        cJSON_AddNumberToObject(x, "chances", r->o.chances);
        cJSON_AddNumberToObject(x, "chances_sum", (double) r->chances_sum);
        break;
    case CL_PHASE_FLIP:
        x = cJSON_AddObjectToObject(o, "flip");
        cJSON_AddNumberToObject(x, "answers_200", (double) r->flips_200);
        cJSON_AddNumberToObject(x, "draws", (double) r->draws);
        cJSON_AddNumberToObject(x, "retries_sent", (double) r->retries_sent);
        cJSON_AddNumberToObject(x, "retries_same", (double) r->retries_same);
        cJSON_AddNumberToObject(x, "retries_differ",
                                (double) r->retries_differ);
        cJSON_AddNumberToObject(x, "dup_draw_ids", (double) r->dup_draw_ids);
        cJSON_AddNumberToObject(x, "users_no_chances",
                                (double) r->users_no_chances);
        cJSON_AddNumberToObject(x, "kinds", r->o.kinds);
        for (i = 0; i < r->o.kinds; i++) {
            cards[i] = (double) r->cards[i];
        }
        cJSON_AddItemToObject(x, "cards",
                              cJSON_CreateDoubleArray(cards, (int) r->o.kinds));
        cJSON_AddNumberToObject(x, "combines_200",
                                (double) r->status[CL_EP_COMBINE][200]);
        cJSON_AddNumberToObject(x, "combined", (double) r->combined);
        break;
    case CL_PHASE_CLAIM:
        x = cJSON_AddObjectToObject(o, "claim");
        cJSON_AddNumberToObject(x, "award_none", (double) r->award_none);
        cJSON_AddNumberToObject(x, "award_pending",
                                (double) r->award_pending);
        cJSON_AddNumberToObject(x, "award_credited",
                                (double) r->award_credited);
        cJSON_AddNumberToObject(x, "award_cents", (double) r->award_cents);
        cJSON_AddNumberToObject(x, "claims_sent", (double) r->claims_sent);
        cJSON_AddNumberToObject(x, "claims_200",
                                (double) r->status[CL_EP_CLAIM][200]);
        cJSON_AddNumberToObject(x, "claims_202",
                                (double) r->status[CL_EP_CLAIM][202]);
        cJSON_AddNumberToObject(x, "claims_404",
                                (double) r->status[CL_EP_CLAIM][404]);
        cJSON_AddNumberToObject(x, "claimed_cents",
                                (double) r->claimed_cents);
        break;
    }
    cJSON_AddBoolToObject(o, "interrupted", cl_stop != 0);
    cl_emit(r, o);

    fprintf(stderr, "cc-load %s: done in %.1fs: %" PRIu64 " requests,"
            " %.0f/s, p50 %.2fms p99 %.2fms, errors %" PRIu64
            ", gave up %" PRIu64 "\n",
            cl_phase_name(r->o.phase), el, r->answered,
            el > 0 ? (double) r->answered / el : 0,
            (double) cl_hist_pct(&r->lat_total, 0.5) / 1000.0,
            (double) cl_hist_pct(&r->lat_total, 0.99) / 1000.0,
            nerr, r->gave_up);
}


/* ---- the loop --------------------------------------------------------- */

/* timeouts of requests in flight; resends whose backoff has passed */
static void
cl_tick(cl_run_t *r)
{
    uint64_t   now = cl_now_ns();
    unsigned   i;
    cl_conn_t *c;

    for (i = 0; i < r->o.conc; i++) {
        c = &r->conns[i];
        switch (c->state) {
        case CL_C_CONNECTING:
        case CL_C_WRITING:
        case CL_C_READING:
            if (now >= c->deadline) {
                cl_fail(r, c, c->state == CL_C_CONNECTING ? CL_ERR_CONNECT
                                                          : CL_ERR_TIMEOUT);
            }
            break;
        case CL_C_WAITING:
            if (now >= c->resume_at) {
                cl_send(r, c);
            }
            break;
        default:
            break;
        }
    }
}


static void
cl_raise_nofile(unsigned need)
{
    struct rlimit  rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    if (rl.rlim_cur < need + 64) {
        rl.rlim_cur = rl.rlim_max < need + 64 ? rl.rlim_max : need + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < need + 16) {
        cl_die("--conc %u needs %u open files; the limit is %lu", need,
               need + 16, (unsigned long) rl.rlim_cur);
    }
}


int
main(int argc, char **argv)
{
    static cl_run_t     run;
    cl_run_t           *r = &run;
    struct epoll_event  evs[1024];
    struct sigaction    sa;
    uint64_t            next_tick, next_second;
    unsigned            i;
    int                 n, k, rc = 0;

    cl_parse_opts(&r->o, argc, argv);
    if ((uint64_t) r->o.conc > r->o.users) {
        r->o.conc = (unsigned) r->o.users;
    }
    cl_raise_nofile(r->o.conc);

    if (r->o.stats_path == NULL || strcmp(r->o.stats_path, "-") == 0) {
        r->stats = stdout;
    } else {
        r->stats = fopen(r->o.stats_path, "w");
        if (r->stats == NULL) {
            cl_die("--stats: cannot write %s: %s", r->o.stats_path,
                   strerror(errno));
        }
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cl_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0) {
        cl_die("epoll_create1: %s", strerror(errno));
    }
    r->conns = calloc(r->o.conc, sizeof(cl_conn_t));
    if (r->conns == NULL) {
        cl_die("out of memory for %u connections", r->o.conc);
    }
    r->next_uid = r->o.first_uid;
    r->t0 = cl_now_ns();
    r->wall0_ms = cl_wall_ms();
    next_tick = r->t0 + CL_TICK_MS * 1000000ULL;
    next_second = r->t0 + 1000000000ULL;

    for (i = 0; i < r->o.conc; i++) {
        r->conns[i].fd = -1;
        cl_session_start(r, &r->conns[i]);
    }

    /*
     * One thread: epoll for the sockets, a tick every CL_TICK_MS for the
     * deadlines and backoffs, a stats line every second.  On SIGINT or
     * SIGTERM no new session starts; those running finish.
     */
    while (r->active > 0) {
        n = epoll_wait(r->epfd, evs, 1024, CL_TICK_MS);
        if (n < 0 && errno != EINTR) {
            cl_die("epoll_wait: %s", strerror(errno));
        }
        for (k = 0; k < n; k++) {
            cl_on_event(r, evs[k].data.ptr, evs[k].events);
        }
        if (cl_now_ns() >= next_tick) {
            cl_tick(r);
            next_tick = cl_now_ns() + CL_TICK_MS * 1000000ULL;
        }
        if (cl_now_ns() >= next_second) {
            cl_second(r);
            next_second += 1000000000ULL;
        }
    }
    if (r->sec.sent || r->sec.answered) {
        cl_second(r);
    }
    cl_total(r);

    for (i = 0; i < r->o.conc; i++) {
        cl_close_fd(r, &r->conns[i]);
    }
    free(r->conns);
    close(r->epfd);
    if (r->stats != stdout && fclose(r->stats) != 0) {
        fprintf(stderr, "cc-load: --stats: %s\n", strerror(errno));
        rc = 2;
    }
    if (r->gave_up || r->retries_differ || r->dup_draw_ids
        || r->bad_answers || cl_stop)
    {
        rc = 1;
    }
    return rc;
}
