-- Claims a reconciliation of the config file: the version check, the record of the file and
-- the lease in one step, so two instances with different files cannot both win.
-- KEYS[1]: the hash of the file last applied (`version`, `digest`); KEYS[2]: the lease.
-- ARGV[1]: the file's config_version (at most 2^53 - 1, exact in Lua's numbers); ARGV[2]: its
-- digest (hex); ARGV[3]: the holder; ARGV[4]: the lease in milliseconds.
-- Returns {'newer'}, {'same'}, {'busy'}, or {'older' | 'conflicting', <version>, <digest>}
-- with what was applied last.
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[3] then
  return {'busy'}
end
local applied = redis.call('HMGET', KEYS[1], 'version', 'digest')
local outcome = 'newer'
if applied[1] then
  local version, last = tonumber(ARGV[1]), tonumber(applied[1])
  if version < last then
    return {'older', applied[1], applied[2]}
  end
  if version == last then
    if applied[2] ~= ARGV[2] then
      return {'conflicting', applied[1], applied[2]}
    end
    outcome = 'same'
  end
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'digest', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return {outcome}
