-- Takes a quota unit if fewer than the limit are used, and marks the alert thresholds the new
-- count crosses, each at most once.
-- KEYS[1]: the counter; KEYS[2]: the epoch marker; KEYS[2 + i]: the mark of threshold i.
-- ARGV[1]: the limit; ARGV[2]: the expiry of the counter and the marks, in seconds; ARGV[3]: the
-- epoch id the marker must hold, empty to check none; ARGV[3 + i]: the count that crosses
-- threshold i; ARGV[3 + n + i]: its percent.
-- Returns {-1}, writing nothing, when the marker holds another epoch or none (Redis lost its
-- data); {0} when exhausted; else {used, percents newly marked...}. Counts are Lua numbers
-- (doubles): exact up to 2^53, far above any monthly plan.
if ARGV[3] ~= '' and redis.call('HGET', KEYS[2], 'id') ~= ARGV[3] then
  return {-1}
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then
  return {0}
end
used = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
local result = {used}
local n = #KEYS - 2
for i = 1, n do
  if used == tonumber(ARGV[3 + i]) then
    if redis.call('SET', KEYS[2 + i], 1, 'NX', 'EX', ARGV[2]) then
      result[#result + 1] = tonumber(ARGV[3 + n + i])
    end
  end
end
return result
