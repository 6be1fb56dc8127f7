-- Creates a user and claims its username, atomically: two concurrent
-- creations of the same name cannot both succeed.
-- KEYS[1] username index (hash: lower-cased name -> id)
-- KEYS[2] the new user's record (hash)
-- KEYS[3] user index (sorted set: id scored by creation time)
-- ARGV[1] lower-cased username   ARGV[2] user id
-- ARGV[3] username as typed       ARGV[4] password hash (PHC string)
-- ARGV[5] roles, comma-separated
-- Returns the creation time in ms, or 0 when the name is taken.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[2],
  'id', ARGV[2], 'name', ARGV[3], 'hash', ARGV[4], 'roles', ARGV[5],
  'disabled', '0', 'created', now, 'updated', now)
redis.call('ZADD', KEYS[3], now, ARGV[2])
return now
