-- Replaces a session's current access token (silent renewal). Concurrent
-- requests carrying the same token get the token the first one produced.
-- KEYS[1] the session (hash)   KEYS[2] the user's session index
-- KEYS[3] the result of renewing the presented token (string, grace TTL)
-- ARGV[1] session id   ARGV[2] presented access token id
-- ARGV[3] new access token id   ARGV[4] new access token expiry ms
-- ARGV[5] the new token, encrypted   ARGV[6] grace ms   ARGV[7] idle timeout ms
-- ARGV[8] this user's blacklist key prefix (same {u:<id>} slot)
-- Returns {1, replaced token's expiry} when renewed; {2, encrypted token}
-- when another request already renewed; {4} when the presented token is
-- not the session's current one (nothing to do); {0} when the session has
-- ended.
local cached = redis.call('GET', KEYS[3])
if cached then
  return { 2, cached }
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'ajti', 'aexp', 'abs')
if not s[1] or now >= tonumber(s[3]) then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return { 0 }
end
if s[1] ~= ARGV[2] then
  return { 4 }
end
local grace = tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'ajti', ARGV[3], 'aexp', ARGV[4], 'seen', now)
local ttl = math.min(tonumber(ARGV[7]), tonumber(s[3]) - now)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], 'XX', now + ttl, ARGV[1])
redis.call('SET', KEYS[3], ARGV[5], 'PX', grace)
local remaining = tonumber(s[2]) - now
if remaining > 0 then
  local key = ARGV[8] .. s[1]
  redis.call('HSET', key, 'sid', ARGV[1], 'reason', 'renewed', 'revoked', now,
    'effective', now + grace, 'expires', s[2])
  redis.call('PEXPIRE', key, remaining)
end
return { 1, s[2] }
