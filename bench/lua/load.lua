-- wrk script: the requests of common.lua's generator named by the `generator` argument
-- (detail, paths, create, update or mixed); bench/wrk.py passes it.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local next_request

function init(args)
  local options = common.options(args)
  local generator = common.generators[options.generator]
  if generator == nil then
    error("unknown generator: " .. tostring(options.generator))
  end
  next_request = generator(options)
end

function request()
  return next_request()
end
