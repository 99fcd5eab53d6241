//! The Lua scripts of the key store: each check-and-write is one step on the server.

use std::sync::LazyLock;

use redis::Script;

/// Adds a record unless a tombstone, its id or its hash is in the way: all checks and both
/// writes in one step, so nothing needs rolling back.
///
/// KEYS: id index, record hash, id tombstone, hash tombstone. ARGV: hex hash, JSON, revoked_at
/// (or empty). Returns `{'ok'}`, `{'tombstoned'}`, `{'duplicate_id'}` or
/// `{'duplicate_hash', <JSON of the record holding the hash>}`.
pub(super) static INSERT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
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
return {'ok'}
",
    )
});

/// Sets `revoked_at` unless an earlier instant is there; 0 if the record does not exist.
pub(super) static REVOKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HEXISTS', KEYS[1], 'record') == 0 then
  return 0
end
local old = redis.call('HGET', KEYS[1], 'revoked_at')
if not old or tonumber(ARGV[1]) < tonumber(old) then
  redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1])
end
return 1
",
    )
});

/// Adds usage deltas: for each record KEYS[i], ARGV[2i - 1] requests and ARGV[2i] the last use
/// (or empty), which only ever raises `last_used`. Records that vanished are skipped.
pub(super) static FLUSH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
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
",
    )
});

/// Records per flush call, so that one script never runs long on the server.
pub(super) const FLUSH_BATCH: usize = 256;
