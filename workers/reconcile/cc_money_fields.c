/*
 * cc_money_fields.c: see cc_money_fields.h.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_award_set.h"
#include "cc_money_fields.h"
#include "cc_redis.h"
#include "cc_worker.h"


int
cc_money_add_field(cc_money_t *m, const cc_money_look_t *l, int credited)
{
    size_t             cap;
    cc_money_field_t  *p;

    if (m->nfields == m->fields_cap) {
        cap = m->fields_cap ? m->fields_cap * 2 : 64;
        p = realloc(m->fields, cap * sizeof(cc_money_field_t));
        if (p == NULL) {
            cc_log("out of memory");
            return -1;
        }
        m->fields = p;
        m->fields_cap = cap;
    }

    p = &m->fields[m->nfields++];
    p->uid = l->uid;
    p->amount = l->amount;
    memcpy(p->award_id, l->award_id, sizeof(p->award_id));
    p->credited = credited;

    return 0;
}


/* one award_set.lua call on Redis shard r: the fields written, or -1 */
static long long
cc_money_fields_call(cc_money_t *m, size_t r, const char *sha,
    cc_award_set_call_t *call)
{
    int          noscript;
    char         err[256];
    long long    n;
    redisReply  *reply;

    if (cc_award_set_append(m->redis[r], sha, call) != 0
        || redisGetReply(m->redis[r], (void **) &reply) != REDIS_OK)
    {
        cc_log("repair of award fields: redis %s: %s", m->redis_names[r],
               m->redis[r]->errstr);
        return -1;
    }

    noscript = 0;
    n = cc_award_set_reply(reply, &noscript, err, sizeof(err));
    freeReplyObject(reply);

    if (n < 0) {
        cc_log("repair of award fields: redis %s: %s", m->redis_names[r],
               err);
    }

    return n;
}


/*
 * Shard by shard: the fields of the users of Redis shard r, in calls of
 * CC_AWARD_SET_MAX users.
 */
void
cc_money_repair_fields(cc_money_t *m)
{
    char                 sha[41], err[256];
    size_t               r, i;
    long long            n;
    cc_money_field_t    *f;
    cc_award_set_call_t *call;

    if (m->nfields == 0) {
        return;
    }

    call = malloc(sizeof(cc_award_set_call_t));
    if (call == NULL) {
        cc_log("out of memory");
        return;
    }

    for (r = 0; r < m->nredis; r++) {
        if (cc_award_set_load(m->redis[r], sha, err, sizeof(err)) != 0) {
            cc_log("repair of award fields: redis %s: %s",
                   m->redis_names[r], err);
            continue;
        }

        call->n = 0;

        for (i = 0; i < m->nfields; i++) {
            f = &m->fields[i];

            if (cc_ring_shard(&m->ring, f->uid) != r) {
                continue;
            }

            cc_award_set_add(call, f->uid, f->credited, f->amount,
                             f->award_id);
            cc_log("repairing field w of uid %" PRIu64 ": %c:%" PRIu64
                   ":%s", f->uid, f->credited ? 'c' : 'p', f->amount,
                   f->award_id);

            if (call->n == CC_AWARD_SET_MAX) {
                n = cc_money_fields_call(m, r, sha, call);
                m->fields_repaired += n > 0 ? (unsigned long long) n : 0;
            }
        }

        if (call->n > 0) {
            n = cc_money_fields_call(m, r, sha, call);
            m->fields_repaired += n > 0 ? (unsigned long long) n : 0;
        }
    }

    free(call);
}
