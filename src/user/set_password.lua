-- Replaces an existing user's password hash and "must change" flag, and
-- advances the password generation (never creates a user).
-- KEYS[1] user record (hash)
-- ARGV[1] new hash   ARGV[2] '1' if the user must change it, else '0'
-- Returns the new generation, or -1 when the user does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'mustchange', ARGV[2], 'updated', now)
return redis.call('HINCRBY', KEYS[1], 'pwgen', 1)
