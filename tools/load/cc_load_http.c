/*
 * cc_load_http.c: cc-load's HTTP/1.1 client on epoll.  Each connection
 * carries one session's requests, one in flight at a time, keep-alive:
 * connect, write, read, parse the answer (Content-Length or chunked),
 * and the failures (a stale keep-alive connection reopened at once;
 * anything else resent after a backoff, up to --max-tries sends).  What
 * a request is and what an answer means is the session's
 * (cc_load_session.c).
 */

#define _GNU_SOURCE

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cc_load_http.h"
#include "cc_load_session.h"


void
cl_close_fd(cl_run_t *r, cl_conn_t *c)
{
    if (c->fd >= 0) {
        epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->used = 0;
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


/* the session waits its backoff, then sends its current request again */
void
cl_retry(cl_run_t *r, cl_conn_t *c)
{
    if (c->s.tries >= r->o.max_tries) {
        r->gave_up++;
        cl_session_end(r, c);
        return;
    }
    r->resends++;
    c->state = CL_C_WAITING;
    c->resume_at = cl_now_ns()
                   + (uint64_t) cl_backoff_ms(c->s.tries) * 1000000ULL;
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
    cl_retry(r, c);
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
void
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


void
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


/*
 * Timeouts of requests in flight; resends whose backoff has passed; with
 * --rate, new sessions on the idle connections as their time comes.
 */
void
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
        case CL_C_FREE:
            if (r->o.rate > 0) {
                cl_session_start(r, c);
            }
            break;
        default:
            break;
        }
    }
}
