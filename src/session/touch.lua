-- Checks that a session is alive, its access token not revoked and its
-- user not disabled, reads the user's current roles, and slides the
-- session's idle timeout: the Redis part of admitting a protected
-- request. A function, so admission can run it in the same script as the
-- rate limits (one round trip).
-- touch(session key, user's session index key, blacklist key of the
--       presented access token, the user's roles key, the user's disabled
--       marker, session id, idle timeout ms)
-- Returns {1, refresh generation, now ms, 1 if the user must change the
-- password before anything else (else 0), roles or nil} when valid (roles
-- are nil for a user whose roles key predates it); {0} when the session
-- has ended (revoked, idle too long, past its absolute lifetime); {2}
-- when the token is blacklisted and its grace period is over; {3} when
-- the user is disabled.
--
-- The slide (last-seen time, TTL and index score, always together) is
-- written at most once a second (or a tenth of the idle timeout, if that
-- is shorter) per session: a busy client's other requests only read,
-- which keeps the idle timeout exact to that step and the per-request
-- Redis work small.
local function touch(session, index, blacklisted, roles, disabled, sid, idle)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local effective = redis.call('HGET', blacklisted, 'effective')
  if effective and now >= tonumber(effective) then
    return { 2 }
  end
  if redis.call('EXISTS', disabled) == 1 then
    return { 3 }
  end
  local fields = redis.call('HMGET', session, 'abs', 'gen', 'seen', 'pw')
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
  local step = math.min(1000, math.floor(tonumber(idle) / 10))
  if now - tonumber(fields[3] or '0') >= step then
    local ttl = math.min(tonumber(idle), absolute - now)
    redis.call('HSET', session, 'seen', now)
    redis.call('PEXPIRE', session, ttl)
    redis.call('ZADD', index, 'XX', now + ttl, sid)
  end
  local must_change = 0
  if fields[4] == '1' then
    must_change = 1
  end
  return { 1, tonumber(fields[2]), now, must_change, redis.call('GET', roles) }
end
