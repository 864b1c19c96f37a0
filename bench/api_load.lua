-- wrk script for bench/api_bench.py: replays a request mix, timing each request by kind.
-- HAYSTACK_BENCH_MIX names the mix (lines "kind<TAB>path"); HAYSTACK_BENCH_OUT the results
-- file: "summary requests microseconds connect read write timeout", then "kind microseconds"
-- per request and "failed status path" per answer that was not a 200.
-- Run with as many threads as connections (-t N -c N): each thread then has one connection,
-- so request() and response() alternate and the time between them is that request's latency.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } haystack_timespec;
int clock_gettime(int clock_id, haystack_timespec *tp);
]]
local clock = ffi.new("haystack_timespec")
local function now_us()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_nsec) / 1000
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  kinds, paths = {}, {}
  for line in io.lines(os.getenv("HAYSTACK_BENCH_MIX")) do
    local kind, path = line:match("^(%S+)\t(.+)$")
    table.insert(kinds, kind)
    table.insert(paths, path)
  end
  next_at = (index * 7919) % #paths -- threads start far apart in the mix
  -- flat lists: wrk's thread:get copies a table of plain values, not a table of tables
  done_kinds, done_times, failures = {}, {}, {}
end

function request()
  next_at = next_at % #paths + 1
  current, started = kinds[next_at], now_us()
  return wrk.format("GET", paths[next_at])
end

function response(status, headers, body)
  local n = #done_times + 1
  done_times[n] = now_us() - started
  done_kinds[n] = current
  if status ~= 200 then
    failures[#failures + 1] = status .. " " .. paths[next_at]
  end
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("HAYSTACK_BENCH_OUT"), "w"))
  local errors = summary.errors
  out:write(string.format("summary %d %d %d %d %d %d\n", summary.requests, summary.duration,
    errors.connect, errors.read, errors.write, errors.timeout))
  for _, thread in ipairs(threads) do
    local kinds, times = thread:get("done_kinds"), thread:get("done_times")
    for n = 1, #times do
      out:write(kinds[n], " ", string.format("%.0f", times[n]), "\n")
    end
    for _, failure in ipairs(thread:get("failures")) do
      out:write("failed ", failure, "\n")
    end
  end
  out:close()
end
