/*
 * cc-wallet-sim: a stand-in for the external wallet cc-payout pays into
 * with `wallet http` (see cc_wallet.h for the protocol), with faults on
 * demand, for tests and the benchmark.  Built on libmicrohttpd: with
 * --delay-ms a thread per connection, so delays overlap as a slow
 * wallet's would; without, two epoll threads.
 *
 * POST /credits applies a credit once per Idempotency-Key: the keys live
 * in a hash table in memory (rebuilt from the statement file at start, so
 * a restart keeps them) and every applied credit is appended to the
 * statement file, one line, flushed before the answer:
 *
 *   key,uid,amount_cents,currency,applied_at_ms
 *
 * The same key with the same credit answers 200 again and applies
 * nothing; with another uid, amount or currency it answers 409.  A call
 * whose signature (method, path, key, timestamp and body:
 * cc_wallet_sign.h) or timestamp (more than 5 minutes off) is wrong is
 * 401; a malformed one 400.  Every answer to a POST is signed as a real
 * platform signs (X-CC-Timestamp, X-CC-Signature over status, key,
 * timestamp and body, with --answer-secret-file or the secret).  GET
 * /statement answers the statement file.  With --tls-cert and --tls-key
 * it serves https only (libmicrohttpd over GnuTLS).
 *
 * Faults, each drawn per call from one generator seeded by --seed (printed
 * at start; the order of draws follows the order calls arrive, so a seed
 * repeats the rates, not the exact calls):
 *   --fail-pct P   answer 503 without applying
 *   --drop-pct P   apply, then close the connection without an answer
 *   --dup-pct P    apply and write the statement line twice (a wallet bug
 *                  the three-way reconcile must catch), answer 201
 *   --delay-ms MS  wait before answering every call
 *   --echo-off-pct P  apply correctly, but echo amount_cents + 1 in the
 *                  answer (a wallet bug the adapter must flag)
 *   --forge-pct P  a man in the middle: apply nothing, answer 201 with
 *                  the credit echoed as applied, unsigned and wrongly
 *                  signed in turn (what the adapter must not believe)
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "cc_addr.h"
#include "cc_ids.h"
#include "cc_token.h"
#include "cc_wallet_sign.h"
#include "cc_wallet_sim.h"
#include "cc_worker.h"


static void
cc_sim_usage(FILE *out)
{
    fprintf(out,
"usage: cc-wallet-sim --listen HOST:PORT --secret-file FILE\n"
"                     --statement PATH [--delay-ms MS] [--fail-pct P]\n"
"                     [--drop-pct P] [--dup-pct P] [--forge-pct P]\n"
"                     [--answer-secret-file FILE] [--tls-cert PEM\n"
"                     --tls-key PEM] [--seed N]\n"
"\n"
"A simulated external wallet for cc-payout's `wallet http`: POST /credits\n"
"applies a credit once per Idempotency-Key (signature checked: X-CC-\n"
"Timestamp, X-CC-Signature = hex HMAC-SHA256(secret, method \"\\n\" path\n"
"\"\\n\" key \"\\n\" ts \"\\n\" body)), signs its answers (the same headers,\n"
"HMAC over status \"\\n\" key \"\\n\" ts \"\\n\" body with the answer secret) and\n"
"appends it to the statement file, one line per applied credit:\n"
"key,uid,amount_cents,currency,applied_at_ms.  GET /statement serves that\n"
"file.  The keys are read back from the file at start.  Prints\n"
"\"listening HOST:PORT seed N\" once ready.  SIGTERM stops it.\n"
"\n"
"  --listen HOST:PORT   an IPv4 address or [IPv6] and a port (port 0:\n"
"                       any free one)\n"
"  --secret-file FILE   the HMAC key (32..1024 bytes), the campaign's\n"
"                       wallet_secret_file\n"
"  --statement PATH     the statement file (created, appended to)\n"
"  --delay-ms MS        wait MS before every answer, 0..60000 (default 0)\n"
"  --fail-pct P         answer P%% of credits 503 without applying them\n"
"  --drop-pct P         apply P%% of credits, then close the connection\n"
"                       without an answer\n"
"  --dup-pct P          apply P%% of new credits twice in the statement\n"
"                       (the wallet's bug the reconcile must catch)\n"
"  --echo-off-pct P     apply P%% of credits but echo another amount\n"
"  --forge-pct P        answer P%% of credits 201 \"applied\" without\n"
"                       applying them, unsigned or wrongly signed in turn\n"
"                       (a man in the middle)\n"
"  --answer-secret-file FILE  the key the answers are signed with\n"
"                       (default: --secret-file), the campaign's\n"
"                       wallet_answer_secret_file\n"
"  --tls-cert PEM       with --tls-key: serve https only, this\n"
"                       certificate (chain) and its key\n"
"  --tls-key PEM        the certificate's private key\n"
"\n"
"The batch API (the default of the campaign's wallet_mode): POST /batches\n"
"(Idempotency-Key: the out_batch_no; signed as a credit) accepts a batch of\n"
"details (out_detail_no, uid, amount_cents), GET /batches/NO and\n"
"GET /batches/NO/details (signed with method GET, the number as the key and\n"
"an empty body) answer it.  Batches are processed --process-ms after they\n"
"are accepted; a detail number is a key as a credit's is.\n"
"  --batch-journal PATH the accepted batches and the details' results\n"
"                       (default: the statement's path + \".batches\"),\n"
"                       read back at start\n"
"  --process-ms MS      process a batch MS after accepting it, 0..600000\n"
"                       (default 20)\n"
"  --batch-max N        details a batch, at most, 1..100000 (default 1000)\n"
"  --twice-pct P        list P%% of details twice in a query's answer\n"
"  --stray-pct P        list, in P%% of finished batches' details, one the\n"
"                       batch never held\n"
"  --accept-max N       take N new batches, then answer a signed 503\n"
"                       \"busy\" to every new one (a wallet that stops\n"
"                       taking batches; queries, and a batch it holds\n"
"                       sent again, are answered as before)\n"
"  --fail-detail KEY=N  fail the detail KEY (FAIL \"injected_failure\") in\n"
"                       the next N batches that hold it, N in 1..1000\n"
"                       (counted from the journal on a restart); up to\n"
"                       64 keys, one option each\n"
"  (--fail-pct fails P%% of details, --drop-pct drops the connection after\n"
"  accepting P%% of batches, --forge-pct forges P%% of submits' and queries'\n"
"  answers, --echo-off-pct lists P%% of details with another amount)\n"
"\n"
"  --seed N             the faults' generator (default: from the clock;\n"
"                       printed either way)\n"
"  --help               this text\n"
"\n"
"Exit status: 0 stopped, 2 bad usage or a file or port it cannot use.\n");
}


/* --fail-detail KEY=N: 0, or -1 said */
static int
cc_sim_fail_detail(cc_sim_t *s, const char *arg)
{
    size_t              klen;
    const char         *eq;
    cc_sim_fail_key_t  *f;

    eq = strrchr(arg, '=');
    klen = eq ? (size_t) (eq - arg) : 0;

    if (s->nfail_key == CC_SIM_FAIL_KEYS || klen == 0
        || klen > CC_SIM_KEY_MAX || memchr(arg, ',', klen) != NULL)
    {
        fprintf(stderr, "cc-wallet-sim: --fail-detail \"%.100s\": KEY=N "
                "expected (KEY 1..%d bytes without a comma), at most %d\n",
                arg, CC_SIM_KEY_MAX, CC_SIM_FAIL_KEYS);
        return -1;
    }

    f = &s->fail_key[s->nfail_key];

    if (cc_opt_int("--fail-detail's N", eq + 1, 1, 1000, &f->left) != 0) {
        return -1;
    }

    memcpy(f->key, arg, klen);
    f->key[klen] = '\0';
    s->nfail_key++;

    return 0;
}


