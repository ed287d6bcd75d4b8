-- grant.lua: a batch of grants, one entry per request.
--
-- KEYS per entry: the user hash and the user's set of applied grant ids;
-- ARGV per entry: the grant id and the chances to add.  The SADD is the
-- idempotency key: a grant id already in the set adds nothing.  The reply
-- has per entry the user's chances after it, "=" and the chances for a
-- grant id applied before, or the error of the entry's calls (say, a key
-- of the wrong type), which fails that request alone.

local out = {}
for i = 0, #ARGV / 2 - 1 do
  local u, g = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  local added = redis.pcall('SADD', g, ARGV[1 + 2 * i])
  if type(added) == 'table' then
    out[i + 1] = added
  elseif added == 0 then
    local c = redis.pcall('HGET', u, 'c')
    if type(c) == 'table' then
      out[i + 1] = c
    else
      out[i + 1] = '=' .. (c or '0')
    end
  else
    out[i + 1] = redis.pcall('HINCRBY', u, 'c', ARGV[2 + 2 * i])
  end
end
return out
