-- gift_done.lua: a batch of gifts known delivered, on the giver's shard:
-- run once gift_in.lua answered for the gift (the module, cc-redrive).
--
-- KEYS: the shard's outbox and outbox's gifts (gift_out.lua), then per
-- entry the giver's answers.  ARGV per entry: the gift id, and ":" and
-- the giver's request id (the field of its answer).  The gift leaves the
-- outbox and its answer turns from s to d, so a retry replays
-- "delivered".  Idempotent: a gift not in the outbox changes nothing.
-- gift_out.lua puts a gift in both and its answer's s in one step, and
-- this script takes all three out in one step: a ZREM that removed
-- nothing says the rest was done before, and costs the one command.
-- The reply has 1 per entry.

local out = {}
for i = 0, #ARGV / 2 - 1 do
  local ga, gid, rf = KEYS[3 + i], ARGV[1 + 2 * i], ARGV[2 + 2 * i]
  if redis.call('ZREM', KEYS[1], gid) == 1 then
    redis.call('HDEL', KEYS[2], gid)
    local v = redis.pcall('HGET', ga, rf)
    if type(v) == 'string' then
      local s = v:gsub('^(%d+:%d+:)s:', '%1d:')
      if s ~= v then redis.call('HSET', ga, rf, s) end
    end
  end
  out[i + 1] = 1
end
return out
