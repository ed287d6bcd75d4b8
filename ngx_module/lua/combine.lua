-- combine.lua: a batch of combines (合成), one entry per request.
--
-- The module prepends (ngx_http_cc_script.c):
--
--   FIELDS         the user hash's field of each kind, {'k0', 'k1', ...}
--   CUTOFF         the first second (unix) no combine is taken:
--                  cc_combine_cutoff, else cc_campaign_end; -1 for none
--   WILD           the wildcard kind (万能福, cc_wildcard_kind); -1 for none
--
-- KEYS: the shard's draw log, then per entry the user hash; ARGV per
-- entry: the uid, the request id, the time in ms.  Once per user: the
-- field e (request id and time of the combine) is the idempotency key.
-- The reply has per entry {status, n0, n1, ...} with the cards held after
-- it: status 2 combined now (one of each kind consumed, the combine
-- appended to the log), 1 combined before (nothing consumed), 0 a kind is
-- missing (nothing changed); or {3} for every entry, nothing read or
-- changed, when Redis's clock (TIME) says the cutoff has come.  The module
-- checked the cutoff by its own clock first, but a node whose clock is
-- behind, or a call that waited, would combine late: the shard's clock
-- is the one clock of the window.  TIME in a script that writes needs
-- effects replication, Redis 7's only mode (asked for, for older ones).
--
-- With a wildcard the set is every other kind: a kind of it the user
-- lacks takes one wildcard instead, when the user holds one for each
-- (else status 0, nothing changed); the wildcard itself is not part of
-- the set.  The entry's reply then ends with the kinds the wildcards
-- stood in for, a mask (bit k: kind k; 0 when none, and for status 0),
-- which the combine keeps in the field x (only when not 0) so that a
-- second combine answers what the first consumed; the log entry says it
-- with k (the wildcard kind), w (wildcards used) and m (the mask).

local fmt = string.format
local out = {}

if CUTOFF >= 0 then
  if redis.replicate_commands then redis.replicate_commands() end
  if tonumber(redis.call('TIME')[1]) >= CUTOFF then
    for i = 1, #ARGV / 3 do out[i] = {3} end
    return out
  end
end
for i = 0, #ARGV / 3 - 1 do
  local u, a = KEYS[2 + i], 3 * i
  local v = redis.pcall('HMGET', u, 'e', 'x', unpack(FIELDS))
  if v.err then
    out[i + 1] = v
  else
    local r, set, gone, mask, need = {v[1] and 1 or 2}, {}, {}, 0, 0
    for j = 1, #FIELDS do
      r[j + 1] = tonumber(v[j + 2]) or 0
      if r[j + 1] < 1 and j ~= WILD + 1 then
        gone[j], mask, need = true, mask + 2 ^ (j - 1), need + 1
      end
    end
    if r[1] == 1 then
      mask = tonumber(v[2]) or 0
    elseif need > 0 and (WILD < 0 or need > r[WILD + 2]) then
      r[1], mask = 0, 0
    else
      set[1], set[2] = 'e', ARGV[a + 2] .. ':' .. ARGV[a + 3]
      for j = 1, #FIELDS do
        if j == WILD + 1 then
          r[j + 1] = r[j + 1] - need
        elseif not gone[j] then
          r[j + 1] = r[j + 1] - 1
        end
        set[#set + 1] = FIELDS[j]
        set[#set + 1] = fmt('%d', r[j + 1])
      end
      if mask > 0 then
        set[#set + 1], set[#set + 2] = 'x', fmt('%d', mask)
      end
      redis.call('HSET', u, unpack(set))
      if WILD < 0 then
        redis.call('XADD', KEYS[1], '*', 'y', 'c', 'u', ARGV[a + 1],
                   'r', ARGV[a + 2], 't', ARGV[a + 3])
      else
        redis.call('XADD', KEYS[1], '*', 'y', 'c', 'u', ARGV[a + 1],
                   'r', ARGV[a + 2], 't', ARGV[a + 3], 'k', fmt('%d', WILD),
                   'w', fmt('%d', need), 'm', fmt('%d', mask))
      end
    end
    if WILD >= 0 then r[#FIELDS + 2] = mask end
    out[i + 1] = r
  end
end
return out
