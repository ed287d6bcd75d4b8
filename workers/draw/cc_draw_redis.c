/*
 * cc_draw_redis: cc-draw's pipelines of fields w into Redis.
 *
 * Each shard's replies come back in the order its commands went, so a
 * FIFO per shard says what each awaited reply is: an HSETNX (with the
 * user's key and value, should it answer 0) or an award_set.lua call.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_draw_redis.h"
#include "cc_redis.h"


typedef struct {
    int   call;                          /* an award_set.lua call */
    char  key[CC_KEY_MAX];               /* else an HSETNX of these */
    char  val[CC_AWARD_SET_VAL_MAX];
} cc_draw_wait_t;

/* a shard's call counts as CC_AWARD_SET_MAX users of the depth */
#define CC_DRAW_FIFO  (CC_DRAW_REDIS_DEPTH + 2 * CC_AWARD_SET_MAX)

struct cc_draw_fifo_s {
    size_t           head, n, users;     /* users: of the depth */
    cc_draw_wait_t   w[CC_DRAW_FIFO];
};


static int cc_draw_pipe_drain(cc_draw_pipe_t *pp, size_t r);


redisContext *
cc_draw_redis_connect(const cc_addr_t *a, const char *name, char *sha,
    char *err, size_t errlen)
{
    char           msg[256];
    redisContext  *c;

    c = cc_redis_connect(a, name, 10000, err, errlen);

    if (c == NULL || sha == NULL) {
        return c;
    }

    if (cc_award_set_load(c, sha, msg, sizeof(msg)) != 0) {
        snprintf(err, errlen, "redis %s: %s", name, msg);
        redisFree(c);
        return NULL;
    }

    return c;
}


int
cc_draw_pipe_open(cc_draw_pipe_t *pp, const cc_addr_t *addrs,
    char *const *names, size_t n)
{
    size_t  r;

    memset(pp, 0, sizeof(*pp));
    pp->nredis = n;
    pp->names = names;
    pp->call = calloc(n, sizeof(cc_award_set_call_t));
    pp->fifo = calloc(n, sizeof(cc_draw_fifo_t));

    if (pp->call == NULL || pp->fifo == NULL) {
        snprintf(pp->err, sizeof(pp->err), "out of memory");
        return -1;
    }

    for (r = 0; r < n; r++) {
        pp->ctx[r] = cc_draw_redis_connect(&addrs[r], names[r], pp->sha,
                                           pp->err, sizeof(pp->err));
        if (pp->ctx[r] == NULL) {
            return -1;
        }
    }

    return 0;
}


void
cc_draw_pipe_close(cc_draw_pipe_t *pp)
{
    size_t  r;

    for (r = 0; r < pp->nredis; r++) {
        redisFree(pp->ctx[r]);
        pp->ctx[r] = NULL;
    }

    free(pp->call);
    free(pp->fifo);
    pp->call = NULL;
    pp->fifo = NULL;
}


static cc_draw_wait_t *
cc_draw_fifo_push(cc_draw_fifo_t *f)
{
    cc_draw_wait_t  *w;

    w = &f->w[(f->head + f->n) % CC_DRAW_FIFO];
    f->n++;
    return w;
}


static int
cc_draw_pipe_fail(cc_draw_pipe_t *pp, size_t r, const char *why)
{
    snprintf(pp->err, sizeof(pp->err), "redis %s: %s", pp->names[r], why);
    return -1;
}


/* shard r's filling call sent */
static int
cc_draw_pipe_call(cc_draw_pipe_t *pp, size_t r)
{
    cc_draw_fifo_t  *f = &pp->fifo[r];

    if (cc_award_set_append(pp->ctx[r], pp->sha, &pp->call[r]) != 0) {
        return cc_draw_pipe_fail(pp, r, "out of memory");
    }

    cc_draw_fifo_push(f)->call = 1;
    f->users += CC_AWARD_SET_MAX;

    return 0;
}


/*
 * Every reply awaited on shard r read.  An HSETNX that found the field
 * puts its user into the filling call; a call filled meanwhile is sent
 * and awaited in the same loop.
 */
static int
cc_draw_pipe_drain(cc_draw_pipe_t *pp, size_t r)
{
    int              noscript;
    void            *v;
    char             err[256];
    long long        written;
    redisReply      *reply;
    cc_draw_wait_t  *w;
    cc_draw_fifo_t  *f = &pp->fifo[r];

    while (f->n > 0) {
        w = &f->w[f->head];

        if (redisGetReply(pp->ctx[r], &v) != REDIS_OK) {
            return cc_draw_pipe_fail(pp, r, pp->ctx[r]->errstr);
        }

        reply = v;

        if (w->call) {
            noscript = 0;
            written = cc_award_set_reply(reply, &noscript, err, sizeof(err));

        } else if (reply->type == REDIS_REPLY_INTEGER) {
            written = reply->integer;

            if (written == 0) {
                cc_award_set_add_kv(&pp->call[r], w->key, w->val);
            }

        } else {
            snprintf(err, sizeof(err), "HSETNX: %s",
                     reply->type == REDIS_REPLY_ERROR ? reply->str
                                                      : "unexpected reply");
            written = -1;
        }

        freeReplyObject(reply);

        if (written < 0) {
            return cc_draw_pipe_fail(pp, r, err);
        }

        pp->loaded += (uint64_t) written;
        f->users -= w->call ? CC_AWARD_SET_MAX : 1;
        f->head = (f->head + 1) % CC_DRAW_FIFO;
        f->n--;

        if (pp->call[r].n == CC_AWARD_SET_MAX && cc_draw_pipe_call(pp, r) != 0)
        {
            return -1;
        }
    }

    f->users = 0;
    return 0;
}


int
cc_draw_pipe_send(cc_draw_pipe_t *pp, size_t r, uint64_t uid, int credited,
    uint64_t amount, const char *award_id, int fresh)
{
    cc_draw_wait_t  *w;
    cc_draw_fifo_t  *f = &pp->fifo[r];

    if (f->users >= CC_DRAW_REDIS_DEPTH && cc_draw_pipe_drain(pp, r) != 0) {
        return -1;
    }

    if (!fresh) {
        cc_award_set_add(&pp->call[r], uid, credited, amount, award_id);

        if (pp->call[r].n == CC_AWARD_SET_MAX) {
            return cc_draw_pipe_call(pp, r);
        }

        return 0;
    }

    w = cc_draw_fifo_push(f);
    w->call = 0;
    cc_award_set_format(w->key, w->val, uid, credited, amount, award_id);

    if (cc_award_set_append_nx(pp->ctx[r], w->key, w->val) != 0) {
        return cc_draw_pipe_fail(pp, r, "out of memory");
    }

    f->users++;
    return 0;
}


int
cc_draw_pipe_flush(cc_draw_pipe_t *pp)
{
    size_t  r;

    for (r = 0; r < pp->nredis; r++) {
        /* a drain may fill the call again: round until both are empty */
        do {
            if (pp->call[r].n > 0 && cc_draw_pipe_call(pp, r) != 0) {
                return -1;
            }

            if (cc_draw_pipe_drain(pp, r) != 0) {
                return -1;
            }
        } while (pp->call[r].n > 0);
    }

    return 0;
}
