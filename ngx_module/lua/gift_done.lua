-- gift_done.lua: a batch of gifts known delivered, on the giver's shard:
-- run once gift_in.lua answered for the gift (the module, cc-redrive).
--
-- KEYS: the shard's outbox and outbox's gifts (gift_out.lua), then per
-- entry the giver's answers (no longer touched: see below).  ARGV per
-- entry: the gift id, and ":" and the giver's request id (the field of
-- its answer, unused).  The gift leaves the outbox: a gift out of it is
-- delivered, so a retry replays "delivered" (gift_out.lua) and GET
-- /cc/gifts says so (gifts.lua); its answer keeps the s it was written
-- with (a read and a write of the answers saved a gift).  gift_out.lua
-- puts a gift in both keys in one step, and this script takes it out of
-- both in one step: a ZREM that removed nothing says it was done before,
-- and costs the one command.  Idempotent: a gift not in the outbox
-- changes nothing.  The reply has 1 per entry.

local out = {}
for i = 0, #ARGV / 2 - 1 do
  local gid = ARGV[1 + 2 * i]
  if redis.call('ZREM', KEYS[1], gid) == 1 then
    redis.call('HDEL', KEYS[2], gid)
  end
  out[i + 1] = 1
end
return out
