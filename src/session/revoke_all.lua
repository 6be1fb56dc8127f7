-- Ends every session of a user ("sign out everywhere"), atomically: a
-- session being created concurrently is either ended too or created after.
-- KEYS[1] the user's session index (sorted set)
-- ARGV[1] session key prefix of this user (same {u:<id>} slot)
-- ARGV[2] a session id to keep, or '' to end them all
-- Returns {session id, access token id} pairs of the sessions ended.
local ended = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if sid ~= ARGV[2] then
    local key = ARGV[1] .. sid
    local ajti = redis.call('HGET', key, 'ajti')
    if ajti then
      table.insert(ended, sid)
      table.insert(ended, ajti)
      redis.call('DEL', key)
    end
    redis.call('ZREM', KEYS[1], sid)
  end
end
return ended
