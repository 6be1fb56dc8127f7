-- Raises the user's password generation (in the user's slot) to ARGV[1],
-- never lowering it: two resets racing leave the higher one.
-- KEYS[1] the generation key
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
