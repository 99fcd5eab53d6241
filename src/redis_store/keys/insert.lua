-- Adds a key record unless a tombstone, its id or its hash is in the way: all checks and both
-- writes in one step, so nothing needs rolling back.
-- KEYS[1]: the id index; KEYS[2]: the record hash; KEYS[3], KEYS[4]: the id and hash tombstones;
-- KEYS[5]: the index of the record's owner; KEYS[6]: the key-record generation counter.
-- ARGV[1]: the hex hash; ARGV[2]: the record as JSON; ARGV[3]: revoked_at, or empty;
-- ARGV[4]: the id; ARGV[5]: the channel where changes are announced; ARGV[6]: a random value
-- below 2^52 for the counter, if there is none yet.
-- Returns {'ok'}, {'tombstoned'}, {'duplicate_id'} or
-- {'duplicate_hash', <JSON of the record holding the hash>}.
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then
  return {'tombstoned'}
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then
  return {'duplicate_id'}
end
if redis.call('HSETNX', KEYS[2], 'record', ARGV[2]) == 0 then
  redis.call('DEL', KEYS[1])
  return {'duplicate_hash', redis.call('HGET', KEYS[2], 'record')}
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], 'revoked_at', ARGV[3])
end
redis.call('SADD', KEYS[5], ARGV[4])
-- Every instance's key cache learns of it: the counter for its poll, the channel at once. A
-- new counter starts at a random value, so that one emptied with Redis never repeats a value.
redis.call('SET', KEYS[6], ARGV[6], 'NX')
local generation = redis.call('INCR', KEYS[6])
-- pcall: a Redis user whose ACL may not publish keeps its write; the poll of the counter
-- carries the change within a second all the same.
redis.pcall('PUBLISH', ARGV[5], generation)
return {'ok'}
