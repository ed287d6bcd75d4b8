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
 *
 * The parts, one concern a file (their shared state is cc_load_run_t,
 * cc_load.h):
 *
 *   cc_load.c          the options, the loop, the exit code
 *   cc_load_http.c     the HTTP/1.1 client on epoll: connections, sends,
 *                      answers parsed, failures and resends
 *   cc_load_session.c  the phases' sessions: requests and answers
 *   cc_load_stats.c    the JSON lines and the progress line
 *   cc_load_hist.c     the latency histogram
 */


#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cc_addr.h"
#include "cc_ids.h"
#include "cc_load.h"
#include "cc_load_http.h"
#include "cc_load_session.h"
#include "cc_load_stats.h"


volatile sig_atomic_t  cc_load_stop;


static void
cc_load_on_signal(int sig)
{
    (void) sig;
    cc_load_stop = 1;
}


uint64_t
cc_load_now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}


void
cc_load_die(const char *fmt, ...)
{
    va_list  ap;

    fputs("cc-load: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}


/* ---- options ---------------------------------------------------------- */


static void
cc_load_usage(FILE *f)
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
"  social  GET /cc/eligibility; a --social-pct user then GET /cc/gifts,\n"
"          answers the open asks for kinds it holds twice or more (POST\n"
"          /cc/gift?ask_id=), asks its partner (uid - first-uid ^ 1) for\n"
"          each kind it lacks (POST /cc/ask) and gives the partner one card\n"
"          of the kind it holds the most of, twice or more (POST\n"
"          /cc/gift); every user\n"
"          holding a full set uncombined combines.  Run it twice (another\n"
"          --rid-prefix): the second answers the first's asks\n"
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
"  --token-ttl SEC    the tokens' lifetime (3600; nginx refuses more than\n"
"                     its cc_token_max_ttl, 1d by default)\n"
"  --token-kid KID    the secret's key id, carried in the tokens (\"0\":\n"
"                     the key of \"cc_identity token FILE\")\n"
"  --rate N           start at most N sessions a second, users arriving\n"
"                     over time rather than all at once (0: as fast as\n"
"                     --conc allows)\n"
"  --quiet            no progress line on stderr\n"
"  --help\n"
"grant:\n"
"  --chances C        chances granted to each user (required)\n"
"  --grant-id ID      the grant id, the same for every user (load)\n"
"flip:\n"
"  --retry-pct P      resend P percent of the answered flips with the same\n"
"                     request id and check the answer is the same (0)\n"
"  --combine          combine once the user's answers show a full set\n"
"  --wildcard W       kind W is the wildcard (cc_wildcard_kind): a set is\n"
"                     complete with a W card for each other kind lacked\n"
"                     (flip and social)\n"
"  --kinds K          card kinds (5)\n"
"  --max-flips N      at most N flips a user (0: until no chance left)\n"
"  --rid-prefix P     request ids P-1, P-2, ... per user (r)\n"
"  --answers FILE     every flip answer a line: TIME_S UID STATUS TRIES\n"
"                     BODY (wall clock seconds; STATUS 0: no answer, a\n"
"                     refused connect or --timeout; TRIES: sends of the\n"
"                     request id so far): what each user was told\n"
"  --seed S           chooses the retried flips (1)\n"
"claim:\n"
"  --pct P            percent of the winners who claim (100)\n"
"social (and --kinds, --rid-prefix, --seed):\n"
"  --social-pct P     percent of the users who give and ask (100)\n"
"  --rare K           a kind never given nor asked for (none): the\n"
"                     stocked kind, under cc_gift_rare off\n"
"\n"
"Exit: 0 done; 1 a session gave up (a request failed --max-tries times)\n"
"or an answer broke the contract (a retry answered differently, a new\n"
"request id answered an old draw); 2 bad options or setup.\n",
          f);
}


static uint64_t
cc_load_parse_u64(const char *opt, const char *v, uint64_t min, uint64_t max)
{
    char                *end;
    unsigned long long   n;

    if (*v < '0' || *v > '9') {
        cc_load_die("%s: not a number: \"%s\"", opt, v);
    }
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0') {
        cc_load_die("%s: not a number: \"%s\"", opt, v);
    }
    if (n < min || n > max) {
        cc_load_die("%s: %s is outside %" PRIu64 "..%" PRIu64, opt, v, min,
                    max);
    }
    return n;
}


