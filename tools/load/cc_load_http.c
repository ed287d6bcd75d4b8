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
cc_load_close_fd(cc_load_run_t *r, cc_load_conn_t *c)
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
cc_load_backoff_ms(unsigned tries)
{
    unsigned  ms = 50;

    while (tries-- > 1 && ms < 1000) {
        ms *= 2;
    }
    return ms < 1000 ? ms : 1000;
}


/* the session waits its backoff, then sends its current request again */
void
cc_load_retry(cc_load_run_t *r, cc_load_conn_t *c)
{
    if (c->s.tries >= r->o.max_tries) {
        r->gave_up++;
        cc_load_session_end(r, c);
        return;
    }
    r->resends++;
    c->state = CC_LOAD_C_WAITING;
    c->resume_at = cc_load_now_ns()
                   + (uint64_t) cc_load_backoff_ms(c->s.tries) * 1000000ULL;
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
cc_load_fail(cc_load_run_t *r, cc_load_conn_t *c, cc_load_err_e err)
{
    int  stale = (err == CC_LOAD_ERR_RESET && c->used > 0 && c->rlen == 0
                  && c->state != CC_LOAD_C_CONNECTING);

    cc_load_close_fd(r, c);
    if (stale) {
        r->reconnects++;
        cc_load_send(r, c);
        return;
    }
    r->errors[err]++;
    r->sec.errors++;
    cc_load_answer_line(r, c, 0, NULL, 0);
    cc_load_retry(r, c);
}


static int
cc_load_connect(cc_load_run_t *r, cc_load_conn_t *c)
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
        cc_load_close_fd(r, c);
        return -1;
    }
    if (connect(fd, (struct sockaddr *) &r->o.addr, r->o.addrlen) != 0
        && errno != EINPROGRESS)
    {
        cc_load_close_fd(r, c);
        return -1;
    }
    c->state = CC_LOAD_C_CONNECTING;
    return 0;
}


static void
cc_load_write(cc_load_run_t *r, cc_load_conn_t *c)
{
    ssize_t  n;

    while (c->woff < c->wlen) {
        n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return;
            }
            cc_load_fail(r, c, CC_LOAD_ERR_RESET);
            return;
        }
        c->woff += (size_t) n;
    }
    c->state = CC_LOAD_C_READING;
}


/* sends the session's current request, on the open connection or a new one */
void
cc_load_send(cc_load_run_t *r, cc_load_conn_t *c)
{
    uint64_t  now = cc_load_now_ns();

    cc_load_build_request(r, c);
    c->s.tries++;
    c->t_sent = now;
    c->deadline = now + (uint64_t) r->o.timeout_ms * 1000000ULL;
    r->sent++;
    r->sent_ep[c->s.ep]++;
    r->sec.sent++;

    if (c->fd < 0) {
        if (cc_load_connect(r, c) != 0) {
            cc_load_fail(r, c, CC_LOAD_ERR_CONNECT);
        }
        return;
    }
    c->state = CC_LOAD_C_WRITING;
    cc_load_write(r, c);
}


/*
 * Parses one answer in rbuf.  Returns 0 while incomplete, 1 when complete
 * (status, body, whether the server closes), -1 when it is not HTTP/1.x or
 * too large.  Bodies come with Content-Length or chunked; a body without
 * either ends with the connection (not used by nginx for these answers).
 */
static int
cc_load_parse(cc_load_conn_t *c, int *status, char *body, size_t *blen,
    int *close_after)
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
            if (out + sz < CC_LOAD_BODY_MAX) {
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
    *blen = cl < CC_LOAD_BODY_MAX ? cl : CC_LOAD_BODY_MAX - 1;
    memcpy(body, c->rbuf + hlen, *blen);
    body[*blen] = '\0';
    return 1;
}


static void
cc_load_read(cc_load_run_t *r, cc_load_conn_t *c)
{
    char     body[CC_LOAD_BODY_MAX];
    size_t   blen;
    ssize_t  n;
    int      status, close_after, rc;

    if (c->state != CC_LOAD_C_READING && c->state != CC_LOAD_C_WRITING) {
        /*
         * Nothing asked on this connection: the server closing an idle
         * keep-alive connection.  Close it; the next send reconnects.
         */
        cc_load_close_fd(r, c);
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
                cc_load_fail(r, c, CC_LOAD_ERR_RESET);
                return;
            }
        } else if (errno == EINTR) {
            continue;
        } else if (errno != EAGAIN) {
            cc_load_fail(r, c, CC_LOAD_ERR_RESET);
            return;
        }
        break;
    }
    if (c->state != CC_LOAD_C_READING) {
        if (c->rlen > 0) {
            /* an answer before the request was all written */
            cc_load_fail(r, c, CC_LOAD_ERR_BAD_RESPONSE);
        }
        return;
    }

    rc = cc_load_parse(c, &status, body, &blen, &close_after);
    if (rc == 0) {
        if (n == 0) {
            /* closed mid-answer */
            cc_load_fail(r, c, CC_LOAD_ERR_BAD_RESPONSE);
        }
        return;
    }
    if (rc < 0) {
        cc_load_fail(r, c, CC_LOAD_ERR_BAD_RESPONSE);
        return;
    }

    cc_load_hist_add(&r->sec.lat, (cc_load_now_ns() - c->t_sent) / 1000);
    c->used++;
    c->rlen = 0;
    c->state = CC_LOAD_C_FREE;
    if (close_after || n == 0) {
        cc_load_close_fd(r, c);
    }
    cc_load_on_answer(r, c, status, body, blen);
}


void
cc_load_on_event(cc_load_run_t *r, cc_load_conn_t *c, uint32_t events)
{
    if (c->fd < 0) {
        return;
    }
    if (c->state == CC_LOAD_C_CONNECTING) {
        int        err = 0;
        socklen_t  len = sizeof(err);

        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
            cc_load_fail(r, c, CC_LOAD_ERR_CONNECT);
            return;
        }
        c->state = CC_LOAD_C_WRITING;
        cc_load_write(r, c);
        return;
    }
    if (c->state == CC_LOAD_C_WRITING && (events & EPOLLOUT)) {
        cc_load_write(r, c);
    }
    if (c->fd >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        cc_load_read(r, c);
    }
}


/*
 * Timeouts of requests in flight; resends whose backoff has passed; with
 * --rate, new sessions on the idle connections as their time comes.
 */
void
cc_load_tick(cc_load_run_t *r)
{
    uint64_t         now = cc_load_now_ns();
    unsigned         i;
    cc_load_conn_t  *c;

    for (i = 0; i < r->o.conc; i++) {
        c = &r->conns[i];
        switch (c->state) {
        case CC_LOAD_C_CONNECTING:
        case CC_LOAD_C_WRITING:
        case CC_LOAD_C_READING:
            if (now >= c->deadline) {
                cc_load_fail(r, c, c->state == CC_LOAD_C_CONNECTING
                                   ? CC_LOAD_ERR_CONNECT
                                   : CC_LOAD_ERR_TIMEOUT);
            }
            break;
        case CC_LOAD_C_WAITING:
            if (now >= c->resume_at) {
                cc_load_send(r, c);
            }
            break;
        case CC_LOAD_C_FREE:
            if (r->o.rate > 0) {
                cc_load_session_start(r, c);
            }
            break;
        default:
            break;
        }
    }
}
