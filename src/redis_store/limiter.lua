-- The sliding-window rule of src/limit/window.rs, for one key, in one round trip.
-- KEYS[1]: hash {last, s_size, s_count, m_size, m_count}; KEYS[2], KEYS[3]: lists of the group
-- ends (ms) of the per-second and per-minute windows, oldest first.
-- ARGV[1], ARGV[2]: the per-second and per-minute windows' quotas, -1 for none; ARGV[3]: groups
-- per window; ARGV[4]: "now" in ms for tests, empty to use the server's TIME; ARGV[5], ARGV[6]:
-- the per-second window's length and unit in ms; ARGV[7], ARGV[8]: the per-minute window's.
local now
if ARGV[4] ~= nil and ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '-1e18')
-- Time never runs backwards for a key: a clock jump cannot free capacity.
if now < last then now = last end
local groups = tonumber(ARGV[3])

local function check(ends_key, size_f, count_f, length_f, limit, length, unit)
  if limit < 0 then return nil end
  -- A window whose length changed starts over: its groups were counted against the old one.
  local was = tonumber(redis.call('HGET', KEYS[1], length_f) or '0')
  if now - last >= length or was ~= length then
    redis.call('DEL', ends_key)
    redis.call('HSET', KEYS[1], length_f, length)
  end
  local ends = redis.call('LRANGE', ends_key, 0, -1)
  local first = 1
  while first <= #ends and tonumber(ends[first]) <= now - length do first = first + 1 end
  if first > 1 then redis.call('LTRIM', ends_key, first - 1, -1) end
  local live = #ends - first + 1
  local size = tonumber(redis.call('HGET', KEYS[1], size_f) or '1')
  local count = tonumber(redis.call('HGET', KEYS[1], count_f) or '0')
  local live_count = 0
  if live > 0 then live_count = (live - 1) * size + count end
  local fits = live_count < limit
  local wait = 0
  if not fits then
    wait = length
    local remaining = live_count
    for i = first, #ends do
      local freed = size
      if i == #ends then freed = count end
      remaining = remaining - freed
      if remaining < limit then
        wait = math.max(tonumber(ends[i]) + length - now, 1)
        break
      end
    end
  end
  local reset = 0
  if live > 0 then reset = math.max(tonumber(ends[first]) + length - now, 1) end
  return { fits = fits, live_count = live_count, wait = wait, reset = reset, live = live,
           size = size, count = count, ends_key = ends_key, size_f = size_f,
           count_f = count_f, limit = limit, unit = unit }
end

local function record(w)
  if w == nil then return end
  local size, count = w.size, w.count
  local end_ms = math.ceil(now / w.unit) * w.unit
  if w.live == 0 then
    size = math.max(math.ceil(w.limit / groups), 1)
    count = 0
  end
  if w.live > 0 and count < size then
    redis.call('LSET', w.ends_key, -1, end_ms)
    count = count + 1
  else
    redis.call('RPUSH', w.ends_key, end_ms)
    count = 1
  end
  redis.call('HSET', KEYS[1], w.size_f, size, w.count_f, count)
end

local s_length, m_length = tonumber(ARGV[5]), tonumber(ARGV[7])
local s = check(KEYS[2], 's_size', 's_count', 's_length', tonumber(ARGV[1]), s_length,
  tonumber(ARGV[6]))
local m = check(KEYS[3], 'm_size', 'm_count', 'm_length', tonumber(ARGV[2]), m_length,
  tonumber(ARGV[8]))
local admitted = (s == nil or s.fits) and (m == nil or m.fits)
if admitted then
  record(s)
  record(m)
end
redis.call('HSET', KEYS[1], 'last', now)
-- Idle keys vanish by themselves once both windows are over.
local longest = math.max(s_length, m_length) + 1000
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], longest) end

local function report(w)
  if w == nil then return { 0, 0, 0, 0, 0 } end
  local fits = 0
  if w.fits then fits = 1 end
  return { 1, fits, w.live_count, w.wait, w.reset }
end
local a = 0
if admitted then a = 1 end
local rs, rm = report(s), report(m)
return { a, rs[1], rs[2], rs[3], rs[4], rs[5], rm[1], rm[2], rm[3], rm[4], rm[5] }
