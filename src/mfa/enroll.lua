-- Stores a new, unconfirmed factor: it expires unless confirmed in time,
-- and is tracked in the user's pending set so that a reset finds it.
-- Ids of pending factors that expired are dropped from that set here.
-- KEYS[1] the factor (hash)   KEYS[2] the user's pending factor ids (set)
-- KEYS[3] the user's confirmed factor ids (set)
-- KEYS[4] the key prefix of the user's factors
-- ARGV[1] factor id   ARGV[2] pending TTL ms   ARGV[3] most pending factors
-- ARGV[4] most factors   ARGV[5..] field, value pairs of the factor
-- Returns 1 when stored, 0 when the user has too many pending factors,
-- -1 when the user has as many factors as allowed.
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[4]) then
  return -1
end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', KEYS[4] .. id) == 0 then
    redis.call('SREM', KEYS[2], id)
  end
end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
