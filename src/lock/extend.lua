-- Extends a lock's TTL, but only for its owner.
-- KEYS[1] the lock (hash)   KEYS[2] the shard's registry
-- ARGV[1] lock name   ARGV[2] owner token   ARGV[3] new TTL ms
-- Returns {fencing token, hold count}, or {} when not held.
local current = redis.call('HMGET', KEYS[1], 'owner', 'fence', 'count')
if current[1] ~= ARGV[2] then
  return {}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('HSET', KEYS[1], 'ttl', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
return { tonumber(current[2]), tonumber(current[3]) }
