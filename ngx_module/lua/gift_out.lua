-- gift_out.lua: a batch of gifts' giver's halves (送福), one entry per
-- request; the receiver's half is gift_in.lua, on the receiver's shard.
--
-- The module prepends (ngx_http_cc_script.c):
--
--   FIELD_OF       the user hash's field of each kind, {['0'] = 'k0', ...}
--   GIVABLE        the kinds that may be given, {['0'] = true, ...}: every
--                  kind, less the stocked (rare) ones without cc_gift_rare
--   LIMIT          cc_gift_limit: the gifts a user gives in a day (UTC)
--   CUTOFF         the first second (unix) no gift is given:
--                  cc_campaign_end; -1 for none
--
-- KEYS: the shard's draw log and its outbox (a sorted set: the member
-- "giver:request_id:to:kind", the gift id then its receiver and kind, by
-- the ms of its giver's half), then per entry the giver's user hash, the
-- giver's answers of the old layout (cc:{uid}:ga, read once, see below)
-- and the asks addressed to the giver (ask_in.lua).
-- The member carries what the redrive needs, so a gift is one ZADD here
-- and one ZREM in gift_done.lua (older versions also wrote the hash
-- cc:outbox:g, gift id -> "to:kind:ms", with a bare gift id member).  A
-- request id is [A-Za-z0-9_-], a uid and a kind digits: the member
-- parses one way.  An old gift may still be in the outbox as its bare
-- gift id: a replay that finds no member of its own asks for that one.
-- The giver's answers live in the user hash, one cold key fewer a gift:
-- "@request_id" -> "to:kind:s:ms:n" (flip.lua's answers are ":request_id"
-- and it drops only those; n is the gift's number in its day, which
-- orders the gifts of one ms), and gd = "day:count", the daily count.  So
-- a gift reads the user hash once (answer, count, cards of kind) and
-- writes it once.  The answers are also the gifts sent that GET /cc/gifts
-- lists (gifts.lua): no sent list is written.  They are bounded by
-- cc_gift_limit a day, as the old layout's were.  A gift is delivered
-- once it left the outbox (gift_done.lua): the answer's letter stays s
-- (older versions of gift_done.lua rewrote it to d, and took the gift
-- out of the outbox in the same step).
-- Older versions kept the answers in cc:{uid}:ga (":request_id" and d):
-- a user hash without gd has never given under this layout, so its first
-- gift moves what ga holds into it and deletes ga, in the same step: an
-- old answer is replayed and its card never taken twice.
-- ARGV per entry: the giver's uid, the request id, the receiver's uid and
-- the kind ('' when answering an ask), the ask id ('' for a plain gift),
-- the time in ms.
--
-- The gift id "giver:request_id" is the idempotency key: the answer's
-- field, written in the same step that takes the card, replays the first
-- answer to a retry, and the card is taken once.  The reply has per entry:
--
--   {2, to, kind}        given now: one card of kind taken, the answer
--                        stored, the gift in the outbox, its line in the
--                        batch's log entry
--   {1, to, kind, s|d}   given before (nothing changed): s the gift is
--                        still in the outbox (its receiver's half not
--                        known applied), d delivered
--   {0}                  the giver holds none of kind (409 no_card)
--   {4}                  cc_gift_limit gifts given this day already
--   {5}                  no such ask addressed to the giver
--   {6}                  the ask was answered already (by another request)
--   {7}                  the ask expired
--   {8}                  the ask's kind may not be given (any more)
--
-- or {3} for every entry, nothing read or changed, when Redis's clock
-- (TIME) says the campaign has ended (the module checked its own clock
-- first: see combine.lua for why the shard's clock decides).  An ask is
-- answered once: its state turns from o to a in the step that takes the
-- card, and a giver who holds none leaves it open.

-- The batch's new gifts go to the log as one entry (one XADD a batch, as
-- flip.lua's draws): o = "uid:to:kind:ms:request_id" lines (cc_log.h).
local fmt = string.format
local out, lines, lts, day = {}, {}, nil, nil

if CUTOFF >= 0 then
  if redis.replicate_commands then redis.replicate_commands() end
  if tonumber(redis.call('TIME')[1]) >= CUTOFF then
    for i = 1, #ARGV / 6 do out[i] = {3} end
    return out
  end
end

-- the ask ask_id in the hash ak: to, kind and the ask's value (answering
-- it rewrites the value: no second read), or nil and the refusal
local function ask(ak, ask_id, ts)
  local a = redis.call('HGET', ak, ask_id)
  if not a then return nil, nil, nil, 5 end
  local from, kind, exp, state = a:match('^(%d+):(%d+):(%d+):(%a)$')
  if not from then return nil, nil, nil, 5 end
  if state ~= 'o' then return nil, nil, nil, 6 end
  if tonumber(exp) <= tonumber(ts) then return nil, nil, nil, 7 end
  if not GIVABLE[kind] then return nil, nil, nil, 8 end
  return from, kind, a
