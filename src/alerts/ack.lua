-- Acknowledges an alert: its state, who and when, and the end of its
-- deduplication (the next match raises a new alert).
-- KEYS[1] the alerts (hash id -> JSON)
-- KEYS[2] open alert per '<rule> <subject>' (hash)
-- KEYS[3] open alert ids by latest match (zset)
-- ARGV[1] alert id  ARGV[2] by (admin username)  ARGV[3] now (ms)
-- Returns nil when there is no such alert, {1, json} when acknowledged
-- now, {0, json} when it already was.
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then
  return nil
end
local alert = cjson.decode(json)
if alert.state ~= 'open' then
  return {0, json}
end
alert.state = 'acknowledged'
alert.acknowledged_by = ARGV[2]
alert.acknowledged_at_ms = tonumber(ARGV[3])
json = cjson.encode(alert)
redis.call('HSET', KEYS[1], ARGV[1], json)
redis.call('ZREM', KEYS[3], ARGV[1])
local key = alert.rule .. ' ' .. alert.subject
if redis.call('HGET', KEYS[2], key) == ARGV[1] then
  redis.call('HDEL', KEYS[2], key)
end
return {1, json}
