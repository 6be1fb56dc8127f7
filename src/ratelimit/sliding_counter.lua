-- Sliding-window counter: two fixed buckets, the previous one weighted
-- by how much of it still overlaps the sliding window. O(1) memory (one
-- small hash per key), for high-volume keys such as per-IP limits.
-- sliding_counter(key, now ms, limit, window ms, burst (unused), cost)
-- Returns {allowed 0/1, limit, remaining, reset ms, retry-after ms} and a
-- function that counts the request (see sliding_log).
local function sliding_counter(key, now, limit, window, _, cost)
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
  local result = { allowed and 1 or 0, limit, math.max(0, math.floor(limit - estimate)), reset, retry }
  local function write()
    if cost > 0 then
      -- The first count of a bucket drops the one before the previous and
      -- sets the TTL to two windows from now, which outlives the bucket and
      -- the next one (where it is the weighted previous): later counts in
      -- the same bucket need neither.
      if redis.call('HINCRBY', key, bucket, cost) == cost then
        redis.call('HDEL', key, bucket - 2)
        redis.call('PEXPIRE', key, 2 * window)
      end
      result[3] = math.max(0, math.floor(limit - estimate - cost))
    end
  end
  return result, write
end
