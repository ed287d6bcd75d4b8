-- gift_done.lua: a batch of gifts known delivered, on the giver's shard:
-- run once gift_in.lua answered for the gift (the module, after the
-- gift's answer and in a batch of many, and cc-redrive).
--
-- KEYS: the shard's outbox and the old layout's outbox gifts
-- (gift_out.lua).  ARGV per entry: the gift's outbox member,
-- "giver:request_id:to:kind", or an old gift's bare gift id
-- "giver:request_id" (cc-redrive, which read its value in cc:outbox:g).
-- The gift leaves the outbox: a gift out of it is delivered, so a retry
-- replays "delivered" (gift_out.lua) and GET /cc/gifts says so
-- (gifts.lua); the giver's answer keeps the s it was written with.  One
-- ZREM a gift: the member carries the gift's receiver and kind, no hash
-- to clean.  A member that removed nothing was done before, or is an
-- old gift's (written before the upgrade and replayed, so the module
-- names it by its new member): its bare gift id is removed, and its
-- field of cc:outbox:g with it, in the same step, as older versions of
-- this script did.  A bare gift id removed takes its field too.
-- Idempotent: a gift not in the outbox changes nothing.  The reply has
-- 1 per entry.

local out = {}
for i = 1, #ARGV do
  local m = ARGV[i]
  local gid = m:match('^(%d+:[%w_-]+):%d+:%d+$')
  if redis.call('ZREM', KEYS[1], m) == 1 then
    if not gid then redis.call('HDEL', KEYS[2], m) end
  elseif gid and redis.call('ZREM', KEYS[1], gid) == 1 then
    redis.call('HDEL', KEYS[2], gid)
  end
  out[i] = 1
end
return out
