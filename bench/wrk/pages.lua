-- wrk script: each request comes from the next of many signed-in students.
--   PAGE      home | schedule | friend | class | post | login
--   SESSIONS  the file `common-grounds bench-sessions` wrote (token, csrf, friend, class)
--   LOGINS    its .login file (pre-session cookie, csrf), for PAGE=login
-- Thread k of n takes students k, k+n, k+2n, ... so no two threads share one.
-- Prints one line: RESULT rps=... p50_ms=... p99_ms=... errors=... non2xx3xx=...

local page = os.getenv("PAGE") or "home"
-- Sign-in addresses and posted texts are new in every run (at most 5 emails
-- per address an hour; the same text twice from one student is a repeat).
local run = os.getenv("RUN_ID") or tostring(os.time())
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local rows = {}
local counter = 0
local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")

local function load(path)
  local out = {}
  for line in io.lines(path) do
    if line:sub(1, 1) ~= "#" then
      local fields = {}
      for field in line:gmatch("[^\t]+") do
        table.insert(fields, field)
      end
      table.insert(out, fields)
    end
  end
  return out
end

function init(args)
  if page == "login" then
    rows = load(os.getenv("LOGINS"))
  else
    rows = load(os.getenv("SESSIONS"))
  end
  counter = 0
end

function request()
  local index = (counter * nthreads + id) % #rows + 1
  counter = counter + 1
  local row = rows[index]
  if page == "login" then
    -- A new visitor each time: distinct address and client IP (TRUSTED_PROXY=true).
    local n = counter * nthreads + id
    -- A computing-ID-shaped address (letters and digits, at most 16): since
    -- aliases are refused (aac9959), "bench<run>-<n>" was refused with a 400
    -- before any work, and the row measured nothing.
    local email = string.format("b%05dx%d", (tonumber(run) or 0) % 100000, n)
    local body = "csrf_token=" .. row[2] .. "&email=" .. email .. "%40virginia.edu"
    return wrk.format("POST", "/login", {
      ["Cookie"] = "cg_csrf=" .. row[1],
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Forwarded-For"] = string.format("10.%d.%d.%d", id, math.floor(n / 256) % 256, n % 256),
    }, body)
  end
  local headers = { ["Cookie"] = "cg_session=" .. row[1] }
  if page == "home" then
    return wrk.format("GET", "/", headers)
  elseif page == "schedule" then
    return wrk.format("GET", "/schedule", headers)
  elseif page == "friend" then
    return wrk.format("GET", "/friends/" .. row[3], headers)
  elseif page == "class" then
    return wrk.format("GET", "/classes/" .. row[4], headers)
  elseif page == "post" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    -- confirmed=1: past "maybe already answered", so this measures posting.
    -- The run's id in the text: a campus reused (BENCH_REUSE=1) would otherwise
    -- get the same text from the same student again, refused as a repeat.
    local body = "csrf_token=" .. row[2] .. "&confirmed=1&content=Load+test+message+" .. run .. "-" .. id .. "-" .. counter
    return wrk.format("POST", "/classes/" .. row[4] .. "/messages", headers, body)
  end
  error("unknown PAGE " .. page)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx3xx=%d requests=%d\n",
    summary.requests / seconds,
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout,
    e.status,
    summary.requests))
end
