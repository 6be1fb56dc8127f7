-- Replaces a user's recovery codes, if the user has a factor (codes of
-- a user without one would be a way in that nothing else guards).
-- KEYS[1] the user's factor ids (set)   KEYS[2] the user's recovery codes
-- ARGV the new codes, hashed
-- Returns 1 when replaced, 0 when the user has no factor.
if redis.call('SCARD', KEYS[1]) == 0 then
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('SADD', KEYS[2], unpack(ARGV))
return 1
