-- gift_done.lua: a batch of gifts known delivered, on the giver's shard:
-- run once gift_in.lua answered for the gift (the module, after the
-- gift's answer and in a batch of many, and cc-redrive).
--
-- KEYS: the shard's outbox and outbox's gifts (gift_out.lua).  ARGV per
-- entry: the gift id.  The gift leaves the outbox: a gift out of it is
-- delivered, so a retry replays "delivered" (gift_out.lua) and GET
-- /cc/gifts says so (gifts.lua); the giver's answer keeps the s it was
-- written with (a read and a write of the answers saved a gift, and the
-- answers' key no longer passed).  gift_out.lua puts a gift in both keys
-- in one step, and this script takes it out of both in one step: a ZREM
-- that removed nothing says it was done before, and costs the one
-- command.  Idempotent: a gift not in the outbox changes nothing.  The
-- reply has 1 per entry.

local out = {}
for i = 1, #ARGV do
  local gid = ARGV[i]
  if redis.call('ZREM', KEYS[1], gid) == 1 then
    redis.call('HDEL', KEYS[2], gid)
  end
  out[i] = 1
end
return out
