-- One page of users, oldest first, in one round trip.
-- KEYS[1] user index (sorted set)   KEYS[2] user record key prefix (same {users} slot)
-- ARGV[1] offset   ARGV[2] count
-- Returns {total, record1, record2, ...}, each record a flat field/value list.
local ids = redis.call('ZRANGE', KEYS[1], ARGV[1], tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1)
local out = { redis.call('ZCARD', KEYS[1]) }
for _, id in ipairs(ids) do
  local record = redis.call('HGETALL', KEYS[2] .. id)
  if #record > 0 then
    table.insert(out, record)
  end
end
return out
