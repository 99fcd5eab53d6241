-- Writes one plan the admin API manages and moves the generation on when it changed, then
-- reads every plan back: the check, the write and the read in one step.
-- KEYS[1]: the hash of project -> plan JSON; KEYS[2]: the generation counter.
-- ARGV[1]: the project; ARGV[2]: the plan as canonical JSON (equal plans are equal strings, so
-- they are compared without parsing); ARGV[3]: 'create' (nothing is written when the project
-- has a plan) or 'set'.
-- Returns {outcome, generation, project, plan, ...}, the outcome one of 'added', 'changed',
-- 'unchanged' or 'exists'.
local old = redis.call('HGET', KEYS[1], ARGV[1])
local outcome
if old and ARGV[3] == 'create' then
  outcome = 'exists'
elseif old == ARGV[2] then
  outcome = 'unchanged'
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('INCR', KEYS[2])
  if old then
    outcome = 'changed'
  else
    outcome = 'added'
  end
end
local out = {outcome, redis.call('GET', KEYS[2]) or '0'}
for _, value in ipairs(redis.call('HGETALL', KEYS[1])) do
  out[#out + 1] = value
end
return out
