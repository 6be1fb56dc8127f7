-- Rotates a session's tokens: the one step of a refresh (or of a browser's
-- silent renewal) that must be atomic. Callers presenting a token that was
-- just rotated get the pair the first one produced; a refresh token
-- presented after its rotation's grace window is reuse, and ends the
-- session.
-- KEYS[1] the session (hash)   KEYS[2] the user's session index
-- KEYS[3] the result of rotating the presented token (string, grace TTL)
-- ARGV[1] session id   ARGV[2] presented token id
-- ARGV[3] new refresh token id   ARGV[4] new access token id
-- ARGV[5] new access token expiry ms   ARGV[6] the new pair, sealed
-- ARGV[7] grace ms   ARGV[8] idle timeout ms
-- ARGV[9] this user's blacklist key prefix (same {u:<id>} slot)
-- ARGV[10] 'r' when a refresh token was presented, 'a' for an access token
-- ARGV[11] this user's rotation result key prefix (same slot)
-- Returns {1, new generation, replaced access token id, its expiry} when
-- rotated; {2, sealed pair} when another caller already rotated; {3,
-- access token id, its expiry} on refresh token reuse (session ended); {4}
-- when a presented access token is not the current one (nothing to do);
-- {0} when the session has ended.
local cached = redis.call('GET', KEYS[3])
if cached then
  return { 2, cached }
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'rjti', 'ajti', 'aexp', 'gen', 'abs')
if not s[1] or now >= tonumber(s[5]) then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return { 0 }
end

local function blacklist(jti, expires, reason, effective)
  local remaining = tonumber(expires) - now
  if remaining > 0 then
    local key = ARGV[9] .. jti
    redis.call('HSET', key, 'sid', ARGV[1], 'reason', reason, 'revoked', now,
      'effective', effective, 'expires', expires)
    redis.call('PEXPIRE', key, remaining)
  end
end

local refresh = ARGV[10] == 'r'
local current = refresh and s[1] or s[2]
if current ~= ARGV[2] then
  if not refresh then
    return { 4 }
  end
  blacklist(s[2], s[3], 'reuse_detected', now)
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return { 3, s[2], s[3] }
end

local generation = tonumber(s[4]) + 1
local grace = tonumber(ARGV[7])
redis.call('HSET', KEYS[1], 'rjti', ARGV[3], 'ajti', ARGV[4], 'aexp', ARGV[5],
  'gen', generation, 'seen', now)
local ttl = math.min(tonumber(ARGV[8]), tonumber(s[5]) - now)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], 'XX', now + ttl, ARGV[1])
-- Both replaced tokens lead to the new pair during the grace window: a
-- tab refreshing with the old refresh cookie while another tab's request
-- renewed (or the reverse) gets the same result, not a reuse alarm.
redis.call('SET', KEYS[3], ARGV[6], 'PX', grace)
local other = refresh and s[2] or s[1]
redis.call('SET', ARGV[11] .. other, ARGV[6], 'PX', grace)
blacklist(s[2], s[3], 'rotated', now + grace)
return { 1, generation, s[2], s[3] }
