-- The benchmark's requests, for load.lua (bench/wrk.py runs it).
--
-- Every run gets: key=value arguments, one random sequence per thread (seeded, so reruns
-- ask for the same things), a count of responses outside 2xx (3xx included) with their
-- statuses and the first such body per thread, and one machine-readable line at the end:
--   BENCH_RESULT {"requests": ..., "non2xx": ..., "p50_us": ..., ...}
-- Request generators: detail, paths (one of the lines of a file), create, update, mixed.

local common = {}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads - 1)
end

non2xx = 0
statuses = {}
first_error = ""

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_error == "" then
      first_error = tostring(status) .. " " .. string.sub(body or "", 1, 500)
    end
  end
end

local function json_string(value)
  return '"' .. string.gsub(value, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

function done(summary, latency, requests)
  local errors = 0
  local merged = {}
  local samples = {}
  for _, thread in ipairs(threads) do
    errors = errors + (thread:get("non2xx") or 0)
    for status, count in pairs(thread:get("statuses") or {}) do
      merged[status] = (merged[status] or 0) + count
    end
    local sample = thread:get("first_error")
    if sample and sample ~= "" then
      table.insert(samples, json_string(sample))
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, ' ..
    '"non2xx": %d, "statuses": {%s}, "error_samples": [%s], ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    errors, table.concat(parts, ", "), table.concat(samples, ", "),
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max))
end

-- Arguments after wrk's "--" as key=value pairs.
function common.options(args)
  local options = {}
  for _, arg in ipairs(args) do
    local key, value = string.match(arg, "^([%w_]+)=(.*)$")
    if key == nil then
      error("expected key=value, got " .. arg)
    end
    options[key] = value
  end
  math.randomseed(tonumber(options.seed or "1") * 1000 + (thread_index or 0))
  return options
end

-- wrk.format() sends the headers it is given instead of wrk's (-H), so writes add theirs.
local function json_headers()
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  headers["Content-Type"] = "application/json"
  return headers
end

function common.detail(options)
  local low, high = tonumber(options.min_id), tonumber(options.max_id)
  return function()
    return wrk.format("GET", "/books/" .. math.random(low, high) .. "/")
  end
end

function common.paths(options)
  local lines = {}
  for line in io.lines(options.paths) do
    if line ~= "" then
      table.insert(lines, line)
    end
  end
  if #lines == 0 then
    error("no paths in " .. options.paths)
  end
  return function()
    return wrk.format("GET", lines[math.random(1, #lines)])
  end
end

-- The EAN-13 check digit: weights 1, 3, 1, 3, ...; what brings the sum to a multiple of 10.
function common.isbn13_check_digit(first_twelve)
  local total = 0
  for index = 1, 12 do
    local digit = tonumber(string.sub(first_twelve, index, index))
    total = total + digit * ((index % 2 == 0) and 3 or 1)
  end
  return tostring((10 - total % 10) % 10)
end

-- ISBN-13s no other request, thread or run uses: 979, the run's three-digit prefix, the
-- thread's digit, then a five-digit counter (bench/run.py gives each wrk run its own prefix).
function common.isbn_sequence(options)
  local prefix = options.isbn_prefix
  local counter = -1
  return function()
    counter = counter + 1
    if counter > 99999 then
      error("more than 100,000 creates in one thread: give this run another prefix")
    end
    local twelve = "979" .. prefix .. tostring(thread_index % 10) .. string.format("%05d", counter)
    return twelve .. common.isbn13_check_digit(twelve)
  end
end

local words = {
  "river", "garden", "winter", "silver", "shadow", "harbor", "letters", "empire", "journey",
  "forest", "engine", "market", "island", "mirror", "season", "history", "window", "stranger",
}

local function phrase(count)
  local chosen = {}
  for index = 1, count do
    chosen[index] = words[math.random(1, #words)]
  end
  return table.concat(chosen, " ")
end

function common.create(options)
  local next_isbn = common.isbn_sequence(options)
  local headers = json_headers()
  return function()
    local body = string.format(
      '{"title": "%s", "author": "Bench Writer %d", "publication_date": "%04d-%02d-%02d", ' ..
      '"isbn": "%s", "summary": "%s."}',
      phrase(3), math.random(1, 500), math.random(1950, 2024), math.random(1, 12),
      math.random(1, 28), next_isbn(), phrase(40))
    return wrk.format("POST", "/books/", headers, body)
  end
end

function common.update(options)
  local low, high = tonumber(options.min_id), tonumber(options.max_id)
  local headers = json_headers()
  return function()
    local body = string.format('{"summary": "Revised: %s."}', phrase(30))
    return wrk.format("PATCH", "/books/" .. math.random(low, high) .. "/", headers, body)
  end
end

-- The soak's mix: mostly reads, some writes.
function common.mixed(options)
  local choices = {
    {60, common.detail(options)},
    {15, common.paths({paths = options.paths})},
    {10, common.paths({paths = options.searches})},
    {10, common.update(options)},
    {5, common.create(options)},
  }
  return function()
    local roll = math.random(1, 100)
    for _, choice in ipairs(choices) do
      roll = roll - choice[1]
      if roll <= 0 then
        return choice[2]()
      end
    end
    return choices[1][2]()
  end
end

-- What load.lua may be asked for (its `generator` argument).
common.generators = {
  detail = common.detail,
  paths = common.paths,
  create = common.create,
  update = common.update,
  mixed = common.mixed,
}

return common
