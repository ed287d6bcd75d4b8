-- wrk script: POST /cc/claim at a steady rate, one pending winner a
-- request, named by X-CC-Uid (the module's trusted-header mode).
--
-- wrk2 is not packaged, so the pace is kept here: delay() runs before each
-- request of a connection and gives it the thread's next slot, slots
-- THREADS * 1000 / RATE ms apart on the monotonic clock (LuaJIT's ffi, as
-- wrk embeds LuaJIT).  wrk starts a request's clock when it writes it, so
-- the latency is the claim's own, not the wait for its slot.  A thread
-- that falls behind (every connection busy, or wrk itself not scheduled)
-- sends at once until it is back on its slots, and counts the requests
-- sent more than 50 ms (the claim goal) after their slot as late: many
-- late ones mean the pace did not hold and the latencies are too kind.
--
-- Env: UIDS (a file, one uid a line: thread t of T takes lines t, t + T,
--      ...), RATE (claims/s, all threads), THREADS (wrk's -t).
-- Prints one line: claim p50_us= p90_us= p99_us= max_us= requests= sent=
-- s200= s202= other= late= reused= (requests: answered; sent: written,
-- answered or not when wrk stopped; reused: the list ran out, old uids
-- again).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } cc_bench_timespec;
int clock_gettime(int clk, cc_bench_timespec *ts);
]]
local ts = ffi.new("cc_bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)          -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local rate = tonumber(os.getenv("RATE") or "100")
local nthreads = tonumber(os.getenv("THREADS") or "1")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local uids, next_uid = {}, 0
local interval, slot = 0, nil
sent, s200, s202, other, late, reused = 0, 0, 0, 0, 0, 0

function init(args)
  local i = 0
  for line in io.lines(os.getenv("UIDS")) do
    if i % nthreads == tid - 1 then
      table.insert(uids, line)
    end
    i = i + 1
  end
  interval = nthreads * 1000 / rate
end

function delay()
  local t = now_ms()
  if slot == nil then
    slot = t
  end
  local d = slot - t
  slot = slot + interval
  if d < 0 then
    if d < -50 then
      late = late + 1
    end
    return 0
  end
  return d
end

function request()
  sent = sent + 1
  next_uid = next_uid + 1
  if next_uid > #uids then
    reused = reused + 1
    next_uid = 1
  end
  return wrk.format("POST", "/cc/claim", { ["X-CC-Uid"] = uids[next_uid] }, "")
end

function response(status, headers, body)
  if status == 200 then
    s200 = s200 + 1
  elseif status == 202 then
    s202 = s202 + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c = { sent = 0, s200 = 0, s202 = 0, other = 0, late = 0, reused = 0 }
  for _, t in ipairs(threads) do
    for k in pairs(c) do
      c[k] = c[k] + (t:get(k) or 0)
    end
  end
  io.write(string.format("claim p50_us=%d p90_us=%d p99_us=%d max_us=%d "
                         .. "requests=%d sent=%d s200=%d s202=%d other=%d "
                         .. "late=%d reused=%d\n",
                         latency:percentile(50), latency:percentile(90),
                         latency:percentile(99), latency.max, summary.requests,
                         c.sent, c.s200, c.s202, c.other, c.late, c.reused))
end
