-- ask_out.lua: a batch of asks (要福), the asker's half, on the asker's
-- shard; ask_in.lua stores the ask on the asked user's shard next.
--
-- The module prepends (ngx_http_cc_script.c):
--
--   ASK_MAX        cc_ask_limit: the asks a user has open at once
--   ASK_TTL        cc_ask_ttl in ms: an ask's life
--
-- KEYS per entry: the asker's asks (a hash: ask id -> "from:kind:exp",
-- exp the ms it expires).  ARGV per entry: the ask id
-- ("asker:request_id"), the uid asked, the kind, the time in ms.  The
-- ask id is the idempotency key: an ask made before is replayed with its
-- first uid, kind and expiry.  An ask counts as open until it expires
-- (the asker's shard does not learn of its answer); it is forgotten
-- ASK_TTL after it expired, a request id's replay window.  The reply has
-- per entry {2, from, kind, exp} asked now, {1, from, kind, exp} asked
-- before, {4} ASK_MAX asks open already, or the error of its read.

local out = {}
for i = 0, #ARGV / 4 - 1 do
  local ao, a = KEYS[1 + i], 4 * i
  local id, from, kind, ts = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3],
                             tonumber(ARGV[a + 4])
  local all = redis.pcall('HGETALL', ao)
  if all.err then
    out[i + 1] = all
  else
    local open, old, first = 0, {}, nil
    for j = 1, #all, 2 do
      local f, k, e = all[j + 1]:match('^(%d+):(%d+):(%d+)$')
      e = tonumber(e) or 0
      if all[j] == id then
        first = {1, f, k, e}
      elseif e > ts then
        open = open + 1
      elseif e + ASK_TTL <= ts then
        old[#old + 1] = all[j]
      end
    end
    if #old > 0 then redis.call('HDEL', ao, unpack(old)) end
    if first then
      out[i + 1] = first
    elseif open >= ASK_MAX then
      out[i + 1] = {4}
    else
      local exp = string.format('%d', ts + ASK_TTL)
      redis.call('HSET', ao, id, from .. ':' .. kind .. ':' .. exp)
      out[i + 1] = {2, from, kind, exp}
    end
  end
end
return out
