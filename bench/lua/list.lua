-- list.lua - S3: GET /v1/payment_intents?limit=10&starting_after=ID, a page of 10 that starts
-- at a random stored payment (ids from BENCH_IDS), so the page's position in the table varies.
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
   return wrk.format("GET", "/v1/payment_intents?limit=10&starting_after=" .. id,
                     { ["Authorization"] = c.auth })
end

done = c.done
