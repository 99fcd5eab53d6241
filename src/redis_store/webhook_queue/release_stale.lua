-- Moves the deliveries claimed at or before a given time back to waiting.
-- KEYS[1]: claimed; KEYS[2]: waiting.
-- ARGV[1]: the latest claim time to release; ARGV[2]: the due time to give them (both unix ms).
-- Returns how many were moved.
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, member in ipairs(stale) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZADD', KEYS[2], ARGV[2], member)
end
return #stale
