-- Removes one of a user's factors; with the last one go the recovery
-- codes (they stand in for a factor the user no longer has) and the
-- remembered browsers (which must not skip a factor enrolled later).
-- KEYS[1] the factor (hash)   KEYS[2] the user's factor ids (set)
-- KEYS[3] the user's pending factor ids (set)
-- KEYS[4] the user's recovery codes (set)
-- KEYS[5] the user's remembered browser ids (set)
-- KEYS[6] the key prefix of the user's remembered browsers
-- ARGV[1] factor id
-- Returns 1 when removed, 0 when there was no such factor.
local removed = redis.call('SREM', KEYS[2], ARGV[1]) + redis.call('SREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[1])
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[4])
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[5])) do
    redis.call('DEL', KEYS[6] .. id)
  end
  redis.call('DEL', KEYS[5])
end
return removed > 0 and 1 or 0
