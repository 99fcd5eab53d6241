-- Removes an endpoint record if its revision is the one the caller read.
-- KEYS[1]: the records (hash of id -> JSON); KEYS[2]: the generation (a counter).
-- ARGV[1]: the id; ARGV[2]: the revision read.
-- Returns 1 when removed (and the generation moved), 0 when gone or changed meanwhile.
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored then
  return 0
end
if tonumber(cjson.decode(stored)['revision']) ~= tonumber(ARGV[2]) then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
return 1
