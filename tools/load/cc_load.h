/*
 * cc_load.h: the state of a cc-load run, shared by its parts
 * (tools/load/cc_load*.c): the options, a user's session, a connection, the
 * counters.  cc_load.c owns the run (main: the options, the loop, the
 * exit code); cc_load_http.c drives the connections, cc_load_session.c
 * the sessions, cc_load_stats.c writes the stats.
 */

#ifndef CC_LOAD_H
#define CC_LOAD_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "cc_clock.h"             /* cc_now_ms(): the wall clock */
#include "cc_load_hist.h"
#include "cc_token.h"


#define CC_LOAD_KINDS_MAX     16
#define CC_LOAD_RBUF          16384     /* an answer, headers included */
#define CC_LOAD_WBUF          1024      /* a request */
#define CC_LOAD_BODY_MAX      4096
#define CC_LOAD_TICK_MS       10        /* timeouts and backoffs are checked */
#define CC_LOAD_STATUS_MAX    600
#define CC_LOAD_ASK_ID_MAX    96        /* "uid:request_id", 20 + 1 + 64 */
#define CC_LOAD_ACTS_MAX      (3 * CC_LOAD_KINDS_MAX + 1)

typedef enum {
    CC_LOAD_PHASE_GRANT,
    CC_LOAD_PHASE_FLIP,
    CC_LOAD_PHASE_CLAIM,
    CC_LOAD_PHASE_SOCIAL
} cc_load_phase_e;

typedef enum {
    CC_LOAD_EP_GRANT,
    CC_LOAD_EP_FLIP,
    CC_LOAD_EP_COMBINE,
    CC_LOAD_EP_AWARD,
    CC_LOAD_EP_CLAIM,
    CC_LOAD_EP_ELIGIBILITY,
    CC_LOAD_EP_GIFTS,
    CC_LOAD_EP_GIFT,
    CC_LOAD_EP_ASK,
    CC_LOAD_EP_N
} cc_load_ep_e;

typedef enum {
    CC_LOAD_ERR_CONNECT,
    CC_LOAD_ERR_TIMEOUT,
    CC_LOAD_ERR_RESET,
    CC_LOAD_ERR_BAD_RESPONSE,
    CC_LOAD_ERR_N
} cc_load_err_e;

typedef enum {
    CC_LOAD_C_FREE,          /* no session */
    CC_LOAD_C_CONNECTING,
    CC_LOAD_C_WRITING,
    CC_LOAD_C_READING,
    CC_LOAD_C_WAITING        /* backoff before a resend */
} cc_load_state_e;

/*
 * A request the social phase plans (cc_load_social.c): a gift of kind to
 * the partner, an answer (a gift) to the ask ask_id, an ask to the
 * partner for kind, or the combine.
 */
typedef struct {
    cc_load_ep_e  ep;
    unsigned      kind;
    char          ask_id[CC_LOAD_ASK_ID_MAX];
} cc_load_act_t;

/* one user's run: what it sends next and what its answers said */
typedef struct {
    uint64_t      uid;
    cc_load_ep_e  ep;              /* the request in flight or next */
    unsigned      flip_no;         /* request id <prefix>-<flip_no> */
    unsigned      tries;           /* sends of the current request */
    int           client_retry;    /* this send repeats an answered id */
    int64_t       chances_left;    /* from the last flip answer, -1: none */
    uint64_t      max_seq;         /* the newest draw seen */
    uint32_t      cards[CC_LOAD_KINDS_MAX];
    int           combine_sent;
    size_t        last_len;
    char          last_body[256];  /* the answer a client retry must get */
    char          token[CC_TOKEN_MAX + 1];
    /* social: the planned requests, sent in order; held[] as eligibility
     * said, less what the plan gives */
    unsigned      act_n;
    unsigned      act_i;
    uint32_t      held[CC_LOAD_KINDS_MAX];
    cc_load_act_t act[CC_LOAD_ACTS_MAX];
} cc_load_session_t;

typedef struct {
    int                fd;
    cc_load_state_e    state;
    int                used;            /* answered requests on this fd */
    uint64_t           t_sent;          /* ns, first byte of the request */
    uint64_t           deadline;        /* ns */
    uint64_t           resume_at;       /* ns, CC_LOAD_C_WAITING */
    size_t             wlen;
    size_t             woff;
    size_t             rlen;
    char               wbuf[CC_LOAD_WBUF];
    char               rbuf[CC_LOAD_RBUF];
    cc_load_session_t  s;
} cc_load_conn_t;

