-- Leaves a tombstone expiring at a given instant, by the server's clock: one whose instant is
-- past is not written, and a later call never shortens an earlier tombstone.
-- KEYS[1]: the tombstone. ARGV[1]: the unix millisecond it expires at.
-- Returns 1 when written, 0 when not.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local left = tonumber(ARGV[1]) - now
if left <= 0 then
  return 0
end
if redis.call('PTTL', KEYS[1]) >= left then
  return 0
end
redis.call('SET', KEYS[1], 1, 'PX', left)
return 1
