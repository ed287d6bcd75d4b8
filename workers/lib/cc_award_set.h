/*
 * cc_award_set: the one caller of workers/lib/lua/award_set.lua, for cc-draw
 * (loads "p:..." after the split) and cc-payout (the outbox: "c:..." once
 * the credit committed).  It owns the script's calling convention: a call
 * sets up to CC_AWARD_SET_MAX users of one Redis shard (KEYS[i] the
 * user's hash, ARGV[i] its field w as common/cc_award.h words it), and
 * its reply is the number of fields written.  Which users go into which
 * call, and how many calls are in flight, stays with each worker.
 */

#ifndef CC_AWARD_SET_H
#define CC_AWARD_SET_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cc_award.h"
#include "cc_keys.h"

/* users per call: Redis runs a call as one, so it stays short (~50 us) */
#define CC_AWARD_SET_MAX      128
#define CC_AWARD_SET_VAL_MAX  (2 + 20 + 1 + CC_AWARD_ID_MAX + 1)

typedef struct {
    size_t  n;
    char    keys[CC_AWARD_SET_MAX][CC_KEY_MAX];
    char    vals[CC_AWARD_SET_MAX][CC_AWARD_SET_VAL_MAX];
} cc_award_set_call_t;

/* the script's text, for SCRIPT LOAD */
extern const char *cc_award_set_script;

/* SCRIPT LOAD on c: 0 with sha[41] set, or -1 with err set */
int cc_award_set_load(redisContext *c, char *sha, char *err, size_t errlen);

/*
 * A user's key and field w as the script takes them: key cc:{uid}:u
 * (CC_KEY_MAX bytes), w = "<c|p>:<amount>:<award_id>"
 * (CC_AWARD_SET_VAL_MAX bytes).  The award id as written by
 * cc_award_set_id() or read from MySQL.
 */
void cc_award_set_format(char *key, char *val, uint64_t uid, int credited,
    uint64_t amount, const char *award_id);

/*
 * One more user into the call (never past CC_AWARD_SET_MAX: the caller
 * sends a full call first), formatted here or already (_kv).
 */
void cc_award_set_add(cc_award_set_call_t *call, uint64_t uid, int credited,
    uint64_t amount, const char *award_id);
void cc_award_set_add_kv(cc_award_set_call_t *call, const char *key,
    const char *val);

/*
 * The script's fast path for a field not there yet (a draw's first load):
 * HSETNX key w val appended to c, which is what the script does then, in
 * a third of its time.  Its reply is integer 1 (written) or 0: the field
 * was there, and that user must go through the script (never backwards).
 */
int cc_award_set_append_nx(redisContext *c, const char *key,
    const char *val);

/* the award id of a user in a campaign, "<campaign>:<uid>", into buf */
size_t cc_award_set_id(char *buf, size_t len, const char *campaign,
    uint64_t uid);

/* the call appended to c's output (redisAppendCommandArgv); n reset to 0 */
int cc_award_set_append(redisContext *c, const char *sha,
    cc_award_set_call_t *call);

/*
 * A call's reply: the fields written (>= 0), or -1 with err set.
 * *noscript is set when Redis lost the script (a restart): reload it.
 */
long long cc_award_set_reply(const redisReply *reply, int *noscript,
    char *err, size_t errlen);

#endif /* CC_AWARD_SET_H */
