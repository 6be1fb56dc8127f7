-- Replaces a session's current access token (an API client's silent
-- renewal). Concurrent requests carrying the same token get the token the
-- first one produced. Expects tokens.lua above.
-- KEYS[1] the session (hash)   KEYS[2] the user's session index
-- KEYS[3] the result of renewing the presented token (string, grace TTL)
-- KEYS[4] this user's blacklist key prefix (same {u:<id>} slot)
-- ARGV[1] session id   ARGV[2] presented access token id
-- ARGV[3] new access token id   ARGV[4] new access token expiry ms
-- ARGV[5] the new token, sealed   ARGV[6] grace ms   ARGV[7] idle timeout ms
-- Returns {1, replaced token's expiry} when renewed; {2, sealed token}
-- when another request already renewed; {4} when the presented token is
-- not the session's current one (nothing to do); {0} when the session has
-- ended.
local cached = redis.call('GET', KEYS[3])
if cached then
  return { 2, cached }
end
local now = now_ms()
local s = live_session(KEYS[1], KEYS[2], ARGV[1], now, { 'ajti', 'aexp' })
if not s then
  return { 0 }
end
local absolute, ajti, aexp = s[1], s[2], s[3]
if ajti ~= ARGV[2] then
  return { 4 }
end
local grace = tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'ajti', ARGV[3], 'aexp', ARGV[4], 'seen', now)
slide(KEYS[1], KEYS[2], ARGV[1], ARGV[7], absolute, now)
redis.call('SET', KEYS[3], ARGV[5], 'PX', grace)
blacklist(KEYS[4], ajti, ARGV[1], 'renewed', now, now + grace, aexp)
return { 1, aexp }
