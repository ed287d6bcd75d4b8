-- flip.lua: a batch of flips, one entry per request.
--
-- Run inside Redis with EVALSHA over a batch (ngx_http_cc_redis_batch.c).
-- The module prepends the configuration as locals (ngx_http_cc_script.c):
--
--   WEIGHTS        the weight of each kind, {w0, w1, ...} (cc_cards)
--   WEIGHT_TOTAL   their sum
--   FIELD_OF       the user hash's field of each kind, {['0'] = 'k0', ...}
--   KINDS          the kinds' digits, {'0', '1', ...}
--   TTL            cc_request_ttl in seconds: the length of a period
--   NARGS          the arguments of an entry (5 with stocked kinds, else 4)
--   STOCK_OF       the counter of each stocked kind, {['4'] = 1, ...}
--   STOCK_KIND     the kind + 1 of each counter, {5, ...}
--                  (the last two and the 5th argument: ngx_http_cc_stock.c)
--
-- KEYS: the shard's draw log (a stream cc-reconcile reads and trims), the
-- shard's issue counter of each stocked kind (cc:stock:K), then per entry
-- the user hash.  ARGV: this shard's quota of each stocked kind, then per
-- entry the kind the module drew by the weights (its digits), the uid,
-- ":" and the request id (the field of its answer), the draw's time in ms,
-- and with stocked kinds a second random number (31 bits).
--
-- Each flip costs two calls, HMGET and HSET of the user hash, and the batch
-- one XADD: the hash holds the chances (c), the draw sequence (s), the cards
-- held (k0..kN), and the answer of each request, ":<request id>" =
-- "seq:card:left:period", replayed to a retry.  period is time / TTL; g is
-- the newest one the user wrote.  The first flip of a user in a newer
-- period drops answers older than the previous one, so an answer is kept
-- for TTL at least, and a user keeps two periods of answers at most.  A
-- user's period never goes back (a node's clock behind cannot drop fresh
-- answers).
--
-- A drawn kind whose shard quota is spent is drawn again among the kinds
-- still in stock, by weight, with the second random number (its weight
-- goes to the others: the odds are those of a draw among them).  The reply
-- has per entry "seq:card:left:period" for a new draw, "=seq:card:left:
-- period" for a retry, 0 when the user has no chances left (nothing stored,
-- nothing changed), or the error of the entry's reads (say, a key of the
-- wrong type), which fails that request alone.  Entries run in order, so
-- two flips of one user in one batch are two sequential flips.  The
-- batch's new draws go to the log as one entry, d = "uid:seq:card:ms:rid"
-- lines.  Numbers become strings through string.format('%d') or
-- concatenation of strings: Lua's own conversion ("%.14g") is slow; and
-- tonumber(), strtod() underneath, is kept off the common path.

local S = #STOCK_KIND
local fmt = string.format
local issued = {}
for si = 1, S do
  issued[si] = tonumber(redis.call('GET', KEYS[1 + si])) or 0
end
local out, d, lts, G, gs = {}, {}, nil, 0, nil
for i = 0, (#ARGV - S) / NARGS - 1 do
  local u, a = KEYS[S + 2 + i], S + NARGS * i
  local card, rf, ts = ARGV[a + 1], ARGV[a + 3], ARGV[a + 4]
  local si = STOCK_OF[card]
  if si and issued[si] >= tonumber(ARGV[si]) then
    local total, out_of = WEIGHT_TOTAL, {}
    for sj = 1, S do
      if issued[sj] >= tonumber(ARGV[sj]) then
        out_of[STOCK_KIND[sj]] = true
        total = total - WEIGHTS[STOCK_KIND[sj]]
      end
    end
    card = nil
    if total > 0 then
      local x = tonumber(ARGV[a + 5]) % total
      for j = 1, #WEIGHTS do
        if not out_of[j] then
          if x < WEIGHTS[j] then card = KINDS[j] break end
          x = x - WEIGHTS[j]
        end
      end
    end
  end
  local v = redis.pcall('HMGET', u, 'c', 's', FIELD_OF[card or '0'], rf, 'g')
  local c = not v.err and tonumber(v[1]) or 0
  if v.err then
    out[i + 1] = v
  elseif v[4] then
    out[i + 1] = '=' .. v[4]
  elseif c < 1 then
    out[i + 1] = 0
  elseif card == nil then
    out[i + 1] = {err = 'ERR every card kind is out of stock'}
  else
    if ts ~= lts then
      lts = ts
      G = math.floor(tonumber(ts) / (1000 * TTL))
      gs = fmt('%d', G)
    end
    local eg, egs = G, gs
    local g = v[5] ~= gs and tonumber(v[5])
    if g and g > eg then eg, egs = g, v[5] end
    local cs = fmt('%d', c - 1)
    local ss = fmt('%d', (tonumber(v[2]) or 0) + 1)
    local kn = fmt('%d', (tonumber(v[3]) or 0) + 1)
    local res = ss .. ':' .. card .. ':' .. cs .. ':' .. egs
    if v[5] == egs then
      redis.call('HSET', u, 'c', cs, 's', ss, FIELD_OF[card], kn, rf, res)
    else
      if g then
        local all, del = redis.call('HGETALL', u), {}
        for j = 1, #all, 2 do
          if all[j]:sub(1, 1) == ':'
             and (tonumber(all[j + 1]:match('(%d+)$')) or 0) < eg - 1 then
            del[#del + 1] = all[j]
          end
        end
        if #del > 0 then redis.call('HDEL', u, unpack(del)) end
      end
      redis.call('HSET', u, 'c', cs, 's', ss, FIELD_OF[card], kn, rf, res,
                 'g', egs)
    end
    if STOCK_OF[card] then
      issued[STOCK_OF[card]] = issued[STOCK_OF[card]] + 1
      redis.call('INCR', KEYS[1 + STOCK_OF[card]])
    end
    d[#d + 1] = ARGV[a + 2] .. ':' .. ss .. ':' .. card .. ':' .. ts .. rf
    out[i + 1] = res
  end
end
if #d > 0 then
  redis.call('XADD', KEYS[1], '*', 'd', table.concat(d, '\n'))
end
return out
