-- wrk script: replays the requests listed in a file, round robin, and prints the
-- figures bench/wrk.py reads as one JSON line.
--
--   wrk -s bench/requests.lua URL -- FILE
--
-- Each line of FILE is a request: METHOD, PATH, COOKIE, CSRF TOKEN, BODY separated by
-- tabs (empty fields allowed). A body is sent as JSON with its X-CSRF-Token.

local requests = {}
local counter = 0

local function split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    fields[#fields + 1] = field
  end
  return fields
end

function init(args)
  for line in io.lines(args[1]) do
    local f = split(line)
    local headers = {}
    if f[3] ~= "" then headers["Cookie"] = f[3] end
    if f[4] ~= "" then headers["X-CSRF-Token"] = f[4] end
    local body = nil
    if f[5] ~= "" then
      body = f[5]
      headers["Content-Type"] = "application/json"
    end
    requests[#requests + 1] = wrk.format(f[1], f[2], headers, body)
  end
  -- Threads start at different places in the list.
  counter = math.random(#requests) - 1
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
