-- Creates a session and indexes it under its user, atomically with the
-- "disabled" check, the clean-up of expired index entries and the
-- eviction of the least recently used sessions over the per-user cap.
-- KEYS[1] the new session (hash)         KEYS[2] the user's session index (sorted set)
-- KEYS[3] the user's "disabled" marker   KEYS[4] the user's password generation
-- KEYS[5] session key prefix of this user (evicted sessions are deleted by
--         id; the keys share KEYS[2]'s {u:<id>} slot)
-- ARGV[1] session id   ARGV[2] user id   ARGV[3] IP   ARGV[4] device label
-- ARGV[5] refresh token id   ARGV[6] access token id
-- ARGV[7] idle timeout ms    ARGV[8] absolute lifetime ms
-- ARGV[9] max sessions per user
-- ARGV[10] the access token's expiry (ms since the epoch)
-- ARGV[11] '1' if the user must change the password first, else '0'
-- ARGV[12] the password generation the sign-in verified
-- ARGV[13] '1' if the user must enrol a second factor first, else '0'
-- Returns {created ms, absolute expiry ms, evicted count}, {-1} when the
-- user is disabled, or {-2} when the password was set again since it was
-- verified (the sign-in used a password that no longer holds).
if redis.call('EXISTS', KEYS[3]) == 1 then
  return { -1 }
end
if tonumber(redis.call('GET', KEYS[4]) or '0') > tonumber(ARGV[12]) then
  return { -2 }
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local idle = tonumber(ARGV[7])
local absolute = tonumber(ARGV[8])

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local evicted = 0
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[9]) + 1
if over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #popped, 2 do
    redis.call('DEL', KEYS[5] .. popped[i])
    evicted = evicted + 1
  end
end

local ttl = math.min(idle, absolute)
redis.call('HSET', KEYS[1],
  'uid', ARGV[2], 'created', now, 'seen', now, 'ip', ARGV[3], 'dev', ARGV[4],
  'gen', 0, 'rjti', ARGV[5], 'ajti', ARGV[6], 'aexp', ARGV[10], 'abs', now + absolute,
  'pw', ARGV[11], 'mfa', ARGV[13])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[2]) < absolute then
  redis.call('PEXPIRE', KEYS[2], absolute)
end
return { now, now + absolute, evicted }
