-- Deletes a lock whoever holds it (an administrator's override) and wakes
-- its waiters.
-- KEYS[1] the lock (hash)   KEYS[2] the shard's registry
-- ARGV[1] lock name   ARGV[2] release channel
-- Returns the lock's fields before deletion (empty when it was not held).
local fields = redis.call('HGETALL', KEYS[1])
if #fields > 0 then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[1])
end
redis.call('ZREM', KEYS[2], ARGV[1])
return fields
