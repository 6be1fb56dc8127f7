-- Lists the held locks of one shard, pruning registry entries of locks
-- that expired. Keys are derived from the prefixes, all in the shard's slot
-- (passed as keys, so that a Cluster checks that slot).
-- KEYS[1] the shard's registry (sorted set: name scored by expiry)
-- KEYS[2] lock key prefix   KEYS[3] waiters key prefix
-- Returns {name, ms left, waiters, {field, value, ...}} per held lock.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local out = {}
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local fields = redis.call('HGETALL', KEYS[2] .. name)
  if #fields == 0 then
    redis.call('ZREM', KEYS[1], name)
  else
    local waiters = redis.call('ZCOUNT', KEYS[3] .. name, now, '+inf')
    table.insert(out, { name, redis.call('PTTL', KEYS[2] .. name), waiters, fields })
  end
end
return out
