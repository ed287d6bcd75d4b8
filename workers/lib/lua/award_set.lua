-- award_set: sets users' award fields, never backwards.  Shared by
-- cc-draw (loads "p:..." after the split) and cc-payout (the outbox:
-- "c:..." once the credit committed in MySQL); compiled into both.
--
--   KEYS[i]  cc:{uid}:u                    a user's hash (cc_keys.h)
--   ARGV[i]  "p:<amount_cents>:<award_id>" or "c:<amount_cents>:<award_id>"
--
-- One call sets many users (i = 1 .. #KEYS, all on this Redis shard): a
-- call per award cost the draw more Redis time than the writes it did.
-- The shards are standalone servers the ring in common/ picks, not a
-- Redis Cluster, so the keys of one call need not share a slot.
--
-- A credited award is never set back to pending: a draw re-run that loads
-- "p" after the payout wrote "c" of the same award changes nothing.  An
-- award of another id (a later campaign's, for a user who won before)
-- replaces the field whatever it held.  MySQL holds the truth, so a "c"
-- replaces any other value.  Every value is checked before any is
-- written: a bad one fails the call and writes nothing.  Returns the
-- number of fields written (0 for one that held this value, or the same
-- award credited).
if #ARGV ~= #KEYS then
    return redis.error_reply('award_set: one value per key')
end
for i = 1, #KEYS do
    local st = string.sub(ARGV[i], 1, 2)
    if st ~= 'p:' and st ~= 'c:' then
        return redis.error_reply('award_set: value must start p: or c:')
    end
end
local n = 0
for i = 1, #KEYS do
    local new = ARGV[i]
    -- a draw finds the field empty: one call then, not two
    if redis.call('HSETNX', KEYS[i], 'w', new) == 1 then
        n = n + 1
    else
        local cur = redis.call('HGET', KEYS[i], 'w')
        -- "<p|c>:<amount>:<award id>": the id is what follows the amount
        if not (cur == new
                or (string.sub(new, 1, 2) == 'p:'
                    and string.sub(cur, 1, 2) == 'c:'
                    and string.match(cur, '^c:%d+:(.*)$')
                        == string.match(new, '^p:%d+:(.*)$'))) then
            redis.call('HSET', KEYS[i], 'w', new)
            n = n + 1
        end
    end
end
return n
