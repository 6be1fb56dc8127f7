-- Takes a sign-in challenge out of Redis, so that it is redeemed once.
-- KEYS[1] the challenge (hash: u username, s salt, d difficulty)
-- Returns {username, salt, difficulty}, or {} when there is no such
-- challenge (never issued, expired or already taken).
local fields = redis.call('HMGET', KEYS[1], 'u', 's', 'd')
if not fields[1] then
  return {}
end
redis.call('DEL', KEYS[1])
return fields
