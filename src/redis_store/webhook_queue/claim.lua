-- Claims the deliveries that are due: moves them from waiting to claimed, in due order.
-- KEYS[1]: waiting (sorted set by due time); KEYS[2]: claimed (sorted set by claim time);
-- KEYS[3]: deliveries (hash of member -> JSON).
-- ARGV[1]: now, in unix milliseconds; ARGV[2]: the most to claim.
-- Returns json, due, json, due, ... A member whose JSON is gone is dropped.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local out = {}
for i = 1, #due, 2 do
  local member = due[i]
  redis.call('ZREM', KEYS[1], member)
  local json = redis.call('HGET', KEYS[3], member)
  if json then
    redis.call('ZADD', KEYS[2], ARGV[1], member)
    out[#out + 1] = json
    out[#out + 1] = due[i + 1]
  end
end
return out
