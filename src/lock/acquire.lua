-- Takes a lock if it is free (SET NX PX semantics), or again if the same
-- logical holder already has it (reentrancy), and records it in the
-- registry; otherwise registers the caller as a waiter.
-- KEYS[1] the lock (hash)          KEYS[2] its fencing counter
-- KEYS[3] the shard's registry     KEYS[4] the lock's waiters (sorted set)
-- ARGV[1] lock name   ARGV[2] owner token for a fresh acquisition
-- ARGV[3] holder id for reentrancy ('' = not reentrant)
-- ARGV[4] TTL ms      ARGV[5] label   ARGV[6] instance id
-- ARGV[7] waiter id ('' = not waiting)   ARGV[8] waiter's deadline (ms since epoch)
-- ARGV[9] '1' to count a fencing token, '0' for none (token 0, no counter)
-- Returns {1, owner, fencing token, ttl ms, hold count} when acquired,
-- {0, '', 0, ms until the current hold expires, 0} when busy.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[4])
local current = redis.call('HMGET', KEYS[1], 'owner', 'holder', 'fence')

local function acquired(owner, fence, count)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('ZADD', KEYS[3], now + ttl, ARGV[1])
  if ARGV[7] ~= '' then
    redis.call('ZREM', KEYS[4], ARGV[7])
  end
  return { 1, owner, fence, ttl, count }
end

if not current[1] then
  local fence = 0
  if ARGV[9] == '1' then
    fence = redis.call('INCR', KEYS[2])
  end
  redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'holder', ARGV[3], 'count', 1,
    'label', ARGV[5], 'instance', ARGV[6], 'acquired', now, 'fence', fence, 'ttl', ttl)
  return acquired(ARGV[2], fence, 1)
end

if ARGV[3] ~= '' and current[2] == ARGV[3] then
  local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
  redis.call('HSET', KEYS[1], 'ttl', ttl)
  return acquired(current[1], tonumber(current[3]), count)
end

if ARGV[7] ~= '' then
  local deadline = tonumber(ARGV[8])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  redis.call('ZADD', KEYS[4], deadline, ARGV[7])
  if redis.call('PTTL', KEYS[4]) < deadline - now then
    redis.call('PEXPIREAT', KEYS[4], deadline + 1000)
  end
end
return { 0, '', 0, redis.call('PTTL', KEYS[1]), 0 }
