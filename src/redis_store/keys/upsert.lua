-- Adds a key record, or replaces the record with its id: every check and every write in one
-- step. A new hash moves the usage to it and tombstones the old hash; a stored record that is
-- revoked, or owned by someone else, is never replaced.
-- KEYS[1]: the id index; KEYS[2]: the new record hash; KEYS[3], KEYS[4]: the id and new-hash
-- tombstones; KEYS[5]: the record hash of the hash the caller read from the id index (KEYS[2]
-- when it read none or the same); KEYS[6]: that hash's tombstone; KEYS[7]: the owner's index;
-- KEYS[8]: the key-record generation counter.
-- ARGV[1]: the new hex hash; ARGV[2]: the record as JSON; ARGV[3]: revoked_at, or empty;
-- ARGV[4]: the hex hash the caller read from the id index, or empty; ARGV[5]: the owner;
-- ARGV[6]: the id; ARGV[7]: the unix millisecond the old hash's tombstone expires at;
-- ARGV[8]: the unix millisecond a revoked record's tombstones expire at, or empty; ARGV[9]: the
-- channel where changes are announced; ARGV[10]: a random value below 2^52 for the counter, if
-- there is none yet.
-- Returns {'added'}, {'changed'}, {'unchanged'}, {'tombstoned'}, {'owned_by', <owner>},
-- {'duplicate_hash', <JSON of the record holding the hash>}, or {'moved'} when the id index no
-- longer holds ARGV[4] (the caller reads it again and retries).

-- As tombstone_leave.lua: by the server's clock, never shortening a longer tombstone.
local function leave(key, expires)
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local left = tonumber(expires) - now
  if left > 0 and redis.call('PTTL', key) < left then
    redis.call('SET', key, 1, 'PX', left)
  end
end

if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then
  return {'tombstoned'}
end
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[4] then
  return {'moved'}
end
local outcome = 'added'
if current then
  local old = redis.call('HGET', KEYS[5], 'record')
  if not old then
    return {'moved'}
  end
  -- Records stored before owners existed were all loaded from the file.
  local owner = cjson.decode(old).owner or 'config'
  if owner ~= ARGV[5] then
    return {'owned_by', owner}
  end
  -- Revocation is one-way, even once the tombstones have expired.
  if redis.call('HEXISTS', KEYS[5], 'revoked_at') == 1 then
    return {'tombstoned'}
  end
  if current == ARGV[1] then
    if old == ARGV[2] and ARGV[3] == '' then
      return {'unchanged'}
    end
    redis.call('HSET', KEYS[2], 'record', ARGV[2])
  else
    local holder = redis.call('HGET', KEYS[2], 'record')
    if holder then
      return {'duplicate_hash', holder}
    end
    local usage = redis.call('HMGET', KEYS[5], 'count', 'last_used')
    redis.call('DEL', KEYS[5])
    redis.call('HSET', KEYS[2], 'record', ARGV[2])
    if usage[1] then
      redis.call('HSET', KEYS[2], 'count', usage[1])
    end
    if usage[2] then
      redis.call('HSET', KEYS[2], 'last_used', usage[2])
    end
    redis.call('SET', KEYS[1], ARGV[1])
    leave(KEYS[6], ARGV[7])
  end
  outcome = 'changed'
else
  if redis.call('HSETNX', KEYS[2], 'record', ARGV[2]) == 0 then
    return {'duplicate_hash', redis.call('HGET', KEYS[2], 'record')}
  end
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('SADD', KEYS[7], ARGV[6])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], 'revoked_at', ARGV[3])
  leave(KEYS[3], ARGV[8])
  leave(KEYS[4], ARGV[8])
end
-- Every instance's key cache learns of it: the counter for its poll, the channel at once. A
-- new counter starts at a random value, so that one emptied with Redis never repeats a value.
redis.call('SET', KEYS[8], ARGV[10], 'NX')
local generation = redis.call('INCR', KEYS[8])
-- pcall: a Redis user whose ACL may not publish keeps its write; the poll of the counter
-- carries the change within a second all the same.
redis.pcall('PUBLISH', ARGV[9], generation)
return {outcome}
