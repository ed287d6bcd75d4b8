/*
 * cc_award_set: calls of workers/lib/lua/award_set.lua, many users a call.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cc_award_set.h"
#include "cc_award_set_lua.h"        /* generated: workers/lib/lua/award_set.lua */


const char *cc_award_set_script = cc_award_set_lua;


int
cc_award_set_load(redisContext *c, char *sha, char *err, size_t errlen)
{
    redisReply  *r;

    r = redisCommand(c, "SCRIPT LOAD %s", cc_award_set_lua);

    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40) {
        snprintf(err, errlen, "SCRIPT LOAD: %s",
                 r == NULL ? c->errstr
                 : r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        freeReplyObject(r);
        return -1;
    }

    memcpy(sha, r->str, 41);
    freeReplyObject(r);

    return 0;
}


size_t
cc_award_set_id(char *buf, size_t len, const char *campaign, uint64_t uid)
{
    return (size_t) snprintf(buf, len, "%s:%" PRIu64, campaign, uid);
}


void
cc_award_set_format(char *key, char *val, uint64_t uid, int credited,
    uint64_t amount, const char *award_id)
{
    cc_key_user(key, uid);
    snprintf(val, CC_AWARD_SET_VAL_MAX, "%c:%" PRIu64 ":%s",
             credited ? 'c' : 'p', amount, award_id);
}


void
cc_award_set_add(cc_award_set_call_t *call, uint64_t uid, int credited,
    uint64_t amount, const char *award_id)
{
    size_t  i = call->n++;

    cc_award_set_format(call->keys[i], call->vals[i], uid, credited, amount,
                        award_id);
}


void
cc_award_set_add_kv(cc_award_set_call_t *call, const char *key,
    const char *val)
{
    size_t  i = call->n++;

    snprintf(call->keys[i], CC_KEY_MAX, "%s", key);
    snprintf(call->vals[i], CC_AWARD_SET_VAL_MAX, "%s", val);
}


int
cc_award_set_append_nx(redisContext *c, const char *key, const char *val)
{
    const char  *argv[4] = { "HSETNX", key, CC_FIELD_AWARD, val };

    return redisAppendCommandArgv(c, 4, argv, NULL) == REDIS_OK ? 0 : -1;
}


int
cc_award_set_append(redisContext *c, const char *sha,
    cc_award_set_call_t *call)
{
    int          rc;
    char         nkeys[24];
    size_t       i, argc;
    const char  *argv[3 + 2 * CC_AWARD_SET_MAX];

    argc = 0;
    argv[argc++] = "EVALSHA";
    argv[argc++] = sha;
    snprintf(nkeys, sizeof(nkeys), "%zu", call->n);
    argv[argc++] = nkeys;

    for (i = 0; i < call->n; i++) {
        argv[argc++] = call->keys[i];
    }

    for (i = 0; i < call->n; i++) {
        argv[argc++] = call->vals[i];
    }

    /* NULL lengths: hiredis takes strlen of each argument */
    rc = redisAppendCommandArgv(c, (int) argc, argv, NULL);
    call->n = 0;

    return rc == REDIS_OK ? 0 : -1;
}


long long
cc_award_set_reply(const redisReply *reply, int *noscript, char *err,
    size_t errlen)
{
    if (reply->type == REDIS_REPLY_INTEGER) {
        return reply->integer;
    }

    if (reply->type == REDIS_REPLY_ERROR
        && strncmp(reply->str, "NOSCRIPT", 8) == 0)
    {
        *noscript = 1;
    }

    snprintf(err, errlen, "award_set: %s",
             reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    return -1;
}
