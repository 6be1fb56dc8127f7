-- Sliding-window log: exact. The key is a sorted set of request
-- timestamps; each call drops those older than the window and counts the
-- rest. Its contents are what the console draws as a request window.
-- sliding_log(key, now ms, limit, window ms, burst (unused), cost,
--             unique member suffix)
-- Returns {allowed 0/1, limit, remaining, reset ms, retry-after ms} and a
-- function that counts the request (updating `remaining`); the caller
-- calls it only when every policy allows the request.
local function sliding_log(key, now, limit, window, _, cost, suffix)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local allowed = count + cost <= limit
  local retry = 0
  if not allowed then
    local excess = count + cost - limit
    if cost > limit then
      retry = -1
    else
      -- The excess-th oldest entry has to leave the window first.
      local entry = redis.call('ZRANGE', key, excess - 1, excess - 1, 'WITHSCORES')
      retry = math.max(1, tonumber(entry[2]) + window - now)
    end
  end
  -- The oldest entry stays the oldest after counting (new ones are newer);
  -- with none, the window frees a full window from now.
  local reset = window
  if count > 0 then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    reset = tonumber(oldest[2]) + window - now
  end
  local result = { allowed and 1 or 0, limit, math.max(0, limit - count), reset, retry }
  local function write()
    if cost > 0 then
      for i = 1, cost do
        redis.call('ZADD', key, now, now .. ':' .. suffix .. ':' .. i)
      end
      redis.call('PEXPIRE', key, window)
      result[3] = math.max(0, limit - count - cost)
    end
  end
  return result, write
end