/* the counters of one second, and of the whole run */
typedef struct {
    uint64_t        sent;
    uint64_t        answered;
    uint64_t        status[CC_LOAD_STATUS_MAX];
    uint64_t        errors;
    uint64_t        draws;
    cc_load_hist_t  lat;
} cc_load_second_t;

typedef struct {
    cc_load_phase_e  phase;
    const char      *url;
    char             host[256];       /* Host header: host[:port] */
    struct sockaddr_storage addr;
    socklen_t        addrlen;
    uint64_t         users;
    uint64_t         first_uid;
    unsigned         conc;
    const char      *stats_path;
    unsigned         timeout_ms;
    unsigned         max_tries;
    const char      *secret_path;
    unsigned char    secret[CC_TOKEN_SECRET_MAX];
    size_t           secret_len;
    long             token_ttl;
    const char      *token_kid;       /* the secret's key id, "0" by default */
    unsigned         chances;
    const char      *grant_id;
    double           retry_pct;
    int              combine;
    unsigned         kinds;
    unsigned         max_flips;
    const char      *rid_prefix;
    const char      *answers_path;    /* flip: every answer a line */
    uint64_t         seed;
    double           claim_pct;
    uint64_t         rate;            /* sessions started a second, 0: all */
    double           social_pct;      /* social: users who give and ask */
    int              rare;            /* social: a kind never given, -1 */
    int              wildcard;        /* flip, social: the wildcard, -1 */
    int              quiet;
} cc_load_opts_t;

typedef struct {
    cc_load_opts_t   o;
    FILE            *stats;
    FILE            *answers;         /* --answers, or NULL */
    int              epfd;
    cc_load_conn_t  *conns;
    uint64_t         next_uid;        /* the next user to start */
    uint64_t         end_uid;         /* first_uid + users */
    uint64_t         users_done;
    unsigned         active;
    uint64_t         t0;              /* ns, monotonic */
    int64_t          wall0_ms;
    unsigned         second_no;

    cc_load_second_t  sec;
    cc_load_hist_t    lat_total;
    uint64_t          sent;
    uint64_t          answered;
    uint64_t          status[CC_LOAD_EP_N][CC_LOAD_STATUS_MAX];
    uint64_t          sent_ep[CC_LOAD_EP_N];
    uint64_t          errors[CC_LOAD_ERR_N];
    uint64_t          reconnects;      /* keep-alive closed by the server */
    uint64_t          resends;         /* same request sent again on failure */
    uint64_t          gave_up;
    uint64_t          bad_answers;     /* 200 whose body is not the contract */

    uint64_t     chances_sum;     /* grant: chances in the answers */

    uint64_t     flips_200;       /* flip answers 200, replays included */
    uint64_t     draws;           /* distinct new draw ids */
    uint64_t     retries_sent;
    uint64_t     retries_same;
    uint64_t     retries_differ;
    uint64_t     dup_draw_ids;    /* a new request id answered an old draw */
    uint64_t     users_no_chances;
    uint64_t     cards[CC_LOAD_KINDS_MAX];
    uint64_t     combined;        /* combine 200 with "combined":true */

    uint64_t     award_none;
    uint64_t     award_pending;
    uint64_t     award_credited;
    uint64_t     award_cents;
    uint64_t     claims_sent;
    uint64_t     claimed_cents;   /* amounts of claims answered 200 */

    uint64_t     social_users;    /* users chosen to give and ask */
    uint64_t     gifts_delivered; /* gifts and answers 200 "delivered" */
    uint64_t     gifts_sent;      /* 200 "sent": the receiver's half later */
    uint64_t     gifts_refused;   /* 409 no_card, 429 gift_limit, 4xx */
    uint64_t     ask_answers;     /* of the above, answers to an ask */
    uint64_t     asks;            /* asks answered 200 */
    uint64_t     asks_refused;    /* 429 ask_limit, 4xx */
    uint64_t     asks_open_seen;  /* open asks GET /cc/gifts listed */
} cc_load_run_t;


/* set by SIGINT and SIGTERM: no new session starts */
extern volatile sig_atomic_t  cc_load_stop;

/* monotonic ns */
uint64_t cc_load_now_ns(void);

/* "cc-load: " and the message on stderr, then exit 2 */
void cc_load_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));


#endif /* CC_LOAD_H */
