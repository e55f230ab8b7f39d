-- retrieve.lua - S2: GET /v1/payment_intents/:id for ids drawn at random from BENCH_IDS
-- (a sample spread evenly over every payment stored).
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
local ids

function setup(thread)
   thread:set("seed", math.random(1, 1e9))
end

function init(args)
   math.randomseed(seed)
   ids = c.load_ids()
end

function request()
   local id = ids[math.random(#ids)]
   return wrk.format("GET", "/v1/payment_intents/" .. id, { ["Authorization"] = c.auth })
end

done = c.done
