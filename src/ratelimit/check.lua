-- Checks a request against several policies at once: nothing is counted
-- unless every policy allows it (no budget leaks from a request another
-- policy rejected). Expects the algorithms above and POLICIES, the
-- configured policies as {algorithm, limit, window ms, burst} (algorithm
-- 1: sliding log, 2: sliding counter, 3: GCRA), in the limiter's order.
-- check(keys, first key, args, first arg, now ms, out)
--   keys from `first key`: one per check, then the subject index (when
--   index members are given: the subjects due to be listed again), then
--   the replay nonce key (optional).
--   args from `first arg`: commit ('1'/'0'), unique suffix, check count
--   n, index member count m, nonce TTL ms; then m (member, its longest
--   window ms) pairs; then per check: policy number (1-based), cost.
-- Appends to `out`: replayed (0/1), then per check: allowed (0/1),
-- remaining, reset ms, retry-after ms (-1: never).
local READ = { log_read, counter_read, gcra_read }
local COUNT = { log_count, counter_count, gcra_count }

local function check(keys, k, args, a, now, out)
  local commit = args[a] == '1'
  local suffix = args[a + 1]
  local n = tonumber(args[a + 2])
  local m = tonumber(args[a + 3])
  local index_key = m > 0 and keys[k + n] or nil
  local nonce_key = keys[k + n + (m > 0 and 1 or 0)]
  local o = #out
  if commit and nonce_key then
    if not redis.call('SET', nonce_key, 1, 'NX', 'PX', args[a + 4]) then
      out[o + 1] = 1
      return out
    end
  end
  out[o + 1] = 0
  local first = a + 5 + 2 * m
  local policies, costs, states = {}, {}, {}
  local all = true
  for i = 1, n do
    local p = POLICIES[tonumber(args[first + 2 * i - 2])]
    local cost = tonumber(args[first + 2 * i - 1])
    local allowed, remaining, reset, retry, state =
      READ[p[1]](keys[k + i - 1], now, p[2], p[3], p[4], cost)
    local at = o + 4 * i - 2
    out[at], out[at + 1], out[at + 2], out[at + 3] = allowed and 1 or 0, remaining, reset, retry
    policies[i], costs[i], states[i] = p, cost, state
    all = all and allowed
  end
  -- Each policy was read once; only if all allow (and something is
  -- spent) is the request counted against every one of them.
  if all and commit then
    for i = 1, n do
      local p, cost = policies[i], costs[i]
      if cost > 0 then
        local at = o + 4 * i - 1
        local remaining, reset =
          COUNT[p[1]](keys[k + i - 1], now, p[2], p[3], p[4], cost, states[i], suffix)
        out[at] = remaining
        if reset then
          out[at + 1] = reset
        end
      end
    end
  end
  -- Rejected or not, these subjects have live windows: keep them listed
  -- until their longest window ends. The caller passes a subject at most
  -- once a second (the index is advisory), so this is no read per request.
  if commit and index_key then
    for j = 0, m - 1 do
      redis.call('ZADD', index_key, 'GT', now + tonumber(args[a + 6 + 2 * j]), args[a + 5 + 2 * j])
    end
  end
  return out
end
