/*
 * ngx_http_cc_script: the Lua run inside Redis.
 *
 * Each user lives in one hash, cc:{uid}:u, so a flip touches one hash and
 * the shard's draw log: fields c (chances left), s (draw sequence), k0..kN
 * (cards held), the answers kept for retries.  The weights and the answers'
 * TTL are written into the script text at configuration time.
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
 * A batch of flips, one entry per request.
 *
 * KEYS: the shard's draw log (a stream cc-reconcile reads and trims), the
 * shard's issue counter of each stocked kind (cc:stock:K), then per entry
 * the user hash.  ARGV: this shard's quota of each stocked kind, then per
 * entry the kind the module drew by the weights (its digits), the uid,
 * ":" and the request id (the field of its answer), the draw's time in ms,
 * and with stocked kinds a second random number (31 bits).
 *
 * Each flip costs two calls, HMGET and HSET of the user hash, and the batch
 * one XADD: the hash holds the chances (c), the draw sequence (s), the cards
 * held (k0..kN), and the answer of each request, ":<request id>" =
 * "seq:card:left:period", replayed to a retry.  period is time /
 * cc_request_ttl; g is the newest one the user wrote.  The first flip of a
 * user in a newer period drops answers older than the previous one, so an
 * answer is kept for cc_request_ttl at least, and a user keeps two periods
 * of answers at most.  A user's period never goes back (a node's clock
 * behind cannot drop fresh answers).
 *
 * A drawn kind whose shard quota is spent is drawn again among the kinds
 * still in stock, by weight, with the second random number (its weight
 * goes to the others: the odds are those of a draw among them).  The reply
 * has per entry "seq:card:left:period" for a new draw, "=seq:card:left:
 * period" for a retry, 0 when the user has no chances left (nothing stored,
 * nothing changed), or the error of the entry's reads (say, a key of the
 * wrong type), which fails that request alone.  Entries run in order, so
 * two flips of one user in one batch are two sequential flips.  The
 * batch's new draws go to the log as one entry, d = "uid:seq:card:ms:rid"
 * lines.  Numbers become strings through string.format('%d') or
 * concatenation of strings: Lua's own conversion ("%.14g") is slow; and
 * tonumber(), strtod() underneath, is kept off the common path.
 */