/* the chosen faults: --fail-detail ('D'), --accept-max ('M') */
static int
cc_sim_chosen_opt(cc_sim_t *s, int c, const char *arg)
{
    if (c == 'D') {
        return cc_sim_fail_detail(s, arg);
    }

    return cc_opt_int("--accept-max", arg, 1, 1000000000, &s->accept_max);
}


/*
 * The options that take a number (the faults' percentages, the delays,
 * the batches' bounds): 0 parsed, -1 out of bounds (said), 1 not one of
 * them.
 */
static int
cc_sim_parse_number(cc_sim_t *s, int c, const char *arg)
{
    const cc_opt_num_t  nums[] = {
        { 'P', "--process-ms",   0, 600000, &s->process_ms },
        { 'B', "--batch-max",    1, 100000, &s->batch_max },
        { 'T', "--twice-pct",    0, 100,    &s->twice_pct },
        { 'R', "--stray-pct",    0, 100,    &s->stray_pct },
        { 'F', "--forge-pct",    0, 100,    &s->forge_pct },
        { 'd', "--delay-ms",     0, 60000,  &s->delay_ms },
        { 'f', "--fail-pct",     0, 100,    &s->fail_pct },
        { 'x', "--drop-pct",     0, 100,    &s->drop_pct },
        { 'u', "--dup-pct",      0, 100,    &s->dup_pct },
        { 'o', "--echo-off-pct", 0, 100,    &s->echo_off_pct },
    };

    return cc_opt_num(nums, sizeof(nums) / sizeof(nums[0]), c, arg);
}


