-- GCRA (generic cell rate algorithm, as in redis-cell and redis_rate): a
-- smooth rate of `limit` per `window` with bursts of up to `burst`. The
-- key holds one number, the theoretical arrival time (TAT).
-- gcra_read(key, now ms, limit, window ms, burst, cost)
-- Returns allowed (boolean), remaining, reset ms, retry-after ms (-1:
-- never) and what gcra_count needs (the TAT).
local function gcra_read(key, now, limit, window, burst, cost)
  local interval = window / limit
  local tolerance = interval * burst
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then
    tat = now
  end
  local allow_at = tat + interval * cost - tolerance
  if now < allow_at then
    local retry = math.ceil(allow_at - now)
    if interval * cost > tolerance then
      retry = -1
    end
    return false, 0, math.ceil(tat - now), retry, tat
  end
  local remaining = math.floor((now + tolerance - tat) / interval)
  return true, math.max(0, remaining), math.ceil(tat - now), 0, tat
end

-- gcra_count(key, now, limit, window, burst, cost, tat)
-- Counts the request; returns the new remaining count and reset.
local function gcra_count(key, now, limit, window, burst, cost, tat)
  local interval = window / limit
  local new_tat = tat + interval * cost
  redis.call('SET', key, new_tat, 'PX', math.max(1, math.ceil(new_tat - now)))
  return math.max(0, math.floor((now + interval * burst - new_tat) / interval)),
    math.ceil(new_tat - now)
end
