-- wrk script: see common.lua (common.detail) for the requests it makes.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local next_request

function init(args)
  next_request = common.detail(common.options(args))
end

function request()
  return next_request()
end
