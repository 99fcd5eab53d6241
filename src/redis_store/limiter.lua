-- The sliding-window rule of src/limit/window.rs, for one key, in one round trip.
-- KEYS[1]: hash {last, s_length, s_size, s_count, m_length, m_size, m_count}; KEYS[2], KEYS[3]:
-- lists of the group ends (ms) of the per-second and per-minute windows, oldest first; KEYS[4]:
-- the epoch marker.
-- ARGV[1], ARGV[2]: the per-second and per-minute windows' quotas, -1 for none; ARGV[3]: groups
-- per window; ARGV[4]: "now" in ms for tests, empty to use the server's TIME; ARGV[5], ARGV[6]:
-- the per-second window's length and unit in ms; ARGV[7], ARGV[8]: the per-minute window's;
-- ARGV[9]: the epoch id the marker must hold, empty to check none.
-- Returns {admitted, then per window (second, minute): on, fits, live count, wait ms, reset ms},
-- or {-1}, writing nothing, when the marker holds another epoch or none: Redis lost its data.
--
-- Run on every admitted request, so it builds no table and no closure of its own: the two
-- windows go through one loop whose results land in plain locals (s_* and m_*), the state hash
-- is read by one HMGET and written by one HSET, and the answer is built once, at the end.
if ARGV[9] ~= '' and redis.call('HGET', KEYS[4], 'id') ~= ARGV[9] then
  return {-1}
end
local now
if ARGV[4] ~= nil and ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local state = redis.call('HMGET', KEYS[1], 'last', 's_length', 's_size', 's_count',
  'm_length', 'm_size', 'm_count')
local last = tonumber(state[1] or '-1e18')
-- Time never runs backwards for a key: a clock jump cannot free capacity.
if now < last then now = last end
local groups = tonumber(ARGV[3])
local s_length, m_length = tonumber(ARGV[5]), tonumber(ARGV[7])

-- What each window found: on (it has a limit), fits, live count, wait, reset, live groups, and
-- its group size and newest group's count (as read, then as recorded). An off window fits.
local s_on, s_fits, s_live_count, s_wait, s_reset, s_live, s_size, s_count =
  false, true, 0, 0, 0, 0, 1, 0
local m_on, m_fits, m_live_count, m_wait, m_reset, m_live, m_size, m_count =
  false, true, 0, 0, 0, 0, 1, 0

-- w = 1: the per-second window (ARGV[1], ARGV[5], KEYS[2], state[2..4]); w = 2: the
-- per-minute one (ARGV[2], ARGV[7], KEYS[3], state[5..7]).
for w = 1, 2 do
  local limit = tonumber(ARGV[w])
  if limit >= 0 then
    local length = tonumber(ARGV[3 + 2 * w])
    local ends_key = KEYS[1 + w]
    local size = tonumber(state[3 * w] or '1')
    local count = tonumber(state[3 * w + 1] or '0')
    local held = tonumber(state[3 * w - 1] or '0')
    local ends, first, n = nil, 1, 0
    if now - last >= length then
      redis.call('DEL', ends_key)
    else
      ends = redis.call('LRANGE', ends_key, 0, -1)
      n = #ends
      -- A window whose length changed keeps what it holds, as the in-memory limiter recounts
      -- it: what expired under the old length goes, then what is not live under the new one,
      -- and the rest is rewritten with each end rounded up to the new length's unit.
      if held ~= length then
        while first <= n and tonumber(ends[first]) <= now - held do first = first + 1 end
      end
      while first <= n and tonumber(ends[first]) <= now - length do first = first + 1 end
      if held ~= length then
        local unit = tonumber(ARGV[4 + 2 * w])
        for i = first, n do ends[i] = math.ceil(tonumber(ends[i]) / unit) * unit end
        redis.call('DEL', ends_key)
        if first <= n then redis.call('RPUSH', ends_key, unpack(ends, first, n)) end
      elseif first > 1 then
        redis.call('LTRIM', ends_key, first - 1, -1)
      end
    end
    local live = n - first + 1
    local live_count = 0
    if live > 0 then live_count = (live - 1) * size + count end
    -- All groups in use and the newest full (the limit grew, the group size did not): no room
    -- for one more group, as in the in-memory limiter.
    local fits = live_count < limit and not (live >= groups and count >= size)
    local wait = 0
    if not fits then
      wait = length
      local remaining = live_count
      for i = first, n do
        if i == n then remaining = remaining - count else remaining = remaining - size end
        if remaining < limit then
          wait = math.max(tonumber(ends[i]) + length - now, 1)
          break
        end
      end
    end
    local reset = 0
    if live > 0 then reset = math.max(tonumber(ends[first]) + length - now, 1) end
    if w == 1 then
      s_on, s_fits, s_live_count, s_wait, s_reset, s_live, s_size, s_count =
        true, fits, live_count, wait, reset, live, size, count
    else
      m_on, m_fits, m_live_count, m_wait, m_reset, m_live, m_size, m_count =
        true, fits, live_count, wait, reset, live, size, count
    end
  end
end

local admitted = s_fits and m_fits
if admitted then
  for w = 1, 2 do
    local on, live, size, count
    if w == 1 then
      on, live, size, count = s_on, s_live, s_size, s_count
    else
      on, live, size, count = m_on, m_live, m_size, m_count
    end
    if on then
      local unit = tonumber(ARGV[4 + 2 * w])
      local end_ms = math.ceil(now / unit) * unit
      if live == 0 then
        size = math.max(math.ceil(tonumber(ARGV[w]) / groups), 1)
        count = 0
      end
      if live > 0 and count < size then
        redis.call('LSET', KEYS[1 + w], -1, end_ms)
        count = count + 1
      else
        redis.call('RPUSH', KEYS[1 + w], end_ms)
        count = 1
      end
      if w == 1 then s_size, s_count = size, count else m_size, m_count = size, count end
    end
  end
end

-- A window's size and count are written back as read unless it recorded: the same state.
-- An off window's fields are left as they are.
if s_on and m_on then
  redis.call('HSET', KEYS[1], 'last', now, 's_length', s_length, 's_size', s_size,
    's_count', s_count, 'm_length', m_length, 'm_size', m_size, 'm_count', m_count)
elseif s_on then
  redis.call('HSET', KEYS[1], 'last', now, 's_length', s_length, 's_size', s_size,
    's_count', s_count)
elseif m_on then
  redis.call('HSET', KEYS[1], 'last', now, 'm_length', m_length, 'm_size', m_size,
    'm_count', m_count)
else
  redis.call('HSET', KEYS[1], 'last', now)
end
-- Idle keys vanish by themselves once both windows are over.
local longest = math.max(s_length, m_length) + 1000
redis.call('PEXPIRE', KEYS[1], longest)
redis.call('PEXPIRE', KEYS[2], longest)
redis.call('PEXPIRE', KEYS[3], longest)

return { admitted and 1 or 0,
  s_on and 1 or 0, (s_on and s_fits) and 1 or 0, s_live_count, s_wait, s_reset,
  m_on and 1 or 0, (m_on and m_fits) and 1 or 0, m_live_count, m_wait, m_reset }
