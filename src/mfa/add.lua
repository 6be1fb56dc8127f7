-- Adds a confirmed factor (a WebAuthn credential, verified when its
-- registration finished), bringing the recovery codes if it is the
-- user's first, in one step like accept.lua's confirmation.
-- KEYS[1] the factor (hash)   KEYS[2] the user's factor ids (set)
-- KEYS[3] the user's recovery codes (set of hashes)
-- ARGV[1] factor id   ARGV[2] most factors   ARGV[3] n, the number of
-- field/value arguments that follow   ARGV[4..3+n] field, value pairs
-- ARGV[4+n..] hashed recovery codes, stored if this is the first factor
-- Returns -1 when the user has as many factors as allowed, 1 when added,
-- 2 when added as the first factor (the recovery codes are stored).
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  return -1
end
local n = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], unpack(ARGV, 4, 3 + n))
local first = redis.call('SCARD', KEYS[2]) == 0
redis.call('SADD', KEYS[2], ARGV[1])
if first and #ARGV > 3 + n then
  redis.call('DEL', KEYS[3])
  redis.call('SADD', KEYS[3], unpack(ARGV, 4 + n))
  return 2
end
return 1
