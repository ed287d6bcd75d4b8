-- ask_in.lua: a batch of asks (要福), the asked user's half, on that
-- user's shard, after ask_out.lua on the asker's.
--
-- KEYS per entry: the asked user's asks (a hash: ask id ->
-- "from:kind:exp:o|a", o open, a answered: gift_out.lua answers it) and
-- their list, newest first.  ARGV per entry: the ask id, the asker's
-- uid, the kind, the ms it expires.  The hash's field is the idempotency
-- key: an ask stored before changes nothing.  The list keeps the newest
-- LIST_MAX asks; an ask pushed off it leaves the hash too (answering it
-- is then 404 ask_not_found).  The reply has per entry 2 stored now, 1
-- before, or the error of its read.

local LIST_MAX = 50
local out = {}
for i = 0, #ARGV / 4 - 1 do
  local ak, al, a = KEYS[1 + 2 * i], KEYS[2 + 2 * i], 4 * i
  local id = ARGV[a + 1]
  local had = redis.pcall('HEXISTS', ak, id)
  if type(had) == 'table' then
    out[i + 1] = had
  elseif had == 1 then
    out[i + 1] = 1
  else
    redis.call('HSET', ak, id, ARGV[a + 2] .. ':' .. ARGV[a + 3] .. ':'
                               .. ARGV[a + 4] .. ':o')
    if redis.call('LPUSH', al, id) > LIST_MAX then
      local gone = redis.call('LRANGE', al, LIST_MAX, -1)
      redis.call('LTRIM', al, 0, LIST_MAX - 1)
      redis.call('HDEL', ak, unpack(gone))
    end
    out[i + 1] = 2
  end
end
return out
