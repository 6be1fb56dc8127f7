-- Releases one hold of a lock, but only for its owner: a caller whose
-- hold expired can never delete the next holder's lock.
-- KEYS[1] the lock (hash)   KEYS[2] the shard's registry
-- ARGV[1] lock name   ARGV[2] owner token   ARGV[3] release channel
-- Returns the holds left (0 = released and waiters notified), or -1 when
-- the caller does not hold the lock.
local current = redis.call('HMGET', KEYS[1], 'owner', 'count')
if current[1] ~= ARGV[2] then
  return -1
end
local left = tonumber(current[2]) - 1
if left > 0 then
  redis.call('HSET', KEYS[1], 'count', left)
  return left
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 0
