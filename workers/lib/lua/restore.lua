-- restore.lua: puts back into users' hashes the flips and the combines
-- that MySQL holds and their Redis shard lost (a failover promoted a
-- replica that lacked writes already answered 200: cc_redis_wait off).
-- cc-reconcile --restore calls it once per batch of users of one shard
-- (workers/reconcile/cc_restore.c); MySQL is the record, Redis is mended.
--
-- KEYS: per user the hash cc:{uid}:u.  ARGV: the answers' period length
-- in seconds (cc_request_ttl), then per user: n its draws, m its kinds,
-- its combine ("" or "request_id:ms", the field e), the kinds a wildcard
-- replaced at it (the field x, a mask; "0" for none), then n times seq,
-- card, request_id, ms (the draws MySQL holds past the s the caller read,
-- in seq order), then m kinds (the cards its combine took, as its MySQL
-- eligibility row says: one of each kind held, or with a wildcard, the
-- wildcard kind once per wildcard used).
--
-- A draw is restored when it is the next of the user's sequence (seq =
-- s + 1, s re-read here): the card counted (k<card> + 1), the answer of
-- its request put back (":<request_id>" = "seq:card:left:period", unless
-- the field is there), s advanced, one chance spent.  So a draw is
-- restored once, whatever the number of runs: a second run finds s at or
-- past it and changes nothing.  A draw past a gap in the sequence (MySQL
-- lacks seq s + 1: its Kafka or log delivery is not done) is left, and
-- counted, for a later run.  Chances never go below zero: a chance the
-- user no longer had is counted as over-issued (the user keeps the card:
-- never short, 不少发).  left is what the user had after that flip: the
-- chances after the restore plus the restored flips that came after it,
-- which is the original answer when the shard lost the tail of the
-- user's flips.  A combine is restored when e is missing: e (and x when
-- not 0) set, each card of the m taken, never below zero (each card short
-- counted).
--
-- Reply: {draws restored, chances over-issued, draws left past a gap,
-- combines restored, cards short at a combine}.

local TTL = tonumber(ARGV[1])
local fmt = string.format
local restored, over, gaps, combines, short = 0, 0, 0, 0, 0
local a = 2

for i = 1, #KEYS do
  local u = KEYS[i]
  local n, m, e = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2]
  local x = ARGV[a + 3]
  a = a + 4
  local v = redis.call('HMGET', u, 'c', 's', 'g', 'e')
  local c, s, g = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3])
  local todo = {}
  for j = 0, n - 1 do
    local seq = tonumber(ARGV[a + 4 * j])
    if seq == s + #todo + 1 then
      todo[#todo + 1] = a + 4 * j
    elseif seq > s + #todo then
      gaps = gaps + 1
    end
  end
  a = a + 4 * n
  local k = #todo
  if k > 0 then
    local left = c - k
    if left < 0 then
      over = over - left
      left = 0
    end
    local count = {}
    for r = 1, k do
      local p = todo[r]
      local card, rid, ms = ARGV[p + 1], ARGV[p + 2], tonumber(ARGV[p + 3])
      local period = math.floor(ms / (1000 * TTL))
      if g == nil or period > g then g = period end
      redis.call('HSETNX', u, ':' .. rid, fmt('%d:%s:%d:%d', s + r, card,
                 left + k - r, period))
      count[card] = (count[card] or 0) + 1
    end
    for card, inc in pairs(count) do
      redis.call('HINCRBY', u, 'k' .. card, inc)
    end
    redis.call('HSET', u, 'c', fmt('%d', left), 's', fmt('%d', s + k),
               'g', fmt('%d', g))
    restored = restored + k
  end
  if e ~= '' and not v[4] then
    redis.call('HSET', u, 'e', e)
    if x ~= '0' then redis.call('HSET', u, 'x', x) end
    for j = 0, m - 1 do
      local f = 'k' .. ARGV[a + j]
      if redis.call('HINCRBY', u, f, -1) < 0 then
        redis.call('HSET', u, f, '0')
        short = short + 1
      end
    end
    combines = combines + 1
  end
  a = a + m
end

return {restored, over, gaps, combines, short}
