-- eligibility.lua: a batch of eligibility reads, one entry per request.
--
-- The module prepends (ngx_http_cc_script.c):
--
--   FIELDS         the user hash's field of each kind, {'k0', 'k1', ...}
--
-- KEYS per entry: the user hash.  The reply has per entry {combined, n0,
-- n1, ...}: combined is 1 once the user combined a set (field e), n the
-- cards held of each kind.

local out = {}
for i = 1, #KEYS do
  local v = redis.pcall('HMGET', KEYS[i], 'e', unpack(FIELDS))
  if v.err then
    out[i] = v
  else
    local r = {v[1] and 1 or 0}
    for j = 1, #FIELDS do r[j + 1] = tonumber(v[j + 1]) or 0 end
    out[i] = r
  end
end
return out
