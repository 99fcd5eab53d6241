-- Writes a new epoch after a reseed, replacing the marker and any loss note.
-- KEYS[1]: the epoch hash. ARGV[1]: the new epoch id.
-- Returns {id, seeded_at}: seeded_at is the server's time in unix milliseconds.
redis.call('DEL', KEYS[1])
local now = redis.call('TIME')
local at = string.format('%.0f', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'seeded_at', at, 'origin', 'reseed')
return {ARGV[1], at}
