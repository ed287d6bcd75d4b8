/*
 * ngx_http_cc_script: the Lua run inside Redis, one EVALSHA per request.
 *
 * Each user lives in one hash, cc:{uid}:u, so a flip touches one hash, one
 * result key and the shard's draw log: fields c (chances left), s (draw
 * sequence), k0..kN (cards held).  The weights and the result TTL are written into the script text
 * at configuration time, so the per-request call carries only the random
 * number.  {uid} is a hash tag: the keys of a user stay together even on a
 * Redis Cluster.
 */


#include "ngx_http_cc_module.h"

#include <openssl/sha.h>


/*
 * KEYS[1] user hash, KEYS[2] result key of (uid, request_id), KEYS[3] the
 * shard's draw log (a stream cc-reconcile reads and trims);
 * ARGV[1] the module's random number, 0 <= r < total weight, ARGV[2] uid,
 * ARGV[3] request id, ARGV[4] the draw's time in ms.
 * Returns "seq:card:left" (stored under KEYS[2]) for a new draw,
 * "=seq:card:left" for a retry, 0 when the user has no chances left
 * (nothing is stored, nothing changes).
 */
static char  ngx_http_cc_flip_lua[] =
    "local prev = redis.call('GET', KEYS[2])\n"
    "if prev then return '=' .. prev end\n"
    "local cum = %s\n"
    "local r = tonumber(ARGV[1])\n"
    "local card = #cum - 1\n"
    "for i = 1, #cum do\n"
    "  if r < cum[i] then card = i - 1 break end\n"
    "end\n"
    "local f = 'k' .. card\n"
    "local v = redis.call('HMGET', KEYS[1], 'c', 's', f)\n"
    "local c = tonumber(v[1]) or 0\n"
    "if c < 1 then return 0 end\n"
    "local s = (tonumber(v[2]) or 0) + 1\n"
    "redis.call('HSET', KEYS[1], 'c', c - 1, 's', s, f,"
    " (tonumber(v[3]) or 0) + 1)\n"
    "local res = s .. ':' .. card .. ':' .. (c - 1)\n"
    "redis.call('SET', KEYS[2], res, 'EX', %T)\n"
    "redis.call('XADD', KEYS[3], '*', 'u', ARGV[2], 's', s, 'c', card,"
    " 't', ARGV[4], 'r', ARGV[3])\n"
    "return res\n";


/*
 * KEYS[1] user hash, KEYS[2] the user's set of applied grant ids;
 * ARGV[1] grant id, ARGV[2] chances to add.  The SADD is the idempotency
 * key: a grant id already in the set adds nothing.  Returns the chances.
 */
static char  ngx_http_cc_grant_lua[] =
    "if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then\n"
    "  return tonumber(redis.call('HGET', KEYS[1], 'c')) or 0\n"
    "end\n"
    "return redis.call('HINCRBY', KEYS[1], 'c', ARGV[2])\n";


static void
ngx_http_cc_script_sha(ngx_http_cc_script_t *script)
{
    u_char  md[SHA_DIGEST_LENGTH];

    SHA1(script->text.data, script->text.len, md);
    ngx_hex_dump(script->sha, md, SHA_DIGEST_LENGTH);
    script->sha[40] = '\0';
}


ngx_int_t
ngx_http_cc_scripts_build(ngx_conf_t *cf, ngx_http_cc_main_conf_t *cmcf)
{
    u_char  *p;
    size_t   len;
    char     cum[CC_KINDS_MAX * 12 + 4];

    if (cc_cards_lua_cumulative(&cmcf->cards, cum, sizeof(cum)) < 0) {
        return NGX_ERROR;
    }

    len = sizeof(ngx_http_cc_flip_lua) + sizeof(cum) + NGX_TIME_T_LEN;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    cmcf->flip_script.text.data = p;
    cmcf->flip_script.text.len = ngx_snprintf(p, len, ngx_http_cc_flip_lua, cum,
                                         cmcf->request_ttl) - p;

    cmcf->grant_script.text.data = (u_char *) ngx_http_cc_grant_lua;
    cmcf->grant_script.text.len = sizeof(ngx_http_cc_grant_lua) - 1;

    ngx_http_cc_script_sha(&cmcf->flip_script);
    ngx_http_cc_script_sha(&cmcf->grant_script);

    return NGX_OK;
}
