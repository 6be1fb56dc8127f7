-- Sliding-window counter: two fixed buckets, the previous one weighted
-- by how much of it still overlaps the sliding window. O(1) memory (one
-- small hash per key), for high-volume keys such as per-IP limits.
-- counter_read(key, now ms, limit, window ms, burst (unused), cost)
-- Returns allowed (boolean), remaining, reset ms, retry-after ms (-1:
-- never) and what counter_count needs (the estimate).
local function counter_read(key, now, limit, window, _, cost)
  local bucket = math.floor(now / window)
  local into = now - bucket * window
  local counts = redis.call('HMGET', key, bucket, bucket - 1)
  local current = tonumber(counts[1] or '0')
  local previous = tonumber(counts[2] or '0')
  local estimate = previous * (window - into) / window + current
  local allowed = estimate + cost <= limit
  local reset = window - into
  local retry = 0
  if not allowed then
    if cost > limit then
      retry = -1
    elseif previous > 0 and limit - current - cost >= 0 then
      -- Wait until the previous bucket's weight has decayed enough.
      local weight = (limit - current - cost) / previous
      retry = math.max(1, math.ceil(window * (1 - weight) - into))
    elseif current > 0 then
      -- Next bucket: the current one becomes the weighted previous one.
      local weight = math.max(0, (limit - cost) / current)
      retry = math.max(1, math.ceil(reset + window * (1 - weight)))
    else
      retry = reset
    end
  end
  return allowed, math.max(0, math.floor(limit - estimate)), reset, retry, estimate
end

-- counter_count(key, now, limit, window, burst, cost, estimate)
-- Counts the request; returns the new remaining count (the reset is the
-- bucket's end, as read).
local function counter_count(key, now, limit, window, _, cost, estimate)
  local bucket = math.floor(now / window)
  -- The first count of a bucket drops the one before the previous and
  -- sets the TTL to two windows from now, which outlives the bucket and
  -- the next one (where it is the weighted previous): later counts in the
  -- same bucket need neither.
  if redis.call('HINCRBY', key, bucket, cost) == cost then
    redis.call('HDEL', key, bucket - 2)
    redis.call('PEXPIRE', key, 2 * window)
  end
  return math.max(0, math.floor(limit - estimate - cost))
end
