-- gifts.lua: a batch of GET /cc/gifts, one entry per request: a user's
-- gifts received and sent and the asks addressed to it, newest first, as
-- the JSON body of the answer.
--
-- KEYS: the shard's outbox (gift_out.lua: a gift still in it is "sent",
-- one out of it "delivered"), then per entry the user's received list
-- (gift_in.lua), user hash (the gifts sent are the giver's answers in
-- it, "@request_id" -> "to:kind:s:ms:n": gift_out.lua), the sent list of
-- the old layout (read only for a user who gave nothing since), asks and
-- asks' list (ask_in.lua).  ARGV per entry: the uid, the time in ms (an ask
-- past its expiry is "expired").  Each key is read by one command: the
-- sent gifts' places in the outbox by one ZMSCORE (each gift's member,
-- "uid:request_id:to:kind", and its bare gift id: an old gift, written
-- before the upgrade, may still be in the outbox so, gift_out.lua), the
-- asks by one HMGET.
-- The answers are sorted newest first by ms, then n (the gift's number
-- in its day: the order of the gifts of one ms; an answer moved from the
-- old layout has none, 0).  Every value printed was checked by the module
-- before it was stored (a uid's digits, a request id's [A-Za-z0-9_-], a
-- kind's digits), so none needs escaping; a value that does not parse is
-- left out.  The reply has per entry the body, or the error of its reads.

local LIST_MAX = 50       -- the gifts listed, each way: gift_in.lua
local fmt = string.format

-- the gifts a user sent, newest first, each {ms, n, request_id, to,
-- kind, ms as written}: from its answers in the user hash u, or, for a
-- user who gave nothing since the upgrade (no gd in u), from the sent
-- list gs the old layout wrote ("request_id:to:kind:ms", newest first)
local function sent_gifts(u, gs)
  local all, sl, moved = redis.call('HGETALL', u), {}, false
  for j = 1, #all, 2 do
    local rid = all[j]:match('^@([%w_-]+)$')
    local to, k, t, n
    if rid then
      to, k, t, n = all[j + 1]:match('^(%d+):(%d+):%a:(%d+):?(%d*)$')
    end
    if to then
      sl[#sl + 1] = {tonumber(t), tonumber(n) or 0, rid, to, k, t}
    elseif all[j] == 'gd' then
      moved = true
    end
  end
  if not moved then
    for j, e in ipairs(redis.call('LRANGE', gs, 0, LIST_MAX - 1)) do
      local r, to, k, t = e:match('^([%w_-]+):(%d+):(%d+):(%d+)$')
      if r then sl[#sl + 1] = {tonumber(t), -j, r, to, k, t} end
    end
  end
  table.sort(sl, function(x, y)
    if x[1] ~= y[1] then return x[1] > y[1] end
    return x[2] > y[2]
  end)
  for j = #sl, LIST_MAX + 1, -1 do sl[j] = nil end
  return sl
end

local function body(gr, u, gs, ak, al, uid, now)
  local rcv, snt, asks = {}, {}, {}
  for _, e in ipairs(redis.call('LRANGE', gr, 0, LIST_MAX - 1)) do
    local g, r, k, t = e:match('^(%d+):([%w_-]+):(%d+):(%d+)$')
    if g then
      rcv[#rcv + 1] = fmt('{"gift_id":"%s:%s","from":"%s","kind":%s,'
                          .. '"ts":%s}', g, r, g, k, t)
    end
  end
  local sl, ms = sent_gifts(u, gs), {}
  for j = #sl, LIST_MAX + 1, -1 do sl[j] = nil end
  for j, e in ipairs(sl) do
    ms[2 * j - 1] = uid .. ':' .. e[3] .. ':' .. e[4] .. ':' .. e[5]
    ms[2 * j] = uid .. ':' .. e[3]
  end
  local sent = #ms > 0 and redis.call('ZMSCORE', KEYS[1], unpack(ms))
               or {}
  for j, e in ipairs(sl) do
    snt[j] = fmt('{"gift_id":"%s:%s","to":"%s","kind":%s,"ts":%s,'
                 .. '"status":"%s"}', uid, e[3], e[4], e[5], e[6],
                 (sent[2 * j - 1] or sent[2 * j]) and 'sent'
                 or 'delivered')
  end
  local ids = redis.call('LRANGE', al, 0, -1)
  local av = #ids > 0 and redis.call('HMGET', ak, unpack(ids)) or {}
  for j, id in ipairs(ids) do
    local e = av[j] or ''
    local f, k, x, s = e:match('^(%d+):(%d+):(%d+):(%a)$')
    if f and id:match('^%d+:[%w_-]+$') then
      local st = s == 'a' and 'answered'
                 or tonumber(x) <= now and 'expired' or 'open'
      asks[#asks + 1] = fmt('{"ask_id":"%s","from":"%s","kind":%s,'
                            .. '"expires":%s,"status":"%s"}', id, f, k, x, st)
    end
  end
  return '{"received":[' .. table.concat(rcv, ',') .. '],"sent":['
         .. table.concat(snt, ',') .. '],"asks":['
         .. table.concat(asks, ',') .. ']}'
end

local out = {}
for i = 0, #ARGV / 2 - 1 do
  local k = 1 + 5 * i
  local ok, b = pcall(body, KEYS[k + 1], KEYS[k + 2], KEYS[k + 3],
                      KEYS[k + 4], KEYS[k + 5], ARGV[2 * i + 1],
                      tonumber(ARGV[2 * i + 2]))
  out[i + 1] = ok and b or {err = tostring(b)}
end
return out
