/*
 * cc_load_http.h: cc-load's HTTP/1.1 client on epoll (cc_load_http.c).
 */

#ifndef CC_LOAD_HTTP_H
#define CC_LOAD_HTTP_H

#include "cc_load.h"

/* sends the session's current request, on the open connection or a new one */
void cl_send(cl_run_t *r, cl_conn_t *c);

/*
 * The current request is to be sent again after a backoff, with the same
 * id; or, after --max-tries sends, the session gives up (and ends).
 */
void cl_retry(cl_run_t *r, cl_conn_t *c);

/* what epoll said of c's socket */
void cl_on_event(cl_run_t *r, cl_conn_t *c, uint32_t events);

/* timeouts of requests in flight; resends whose backoff has passed */
void cl_tick(cl_run_t *r);

/* closes c's socket, if open; the next send reconnects */
void cl_close_fd(cl_run_t *r, cl_conn_t *c);

#endif /* CC_LOAD_HTTP_H */
