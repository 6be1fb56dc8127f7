-- One page of users, oldest first, in one round trip.
-- KEYS[1] user index (sorted set)
-- ARGV[1] offset   ARGV[2] count   ARGV[3] user record key prefix (same {users} slot)
-- Returns {total, record1, record2, ...}, each record a flat field/value list.
local ids = redis.call('ZRANGE', KEYS[1], ARGV[1], tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1)
local out = { redis.call('ZCARD', KEYS[1]) }
for _, id in ipairs(ids) do
  local record = redis.call('HGETALL', ARGV[3] .. id)
  if #record > 0 then
    table.insert(out, record)
  end
end
return out
