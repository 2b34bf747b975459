-- wrk script for bench/login_flood: a signed-in student's GET /, as often as one
-- connection allows. Prints: MEDIAN p50_ms=... p99_ms=... requests=... non2xx3xx=...
--   SESSION  the student's session token (cg_session cookie)

wrk.method = "GET"
wrk.path = "/"
wrk.headers["Cookie"] = "cg_session=" .. os.getenv("SESSION")

function done(summary, latency, requests)
  io.write(string.format(
    "MEDIAN p50_ms=%.2f p99_ms=%.2f requests=%d non2xx3xx=%d\n",
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.requests,
    summary.errors.status))
end