static int
cc_sim_parse(int argc, char **argv, cc_sim_t *s)
{
    int        c;
    long long  v;

    static const struct option  opts[] = {
        { "listen",      required_argument, NULL, 'l' },
        { "secret-file", required_argument, NULL, 's' },
        { "statement",   required_argument, NULL, 'S' },
        { "delay-ms",    required_argument, NULL, 'd' },
        { "fail-pct",    required_argument, NULL, 'f' },
        { "drop-pct",    required_argument, NULL, 'x' },
        { "dup-pct",     required_argument, NULL, 'u' },
        { "seed",        required_argument, NULL, 'e' },
        { "echo-off-pct", required_argument, NULL, 'o' },
        { "forge-pct",   required_argument, NULL, 'F' },
        { "answer-secret-file", required_argument, NULL, 'A' },
        { "tls-cert",    required_argument, NULL, 'C' },
        { "tls-key",     required_argument, NULL, 'K' },
        { "batch-journal", required_argument, NULL, 'J' },
        { "process-ms",  required_argument, NULL, 'P' },
        { "batch-max",   required_argument, NULL, 'B' },
        { "twice-pct",   required_argument, NULL, 'T' },
        { "stray-pct",   required_argument, NULL, 'R' },
        { "fail-detail", required_argument, NULL, 'D' },
        { "accept-max",  required_argument, NULL, 'M' },
        { "help",        no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': s->listen = optarg; break;
        case 's': s->secret_path = optarg; break;
        case 'S': s->statement_path = optarg; break;
        case 'A': s->answer_secret_path = optarg; break;
        case 'C': s->tls_cert_path = optarg; break;
        case 'K': s->tls_key_path = optarg; break;
        case 'J': s->journal_path = optarg; break;

        case 'D':
        case 'M':
            if (cc_sim_chosen_opt(s, c, optarg) != 0) {
                return -1;
            }
            break;

        case 'e':
            if (cc_opt_int("--seed", optarg, 0, INT64_MAX, &v) != 0) {
                return -1;
            }
            s->seed = (uint64_t) v;
            s->seed_given = 1;
            break;

        case 'h':
            cc_sim_usage(stdout);
            return CC_OPT_HELP;

        default:
            switch (cc_sim_parse_number(s, c, optarg)) {
            case 0:
                break;
            case 1:
                cc_sim_usage(stderr);
                /* fall through */
            default:
                return -1;
            }
        }
    }

    if (optind != argc) {
        fprintf(stderr, "cc-wallet-sim: unexpected argument \"%s\"\n",
                argv[optind]);
        return -1;
    }

    if (s->listen == NULL || s->secret_path == NULL
        || s->statement_path == NULL)
    {
        fprintf(stderr, "cc-wallet-sim: --listen, --secret-file and "
                "--statement are required (see --help)\n");
        return -1;
    }

    if ((s->tls_cert_path == NULL) != (s->tls_key_path == NULL)) {
        fprintf(stderr, "cc-wallet-sim: --tls-cert and --tls-key go "
                "together\n");
        return -1;
    }

    return 0;
}


