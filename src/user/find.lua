-- Looks a user up by name and returns the record, in one round trip.
-- KEYS[1] username index (hash)   KEYS[2] user record key prefix (same {users} slot)
-- ARGV[1] lower-cased username
-- Returns the record as a flat field/value list, or an empty list.
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then
  return {}
end
return redis.call('HGETALL', KEYS[2] .. id)
