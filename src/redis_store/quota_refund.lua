-- Gives back one quota unit, never going below zero.
-- KEYS[1]: the counter. No ARGV. Returns the count left.
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