/* splitmix64: small, seedable, good enough for fault rates */
static uint64_t
cc_sim_next(cc_sim_t *s)
{
    uint64_t  z;

    z = (s->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


/* under the lock: 1 with probability pct % */
int
cc_sim_draw(cc_sim_t *s, long long pct)
{
    return pct > 0 && (long long) (cc_sim_next(s) % 100) < pct;
}


/* ---- the keys: open addressing, FNV-1a, doubled at half full ------------ */


static uint64_t
cc_sim_hash(const char *k)
{
    uint64_t  h = 0xcbf29ce484222325ULL;

    while (*k) {
        h = (h ^ (unsigned char) *k++) * 0x100000001b3ULL;
    }

    return h;
}


static cc_sim_entry_t *
cc_sim_slot(cc_sim_entry_t *tab, size_t cap, const char *key)
{
    size_t  i;

    for (i = cc_sim_hash(key) & (cap - 1); tab[i].key[0] != '\0';
         i = (i + 1) & (cap - 1))
    {
        if (strcmp(tab[i].key, key) == 0) {
            break;
        }
    }

    return &tab[i];
}


int
cc_sim_known(cc_sim_t *s, const char *key)
{
    return s->cap > 0 && cc_sim_slot(s->tab, s->cap, key)->key[0] != '\0';
}


int
cc_sim_grow(cc_sim_t *s)
{
    size_t           i, ncap;
    cc_sim_entry_t  *ntab;

    if (s->used * 2 < s->cap) {
        return 0;
    }

    ncap = s->cap ? s->cap * 2 : 4096;
    ntab = calloc(ncap, sizeof(cc_sim_entry_t));
    if (ntab == NULL) {
        return -1;
    }

    for (i = 0; i < s->cap; i++) {
        if (s->tab[i].key[0] != '\0') {
            *cc_sim_slot(ntab, ncap, s->tab[i].key) = s->tab[i];
        }
    }

    free(s->tab);
    s->tab = ntab;
    s->cap = ncap;

    return 0;
}


/* the statement's lines back into the table; the first line of a key wins */
static int
cc_sim_load(cc_sim_t *s)
{
    char             line[512], key[CC_SIM_KEY_MAX + 1], cur[4];
    FILE            *f;
    uint64_t         uid, amount;
    unsigned long    n;
    cc_sim_entry_t  *e;

    f = fopen(s->statement_path, "r");
    if (f == NULL) {
        return errno == ENOENT ? 0 : -1;
    }

    n = 0;

    while (fgets(line, sizeof(line), f) != NULL) {
        n++;

        if (sscanf(line, "%80[^,],%" SCNu64 ",%" SCNu64 ",%3[A-Z],", key,
                   &uid, &amount, cur) != 4)
        {
            fprintf(stderr, "cc-wallet-sim: %s: line %lu is not "
                    "key,uid,amount_cents,currency,applied_at_ms\n",
                    s->statement_path, n);
            fclose(f);
            errno = EINVAL;
            return -1;
        }

        if (cc_sim_grow(s) != 0) {
            fclose(f);
            return -1;
        }

        e = cc_sim_slot(s->tab, s->cap, key);

        if (e->key[0] == '\0') {
            snprintf(e->key, sizeof(e->key), "%s", key);
            e->uid = uid;
            e->amount = amount;
            memcpy(e->currency, cur, 4);
            s->used++;
        }
    }

    fclose(f);

    return 0;
}


/* ---- answers ------------------------------------------------------------ */


/*
 * An answer (body: malloc'ed, owned here from now), signed over its
 * status, the call's Idempotency-Key ("" without one), the timestamp and
 * the body.
 */
enum MHD_Result
cc_sim_answer(cc_sim_t *s, struct MHD_Connection *conn, unsigned status,
    char *body, cc_sim_sign_e how)
{
    char                  ts[24], sig[CC_WALLET_SIG_HEX + 1];
    const char           *key;
    enum MHD_Result       rc;
    struct MHD_Response  *r;
    unsigned char         wrong[32];

    if (body == NULL) {
        return MHD_NO;
    }

    key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                      "Idempotency-Key");
    snprintf(ts, sizeof(ts), "%" PRId64, cc_now_ms());
    memset(wrong, 'w', sizeof(wrong));

    if (how != CC_SIM_UNSIGNED
        && cc_wallet_sign_answer(how == CC_SIM_SIGNED ? s->asecret : wrong,
                                 how == CC_SIM_SIGNED ? s->aslen
                                                      : sizeof(wrong),
                                 (long) status,
                                 key != NULL && strchr(key, '\n') == NULL
                                 ? key : "", ts, body, strlen(body), sig)
           != 0)
    {
        free(body);
        return MHD_NO;
    }

    r = MHD_create_response_from_buffer(strlen(body), body,
                                        MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }

    MHD_add_response_header(r, "Content-Type", "application/json");

    if (how != CC_SIM_UNSIGNED) {
        MHD_add_response_header(r, "X-CC-Timestamp", ts);
        MHD_add_response_header(r, "X-CC-Signature", sig);
    }

    rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);

    return rc;
}


enum MHD_Result
cc_sim_error(cc_sim_t *s, struct MHD_Connection *conn, unsigned status,
    const char *error)
{
    char  *body;

    if (asprintf(&body, "{\"error\":\"%s\"}", error) < 0) {
        return MHD_NO;
    }

    return cc_sim_answer(s, conn, status, body, CC_SIM_SIGNED);
}


static enum MHD_Result
cc_sim_statement(cc_sim_t *s, struct MHD_Connection *conn)
{
    int                   fd;
    off_t                 size;
    enum MHD_Result       rc;
    struct MHD_Response  *r;

    pthread_mutex_lock(&s->lock);
    fflush(s->statement);
    pthread_mutex_unlock(&s->lock);

    fd = open(s->statement_path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return cc_sim_error(s, conn, 500, "statement_unreadable");
    }

    size = lseek(fd, 0, SEEK_END);

    /* the lines written so far: the file only grows */
    r = MHD_create_response_from_fd_at_offset64(size, fd, 0);
    if (r == NULL) {
        close(fd);
        return MHD_NO;
    }

    MHD_add_response_header(r, "Content-Type", "text/csv");
    rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);

    return rc;
}


/*
 * The signature and the timestamp's freshness: NULL, or the error to
 * answer with 401 (the call counted as rejected).
 */
