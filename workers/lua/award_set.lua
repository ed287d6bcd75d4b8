-- award_set: sets a user's award field, never backwards.  Shared by
-- cc-draw (loads "p:..." after the split) and cc-payout (the outbox:
-- "c:..." once the credit committed in MySQL); compiled into both.
--
--   KEYS[1]  cc:{uid}:u                    the user's hash (cc_keys.h)
--   ARGV[1]  "p:<amount_cents>:<award_id>" or "c:<amount_cents>:<award_id>"
--
-- A credited award is never set back to pending: a draw re-run that loads
-- "p" after the payout wrote "c" changes nothing.  MySQL holds the truth,
-- so a "c" replaces any other value.  Returns 1 when the field was
-- written, 0 when it already held this value or a credited one.
local new = ARGV[1]
local st = string.sub(new, 1, 2)
if st ~= 'p:' and st ~= 'c:' then
    return redis.error_reply('award_set: value must start p: or c:')
end
local cur = redis.call('HGET', KEYS[1], 'w')
if cur == new or (cur and st == 'p:' and string.sub(cur, 1, 2) == 'c:') then
    return 0
end
redis.call('HSET', KEYS[1], 'w', new)
return 1
