-- Ends one session and removes it from its user's index.
-- KEYS[1] the session (hash)   KEYS[2] the user's session index (sorted set)
-- ARGV[1] session id
-- Returns the session's access token id when it existed, else false.
local ajti = redis.call('HGET', KEYS[1], 'ajti')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return ajti