const char *
cc_sim_auth(cc_sim_t *s, const cc_sim_req_t *q, const char *method,
    const char *path, const char *key, const char *tss, const char *sig)
{
    char        *end, want[CC_WALLET_SIG_HEX + 1];
    int64_t      ts, now;
    const char  *error;

    error = NULL;

    if (tss == NULL || sig == NULL || key == NULL
        || cc_wallet_sign_request(s->secret, s->slen, method, path, key, tss,
                                  q->p ? q->p : "", q->len, want) != 0
        || !cc_wallet_sign_eq(want, sig, strlen(sig)))
    {
        error = "bad_signature";

    } else {
        errno = 0;
        ts = strtoll(tss, &end, 10);
        now = cc_now_ms();

        if (errno != 0 || *end != '\0' || ts < now - CC_SIM_SKEW_MS
            || ts > now + CC_SIM_SKEW_MS)
        {
            error = "stale_timestamp";
        }
    }

    if (error != NULL) {
        pthread_mutex_lock(&s->lock);
        s->rejected++;
        pthread_mutex_unlock(&s->lock);
    }

    return error;
}


const char *
cc_sim_request_check(cc_sim_t *s, struct MHD_Connection *conn,
    const cc_sim_req_t *q, const char *method, const char *path,
    const char **key, unsigned *status)
{
    const char  *tss, *sig;

    *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                       "Idempotency-Key");
    tss = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                      "X-CC-Timestamp");
    sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                      "X-CC-Signature");

    if (s->delay_ms > 0) {
        cc_sleep_ms(s->delay_ms);
    }

    if (q->too_big) {
        *status = 413;
        return "body_too_large";
    }

    *status = 401;

    return cc_sim_auth(s, q, method, path, *key, tss, sig);
}


/*
 * The body: award_id (the Idempotency-Key again), uid, amount_cents,
 * currency.  0 and *c filled, or -1 (400 bad_credit).
 */
static int
cc_sim_parse_credit(const cc_sim_req_t *q, const char *key,
    cc_sim_credit_t *c)
{
    int     rc;
    size_t  i;
    cJSON  *j, *id, *u, *a, *cur;

    j = q->p ? cJSON_ParseWithLength(q->p, q->len) : NULL;
    id = cJSON_GetObjectItemCaseSensitive(j, "award_id");
    u = cJSON_GetObjectItemCaseSensitive(j, "uid");
    a = cJSON_GetObjectItemCaseSensitive(j, "amount_cents");
    cur = cJSON_GetObjectItemCaseSensitive(j, "currency");

    c->uid = 0;
    c->amount = 0;

    if (cJSON_IsString(u)) {
        (void) cc_parse_uid(u->valuestring, strlen(u->valuestring),
                            &c->uid);
    }

    if (cJSON_IsNumber(a) && a->valuedouble >= 1
        && a->valuedouble <= (double) CC_SIM_AMOUNT_MAX
        && a->valuedouble == (double) (uint64_t) a->valuedouble)
    {
        c->amount = (uint64_t) a->valuedouble;
    }

    rc = -1;

    if (!cJSON_IsString(id) || key == NULL || strcmp(id->valuestring, key)
        || strlen(key) == 0 || strlen(key) > CC_SIM_KEY_MAX
        || strpbrk(key, ",\n\r") != NULL || c->uid == 0 || c->amount == 0
        || !cJSON_IsString(cur) || strlen(cur->valuestring) != 3)
    {
        goto done;
    }

    for (i = 0; i < 3; i++) {
        if (cur->valuestring[i] < 'A' || cur->valuestring[i] > 'Z') {
            goto done;
        }
    }

    memcpy(c->currency, cur->valuestring, 4);
    rc = 0;

done:

    cJSON_Delete(j);
    return rc;
}


/*
 * Under the lock: the key looked up; a new one applied and written to the
 * statement (twice with dup).  201 applied, 200 replayed, 409 conflict;
 * *e the key's entry, valid only while the lock is held.
 */
unsigned
cc_sim_apply(cc_sim_t *s, const char *key, const cc_sim_credit_t *c,
    int dup, cc_sim_entry_t **entry)
{
    size_t           i;
    cc_sim_entry_t  *e;

    e = cc_sim_slot(s->tab, s->cap, key);
    *entry = e;

    if (e->key[0] != '\0') {
        if (e->uid == c->uid && e->amount == c->amount
            && strcmp(e->currency, c->currency) == 0)
        {
            s->replayed++;
            return MHD_HTTP_OK;
        }

        s->conflicts++;
        return MHD_HTTP_CONFLICT;
    }

    snprintf(e->key, sizeof(e->key), "%s", key);
    e->uid = c->uid;
    e->amount = c->amount;
    memcpy(e->currency, c->currency, 4);
    s->used++;
    s->applied++;

    /* flushed by the caller before any answer: the wallet's record */
    for (i = 0; i < (size_t) (dup ? 2 : 1); i++) {
        fprintf(s->statement, "%s,%" PRIu64 ",%" PRIu64 ",%s,%" PRId64
                "\n", key, c->uid, c->amount, e->currency, cc_now_ms());
    }

    s->duplicated += dup;
    return MHD_HTTP_CREATED;
}


