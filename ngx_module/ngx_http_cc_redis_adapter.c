/*
 * ngx_http_cc_redis_adapter: hiredis async on nginx's event loop.
 *
 * hiredis owns the socket; nginx gets an ngx_connection_t wrapping the fd
 * only to receive its events (level-triggered, so a reply larger than
 * hiredis's 16 KB read is never stranded).  The read and write handlers
 * call hiredis, and hiredis calls the hooks below to ask for events.
 */


#include "ngx_http_cc_redis.h"


static void ngx_http_cc_redis_add_read(void *data);
static void ngx_http_cc_redis_del_read(void *data);
static void ngx_http_cc_redis_add_write(void *data);
static void ngx_http_cc_redis_del_write(void *data);
static void ngx_http_cc_redis_cleanup(void *data);
static void ngx_http_cc_redis_read_handler(ngx_event_t *ev);
static void ngx_http_cc_redis_write_handler(ngx_event_t *ev);


ngx_int_t
ngx_http_cc_redis_attach(redisAsyncContext *ac)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, ngx_cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->read->handler = ngx_http_cc_redis_read_handler;
    c->write->handler = ngx_http_cc_redis_write_handler;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_cc_redis_add_read;
    ac->ev.delRead = ngx_http_cc_redis_del_read;
    ac->ev.addWrite = ngx_http_cc_redis_add_write;
    ac->ev.delWrite = ngx_http_cc_redis_del_write;
    ac->ev.cleanup = ngx_http_cc_redis_cleanup;

    return NGX_OK;
}


/* hiredis calls these again and again: each must be idempotent */

static void
ngx_http_cc_redis_add_read(void *data)
{
    ngx_connection_t  *c = data;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_cc_redis_del_read(void *data)
{
    ngx_connection_t  *c = data;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


/*
 * Writes are batched: once connected, a command's write is a posted event,
 * run after the current epoll batch, so every command the batch produced
 * leaves in one write(2) and no epoll_ctl(2) is made.  Only while
 * connecting, or when a write could not finish (the socket is full), is
 * the write event registered with the kernel.
 */
static void
ngx_http_cc_redis_add_write(void *data)
{
    ngx_connection_t  *c = data;

    redisAsyncContext    *ac;
    ngx_http_cc_redis_t  *redis;

    ac = c->data;
    redis = ac->data;

    if ((ac->c.flags & REDIS_CONNECTED) && !redis->writing
        && !c->write->active)
    {
        if (!c->write->posted) {
            ngx_post_event(c->write, &ngx_posted_events);
        }

        return;
    }

    if (!c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_cc_redis_del_write(void *data)
{
    ngx_connection_t  *c = data;

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


/*
 * hiredis is freeing the context and will close the fd itself: give the
 * ngx_connection_t back without closing it (closing twice could close a
 * descriptor nginx has meanwhile reused), and tell the shard.
 */
static void
ngx_http_cc_redis_cleanup(void *data)
{
    ngx_connection_t  *c = data;

    redisAsyncContext  *ac;

    ac = c->data;

    ngx_http_cc_redis_del_read(c);
    ngx_http_cc_redis_del_write(c);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    ac->ev.data = NULL;

    ngx_http_cc_redis_closed(ac);
}


static void
ngx_http_cc_redis_read_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    redisAsyncHandleRead(c->data);
}


static void
ngx_http_cc_redis_write_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    redisAsyncContext    *ac;
    ngx_http_cc_redis_t  *redis;

    ac = c->data;
    redis = ac->data;

    /*
     * hiredis asking for another write from inside this one means the
     * socket is full: that one goes to the kernel (see add_write).  redis
     * outlives the call, c and ac may not.
     */

    redis->writing = 1;
    redisAsyncHandleWrite(ac);
    redis->writing = 0;
}
