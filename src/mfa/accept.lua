-- Accepts a TOTP code's time step for one factor, at most once: a step
-- at or before the last one accepted is refused, so a code that worked
-- (or an older one) cannot be replayed, however many requests race with
-- it. Confirming a pending factor also makes it a factor of the user,
-- and the user's first factor brings the recovery codes, all in the same
-- step.
-- KEYS[1] the factor (hash)   KEYS[2] the user's factor ids (set)
-- KEYS[3] the user's pending factor ids (set)
-- KEYS[4] the user's recovery codes (set of hashes)
-- ARGV[1] factor id   ARGV[2] the step   ARGV[3] now ms
-- ARGV[4] '1' to confirm a pending factor, '0' to use a confirmed one
-- ARGV[5..] hashed recovery codes, stored if this is the first factor
-- Returns 0 when there is no such factor in the state asked for, -1 when
-- the step was used already, 1 when accepted, 2 when accepted as the
-- first factor (the recovery codes are stored).
local state = redis.call('HGET', KEYS[1], 'ok')
if not state or state ~= (ARGV[4] == '1' and '0' or '1') then
  return 0
end
local last = tonumber(redis.call('HGET', KEYS[1], 'st') or '-1')
if tonumber(ARGV[2]) <= last then
  return -1
end
redis.call('HSET', KEYS[1], 'st', ARGV[2], 'u', ARGV[3])
if ARGV[4] ~= '1' then
  return 1
end
redis.call('HSET', KEYS[1], 'ok', '1')
redis.call('PERSIST', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
local first = redis.call('SCARD', KEYS[2]) == 0
redis.call('SADD', KEYS[2], ARGV[1])
if first and #ARGV >= 5 then
  redis.call('DEL', KEYS[4])
  redis.call('SADD', KEYS[4], unpack(ARGV, 5))
  return 2
end
return 1
