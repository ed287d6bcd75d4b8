/*
 * ngx_http_cc_script: the Lua run inside Redis.
 *
 * Each user lives in one hash, cc:{uid}:u, so a flip touches one hash, one
 * result key and the shard's draw log: fields c (chances left), s (draw
 * sequence), k0..kN (cards held).  The weights and the result TTL are
 * written into the script text at configuration time.
 *
 * The scripts take a batch: the requests a worker receives in one turn of
 * its event loop for one shard go to Redis as one EVALSHA (see
 * ngx_http_cc_redis.c), which spares Redis most of its per-call cost.
 * {uid} is a hash tag: a user's keys stay together even on a Redis
 * Cluster.
 */


#include "ngx_http_cc_module.h"

#include <openssl/sha.h>


/*
 * A batch of flips, one entry per request.  KEYS[1] is the shard's draw
 * log (a stream cc-reconcile reads and trims); then per entry the user
 * hash and the result key of (uid, request_id).  ARGV per entry: the
 * module's random number (0 <= r < total weight), the uid, the request id,
 * the draw's time in ms.  The reply has per entry "seq:card:left" (stored
 * under the result key) for a new draw, "=seq:card:left" for a retry, 0
 * when the user has no chances left (nothing stored, nothing changed), or
 * the error of the entry's reads (say, a key of the wrong type), which
 * fails that request alone.  Numbers become strings through
 * string.format('%d'): Lua's own conversion goes through "%.14g", the
 * costliest part of the script.  Entries run in order, so two flips of one
 * user in one batch see each other as two sequential flips do.
 */
static char  ngx_http_cc_flip_lua[] =
    "local cum = %s\n"
    "local fmt = string.format\n"
    "local log = KEYS[1]\n"
    "local out = {}\n"
    "for i = 0, #ARGV / 4 - 1 do\n"
    "  local u, rk, a = KEYS[2 + 2 * i], KEYS[3 + 2 * i], 4 * i\n"
    "  local prev = redis.pcall('GET', rk)\n"
    "  if type(prev) == 'string' then\n"
    "    out[i + 1] = '=' .. prev\n"
    "  elseif type(prev) == 'table' then\n"
    "    out[i + 1] = prev\n"
    "  else\n"
    "    local r = tonumber(ARGV[a + 1])\n"
    "    local card = #cum - 1\n"
    "    for j = 1, #cum do\n"
    "      if r < cum[j] then card = j - 1 break end\n"
    "    end\n"
    "    local f = 'k' .. card\n"
    "    local v = redis.pcall('HMGET', u, 'c', 's', f)\n"
    "    local c = v.err and 0 or tonumber(v[1]) or 0\n"
    "    if v.err then\n"
    "      out[i + 1] = v\n"
    "    elseif c < 1 then\n"
    "      out[i + 1] = 0\n"
    "    else\n"
    "      local s = (tonumber(v[2]) or 0) + 1\n"
    "      local ss, cs = fmt('%%d', s), fmt('%%d', card)\n"
    "      redis.call('HSET', u, 'c', fmt('%%d', c - 1), 's', ss, f,"
    " fmt('%%d', (tonumber(v[3]) or 0) + 1))\n"
    "      local res = fmt('%%d:%%d:%%d', s, card, c - 1)\n"
    "      redis.call('SET', rk, res, 'EX', '%T')\n"
    "      redis.call('XADD', log, '*', 'u', ARGV[a + 2], 's', ss, 'c', cs,"
    " 't', ARGV[a + 4], 'r', ARGV[a + 3])\n"
    "      out[i + 1] = res\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";


/*
 * A batch of grants.  KEYS per entry: the user hash and the user's set of
 * applied grant ids; ARGV per entry: the grant id and the chances to add.
 * The SADD is the idempotency key: a grant id already in the set adds
 * nothing.  The reply has per entry the user's chances after it.
 */
static char  ngx_http_cc_grant_lua[] =
    "local out = {}\n"
    "for i = 0, #ARGV / 2 - 1 do\n"
    "  local u, g = KEYS[1 + 2 * i], KEYS[2 + 2 * i]\n"
    "  local added = redis.pcall('SADD', g, ARGV[1 + 2 * i])\n"
    "  if type(added) == 'table' then\n"
    "    out[i + 1] = added\n"
    "  elseif added == 0 then\n"
    "    out[i + 1] = redis.pcall('HGET', u, 'c')\n"
    "    if type(out[i + 1]) ~= 'table' then\n"
    "      out[i + 1] = tonumber(out[i + 1]) or 0\n"
    "    end\n"
    "  else\n"
    "    out[i + 1] = redis.pcall('HINCRBY', u, 'c', ARGV[2 + 2 * i])\n"
    "  end\n"
    "end\n"
    "return out\n";


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
    u_char                *p;
    size_t                 len;
    char                   cum[CC_KINDS_MAX * 12 + 4];
    ngx_http_cc_script_t  *flip, *grant;

    flip = &cmcf->scripts[NGX_HTTP_CC_SCRIPT_FLIP];
    grant = &cmcf->scripts[NGX_HTTP_CC_SCRIPT_GRANT];

    if (cc_cards_lua_cumulative(&cmcf->cards, cum, sizeof(cum)) < 0) {
        return NGX_ERROR;
    }

    len = sizeof(ngx_http_cc_flip_lua) + sizeof(cum) + NGX_TIME_T_LEN;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    flip->text.data = p;
    flip->text.len = ngx_snprintf(p, len, ngx_http_cc_flip_lua, cum,
                                  cmcf->request_ttl) - p;
    flip->index = NGX_HTTP_CC_SCRIPT_FLIP;
    flip->nshared = 1;
    ngx_str_set(&flip->shared[0], "cc:draws");
    flip->nkeys = 2;
    flip->nargs = 4;

    grant->text.data = (u_char *) ngx_http_cc_grant_lua;
    grant->text.len = sizeof(ngx_http_cc_grant_lua) - 1;
    grant->index = NGX_HTTP_CC_SCRIPT_GRANT;
    grant->nshared = 0;
    grant->nkeys = 2;
    grant->nargs = 2;

    ngx_http_cc_script_sha(flip);
    ngx_http_cc_script_sha(grant);

    return NGX_OK;
}
