/*
 * cc_load_http.h: cc-load's HTTP/1.1 client on epoll (cc_load_http.c).
 */

#ifndef CC_LOAD_HTTP_H
#define CC_LOAD_HTTP_H

#include "cc_load.h"

/* sends the session's current request, on the open connection or a new one */
void cc_load_send(cc_load_run_t *r, cc_load_conn_t *c);

/*
 * The current request is to be sent again after a backoff, with the same
 * id; or, after --max-tries sends, the session gives up (and ends).
 */
void cc_load_retry(cc_load_run_t *r, cc_load_conn_t *c);

/* what epoll said of c's socket */
void cc_load_on_event(cc_load_run_t *r, cc_load_conn_t *c, uint32_t events);

/* timeouts of requests in flight; resends whose backoff has passed */
void cc_load_tick(cc_load_run_t *r);

/* closes c's socket, if open; the next send reconnects */
void cc_load_close_fd(cc_load_run_t *r, cc_load_conn_t *c);

#endif /* CC_LOAD_HTTP_H */
