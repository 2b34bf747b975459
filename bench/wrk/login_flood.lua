-- wrk script for bench/login_flood: one client sends the same POST /login over
-- and over (one pre-session cookie, one CSRF token, one address), far over its
-- rate limits, and counts the answers by status.
--   FLOOD_COOKIE  the Cookie header GET /login set
--   FLOOD_BODY    the form: csrf_token=...&email=...
-- Prints: FLOOD rps=... requests=... 429=... other=... (other: any status but 429)

wrk.method = "POST"
wrk.path = "/login"
wrk.body = os.getenv("FLOOD_BODY")
wrk.headers["Cookie"] = os.getenv("FLOOD_COOKIE")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  limited = 0
  other = 0
end

function response(status, headers, body)
  if status == 429 then
    limited = limited + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local limited_total, other_total = 0, 0
  for _, thread in ipairs(threads) do
    limited_total = limited_total + thread:get("limited")
    other_total = other_total + thread:get("other")
  end
  io.write(string.format(
    "FLOOD rps=%.1f requests=%d 429=%d other=%d p50_ms=%.2f\n",
    summary.requests / (summary.duration / 1e6),
    summary.requests,
    limited_total,
    other_total,
    latency:percentile(50) / 1000))
end
