-- Adds usage counted in one process to the key records; records that vanished are skipped.
-- KEYS[i]: a record hash. ARGV[2i - 1]: its new requests; ARGV[2i]: its last use in unix
-- milliseconds, or empty; it only ever raises last_used. Returns 0.
for i, key in ipairs(KEYS) do
  if redis.call('HEXISTS', key, 'record') == 1 then
    local count = tonumber(ARGV[2 * i - 1])
    if count > 0 then
      redis.call('HINCRBY', key, 'count', count)
    end
    local last = ARGV[2 * i]
    if last ~= '' then
      local old = redis.call('HGET', key, 'last_used')
      if not old or tonumber(last) > tonumber(old) then
        redis.call('HSET', key, 'last_used', last)
      end
    end
  end
end
return 0
