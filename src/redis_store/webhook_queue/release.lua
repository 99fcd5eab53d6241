-- Moves every claimed delivery back to waiting.
-- KEYS[1]: claimed; KEYS[2]: waiting. ARGV[1]: the due time to give them, in unix milliseconds.
-- Returns how many were moved.
local claimed = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, member in ipairs(claimed) do
  redis.call('ZADD', KEYS[2], ARGV[1], member)
end
redis.call('DEL', KEYS[1])
return #claimed
