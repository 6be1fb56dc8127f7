-- Counts one attempt at a second-factor ticket before its code is
-- checked, so that however many attempts race, at most the limit are
-- checked; the attempt past the limit voids the ticket.
-- KEYS[1] the ticket (hash: u user id, m methods, n attempts, s the
--         session a step-up ticket raises)
-- ARGV[1] most attempts
-- Returns {user id, methods, session id or ''}, or {} when the ticket is
-- unknown, expired, taken or used up.
local fields = redis.call('HMGET', KEYS[1], 'u', 'm', 's')
if not fields[1] then
  return {}
end
if redis.call('HINCRBY', KEYS[1], 'n', 1) > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return {}
end
return {fields[1], fields[2], fields[3] or ''}
