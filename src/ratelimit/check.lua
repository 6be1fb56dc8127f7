-- Checks a request against several policies at once: nothing is counted
-- unless every policy allows it (no budget leaks from a request another
-- policy rejected). Expects sliding_log, sliding_counter and gcra above.
-- check(KEYS, first key, ARGV, first arg, now ms or nil to read TIME):
--   keys from `first key`: one per policy, then the subject index (when
--   index members are given: the subjects due to be listed again), then
--   the replay nonce key (optional).
--   args from `first arg`: commit ('1'/'0'), unique suffix, policy count n,
--   index member count m, nonce TTL ms; then m (member, its longest window ms) pairs;
--   then per policy: algorithm ('log', 'counter', 'gcra'), limit,
--   window ms, burst, cost.
-- Returns {replayed 0/1, then per policy: allowed, limit, remaining,
-- reset ms, retry-after ms}.
local function check(keys, k, argv, a, now)
  local algorithms = { log = sliding_log, counter = sliding_counter, gcra = gcra }
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  local commit = argv[a] == '1'
  local suffix = argv[a + 1]
  local n = tonumber(argv[a + 2])
  local m = tonumber(argv[a + 3])
  local index_key = m > 0 and keys[k + n] or nil
  local nonce_key = keys[k + n + (m > 0 and 1 or 0)]
  local first_policy = a + 5 + 2 * m

  if commit and nonce_key then
    if not redis.call('SET', nonce_key, 1, 'NX', 'PX', argv[a + 4]) then
      return { 1 }
    end
  end

  local function run(i)
    local p = first_policy + (i - 1) * 5
    return algorithms[argv[p]](keys[k + i - 1], now, tonumber(argv[p + 1]), tonumber(argv[p + 2]),
      tonumber(argv[p + 3]), tonumber(argv[p + 4]), suffix)
  end

  -- Each policy is read once; only if all allow is the request counted
  -- against every one of them (no budget leaks from a refused request).
  local results, writes = {}, {}
  local all = true
  for i = 1, n do
    results[i], writes[i] = run(i)
    if results[i][1] == 0 then
      all = false
    end
  end
  if all and commit then
    for i = 1, n do
      writes[i]()
    end
  end
  -- Rejected or not, these subjects have live windows: keep them listed
  -- until their longest window ends. The caller passes a subject at most
  -- once a second (the index is advisory), so this is no read per request.
  if commit and index_key then
    for j = 0, m - 1 do
      redis.call('ZADD', index_key, 'GT', now + tonumber(argv[a + 6 + 2 * j]), argv[a + 5 + 2 * j])
    end
  end
  local out = { 0 }
  for i = 1, n do
    for j = 1, 5 do
      table.insert(out, results[i][j])
    end
  end
  return out
end