/* the answer's body: the conflict, or the credit applied or replayed */
static enum MHD_Result
cc_sim_credit_answer(cc_sim_t *s, struct MHD_Connection *conn,
    unsigned status, const char *key, uint64_t uid, uint64_t amount,
    const char *currency, cc_sim_sign_e how)
{
    char  *body;

    if (status == MHD_HTTP_CONFLICT) {
        if (asprintf(&body, "{\"error\":\"conflict\",\"award_id\":\"%s\","
                     "\"amount_cents\":%" PRIu64 "}", key, amount) < 0)
        {
            return MHD_NO;
        }

    } else if (asprintf(&body, "{\"award_id\":\"%s\",\"uid\":\"%" PRIu64
                        "\",\"amount_cents\":%" PRIu64 ",\"currency\":"
                        "\"%s\",\"status\":\"%s\"}", key, uid, amount,
                        currency,
                        status == MHD_HTTP_OK ? "replayed" : "applied") < 0)
    {
        return MHD_NO;
    }

    return cc_sim_answer(s, conn, status, body, how);
}


/*
 * A complete POST /credits.  The checks first (nothing applied), then
 * under the lock: a 503 fault, the key looked up, applied and written.
 */
static enum MHD_Result
cc_sim_credit(cc_sim_t *s, struct MHD_Connection *conn, const char *path,
    cc_sim_req_t *q)
{
    int               drop, dup, fail, off, forge;
    char              currency[4];
    uint64_t          amount;
    unsigned          status;
    const char       *key, *error;
    cc_sim_entry_t   *e;
    cc_sim_credit_t   c;

    error = cc_sim_request_check(s, conn, q, "POST", path, &key, &status);
    if (error != NULL) {
        return cc_sim_error(s, conn, status, error);
    }

    if (cc_sim_parse_credit(q, key, &c) != 0) {
        return cc_sim_error(s, conn, 400, "bad_credit");
    }

    pthread_mutex_lock(&s->lock);

    fail = cc_sim_draw(s, s->fail_pct);
    forge = !fail && cc_sim_draw(s, s->forge_pct);
    drop = !fail && !forge && cc_sim_draw(s, s->drop_pct);
    dup = !fail && cc_sim_draw(s, s->dup_pct);
    off = !fail && cc_sim_draw(s, s->echo_off_pct);

    if (fail) {
        s->failed++;
        pthread_mutex_unlock(&s->lock);
        return cc_sim_error(s, conn, 503, "injected_failure");
    }

    if (forge) {
        /* nothing applied: the "applied" comes from someone on the path */
        s->forged++;
        forge = s->forged % 2 ? CC_SIM_UNSIGNED : CC_SIM_WRONG_KEY;
        pthread_mutex_unlock(&s->lock);
        return cc_sim_credit_answer(s, conn, MHD_HTTP_CREATED, key, c.uid,
                                    c.amount, c.currency,
                                    (cc_sim_sign_e) forge);
    }

    if (cc_sim_grow(s) != 0) {
        pthread_mutex_unlock(&s->lock);
        return cc_sim_error(s, conn, 500, "out_of_memory");
    }

    status = cc_sim_apply(s, key, &c, dup, &e);

    if (status == MHD_HTTP_CREATED && fflush(s->statement) != 0) {
        cc_log("%s: %s", s->statement_path, strerror(errno));
    }

    /*
     * What the answer needs, copied under the lock: once it is released
     * another thread may grow the table and free the entry e points to.
     */
    amount = e->amount + (status != MHD_HTTP_CONFLICT && off);
    memcpy(currency, e->currency, sizeof(currency));
    s->dropped += drop;

    pthread_mutex_unlock(&s->lock);

    if (drop) {
        return MHD_NO;              /* applied; the caller never hears */
    }

    return cc_sim_credit_answer(s, conn, status, key, c.uid, amount,
                                currency, CC_SIM_SIGNED);
}


static enum MHD_Result
cc_sim_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **ctx)
{
    int            batch;
    char          *np;
    cc_sim_t      *s = cls;
    cc_sim_req_t  *q = *ctx;

    (void) version;

    if (strcmp(method, "GET") == 0 && strcmp(url, "/statement") == 0) {
        return cc_sim_statement(s, conn);
    }

    if (strcmp(method, "GET") == 0 && strncmp(url, "/batches/", 9) == 0) {
        return cc_sim_batch_query(s, conn, url);
    }

    batch = strcmp(url, "/batches") == 0;

    if (strcmp(method, "POST") != 0
        || (strcmp(url, "/credits") != 0 && !batch))
    {
        return cc_sim_error(s, conn, 404, "not_found");
    }

    if (q == NULL) {
        q = calloc(1, sizeof(cc_sim_req_t));
        if (q == NULL) {
            return MHD_NO;
        }

        *ctx = q;
        return MHD_YES;
    }

    if (*upload_size > 0) {
        if (q->len + *upload_size
            > (batch ? CC_SIM_BATCH_BODY_MAX : CC_SIM_BODY_MAX))
        {
            q->too_big = 1;

        } else {
            np = realloc(q->p, q->len + *upload_size + 1);
            if (np == NULL) {
                return MHD_NO;
            }

            q->p = np;
            memcpy(q->p + q->len, upload, *upload_size);
            q->len += *upload_size;
            q->p[q->len] = '\0';
        }

        *upload_size = 0;
        return MHD_YES;
    }

    return batch ? cc_sim_batch_submit(s, conn, url, q)
                 : cc_sim_credit(s, conn, url, q);
}


