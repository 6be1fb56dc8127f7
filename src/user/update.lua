-- Changes fields of an existing user (never creates one).
-- KEYS[1] user record (hash)
-- ARGV: field, value, field, value, ...
-- Returns 1 when updated, 0 when the user does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'updated', now, unpack(ARGV))
return 1
