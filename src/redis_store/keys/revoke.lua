-- Revokes a key record: sets revoked_at unless an earlier instant is there.
-- KEYS[1]: the record hash; KEYS[2]: the key-record generation counter.
-- ARGV[1]: the unix millisecond of the revocation; ARGV[2]: the channel where changes are
-- announced; ARGV[3]: a random value below 2^52 for the counter, if there is none yet.
-- Returns 1, or 0 when the record does not exist.
if redis.call('HEXISTS', KEYS[1], 'record') == 0 then
  return 0
end
local old = redis.call('HGET', KEYS[1], 'revoked_at')
if not old or tonumber(ARGV[1]) < tonumber(old) then
  redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1])
  -- Every instance's key cache learns of it: the counter for its poll, the channel at once. A
  -- new counter starts at a random value, so that one emptied with Redis never repeats a value.
  redis.call('SET', KEYS[2], ARGV[3], 'NX')
  local generation = redis.call('INCR', KEYS[2])
  -- pcall: a Redis user whose ACL may not publish keeps its write; the poll of the counter
  -- carries the change within a second all the same.
  redis.pcall('PUBLISH', ARGV[2], generation)
end
return 1