static double
cc_load_parse_pct(const char *opt, const char *v)
{
    char    *end;
    double   d;

    errno = 0;
    d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(d >= 0 && d <= 100)) {
        cc_load_die("%s: not a percentage 0..100: \"%s\"", opt, v);
    }
    return d;
}


/* a grant id or an id prefix: a request id (cc_ids) of at most max bytes */
static int
cc_load_id_ok(const char *s, size_t max)
{
    size_t  n;

    n = strlen(s);

    return n <= max && cc_check_request_id(s, n) == 0;
}


/*
 * http://HOST[:PORT][/] with HOST an IPv4 address, [IPv6] or a name: the
 * authority (up to the first '/') as cc_addr_parse takes it, ":80" added
 * when it has no port.
 */
static void
cc_load_parse_url(cc_load_opts_t *o)
{
    int               rc;
    char              auth[CC_ADDR_HOST_MAX + 16], portbuf[8];
    size_t            alen;
    cc_addr_t         a;
    const char       *p, *close, *why;
    struct addrinfo   hints, *res;

    if (strncmp(o->url, "http://", 7) != 0) {
        cc_load_die("--url: must start with http:// : \"%s\"", o->url);
    }
    p = o->url + 7;
    alen = strcspn(p, "/");
    if (p[alen] != '\0' && strcmp(p + alen, "/") != 0) {
        cc_load_die("--url: bad URL \"%s\" (no path is taken)", o->url);
    }
    if (alen >= sizeof(auth) - 3) {
        cc_load_die("--url: host too long in \"%s\"", o->url);
    }

    /* the port's ':' is past the brackets of an IPv6 literal */
    close = p[0] == '[' ? memchr(p, ']', alen) : NULL;
    close = close != NULL ? close : p;
    snprintf(auth, sizeof(auth), "%.*s%s", (int) alen, p,
             memchr(close, ':', alen - (size_t) (close - p)) ? "" : ":80");

    if (cc_addr_parse(auth, strlen(auth), &a, &why) != 0) {
        cc_load_die("--url: %s in \"%s\"", why, o->url);
    }
    /* the Host header: the URL's authority as written */
    snprintf(o->host, sizeof(o->host), "%.*s", (int) alen, p);

    snprintf(portbuf, sizeof(portbuf), "%u", a.port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(a.host, portbuf, &hints, &res);
    if (rc != 0) {
        cc_load_die("--url: cannot resolve \"%s\": %s", a.host,
                    gai_strerror(rc));
    }
    memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
    o->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
}


static const char *cc_load_parse_phase(cc_load_opts_t *o, int argc,
    char **argv);
static void cc_load_parse_opt(cc_load_opts_t *o, int c, int *seen,
    int flip_or_social);


/* cc-load's options: the phase's own ones are checked after parsing */
enum {
    OPT_URL = 256, OPT_USERS, OPT_FIRST, OPT_CONC, OPT_STATS,
    OPT_TIMEOUT, OPT_TRIES, OPT_SECRET, OPT_TTL, OPT_QUIET, OPT_CHANCES,
    OPT_GRANT_ID, OPT_RETRY, OPT_COMBINE, OPT_KINDS, OPT_MAX_FLIPS,
    OPT_PREFIX, OPT_SEED, OPT_PCT, OPT_RATE, OPT_KID, OPT_ANSWERS,
    OPT_SOCIAL, OPT_RARE, OPT_WILDCARD
};
static const struct option  cc_load_opts[] = {
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
    { "token-kid",  required_argument, NULL, OPT_KID },
    { "quiet",      no_argument,       NULL, OPT_QUIET },
    { "chances",    required_argument, NULL, OPT_CHANCES },
    { "grant-id",   required_argument, NULL, OPT_GRANT_ID },
    { "retry-pct",  required_argument, NULL, OPT_RETRY },
    { "combine",    no_argument,       NULL, OPT_COMBINE },
    { "kinds",      required_argument, NULL, OPT_KINDS },
    { "max-flips",  required_argument, NULL, OPT_MAX_FLIPS },
    { "rid-prefix", required_argument, NULL, OPT_PREFIX },
    { "answers",    required_argument, NULL, OPT_ANSWERS },
    { "seed",       required_argument, NULL, OPT_SEED },
    { "pct",        required_argument, NULL, OPT_PCT },
    { "rate",       required_argument, NULL, OPT_RATE },
    { "social-pct", required_argument, NULL, OPT_SOCIAL },
    { "rare",       required_argument, NULL, OPT_RARE },
    { "wildcard",   required_argument, NULL, OPT_WILDCARD },
    { NULL, 0, NULL, 0 }
};


static void
cc_load_parse_opts(cc_load_opts_t *o, int argc, char **argv)
{
    const char  *phase;
    int          c, seen_phase_opt = 0, flip_or_social;
    char         err[256];

    memset(o, 0, sizeof(*o));
    o->first_uid = 1;
    o->conc = 256;
    o->timeout_ms = 5000;
    o->max_tries = 10;
    o->token_ttl = 3600;
    o->token_kid = CC_TOKEN_KID_DEFAULT;
    o->grant_id = "load";
    o->kinds = 5;
    o->rid_prefix = "r";
    o->seed = 1;
    o->claim_pct = 100;
    o->social_pct = 100;
    o->rare = -1;
    o->wildcard = -1;

    phase = cc_load_parse_phase(o, argc, argv);

    /* --kinds and --rid-prefix are the flip's and the social phase's */
    flip_or_social = 1 << (o->phase == CC_LOAD_PHASE_SOCIAL
                           ? CC_LOAD_PHASE_SOCIAL : CC_LOAD_PHASE_FLIP);

    optind = 2;
    while ((c = getopt_long(argc, argv, "h", cc_load_opts, NULL)) != -1) {
        cc_load_parse_opt(o, c, &seen_phase_opt, flip_or_social);
    }
    if (optind < argc) {
        cc_load_die("unexpected argument \"%s\"", argv[optind]);
    }
    if (seen_phase_opt & ~(1 << o->phase)) {
        cc_load_die("an option of another phase was given to %s (see --help)",
               phase);
    }
    if (o->url == NULL) {
        cc_load_die("--url is required");
    }
    if (o->users == 0) {
        cc_load_die("--users is required");
    }
    if (o->first_uid + o->users - 1 < o->first_uid) {
        cc_load_die("--first-uid + --users overflows");
    }
    if (o->wildcard >= (int) o->kinds || o->rare >= (int) o->kinds) {
        cc_load_die("--%s %d is not one of the %u kinds",
                    o->wildcard >= (int) o->kinds ? "wildcard" : "rare",
                    o->wildcard >= (int) o->kinds ? o->wildcard : o->rare,
                    o->kinds);
    }
    if (o->phase == CC_LOAD_PHASE_GRANT && o->chances == 0) {
        cc_load_die("grant: --chances is required");
    }
    if (o->phase == CC_LOAD_PHASE_GRANT && o->secret_path != NULL) {
        cc_load_die("grant: --secret is not taken (grants use X-CC-Uid on the"
               " internal port)");
    }
    cc_load_parse_url(o);

    if (o->secret_path != NULL
        && cc_token_load_secret(o->secret_path, o->secret,
                                sizeof(o->secret), &o->secret_len,
                                err, sizeof(err)) != 0)
    {
        cc_load_die("--secret: %s", err);
    }
}


/* argv[1], the phase: its name; --help exits */
static const char *
cc_load_parse_phase(cc_load_opts_t *o, int argc, char **argv)
{
    const char  *phase;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0
                      || strcmp(argv[1], "-h") == 0))
    {
        cc_load_usage(stdout);
        exit(0);
    }
    if (argc < 2 || argv[1][0] == '-') {
        cc_load_usage(stderr);
        cc_load_die("the first argument is the phase: grant, flip or claim");
    }
    phase = argv[1];
    if (strcmp(phase, "grant") == 0) {
        o->phase = CC_LOAD_PHASE_GRANT;
    } else if (strcmp(phase, "flip") == 0) {
        o->phase = CC_LOAD_PHASE_FLIP;
    } else if (strcmp(phase, "claim") == 0) {
        o->phase = CC_LOAD_PHASE_CLAIM;
    } else if (strcmp(phase, "social") == 0) {
        o->phase = CC_LOAD_PHASE_SOCIAL;
    } else {
        cc_load_die("unknown phase \"%s\" (grant, flip, claim or social)",
                    phase);
    }

    return phase;
}


