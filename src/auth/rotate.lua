-- Rotates a session's tokens: the one step of a refresh (or of a browser's
-- silent renewal) that must be atomic. Callers presenting a token that was
-- just rotated get the pair the first one produced; a refresh token
-- presented after its rotation's grace window is reuse, and ends the
-- session. Expects tokens.lua above.
-- KEYS[1] the session (hash)   KEYS[2] the user's session index
-- KEYS[3] the result of rotating the presented token (string, grace TTL)
-- KEYS[4] this user's blacklist key prefix (same {u:<id>} slot)
-- KEYS[5] this user's rotation result key prefix (same slot)
-- ARGV[1] session id   ARGV[2] presented token id
-- ARGV[3] new access token id   ARGV[4] new access token expiry ms
-- ARGV[5] the new pair, sealed   ARGV[6] grace ms   ARGV[7] idle timeout ms
-- (so far as renew.lua's)   ARGV[8] new refresh token id
-- ARGV[9] 'r' when a refresh token was presented, 'a' for an access token
-- Returns {1, new generation, replaced access token id, its expiry} when
-- rotated; {2, sealed pair} when another caller already rotated; {3,
-- access token id, its expiry} on refresh token reuse (session ended); {4}
-- when a presented access token is not the current one (nothing to do);
-- {0} when the session has ended.
local cached = redis.call('GET', KEYS[3])
if cached then
  return { 2, cached }
end
local now = now_ms()
local s = live_session(KEYS[1], KEYS[2], ARGV[1], now, { 'rjti', 'ajti', 'aexp', 'gen' })
if not s then
  return { 0 }
end
local absolute, rjti, ajti, aexp, gen = s[1], s[2], s[3], s[4], s[5]

local refresh = ARGV[9] == 'r'
if (refresh and rjti or ajti) ~= ARGV[2] then
  if not refresh then
    return { 4 }
  end
  blacklist(KEYS[4], ajti, ARGV[1], 'reuse_detected', now, now, aexp)
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return { 3, ajti, aexp }
end

local generation = tonumber(gen) + 1
local grace = tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'rjti', ARGV[8], 'ajti', ARGV[3], 'aexp', ARGV[4],
  'gen', generation, 'seen', now)
slide(KEYS[1], KEYS[2], ARGV[1], ARGV[7], absolute, now)
-- Both replaced tokens lead to the new pair during the grace window: a
-- tab refreshing with the old refresh cookie while another tab's request
-- renewed (or the reverse) gets the same result, not a reuse alarm.
redis.call('SET', KEYS[3], ARGV[5], 'PX', grace)
redis.call('SET', KEYS[5] .. (refresh and ajti or rjti), ARGV[5], 'PX', grace)
blacklist(KEYS[4], ajti, ARGV[1], 'rotated', now, now + grace, aexp)
return { 1, generation, ajti, aexp }
