/*
 * cc_load_session.h: cc-load's sessions, one a user (cc_load_session.c).
 */

#ifndef CC_LOAD_SESSION_H
#define CC_LOAD_SESSION_H

#include "cc_load.h"

/* the next user's session on c, sent; 0 when no user is left (or stop) */
int cc_load_session_start(cc_load_run_t *r, cc_load_conn_t *c);

/* the session on c is done; the connection stays open for the next user */
void cc_load_session_end(cc_load_run_t *r, cc_load_conn_t *c);

/* the session's current request into c->wbuf */
void cc_load_build_request(cc_load_run_t *r, cc_load_conn_t *c);

/* one complete answer to the session's current request */
void cc_load_on_answer(cc_load_run_t *r, cc_load_conn_t *c, int status,
    const char *body, size_t blen);

/* a flip's answer (status 0, body NULL: none came) into --answers */
void cc_load_answer_line(cc_load_run_t *r, cc_load_conn_t *c, int status,
    const char *body, size_t blen);

/* whether the user uid is among pct percent (the seed and n decide) */
int cc_load_chosen(uint64_t seed, uint64_t uid, uint64_t n, double pct);

/* whether cards (per kind) complete the set, wildcards counted */
int cc_load_completable(cc_load_run_t *r, const uint32_t *cards);

#endif /* CC_LOAD_SESSION_H */