/* one option c of getopt_long (optarg): into o, its phase's bit in seen */
static void
cc_load_parse_opt(cc_load_opts_t *o, int c, int *seen, int flip_or_social)
{
    switch (c) {
    case 'h':
        cc_load_usage(stdout);
        exit(0);
    case OPT_URL:
        o->url = optarg;
        break;
    case OPT_USERS:
        o->users = cc_load_parse_u64("--users", optarg, 1, 1000000000);
        break;
    case OPT_FIRST:
        o->first_uid = cc_load_parse_u64("--first-uid", optarg, 1,
                                    UINT64_MAX / 2);
        break;
    case OPT_CONC:
        o->conc = (unsigned) cc_load_parse_u64("--conc", optarg, 1, 60000);
        break;
    case OPT_STATS:
        o->stats_path = optarg;
        break;
    case OPT_TIMEOUT:
        o->timeout_ms = (unsigned) cc_load_parse_u64("--timeout", optarg,
                                                1, 600000);
        break;
    case OPT_TRIES:
        o->max_tries = (unsigned) cc_load_parse_u64("--max-tries", optarg,
                                               1, 1000);
        break;
    case OPT_SECRET:
        o->secret_path = optarg;
        break;
    case OPT_TTL:
        o->token_ttl = (long) cc_load_parse_u64("--token-ttl", optarg, 1,
                                           100000000);
        break;
    case OPT_KID:
        if (!cc_token_kid_valid(optarg, strlen(optarg))) {
            cc_load_die("--token-kid must be 1..%d of [A-Za-z0-9_-], not "
                   "\"%s\"", CC_TOKEN_KID_MAX, optarg);
        }
        o->token_kid = optarg;
        break;
    case OPT_RATE:
        o->rate = cc_load_parse_u64("--rate", optarg, 0, 10000000);
        break;
    case OPT_QUIET:
        o->quiet = 1;
        break;
    case OPT_CHANCES:
        o->chances = (unsigned) cc_load_parse_u64("--chances", optarg,
                                             1, 100000);
        *seen |= 1 << CC_LOAD_PHASE_GRANT;
        break;
    case OPT_GRANT_ID:
        if (!cc_load_id_ok(optarg, 64)) {
            cc_load_die("--grant-id: 1..64 of [A-Za-z0-9_-]: \"%s\"",
                        optarg);
        }
        o->grant_id = optarg;
        *seen |= 1 << CC_LOAD_PHASE_GRANT;
        break;
    case OPT_RETRY:
        o->retry_pct = cc_load_parse_pct("--retry-pct", optarg);
        *seen |= 1 << CC_LOAD_PHASE_FLIP;
        break;
    case OPT_COMBINE:
        o->combine = 1;
        *seen |= 1 << CC_LOAD_PHASE_FLIP;
        break;
    case OPT_KINDS:
        o->kinds = (unsigned) cc_load_parse_u64("--kinds", optarg, 2,
                                           CC_LOAD_KINDS_MAX);
        *seen |= flip_or_social;
        break;
    case OPT_MAX_FLIPS:
        o->max_flips = (unsigned) cc_load_parse_u64("--max-flips", optarg,
                                               0, 100000);
        *seen |= 1 << CC_LOAD_PHASE_FLIP;
        break;
    case OPT_PREFIX:
        /* with "-" and up to 10 digits the id stays within 64 */
        if (!cc_load_id_ok(optarg, 50)) {
            cc_load_die("--rid-prefix: 1..50 of [A-Za-z0-9_-]: \"%s\"",
                   optarg);
        }
        o->rid_prefix = optarg;
        *seen |= flip_or_social;
        break;
    case OPT_ANSWERS:
        o->answers_path = optarg;
        *seen |= 1 << CC_LOAD_PHASE_FLIP;
        break;
    case OPT_SEED:
        o->seed = cc_load_parse_u64("--seed", optarg, 0, UINT64_MAX);
        break;
    case OPT_PCT:
        o->claim_pct = cc_load_parse_pct("--pct", optarg);
        *seen |= 1 << CC_LOAD_PHASE_CLAIM;
        break;
    case OPT_SOCIAL:
        o->social_pct = cc_load_parse_pct("--social-pct", optarg);
        *seen |= 1 << CC_LOAD_PHASE_SOCIAL;
        break;
    case OPT_WILDCARD:
        o->wildcard = (int) cc_load_parse_u64("--wildcard", optarg, 0,
                                              CC_LOAD_KINDS_MAX - 1);
        *seen |= flip_or_social;
        break;
    case OPT_RARE:
        o->rare = (int) cc_load_parse_u64("--rare", optarg, 0,
                                          CC_LOAD_KINDS_MAX - 1);
        *seen |= 1 << CC_LOAD_PHASE_SOCIAL;
        break;
    default:
        /* getopt_long said which option */
        cc_load_die("see cc-load --help");
    }
}


