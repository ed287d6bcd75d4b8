-- gift_in.lua: a batch of gifts' receiver's halves (送福), one entry per
-- gift.  The one owner of the receiver's half: the module runs it right
-- after the giver's half (gift_out.lua), cc-redrive for the gifts still
-- in an outbox after its grace period (workers/redrive).  No
-- configuration is prepended: the two run the same text.
--
-- KEYS: the shard's draw log, then per entry the receiver's user hash,
-- the receiver's set of applied gift ids (cc:{uid}:gi, kept past the
-- campaign's end: no TTL) and received list.  ARGV per entry: the
-- receiver's uid, the gift id ("giver:request_id"), the giver's uid, the
-- kind, the time in ms.
--
-- The SADD of the gift id is the idempotency key: a gift applied before
-- adds nothing.  No campaign window here: the giver's card is gone once
-- its half is applied, so its receiver gets it whenever it arrives.  The
-- reply has per entry 2 applied now (one card of kind added, the received
-- list written, its line in the batch's log entry), 1 applied before
-- (nothing changed), or an error that fails that entry alone: the error
-- of the entry's reads, or a gift id that is not the giver's (the log's
-- line names the gift by its giver and request id).  The batch's new
-- gifts go to the log as one entry (one XADD a batch, as flip.lua's
-- draws): i = "uid:from:kind:ms:request_id" lines (cc_log.h).

local LIST_MAX = 50       -- the received list's length (GET /cc/gifts)
local LIST_SLACK = 50     -- trimmed back past this: see gift_out.lua
local out, lines = {}, {}
for i = 0, #ARGV / 5 - 1 do
  local u, gi, gr = KEYS[2 + 3 * i], KEYS[3 + 3 * i], KEYS[4 + 3 * i]
  local a = 5 * i
  local uid, gid, from, kind, ts = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3],
                                   ARGV[a + 4], ARGV[a + 5]
  local rid = gid:sub(#from + 2)
  local added = gid:sub(1, #from + 1) == from .. ':'
                and redis.pcall('SADD', gi, gid)
                or {err = 'ERR gift id ' .. gid .. ' is not of giver ' .. from}
  if type(added) == 'table' then
    out[i + 1] = added
  elseif added == 0 then
    out[i + 1] = 1
  else
    redis.call('HINCRBY', u, 'k' .. kind, 1)
    if redis.call('LPUSH', gr, gid .. ':' .. kind .. ':' .. ts)
       > LIST_MAX + LIST_SLACK then
      redis.call('LTRIM', gr, 0, LIST_MAX - 1)
    end
    lines[#lines + 1] = uid .. ':' .. from .. ':' .. kind .. ':' .. ts .. ':'
                       .. rid
    out[i + 1] = 2
  end
end
if #lines > 0 then
  redis.call('XADD', KEYS[1], '*', 'i', table.concat(lines, '\n'))
end
return out
