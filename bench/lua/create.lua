-- create.lua - S1: POST /v1/payment_intents as stripe-node sends it (form body, Bearer key,
-- a fresh Idempotency-Key on every POST). Each answer is a durable commit (synchronous=FULL).
-- Seeding uses it too: BENCH_COUNT stops each thread after that many answers, and
-- BENCH_IDS_OUT/BENCH_IDS_STRIDE write every STRIDE-th created id to a file per thread.
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")

local threads = {}
local next_tid = 0

function setup(thread)
   next_tid = next_tid + 1
   thread:set("tid", next_tid)
   table.insert(threads, thread)
end

local n = 0
local got = 0
local count = tonumber(os.getenv("BENCH_COUNT") or "0")
local stride = tonumber(os.getenv("BENCH_IDS_STRIDE") or "1")
local out = nil
local run = tostring(os.time()) .. "-" .. tostring(math.random(1, 1e9))
local body = "amount=2500&currency=eur&payment_method_types[0]=klarna" ..
   "&description=Order%20%2342&metadata[order_id]=42"

function init(args)
   math.randomseed(os.time() * 1000 + tid)
   run = tostring(os.time()) .. "-" .. tostring(math.random(1, 1e9))
   local path = os.getenv("BENCH_IDS_OUT")
   if path then out = io.open(path .. "." .. tid, "a") end
end

function request()
   n = n + 1
   return wrk.format("POST", "/v1/payment_intents", {
      ["Authorization"] = c.auth,
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Idempotency-Key"] = "bench-" .. run .. "-" .. tid .. "-" .. n,
   }, body)
end

if os.getenv("BENCH_COUNT") or os.getenv("BENCH_IDS_OUT") then
   function response(status, headers, resp)
      if status ~= 200 then return end
      got = got + 1
      if out and got % stride == 0 then
         local id = string.match(resp, '"id":"(pi_[%w]+)"')
         if id then out:write(id, "\n") end
      end
      if count > 0 and got >= count then
         if out then out:flush() end
         wrk.thread:stop()
      end
   end
end

done = c.done