static char  ngx_http_cc_flip_lua[] =
    "local w, W = %s, %uL\n"
    "local kf, ks = %s, %s\n"
    "local stocked, sk = %s, %s\n"
    "local S = %ui\n"
    "local T = %T\n"
    "local N = S > 0 and 5 or 4\n"
    "local fmt = string.format\n"
    "local issued = {}\n"
    "for si = 1, S do\n"
    "  issued[si] = tonumber(redis.call('GET', KEYS[1 + si])) or 0\n"
    "end\n"
    "local out, d, lts, G, gs = {}, {}, nil, 0, nil\n"
    "for i = 0, (#ARGV - S) / N - 1 do\n"
    "  local u, a = KEYS[S + 2 + i], S + N * i\n"
    "  local card, rf, ts = ARGV[a + 1], ARGV[a + 3], ARGV[a + 4]\n"
    "  local si = stocked[card]\n"
    "  if si and issued[si] >= tonumber(ARGV[si]) then\n"
    "    local total, out_of = W, {}\n"
    "    for sj = 1, S do\n"
    "      if issued[sj] >= tonumber(ARGV[sj]) then\n"
    "        out_of[sk[sj]] = true\n"
    "        total = total - w[sk[sj]]\n"
    "      end\n"
    "    end\n"
    "    card = nil\n"
    "    if total > 0 then\n"
    "      local x = tonumber(ARGV[a + 5]) %% total\n"
    "      for j = 1, #w do\n"
    "        if not out_of[j] then\n"
    "          if x < w[j] then card = ks[j] break end\n"
    "          x = x - w[j]\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  local v = redis.pcall('HMGET', u, 'c', 's', kf[card or '0'], rf, 'g')\n"
    "  local c = not v.err and tonumber(v[1]) or 0\n"
    "  if v.err then\n"
    "    out[i + 1] = v\n"
    "  elseif v[4] then\n"
    "    out[i + 1] = '=' .. v[4]\n"
    "  elseif c < 1 then\n"
    "    out[i + 1] = 0\n"
    "  elseif card == nil then\n"
    "    out[i + 1] = {err = 'ERR every card kind is out of stock'}\n"
    "  else\n"
    "    if ts ~= lts then\n"
    "      lts = ts\n"
    "      G = math.floor(tonumber(ts) / (1000 * T))\n"
    "      gs = fmt('%%d', G)\n"
    "    end\n"
    "    local eg, egs = G, gs\n"
    "    local g = v[5] ~= gs and tonumber(v[5])\n"
    "    if g and g > eg then eg, egs = g, v[5] end\n"
    "    local cs = fmt('%%d', c - 1)\n"
    "    local ss = fmt('%%d', (tonumber(v[2]) or 0) + 1)\n"
    "    local kn = fmt('%%d', (tonumber(v[3]) or 0) + 1)\n"
    "    local res = ss .. ':' .. card .. ':' .. cs .. ':' .. egs\n"
    "    if v[5] == egs then\n"
    "      redis.call('HSET', u, 'c', cs, 's', ss, kf[card], kn, rf, res)\n"
    "    else\n"
    "      if g then\n"
    "        local all, del = redis.call('HGETALL', u), {}\n"
    "        for j = 1, #all, 2 do\n"
    "          if all[j]:sub(1, 1) == ':'"
    " and (tonumber(all[j + 1]:match('(%%d+)$')) or 0) < eg - 1 then\n"
    "            del[#del + 1] = all[j]\n"
    "          end\n"
    "        end\n"
    "        if #del > 0 then redis.call('HDEL', u, unpack(del)) end\n"
    "      end\n"
    "      redis.call('HSET', u, 'c', cs, 's', ss, kf[card], kn, rf, res,"
    " 'g', egs)\n"
    "    end\n"
    "    if stocked[card] then\n"
    "      issued[stocked[card]] = issued[stocked[card]] + 1\n"
    "      redis.call('INCR', KEYS[1 + stocked[card]])\n"
    "    end\n"
    "    d[#d + 1] = ARGV[a + 2] .. ':' .. ss .. ':' .. card .. ':' .. ts"
    " .. rf\n"
    "    out[i + 1] = res\n"
    "  end\n"
    "end\n"
    "if #d > 0 then\n"
    "  redis.call('XADD', KEYS[1], '*', 'd', table.concat(d, '\\n'))\n"
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


/*
 * A batch of eligibility reads.  KEYS per entry: the user hash.  The reply
 * has per entry {combined, n0, n1, ...}: combined is 1 once the user
 * combined a set (field e), n the cards held of each kind.
 */
static char  ngx_http_cc_elig_lua[] =
    "local kf = %s\n"
    "local out = {}\n"
    "for i = 1, #KEYS do\n"
    "  local v = redis.pcall('HMGET', KEYS[i], 'e', unpack(kf))\n"
    "  if v.err then\n"
    "    out[i] = v\n"
    "  else\n"
    "    local r = {v[1] and 1 or 0}\n"
    "    for j = 1, #kf do r[j + 1] = tonumber(v[j + 1]) or 0 end\n"
    "    out[i] = r\n"
    "  end\n"
    "end\n"
    "return out\n";


/*
 * A batch of combines (合成).  KEYS: the shard's draw log, then per entry
 * the user hash; ARGV per entry: the uid, the request id, the time in ms.
 * Once per user: the field e (request id and time of the combine) is the
 * idempotency key.  The reply has per entry {status, n0, n1, ...} with the
 * cards held after it: status 2 combined now (one of each kind consumed,
 * the combine appended to the log), 1 combined before (nothing consumed),
 * 0 a kind is missing (nothing changed).
 */
