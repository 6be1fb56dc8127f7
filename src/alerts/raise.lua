-- Raises an alert, or adds a match to the open alert of the same rule and
-- subject, atomically: however many instances see matches at once, one
-- alert is raised and the others count.
-- KEYS[1] the rules' settings (hash)   KEYS[2] the alerts (hash id -> JSON)
-- KEYS[3] alert ids by latest match (zset)
-- KEYS[4] open alert per '<rule> <subject>' (hash)
-- KEYS[5] open alert ids by latest match (zset)
-- KEYS[6] the gate's key: the minute's counter (per_minute), the user's
--         addresses (new_address); unused for 'always'
-- ARGV[1] rule  ARGV[2] subject  ARGV[3] enabled by default (1/0)
-- ARGV[4] default threshold  ARGV[5] gate: always | per_minute | new_address
-- ARGV[6] weight (occurrences)  ARGV[7] now (ms)  ARGV[8] a new alert id
-- ARGV[9] the new alert's JSON (without id, times, count, state)
-- ARGV[10] dedup window (ms)  ARGV[11] retention (ms)  ARGV[12] most kept
-- ARGV[13] the address (new_address)  ARGV[14] how long an address is
--          remembered (ms)
-- Returns {0} nothing raised (rule off, below threshold, known address),
-- {2, id} added to an open alert, {1, id, json} a new alert.
local rule, subject = ARGV[1], ARGV[2]
local enabled = redis.call('HGET', KEYS[1], rule .. ':enabled') or ARGV[3]
if enabled ~= '1' then
  return {0}
end
local now = tonumber(ARGV[7])
local weight = tonumber(ARGV[6])
local gate = ARGV[5]
if gate == 'per_minute' then
  local threshold = tonumber(redis.call('HGET', KEYS[1], rule .. ':threshold') or ARGV[4])
  local total = redis.call('INCRBY', KEYS[6], weight)
  redis.call('PEXPIRE', KEYS[6], 120000)
  if total < threshold then
    return {0}
  end
  if total - weight < threshold then
    weight = total -- the crossing match counts the whole minute so far
  end
elseif gate == 'new_address' then
  local remember = tonumber(ARGV[14])
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - remember)
  local known = redis.call('ZCARD', KEYS[6])
  local seen = redis.call('ZSCORE', KEYS[6], ARGV[13])
  redis.call('ZADD', KEYS[6], now, ARGV[13])
  redis.call('PEXPIRE', KEYS[6], remember)
  -- The first address is learned, not alerted on.
  if seen or known == 0 then
    return {0}
  end
end

local dedup = rule .. ' ' .. subject
local open_id = redis.call('HGET', KEYS[4], dedup)
if open_id then
  local json = redis.call('HGET', KEYS[2], open_id)
  if json then
    local alert = cjson.decode(json)
    if alert.state == 'open' and now - alert.last_at_ms < tonumber(ARGV[10]) then
      alert.count = alert.count + weight
      alert.last_at_ms = math.max(alert.last_at_ms, now)
      redis.call('HSET', KEYS[2], open_id, cjson.encode(alert))
      redis.call('ZADD', KEYS[3], alert.last_at_ms, open_id)
      redis.call('ZADD', KEYS[5], alert.last_at_ms, open_id)
      return {2, open_id}
    end
  end
end

local id = ARGV[8]
local alert = cjson.decode(ARGV[9])
alert.alert_id = id
alert.first_at_ms = now
alert.last_at_ms = now
alert.count = weight
alert.state = 'open'
local json = cjson.encode(alert)
redis.call('HSET', KEYS[2], id, json)
redis.call('HSET', KEYS[4], dedup, id)
redis.call('ZADD', KEYS[3], now, id)
redis.call('ZADD', KEYS[5], now, id)

-- Bounded: alerts past the retention go, then the oldest past the cap.
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[11]))
local over = redis.call('ZCARD', KEYS[3]) - #gone - tonumber(ARGV[12])
if over > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[3], #gone, #gone + over - 1)) do
    gone[#gone + 1] = old
  end
end
for _, old in ipairs(gone) do
  local old_json = redis.call('HGET', KEYS[2], old)
  if old_json then
    local o = cjson.decode(old_json)
    local key = o.rule .. ' ' .. o.subject
    if redis.call('HGET', KEYS[4], key) == old then
      redis.call('HDEL', KEYS[4], key)
    end
  end
  redis.call('HDEL', KEYS[2], old)
  redis.call('ZREM', KEYS[3], old)
  redis.call('ZREM', KEYS[5], old)
end
for i = 2, 5 do
  redis.call('PEXPIRE', KEYS[i], ARGV[11])
end
return {1, id, json}
