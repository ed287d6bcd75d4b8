-- user_sums.lua: the user hashes of one Redis shard added up, for the
-- checks of scripts/campaign.sh and bench/chaos.sh (user_sums in
-- scripts/lib/run.sh): one SCAN over the shard in one call, read-only.
--
-- ARGV[1]  the glob of the user hashes (CC_KEY_USER_MATCH in
--          common/cc_keys.h)
--
-- Returns {sum of s, sum of k0 .. k4, users with e}: the draws (each
-- user's sequence), the cards held per kind, and the eligible users (each
-- combine took one card of every kind).
local cur, t = "0", {0, 0, 0, 0, 0, 0, 0}
repeat
  local r = redis.call("SCAN", cur, "MATCH", ARGV[1], "COUNT", 1000)
  cur = r[1]
  for _, key in ipairs(r[2]) do
    local v = redis.call("HMGET", key, "s", "k0", "k1", "k2", "k3", "k4", "e")
    for i = 1, 6 do t[i] = t[i] + (tonumber(v[i]) or 0) end
    if v[7] then t[7] = t[7] + 1 end
  end
until cur == "0"
return t
