-- Writes a resource only if the writer's fencing token is at least the
-- highest one seen: a holder whose lock expired (and was taken by someone
-- with a newer token) can no longer write. Kleppmann's fencing.
-- KEYS[1] the resource's value   KEYS[2] its highest fencing token
-- ARGV[1] the writer's fencing token   ARGV[2] the value
-- Returns 1 when written, 0 when rejected as stale.
local token = tonumber(ARGV[1])
local highest = tonumber(redis.call('GET', KEYS[2]) or '0')
if token < highest then
  return 0
end
redis.call('SET', KEYS[2], token)
redis.call('SET', KEYS[1], ARGV[2])
return 1