end

-- the giver's answers of the old layout in ga moved into the user hash
-- u (":request_id" -> "@request_id", d -> gd) and ga deleted; true when
-- there were any, or the error of the read (ga of another type), which
-- fails that entry alone.  HSET in slices: unpack() has a bounded stack.
local function migrate(u, ga)
  local all = redis.pcall('HGETALL', ga)
  if all.err then return all end
  if #all == 0 then return false end
  local kv = {}
  for j = 1, #all, 2 do
    local f = all[j]
    if f == 'd' then
      kv[#kv + 1], kv[#kv + 2] = 'gd', all[j + 1]
    elseif f:sub(1, 1) == ':' then
      kv[#kv + 1], kv[#kv + 2] = '@' .. f:sub(2), all[j + 1]
    end
    if #kv >= 1000 or (j + 1 >= #all and #kv > 0) then
      redis.call('HSET', u, unpack(kv))
      kv = {}
    end
  end
  redis.call('DEL', ga)
  return true
end

-- the user hash's answer of af, count and cards of field kf (nil: none
-- asked), or the error of the read
local function read(u, af, kf)
  if kf then return redis.pcall('HMGET', u, af, 'gd', kf) end
  return redis.pcall('HMGET', u, af, 'gd')
end

local function give(i)
  local a = 6 * i
  local u, ga, ak = KEYS[3 + 3 * i], KEYS[4 + 3 * i], KEYS[5 + 3 * i]
  local uid, rid, to, kind, ask_id, ts = ARGV[a + 1], ARGV[a + 2],
      ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
  local af = '@' .. rid
  local v = read(u, af, FIELD_OF[kind])
  if v.err then return v end
  if not v[2] then
    local moved = migrate(u, ga)
    if type(moved) == 'table' then return moved end
    if moved then v = read(u, af, FIELD_OF[kind]) end
  end
  if v[1] then
    local t, k = v[1]:match('^(%d+):(%d+):')
    local gid = uid .. ':' .. rid
    local sent = redis.call('ZSCORE', KEYS[2], gid .. ':' .. t .. ':' .. k)
                 or redis.call('ZSCORE', KEYS[2], gid)
    return {1, t, k, sent and 's' or 'd'}
  end
  if ts ~= lts then
    lts = ts
    day = fmt('%d', math.floor(tonumber(ts) / 86400000))
  end
  local dd, dn = (v[2] or ''):match('^(%d+):(%d+)$')
  local n = (dd == day) and tonumber(dn) or 0
  if n >= LIMIT then return {4} end
  local av, held
  if ask_id ~= '' then
    local refused
    to, kind, av, refused = ask(ak, ask_id, ts)
    if refused then return {refused} end
    held = redis.pcall('HGET', u, FIELD_OF[kind])
    if type(held) == 'table' then return held end
  elseif not GIVABLE[kind] then
    return {8}
  else
    held = v[3]
  end
  held = tonumber(held) or 0
  if held < 1 then return {0} end
  local ns = fmt('%d', n + 1)
  redis.call('HSET', u, FIELD_OF[kind], fmt('%d', held - 1),
             af, to .. ':' .. kind .. ':s:' .. ts .. ':' .. ns,
             'gd', day .. ':' .. ns)
  redis.call('ZADD', KEYS[2], ts, uid .. ':' .. rid .. ':' .. to .. ':'
             .. kind)
  if av then
    redis.call('HSET', ak, ask_id, av:sub(1, -2) .. 'a')
  end
  lines[#lines + 1] = uid .. ':' .. to .. ':' .. kind .. ':' .. ts .. ':'
                     .. rid
  return {2, to, kind}
end

for i = 0, #ARGV / 6 - 1 do
  out[i + 1] = give(i)
end
if #lines > 0 then
  redis.call('XADD', KEYS[1], '*', 'o', table.concat(lines, '\n'))
end
return out
