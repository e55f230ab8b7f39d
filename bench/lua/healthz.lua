-- healthz.lua - Kassa's own fixed answer (GET /healthz, answered inline on libmicrohttpd's I/O
-- thread: no handler thread, no store): the ceiling of the HTTP library itself, beside nginx's.
package.path = (os.getenv("BENCH_LUA") or ".") .. "/?.lua;" .. package.path
local c = require("common")
wrk.method = "GET"
wrk.path = "/healthz"
done = c.done
