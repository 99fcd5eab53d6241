-- Every plan the admin API manages and the generation they are at, read in one step.
-- KEYS[1]: the hash of project -> plan JSON; KEYS[2]: the generation counter.
-- Returns {generation, project, plan, project, plan, ...}; the generation is '0' before the
-- first change.
local out = {redis.call('GET', KEYS[2]) or '0'}
for _, value in ipairs(redis.call('HGETALL', KEYS[1])) do
  out[#out + 1] = value
end
return out
