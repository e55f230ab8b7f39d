-- ceiling.lua - nginx's fixed JSON answer (GET /): the ceiling for "an HTTP answer here".
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
wrk.method = "GET"
wrk.path = "/"
done = c.done
