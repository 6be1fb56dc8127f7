-- Sliding-window log: exact. The key is a sorted set of request
-- timestamps; each call drops those older than the window and counts the
-- rest. Its contents are what the console draws as a request window.
-- log_read(key, now ms, limit, window ms, burst (unused), cost)
-- Returns allowed (boolean), remaining, reset ms, retry-after ms (-1:
-- never) and what log_count needs (the count).
local function log_read(key, now, limit, window, _, cost)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local allowed = count + cost <= limit
  local retry = 0
  if not allowed then
    if cost > limit then
      retry = -1
    else
      -- The excess-th oldest entry has to leave the window first.
      local excess = count + cost - limit
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
  return allowed, math.max(0, limit - count), reset, retry, count
end

-- log_count(key, now, limit, window, burst, cost, count, unique suffix)
-- Counts the request (called only when every policy allowed it); returns
-- the new remaining count (the oldest entry, and so the reset, is the
-- same).
local function log_count(key, now, limit, window, _, cost, count, suffix)
  for i = 1, cost do
    redis.call('ZADD', key, now, now .. ':' .. suffix .. ':' .. i)
  end
  redis.call('PEXPIRE', key, window)
  return math.max(0, limit - count - cost)
end
