-- Gives back a reconciliation's lease, unless it expired and another holder has it now.
-- KEYS[1]: the lease. ARGV[1]: the holder. Returns 1 when released, 0 when not.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