static char  ngx_http_cc_combine_lua[] =
    "local kf = %s\n"
    "local fmt = string.format\n"
    "local out = {}\n"
    "for i = 0, #ARGV / 3 - 1 do\n"
    "  local u, a = KEYS[2 + i], 3 * i\n"
    "  local v = redis.pcall('HMGET', u, 'e', unpack(kf))\n"
    "  if v.err then\n"
    "    out[i + 1] = v\n"
    "  else\n"
    "    local r, set, missing = {v[1] and 1 or 2}, {}, false\n"
    "    for j = 1, #kf do\n"
    "      r[j + 1] = tonumber(v[j + 1]) or 0\n"
    "      if r[j + 1] < 1 then missing = true end\n"
    "    end\n"
    "    if r[1] == 2 and missing then\n"
    "      r[1] = 0\n"
    "    elseif r[1] == 2 then\n"
    "      set[1], set[2] = 'e', ARGV[a + 2] .. ':' .. ARGV[a + 3]\n"
    "      for j = 1, #kf do\n"
    "        r[j + 1] = r[j + 1] - 1\n"
    "        set[#set + 1] = kf[j]\n"
    "        set[#set + 1] = fmt('%%d', r[j + 1])\n"
    "      end\n"
    "      redis.call('HSET', u, unpack(set))\n"
    "      redis.call('XADD', KEYS[1], '*', 'y', 'c', 'u', ARGV[a + 1],"
    " 'r', ARGV[a + 2], 't', ARGV[a + 3])\n"
    "    end\n"
    "    out[i + 1] = r\n"
    "  end\n"
    "end\n"
    "return out\n";


/*
 * A Lua table of strings: {'k0','k1',...} or {'0','1',...}; keyed by the
 * kind's digits: {['0']='k0',['1']='k1',...}.
 */
static u_char *
ngx_http_cc_lua_names(ngx_pool_t *pool, ngx_uint_t n, char *prefix,
    ngx_uint_t keyed)
{
    u_char      *p, *text;
    ngx_uint_t   i;

    text = ngx_pnalloc(pool, n * (ngx_strlen(prefix) + 16) + 4);
    if (text == NULL) {
        return NULL;
    }

    p = ngx_sprintf(text, "{");

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, i ? "," : "");

        if (keyed) {
            p = ngx_sprintf(p, "['%ui']=", i);
        }

        p = ngx_sprintf(p, "'%s%ui'", prefix, i);
    }

    *ngx_sprintf(p, "}") = '\0';

    return text;
}


