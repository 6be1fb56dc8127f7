-- Helpers shared by rotate.lua and renew.lua (prepended to both).

-- Milliseconds since the epoch, by Redis's clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The session's absolute expiry followed by `fields`, or nil when the
-- session has ended (an expired one is cleaned up on the way).
local function live_session(session, index, sid, now, fields)
  local values = redis.call('HMGET', session, 'abs', unpack(fields))
  if not values[1] or now >= tonumber(values[1]) then
    redis.call('DEL', session)
    redis.call('ZREM', index, sid)
    return nil
  end
  return values
end

-- Slides the idle timeout after a use.
local function slide(session, index, sid, idle, absolute, now)
  local ttl = math.min(tonumber(idle), tonumber(absolute) - now)
  redis.call('PEXPIRE', session, ttl)
  redis.call('ZADD', index, 'XX', now + ttl, sid)
end

-- Blacklists an access token until it expires; it is refused from
-- `effective` on.
local function blacklist(prefix, jti, sid, reason, now, effective, expires)
  local remaining = tonumber(expires) - now
  if remaining > 0 then
    local key = prefix .. jti
    redis.call('HSET', key, 'sid', sid, 'reason', reason, 'revoked', now,
      'effective', effective, 'expires', expires)
    redis.call('PEXPIRE', key, remaining)
  end
end

