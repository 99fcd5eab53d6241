-- Moves a dead letter back to waiting, as a fresh delivery.
-- KEYS[1]: dead (hash of member -> letter JSON); KEYS[2]: deliveries; KEYS[3]: waiting;
-- KEYS[4]: dead-ids (hash of letter id -> member).
-- ARGV[1]: the member; ARGV[2]: the delivery as JSON; ARGV[3]: its due time in unix ms;
-- ARGV[4]: the letter's id.
-- Returns 1, or 0 when there is no such dead letter (any more).
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[4], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1
