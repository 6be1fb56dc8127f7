-- Checks that a session is alive and its access token not revoked, and
-- slides the session's idle timeout: the Redis part of validating a
-- protected request, in one round trip.
-- KEYS[1] the session (hash)   KEYS[2] the user's session index (sorted set)
-- KEYS[3] the blacklist entry of the presented access token
-- ARGV[1] session id           ARGV[2] idle timeout ms
-- Returns {1, refresh generation, now ms} when valid; {0} when the session
-- has ended (revoked, idle too long, past its absolute lifetime); {2} when
-- the token is blacklisted and its grace period is over.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local effective = redis.call('HGET', KEYS[3], 'effective')
if effective and now >= tonumber(effective) then
  return { 2 }
end
local fields = redis.call('HMGET', KEYS[1], 'abs', 'gen')
if not fields[1] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return { 0 }
end
local absolute = tonumber(fields[1])
if now >= absolute then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return { 0 }
end
local ttl = math.min(tonumber(ARGV[2]), absolute - now)
redis.call('HSET', KEYS[1], 'seen', now)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], 'XX', now + ttl, ARGV[1])
return { 1, tonumber(fields[2]), now }
