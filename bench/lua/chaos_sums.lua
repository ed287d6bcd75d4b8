-- bench/chaos.sh: one SCAN over a Redis shard's users, summing what the
-- run checks against MySQL: { Σ s (draws), Σ k0 .. Σ k4 (cards held),
-- users with e (combined) }.  Read-only; run with EVAL, no keys.
local cur, t = "0", {0, 0, 0, 0, 0, 0, 0}
repeat
  local r = redis.call("SCAN", cur, "MATCH", "cc:{*}:u", "COUNT", 1000)
  cur = r[1]
  for _, key in ipairs(r[2]) do
    local v = redis.call("HMGET", key, "s", "k0", "k1", "k2", "k3", "k4", "e")
    for i = 1, 6 do t[i] = t[i] + (tonumber(v[i]) or 0) end
    if v[7] then t[7] = t[7] + 1 end
  end
until cur == "0"
return t
