/*
 * cc_load_session.h: cc-load's sessions, one a user (cc_load_session.c).
 */

#ifndef CC_LOAD_SESSION_H
#define CC_LOAD_SESSION_H

#include "cc_load.h"

/* the next user's session on c, sent; 0 when no user is left (or stop) */
int cl_session_start(cl_run_t *r, cl_conn_t *c);

/* the session on c is done; the connection stays open for the next user */
void cl_session_end(cl_run_t *r, cl_conn_t *c);

/* the session's current request into c->wbuf */
void cl_build_request(cl_run_t *r, cl_conn_t *c);

/* one complete answer to the session's current request */
void cl_on_answer(cl_run_t *r, cl_conn_t *c, int status, const char *body,
    size_t blen);

#endif /* CC_LOAD_SESSION_H */
