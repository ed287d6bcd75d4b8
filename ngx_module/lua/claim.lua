-- claim.lua: a batch of claims (POST /cc/claim), one entry per request.
--
-- KEYS: the shard's claim queue cc:claims, then per entry the user hash;
-- ARGV per entry: the uid.  A pending award ("p:amount:award_id", well
-- formed) is queued once for cc-payout, which serves the queue before its
-- bulk batches: HSETNX of the field q is the idempotency key, so any
-- number of concurrent claims of one award queue its uid once.  A credited
-- award, no award or a malformed field w changes nothing.  The reply has
-- per entry the field w as it is, or false (a nil) when there is none.

-- "p:amount:award_id" as the module accepts it: amount 1..10^15 without
-- a leading zero, award id 1..64 of [A-Za-z0-9_:-]
local function pending(v)
  local amount, id = string.match(v, '^p:([1-9]%d*):([%w_:%-]+)$')
  return amount ~= nil and #amount <= 16 and tonumber(amount) <= 1e15
         and #id <= 64
end

local out = {}
for i = 1, #ARGV do
  local u = KEYS[i + 1]
  local v = redis.pcall('HGET', u, 'w')
  if type(v) == 'table' and v.err then
    out[i] = v
  elseif not v then
    out[i] = false
  else
    if pending(v) and redis.call('HSETNX', u, 'q', '1') == 1 then
      redis.call('RPUSH', KEYS[1], ARGV[i])
    end
    out[i] = v
  end
end
return out
