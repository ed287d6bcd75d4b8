-- award.lua: a batch of award reads (GET /cc/award, and the claim's
-- re-reads while it waits), one entry per request.
--
-- KEYS per entry: the user hash.  The reply has per entry the field w,
-- "p|c:amount_cents:award_id" as cc-draw and cc-payout wrote it, or false
-- (a nil) when the user has no award (before the draw, or not a winner).
-- The module parses it (ngx_http_cc_award.c).

local out = {}
for i = 1, #KEYS do
  local v = redis.pcall('HGET', KEYS[i], 'w')
  if type(v) == 'table' and v.err then
    out[i] = v
  else
    out[i] = v or false
  end
end
return out