static void
cc_load_raise_nofile(unsigned need)
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
        cc_load_die("--conc %u needs %u open files; the limit is %lu", need,
               need + 16, (unsigned long) rl.rlim_cur);
    }
}


int
main(int argc, char **argv)
{
    static cc_load_run_t  run;
    cc_load_run_t        *r = &run;
    struct epoll_event    evs[1024];
    struct sigaction      sa;
    uint64_t              next_tick, next_second;
    unsigned              i;
    int                   n, k, lost, rc = 0;

    cc_load_parse_opts(&r->o, argc, argv);
    if ((uint64_t) r->o.conc > r->o.users) {
        r->o.conc = (unsigned) r->o.users;
    }
    cc_load_raise_nofile(r->o.conc);

    if (r->o.stats_path == NULL || strcmp(r->o.stats_path, "-") == 0) {
        r->stats = stdout;
    } else {
        r->stats = fopen(r->o.stats_path, "w");
        if (r->stats == NULL) {
            cc_load_die("--stats: cannot write %s: %s", r->o.stats_path,
                   strerror(errno));
        }
    }

    if (r->o.answers_path != NULL) {
        r->answers = fopen(r->o.answers_path, "w");
        if (r->answers == NULL) {
            cc_load_die("--answers: cannot write %s: %s", r->o.answers_path,
                        strerror(errno));
        }
        /* a line an answer: buffered, written at the end or when full */
        setvbuf(r->answers, NULL, _IOFBF, 1 << 20);
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cc_load_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0) {
        cc_load_die("epoll_create1: %s", strerror(errno));
    }
    r->conns = calloc(r->o.conc, sizeof(cc_load_conn_t));
    if (r->conns == NULL) {
        cc_load_die("out of memory for %u connections", r->o.conc);
    }
    r->next_uid = r->o.first_uid;
    r->end_uid = r->o.first_uid + r->o.users;
    r->t0 = cc_load_now_ns();
    r->wall0_ms = cc_now_ms();
    next_tick = r->t0 + CC_LOAD_TICK_MS * 1000000ULL;
    next_second = r->t0 + 1000000000ULL;

    for (i = 0; i < r->o.conc; i++) {
        r->conns[i].fd = -1;
        cc_load_session_start(r, &r->conns[i]);
    }

    /*
     * One thread: epoll for the sockets, a tick every CC_LOAD_TICK_MS for the
     * deadlines and backoffs (and, with --rate, the sessions whose time
     * has come), a stats line every second.  On SIGINT or SIGTERM no new
     * session starts; those running finish.
     */
    while (r->active > 0 || (!cc_load_stop && r->next_uid < r->end_uid)) {
        n = epoll_wait(r->epfd, evs, 1024, CC_LOAD_TICK_MS);
        if (n < 0 && errno != EINTR) {
            cc_load_die("epoll_wait: %s", strerror(errno));
        }
        for (k = 0; k < n; k++) {
            cc_load_on_event(r, evs[k].data.ptr, evs[k].events);
        }
        if (cc_load_now_ns() >= next_tick) {
            cc_load_tick(r);
            next_tick = cc_load_now_ns() + CC_LOAD_TICK_MS * 1000000ULL;
        }
        if (cc_load_now_ns() >= next_second) {
            cc_load_second(r);
            next_second += 1000000000ULL;
        }
    }
    if (r->sec.sent || r->sec.answered) {
        cc_load_second(r);
    }
    cc_load_total(r);

    for (i = 0; i < r->o.conc; i++) {
        cc_load_close_fd(r, &r->conns[i]);
    }
    free(r->conns);
    close(r->epfd);
    if (r->stats != stdout && fclose(r->stats) != 0) {
        fprintf(stderr, "cc-load: --stats: %s\n", strerror(errno));
        rc = 2;
    }
    if (r->answers != NULL) {
        /* a line lost on the way (a full disk) fails the run, not only
         * the last flush */
        lost = ferror(r->answers);
        if (fclose(r->answers) != 0 || lost) {
            fprintf(stderr, "cc-load: --answers: %s\n",
                    lost ? "a line was not written" : strerror(errno));
            rc = 2;
        }
    }
    if (r->gave_up || r->retries_differ || r->dup_draw_ids
        || r->bad_answers || cc_load_stop)
    {
        rc = 1;
    }
    return rc;
}
