-- Ends every session of a user ("sign out everywhere"), atomically: a
-- session being created concurrently is either ended too or created after.
-- KEYS[1] the user's session index (sorted set)
-- KEYS[2] session key prefix of this user (same {u:<id>} slot)
-- ARGV[1] a session id to keep, or '' to end them all
-- Returns {session id, access token id, its expiry ms} triples, flattened,
-- for the sessions ended.
local ended = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if sid ~= ARGV[1] then
    local key = KEYS[2] .. sid
    local token = redis.call('HMGET', key, 'ajti', 'aexp')
    if token[1] then
      table.insert(ended, sid)
      table.insert(ended, token[1])
      table.insert(ended, token[2])
      redis.call('DEL', key)
    end
    redis.call('ZREM', KEYS[1], sid)
  end
end
return ended
