-- common.lua - shared by the wrk scripts of bench/run.sh: the secret key and a random id
-- sample from the environment, and done(), which prints one machine-readable line
--   BENCH {"requests":..,"seconds":..,"rps":..,"p50_us":..,"p99_us":..,"p999_us":..,"errors":..}
-- (errors = connect/read/write/timeout errors plus non-2xx/3xx answers).
local M = {}

M.key = os.getenv("BENCH_KEY") or ""
M.auth = "Bearer " .. M.key

-- Ids to read from, written by seed.lua (one per line); sampled evenly over everything stored.
function M.load_ids()
   local ids = {}
   local path = os.getenv("BENCH_IDS")
   if path then
      for line in io.lines(path) do
         if #line > 0 then ids[#ids + 1] = line end
      end
   end
   if #ids == 0 then error("no ids in BENCH_IDS=" .. tostring(path)) end
   return ids
end

function M.done(summary, latency, requests)
   local e = summary.errors
   local errors = e.connect + e.read + e.write + e.status + e.timeout
   local secs = summary.duration / 1e6
   io.write(string.format(
      'BENCH {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_us":%d,"p99_us":%d,"p999_us":%d,' ..
      '"max_us":%d,"errors":%d,"non2xx":%d}\n',
      summary.requests, secs, summary.requests / secs, latency:percentile(50),
      latency:percentile(99), latency:percentile(99.9), latency.max, errors, e.status))
end

return M
