-- wrk script for the commpref scenarios (bench/run.py starts wrk with it).
--
--   wrk ... -s bench/load.lua URL -- MODE TOKEN KNOWN NONCE DEFINITIONS [RATE]
--
-- MODE: s1 (batch unsubscribe-all), s1v (the same with verbose=true), s2 (batch read),
-- s3 (GET one address), s4 (POST one status), b2 (GET /healthz).
-- KNOWN: how many addresses were preloaded (k%08d@known.example.com, see bench/preload.py).
-- NONCE: unique per wrk run, so "new" addresses are new in every run.
-- DEFINITIONS: comma-separated definition ids (s4 writes to them in turn).
-- RATE: optional requests/s for this wrk thread. Without it every connection sends its next
-- request as soon as the previous answer arrives (closed loop, the maximum rate); with it,
-- sends follow a fixed schedule (an offered load), so latency is measured at that load.
-- On exit it prints one line "BENCH_JSON {...}" with the counts and latency percentiles.

local BATCH = 100
local NEW_PER_BATCH = 50
local POOL = 2000 -- s4: addresses per thread, each written SUBSCRIBED, UNSUBSCRIBED, ...
local PREFIX = "/communication-preferences/v4/statuses/"

local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *tp);
]])
local timespec = ffi.new("bench_timespec")
local CLOCK_MONOTONIC = 1

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local mode, known, nonce, defs, headers, path
local counter = 0
local interval, next_at -- the RATE schedule: ms between sends, time of the next send

function init(args)
  mode = args[1]
  known = tonumber(args[3])
  nonce = args[4]
  defs = {}
  for d in string.gmatch(args[5] or "", "[^,]+") do
    table.insert(defs, d)
  end
  headers = { ["Authorization"] = "Bearer " .. args[2], ["Content-Type"] = "application/json" }
  if args[6] and tonumber(args[6]) > 0 then
    interval = 1000 / tonumber(args[6])
  end
  local seed = tid * 7919
  for i = 1, #nonce do
    seed = (seed * 31 + string.byte(nonce, i)) % 2147483647
  end
  math.randomseed(seed)
  if mode == "s1" then
    path = PREFIX .. "batch/unsubscribe-all?channel=EMAIL"
  elseif mode == "s1v" then
    path = PREFIX .. "batch/unsubscribe-all?channel=EMAIL&verbose=true"
  elseif mode == "s2" then
    path = PREFIX .. "batch/read?channel=EMAIL"
  end
end

local function known_email()
  return string.format("k%08d@known.example.com", math.random(0, known - 1))
end

-- `count` distinct known addresses, appended to `out` as JSON strings.
local function add_known(out, count)
  local seen = {}
  local n = 0
  while n < count do
    local e = known_email()
    if not seen[e] then
      seen[e] = true
      n = n + 1
      out[#out + 1] = '"' .. e .. '"'
    end
  end
end

local function batch_body(new)
  local items = {}
  if new > 0 then
    local base = counter * new
    for k = 1, new do
      -- A random first label scatters the new keys over the whole index, as real ones are.
      items[#items + 1] = string.format(
        '"%08x.%s.%d.%d@new.example.com"', math.random(0, 2147483646), nonce, tid, base + k
      )
    end
  end
  add_known(items, BATCH - new)
  return '{"inputs":[' .. table.concat(items, ",") .. "]}"
end

function request()
  counter = counter + 1
  if mode == "s1" or mode == "s1v" then
    return wrk.format("POST", path, headers, batch_body(NEW_PER_BATCH))
  elseif mode == "s2" then
    return wrk.format("POST", path, headers, batch_body(0))
  elseif mode == "s3" then
    return wrk.format("GET", PREFIX .. known_email() .. "?channel=EMAIL", headers)
  elseif mode == "s4" then
    -- Round r writes SUBSCRIBED when r is even, UNSUBSCRIBED when odd: every write changes.
    local j = (counter - 1) % POOL
    local round = math.floor((counter - 1) / POOL)
    local status = (round % 2 == 0) and "SUBSCRIBED" or "UNSUBSCRIBED"
    local email = string.format(
      "%08x.%s.%d.%d@s4.example.com", (j * 2654435761) % 4294967296, nonce, tid, j
    )
    local body = string.format(
      '{"channel":"EMAIL","statusState":"%s","subscriptionId":%s}', status, defs[(j % #defs) + 1]
    )
    return wrk.format("POST", PREFIX .. email, headers, body)
  else -- b2
    return wrk.format("GET", "/healthz")
  end
end

-- With RATE: each send takes the next slot of the schedule (wrk asks once per request, on
-- whichever connection is free). After a stall of more than a second the schedule restarts
-- rather than bursting to catch up. Without RATE: no delay.
function delay()
  if not interval then
    return 0
  end
  local t = now_ms()
  if not next_at or next_at < t - 1000 then
    next_at = t
  end
  next_at = next_at + interval
  local d = next_at - t
  return d > 0 and d or 0
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max
  ))
end
