-- Checks that a session is alive, its access token not revoked and its
-- user not disabled, reads the user's current roles, and slides the
-- session's idle timeout: the Redis part of admitting a protected
-- request. A function, so admission can run it in the same call as the
-- rate limits (one round trip).
-- touch(session key, user's session index key, blacklist key of the
--       presented access token, the user's roles key, the user's disabled
--       marker, session id, idle timeout ms, now ms)
-- Returns 1, the refresh generation, what the session must do before
-- anything else (1: change the password, 2: enrol a second factor; both
-- added up), and the roles (false for a
-- user whose roles key predates it) when valid; 0 when the session has
-- ended (revoked, idle too long, past its absolute lifetime); 2 when the
-- token is blacklisted and its grace period is over; 3 when the user is
-- disabled.
--
-- The slide (last-seen time, TTL and index score, always together) is
-- written at most once a second (or a tenth of the idle timeout, if that
-- is shorter) per session: a busy client's other requests only read,
-- which keeps the idle timeout exact to that step and the per-request
-- Redis work small.
local function touch(session, index, blacklisted, roles, disabled, sid, idle, now)
  local effective = redis.call('HGET', blacklisted, 'effective')
  if effective and now >= tonumber(effective) then
    return 2
  end
  if redis.call('EXISTS', disabled) == 1 then
    return 3
  end
  local fields = redis.call('HMGET', session, 'abs', 'gen', 'seen', 'pw', 'mfa')
  if not fields[1] then
    redis.call('ZREM', index, sid)
    return 0
  end
  local absolute = tonumber(fields[1])
  if now >= absolute then
    redis.call('DEL', session)
    redis.call('ZREM', index, sid)
    return 0
  end
  local step = math.min(1000, math.floor(idle / 10))
  if now - tonumber(fields[3] or '0') >= step then
    local ttl = math.min(idle, absolute - now)
    redis.call('HSET', session, 'seen', now)
    redis.call('PEXPIRE', session, ttl)
    redis.call('ZADD', index, 'XX', now + ttl, sid)
  end
  local pending = (fields[4] == '1' and 1 or 0) + (fields[5] == '1' and 2 or 0)
  return 1, tonumber(fields[2]), pending, redis.call('GET', roles)
end

-- The reply of a touch on its own and the head of admission's: {status}
-- or {1, generation, now ms, pending, roles or nil}.
local function touched(keys, args, now)
  local status, generation, must_change, roles =
    touch(keys[1], keys[2], keys[3], keys[4], keys[5], args[1], tonumber(args[2]), now)
  if status ~= 1 then
    return { status }
  end
  return { 1, generation, now, must_change, roles }
end
