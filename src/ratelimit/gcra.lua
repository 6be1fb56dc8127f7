-- GCRA (generic cell rate algorithm, as in redis-cell and redis_rate): a
-- smooth rate of `limit` per `window` with bursts of up to `burst`. The
-- key holds one number, the theoretical arrival time (TAT).
-- gcra(key, now ms, limit, window ms, burst, cost)
-- Returns {allowed 0/1, burst, remaining, reset ms, retry-after ms} and a
-- function that counts the request (see sliding_log).
local function gcra(key, now, limit, window, burst, cost)
  local interval = window / limit
  local tolerance = interval * burst
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then
    tat = now
  end
  local new_tat = tat + interval * cost
  local allow_at = new_tat - tolerance
  if now < allow_at then
    local retry = math.ceil(allow_at - now)
    if interval * cost > tolerance then
      retry = -1
    end
    return { 0, burst, 0, math.ceil(tat - now), retry }, function() end
  end
  local remaining = math.floor((now + tolerance - tat) / interval)
  local result = { 1, burst, math.max(0, remaining), math.ceil(tat - now), 0 }
  local function write()
    if cost > 0 then
      redis.call('SET', key, new_tat, 'PX', math.max(1, math.ceil(new_tat - now)))
      result[3] = math.max(0, math.floor((now + tolerance - new_tat) / interval))
      result[4] = math.ceil(new_tat - now)
    end
  end
  return result, write
end
