-- Writes an endpoint record if the stored one's revision is the one the writer read.
-- KEYS[1]: the records (hash of id -> JSON); KEYS[2]: the generation (a counter).
-- ARGV[1]: the id; ARGV[2]: the record as JSON; ARGV[3]: the revision read (0: none stored).
-- Returns 1 when written (and the generation moved), 0 when another write came first.
local stored = redis.call('HGET', KEYS[1], ARGV[1])
local revision = 0
if stored then
  revision = tonumber(cjson.decode(stored)['revision']) or -1
end
if revision ~= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[2])
return 1