static ngx_int_t
ngx_http_cc_script_text(ngx_pool_t *pool, ngx_http_cc_script_t *script,
    size_t len, char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    va_start(args, fmt);
    script->text.data = p;
    script->text.len = ngx_vslprintf(p, p + len, fmt, args) - p;
    va_end(args);

    return NGX_OK;
}


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
    u_char                  *kf, *kd, *ks, *stocked, *sk, *p;
    size_t                   len;
    char                     w[CC_KINDS_MAX * 12 + 4];
    ngx_uint_t               i, n, nstock;
    ngx_http_cc_stock_t     *stock;
    ngx_http_cc_script_t    *sc;

    n = cmcf->cards.nkinds;

    if (cc_cards_lua_weights(&cmcf->cards, w, sizeof(w)) < 0) {
        return NGX_ERROR;
    }

    kf = ngx_http_cc_lua_names(cf->pool, n, "k", 0);
    kd = ngx_http_cc_lua_names(cf->pool, n, "k", 1);
    ks = ngx_http_cc_lua_names(cf->pool, n, "", 0);
    stocked = ngx_pnalloc(cf->pool, CC_KINDS_MAX * 16 + 4);
    sk = ngx_pnalloc(cf->pool, CC_KINDS_MAX * 8 + 4);

    if (kf == NULL || kd == NULL || ks == NULL || stocked == NULL
        || sk == NULL)
    {
        return NGX_ERROR;
    }

    /* {['kind'] = index of its counter and quota} */

    nstock = cmcf->stock ? cmcf->stock->nelts : 0;
    stock = cmcf->stock ? cmcf->stock->elts : NULL;

    p = ngx_sprintf(stocked, "{");

    for (i = 0; i < nstock; i++) {
        p = ngx_sprintf(p, "%s['%ui']=%ui", i ? "," : "", stock[i].kind,
                        i + 1);
    }

    *ngx_sprintf(p, "}") = '\0';

    /* {kind + 1 of each stocked kind, in counter order} */

    p = ngx_sprintf(sk, "{");

    for (i = 0; i < nstock; i++) {
        p = ngx_sprintf(p, "%s%ui", i ? "," : "", stock[i].kind + 1);
    }

    *ngx_sprintf(p, "}") = '\0';

    /* the flip */

    sc = &cmcf->scripts[NGX_HTTP_CC_SCRIPT_FLIP];
    len = sizeof(ngx_http_cc_flip_lua) + sizeof(w) + ngx_strlen(kd)
          + ngx_strlen(ks)
          + ngx_strlen(stocked) + ngx_strlen(sk) + 3 * NGX_INT64_LEN;

    if (ngx_http_cc_script_text(cf->pool, sc, len, ngx_http_cc_flip_lua, w,
                                (uint64_t) cmcf->cards.total, kd, ks,
                                stocked, sk, nstock, cmcf->request_ttl)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sc->nshared = 1 + nstock;
    sc->shared = ngx_pcalloc(cf->pool, sc->nshared * sizeof(ngx_str_t));
    if (sc->shared == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&sc->shared[0], "cc:draws");

    for (i = 0; i < nstock; i++) {
        sc->shared[1 + i].data = ngx_pnalloc(cf->pool, 16);
        if (sc->shared[1 + i].data == NULL) {
            return NGX_ERROR;
        }

        sc->shared[1 + i].len = ngx_sprintf(sc->shared[1 + i].data,
                                            "cc:stock:%ui", stock[i].kind)
                                - sc->shared[1 + i].data;
    }

    sc->nshared_args = nstock;
    sc->nkeys = 1;
    sc->nargs = nstock ? 5 : 4;         /* a second random for a redraw */

    /* the grant */

    sc = &cmcf->scripts[NGX_HTTP_CC_SCRIPT_GRANT];
    sc->text.data = (u_char *) ngx_http_cc_grant_lua;
    sc->text.len = sizeof(ngx_http_cc_grant_lua) - 1;
    sc->nkeys = 2;
    sc->nargs = 2;

    /* eligibility */

    sc = &cmcf->scripts[NGX_HTTP_CC_SCRIPT_ELIG];
    len = sizeof(ngx_http_cc_elig_lua) + ngx_strlen(kf);

    if (ngx_http_cc_script_text(cf->pool, sc, len, ngx_http_cc_elig_lua, kf)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sc->nkeys = 1;
    sc->nargs = 0;

    /* the combine */

    sc = &cmcf->scripts[NGX_HTTP_CC_SCRIPT_COMBINE];
    len = sizeof(ngx_http_cc_combine_lua) + ngx_strlen(kf);

    if (ngx_http_cc_script_text(cf->pool, sc, len, ngx_http_cc_combine_lua,
                                kf)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sc->nshared = 1;
    sc->shared = cmcf->scripts[NGX_HTTP_CC_SCRIPT_FLIP].shared;  /* log */
    sc->nkeys = 1;
    sc->nargs = 3;

    for (i = 0; i < NGX_HTTP_CC_SCRIPTS; i++) {
        cmcf->scripts[i].index = i;
        ngx_http_cc_script_sha(&cmcf->scripts[i]);
    }

    return NGX_OK;
}
