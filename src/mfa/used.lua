-- Records a verified WebAuthn assertion on its factor (the resealed
-- credential with the authenticator's new counter, when it was used, its
-- backup state), only while the factor exists: a removal that raced with
-- the sign-in must not leave a factor behind.
-- KEYS[1] the factor (hash)
-- ARGV field, value pairs
-- Returns 1 when recorded, 0 when the factor is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
