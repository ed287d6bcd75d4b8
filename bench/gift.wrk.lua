-- wrk script of bench/gift.sh: POST /cc/gift or POST /cc/flip, the same
-- client work for both (one line of a pair file picked at random, one
-- unique request id), so that the two figures differ by the server's work
-- alone.  The caller is named by X-CC-Uid (the module's trusted-header
-- mode).
--
-- Env: MODE (gift | flip), PAIRS (a file, "giver receiver" a line: the
--      two on different Redis shards), KIND (the kind given, gift mode).
-- Each thread has its own Lua state: setup() hands each its number as
-- the global `tid`, so the threads send different request ids; a run tag
-- keeps the ids of one run apart from an earlier run's on the same Redis.
-- Prints one line: p50_us= p99_us= delivered= sent= other= (gift answers
-- 200 "delivered", 200 "sent", anything else; flip mode counts its 200s
-- as delivered).
local mode = os.getenv("MODE") or "gift"
local kind = os.getenv("KIND") or "0"
local run = tostring(os.time() % 100000) .. tostring(math.random(1000, 9999))
local threads = {}
local givers, receivers, counter = {}, {}, 0
delivered, sent, other = 0, 0, 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  math.randomseed(os.time() + tid * 7919)
  for line in io.lines(os.getenv("PAIRS")) do
    local g, r = line:match("^(%d+) (%d+)$")
    table.insert(givers, g)
    table.insert(receivers, r)
  end
end

function request()
  counter = counter + 1
  local i = math.random(1, #givers)
  local rid = run .. "t" .. tid .. "r" .. counter
  if mode == "flip" then
    return wrk.format("POST", "/cc/flip?request_id=" .. rid,
                      { ["X-CC-Uid"] = givers[i] }, "")
  end
  return wrk.format("POST", "/cc/gift?to=" .. receivers[i] .. "&kind=" .. kind
                    .. "&request_id=" .. rid, { ["X-CC-Uid"] = givers[i] }, "")
end

function response(status, headers, body)
  if status ~= 200 then
    other = other + 1
  elseif mode == "gift" and body:find('"status":"sent"', 1, true) then
    sent = sent + 1
  else
    delivered = delivered + 1
  end
end

function done(summary, latency, requests)
  local c = { delivered = 0, sent = 0, other = 0 }
  for _, t in ipairs(threads) do
    for k in pairs(c) do
      c[k] = c[k] + (t:get(k) or 0)
    end
  end
  io.write(string.format("p50_us=%d p99_us=%d delivered=%d sent=%d other=%d\n",
                         latency:percentile(50), latency:percentile(99),
                         c.delivered, c.sent, c.other))
end
