-- Checks that a session is alive and its access token not revoked, and
-- slides the session's idle timeout: the Redis part of validating a
-- protected request. A function, so the request guard can run it in the
-- same script as the rate limits (one round trip).
-- touch(session key, user's session index key, blacklist key of the
--       presented access token, session id, idle timeout ms)
-- Returns {1, refresh generation, now ms} when valid; {0} when the session
-- has ended (revoked, idle too long, past its absolute lifetime); {2} when
-- the token is blacklisted and its grace period is over.
local function touch(session, index, blacklisted, sid, idle)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local effective = redis.call('HGET', blacklisted, 'effective')
  if effective and now >= tonumber(effective) then
    return { 2 }
  end
  local fields = redis.call('HMGET', session, 'abs', 'gen')
  if not fields[1] then
    redis.call('ZREM', index, sid)
    return { 0 }
  end
  local absolute = tonumber(fields[1])
  if now >= absolute then
    redis.call('DEL', session)
    redis.call('ZREM', index, sid)
    return { 0 }
  end
  local ttl = math.min(tonumber(idle), absolute - now)
  redis.call('HSET', session, 'seen', now)
  redis.call('PEXPIRE', session, ttl)
  redis.call('ZADD', index, 'XX', now + ttl, sid)
  return { 1, tonumber(fields[2]), now }
end
