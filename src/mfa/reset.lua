-- Removes every factor of a user, confirmed or pending, the recovery
-- codes and the remembered browsers (an admin's reset).
-- KEYS[1] the user's factor ids (set)   KEYS[2] pending factor ids (set)
-- KEYS[3] the user's recovery codes (set)   KEYS[4] the key prefix of the
-- user's factors   KEYS[5] the user's remembered browser ids (set)
-- KEYS[6] the key prefix of the user's remembered browsers
-- Returns how many confirmed factors were removed.
local ids = redis.call('SMEMBERS', KEYS[1])
for _, id in ipairs(ids) do
  redis.call('DEL', KEYS[4] .. id)
end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('DEL', KEYS[4] .. id)
end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  redis.call('DEL', KEYS[6] .. id)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[5])
return #ids
