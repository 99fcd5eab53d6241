-- Joins the epoch Redis holds, or seeds one on a Redis that never held one.
-- KEYS[1]: the epoch hash. ARGV[1]: a new random epoch id.
-- Returns {'lost'} when an instance reported this Redis's data lost: nobody seeds over a loss;
-- {'joined', id, seeded_at, origin} when an epoch is there; {'seeded', id, seeded_at, 'start'}
-- after writing one. seeded_at is the server's time in unix milliseconds.
local marker = redis.call('HMGET', KEYS[1], 'id', 'seeded_at', 'origin', 'lost')
if marker[4] then
  return {'lost'}
end
if marker[1] then
  return {'joined', marker[1], marker[2], marker[3]}
end
local now = redis.call('TIME')
local at = string.format('%.0f', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'seeded_at', at, 'origin', 'start')
return {'seeded', ARGV[1], at, 'start'}