static void
cc_sim_done(void *cls, struct MHD_Connection *conn, void **ctx,
    enum MHD_RequestTerminationCode why)
{
    cc_sim_req_t  *q = *ctx;

    (void) cls;
    (void) conn;
    (void) why;

    if (q != NULL) {
        free(q->p);
        free(q);
        *ctx = NULL;
    }
}


/* a PEM file (at most 1 MiB) into a NUL-terminated buffer, or NULL said */
static char *
cc_sim_read_pem(const char *path)
{
    char    *p;
    long     len;
    FILE    *f;

    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cc-wallet-sim: %s: %s\n", path, strerror(errno));
        return NULL;
    }

    p = NULL;

    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0
        || len > 1048576 || fseek(f, 0, SEEK_SET) != 0
        || (p = malloc((size_t) len + 1)) == NULL
        || fread(p, 1, (size_t) len, f) != (size_t) len)
    {
        fprintf(stderr, "cc-wallet-sim: %s: empty, too big or unreadable\n",
                path);
        free(p);
        fclose(f);
        return NULL;
    }

    p[len] = '\0';
    fclose(f);

    return p;
}


/*
 * --listen: an IP address, not a name (one socket); port 0: any free one.
 * 0 and *res (the caller's to free), or -1 said on stderr.
 */
static int
cc_sim_resolve(const char *listen, cc_addr_t *a, struct addrinfo **res)
{
    char             port[8];
    const char      *why;
    struct addrinfo  hints;

    if (cc_addr_parse_flags(listen, strlen(listen), CC_ADDR_PORT_ANY,
                            a, &why) != 0)
    {
        fprintf(stderr, "cc-wallet-sim: bad --listen \"%s\": %s\n",
                listen, why);
        return -1;
    }

    snprintf(port, sizeof(port), "%u", a->port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;

    if (getaddrinfo(a->host, port, &hints, res) != 0) {
        fprintf(stderr, "cc-wallet-sim: bad --listen \"%s\": not an IPv4 "
                "address or an IPv6 one in brackets\n", listen);
        return -1;
    }

    return 0;
}


/*
 * With --delay-ms a thread per connection, so delays overlap as a slow
 * wallet's would; without, two epoll threads (cheaper per call: the
 * benchmark's case).
 */
static struct MHD_Daemon *
cc_sim_start(cc_sim_t *s, const struct addrinfo *res)
{
    unsigned  flags;

    flags = (s->delay_ms > 0 ? MHD_USE_THREAD_PER_CONNECTION
                             : MHD_USE_EPOLL_LINUX_ONLY)
            | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG
            | (res->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);

    if (s->tls_cert != NULL) {
        return MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL,
                                cc_sim_handler, s,
                                MHD_OPTION_HTTPS_MEM_CERT, s->tls_cert,
                                MHD_OPTION_HTTPS_MEM_KEY, s->tls_key,
                                MHD_OPTION_THREAD_POOL_SIZE,
                                s->delay_ms > 0 ? 0U : 2U,
                                MHD_OPTION_SOCK_ADDR, res->ai_addr,
                                MHD_OPTION_NOTIFY_COMPLETED, cc_sim_done,
                                NULL,
                                MHD_OPTION_CONNECTION_LIMIT, 1024U,
                                MHD_OPTION_CONNECTION_TIMEOUT, 60U,
                                MHD_OPTION_END);
    }

    return MHD_start_daemon(flags, 0, NULL, NULL, cc_sim_handler, s,
                            MHD_OPTION_THREAD_POOL_SIZE,
                            s->delay_ms > 0 ? 0U : 2U,
                            MHD_OPTION_SOCK_ADDR, res->ai_addr,
                            MHD_OPTION_NOTIFY_COMPLETED, cc_sim_done, NULL,
                            MHD_OPTION_CONNECTION_LIMIT, 1024U,
                            MHD_OPTION_CONNECTION_TIMEOUT, 60U,
                            MHD_OPTION_END);
}


