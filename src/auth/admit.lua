-- admit: the Redis part of admitting a request in one call on one server
-- (or a Sentinel primary): the session's touch, then, for a live session
-- only, every rate-limit policy that applies (see check).
-- KEYS: touch's five keys, then check's. ARGV: session id, idle timeout
-- ms, then check's arguments.
-- Returns touch's reply, followed for a live session by check's.
local function admit(keys, args)
  local out = touched(keys, args, now_ms())
  if out[1] ~= 1 then
    return out
  end
  return check(keys, 6, args, 3, out[3], out)
end
