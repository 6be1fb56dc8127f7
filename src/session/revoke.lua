-- Ends one session and removes it from its user's index.
-- KEYS[1] the session (hash)   KEYS[2] the user's session index (sorted set)
-- ARGV[1] session id
-- Returns {access token id, its expiry ms} when the session existed,
-- else an empty list.
local token = redis.call('HMGET', KEYS[1], 'ajti', 'aexp')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if not token[1] then
  return {}
end
return { token[1], token[2] }
