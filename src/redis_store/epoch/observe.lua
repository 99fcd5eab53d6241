-- Whether the epoch a process runs on is still the one Redis holds.
-- KEYS[1]: the epoch hash. ARGV[1]: the process's epoch id, or empty; ARGV[2]: its seeded_at
-- (unix milliseconds), or empty; ARGV[3]: '1' when the process already found the data lost.
-- Returns {'same'}; {'adopt', id, seeded_at} for an epoch a reseed wrote, which the process
-- takes on (newer than its own, or any once its own was lost); or {'lost'}, after leaving a
-- loss note (the lost epoch and the time) if none is there, so that no instance seeds over it.
-- A loss note stays until a reseed rewrites the hash: while it is there, every epoch is lost.
local marker = redis.call('HMGET', KEYS[1], 'id', 'seeded_at', 'origin', 'lost')
local id, seeded_at, origin, lost = marker[1], marker[2], marker[3], marker[4]
if lost then
  return {'lost'}
end
if id and id == ARGV[1] then
  return {'same'}
end
if id and origin == 'reseed' then
  if ARGV[3] == '1' or ARGV[2] == '' or tonumber(seeded_at) > tonumber(ARGV[2]) then
    return {'adopt', id, seeded_at}
  end
end
local now = redis.call('TIME')
local at = string.format('%.0f', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
redis.call('HSET', KEYS[1], 'lost', ARGV[1], 'lost_at', at)
return {'lost'}