/* the request and answer secrets, and the TLS pair if given: -1 said */
static int
cc_sim_secrets(cc_sim_t *s)
{
    char  err[256];

    if (cc_token_load_secret(s->secret_path, s->secret, sizeof(s->secret),
                             &s->slen, err, sizeof(err)) != 0)
    {
        fprintf(stderr, "cc-wallet-sim: --secret-file: %s\n", err);
        return -1;
    }

    if (s->answer_secret_path == NULL) {
        memcpy(s->asecret, s->secret, s->slen);
        s->aslen = s->slen;

    } else if (cc_token_load_secret(s->answer_secret_path, s->asecret,
                                    sizeof(s->asecret), &s->aslen, err,
                                    sizeof(err)) != 0)
    {
        fprintf(stderr, "cc-wallet-sim: --answer-secret-file: %s\n", err);
        return -1;
    }

    if (s->tls_cert_path != NULL
        && ((s->tls_cert = cc_sim_read_pem(s->tls_cert_path)) == NULL
            || (s->tls_key = cc_sim_read_pem(s->tls_key_path)) == NULL))
    {
        return -1;
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int                          rc;
    char                        *journal;
    cc_sim_t                     s;
    cc_addr_t                    a;
    struct addrinfo             *res;
    struct MHD_Daemon           *d;
    const union MHD_DaemonInfo  *info;

    cc_worker_init("cc-wallet-sim");
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.lock, NULL);
    res = NULL;
    d = NULL;
    journal = NULL;
    rc = 2;

    s.process_ms = 20;
    s.batch_max = 1000;

    if (cc_opt_done(cc_sim_parse(argc, argv, &s), &rc)) {
        goto done;
    }

    if (s.journal_path == NULL) {
        if (asprintf(&journal, "%s.batches", s.statement_path) < 0) {
            goto done;
        }

        s.journal_path = journal;
    }

    if (cc_sim_secrets(&s) != 0) {
        goto done;
    }

    if (cc_sim_resolve(s.listen, &a, &res) != 0) {
        goto done;
    }

    if (!s.seed_given) {
        s.seed = (uint64_t) cc_now_ms() ^ ((uint64_t) getpid() << 32);
        s.seed &= INT64_MAX;
    }

    s.rng = s.seed;

    if (cc_sim_load(&s) != 0) {
        fprintf(stderr, "cc-wallet-sim: --statement %s: %s\n",
                s.statement_path, strerror(errno));
        goto done;
    }

    s.statement = fopen(s.statement_path, "a");
    if (s.statement == NULL) {
        fprintf(stderr, "cc-wallet-sim: --statement %s: %s\n",
                s.statement_path, strerror(errno));
        goto done;
    }

    if (cc_sim_batch_load(&s) != 0 || cc_sim_batch_start(&s) != 0) {
        fprintf(stderr, "cc-wallet-sim: --batch-journal %s: %s\n",
                s.journal_path, strerror(errno));
        goto done;
    }

    d = cc_sim_start(&s, res);

    if (d == NULL) {
        fprintf(stderr, "cc-wallet-sim: cannot listen on %s: %s\n", s.listen,
                strerror(errno));
        goto done;
    }

    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);

    printf(res->ai_family == AF_INET6 ? "listening [%s]:%u seed %" PRIu64 "\n"
                                      : "listening %s:%u seed %" PRIu64 "\n",
           a.host, info ? (unsigned) info->port : a.port, s.seed);
    fflush(stdout);

    cc_log("%zu keys from %s, %zu batches from %s; faults: fail %lld%%, "
           "drop %lld%%, dup %lld%%, twice %lld%%, delay %lld ms, process "
           "%lld ms, seed %" PRIu64, s.used, s.statement_path, s.bused,
           s.journal_path, s.fail_pct, s.drop_pct, s.dup_pct, s.twice_pct,
           s.delay_ms, s.process_ms, s.seed);

    while (cc_worker_run) {
        cc_sleep_ms(100);
    }

    MHD_stop_daemon(d);

    cc_log("stopping: %llu applied (%llu written twice), %llu replayed, "
           "%llu conflicts, %llu failed (503), %llu dropped, %llu rejected, "
           "%llu forged; %llu batches, %llu details applied, %llu failed, "
           "%llu listed twice", s.applied, s.duplicated, s.replayed,
           s.conflicts, s.failed, s.dropped, s.rejected, s.forged,
           s.batches, s.details_ok, s.details_failed, s.twice);

    rc = 0;

done:

    cc_sim_batch_stop(&s);

    if (s.statement != NULL) {
        fclose(s.statement);
    }

    free(journal);

    if (res != NULL) {
        freeaddrinfo(res);
    }

    free(s.tab);
    free(s.tls_cert);

    if (s.tls_key != NULL) {
        memset(s.tls_key, 0, strlen(s.tls_key));
        free(s.tls_key);
    }

    pthread_mutex_destroy(&s.lock);

    return rc;
}
