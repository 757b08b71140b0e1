-- Replaces an account's counters for some windows with figures from PostgreSQL, if the caller
-- still holds the account's reconcile lock and the held set has not grown since the caller
-- looked; then marks the held ids the snapshot contains ('r') and releases lock and held set.
-- KEYS[1] lock, KEYS[2] held set, then keys referenced by index. ARGV[1] lock token, ARGV[2]
-- held-set size seen, ARGV[3] dedupe TTL, ARGV[4] a JSON plan; numbers travel as strings.
-- Returns 1 done, 0 lock lost, 2 held set changed (look again).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('SCARD', KEYS[2]) ~= tonumber(ARGV[2]) then return 2 end
local plan = cjson.decode(ARGV[4])
for _, k in ipairs(plan.del) do redis.call('DEL', KEYS[k]) end
for _, h in ipairs(plan.hashes) do
  local args = h[2]
  for i = 1, #args, 1000 do
    redis.call('HSET', KEYS[h[1]], unpack(args, i, math.min(i + 999, #args)))
  end
end
for _, x in ipairs(plan.expire) do redis.call('EXPIREAT', KEYS[x[1]], x[2]) end
for _, k in ipairs(plan.mark) do redis.call('SET', KEYS[k], 'r', 'EX', ARGV[3]) end
redis.call('DEL', KEYS[2])
redis.call('DEL', KEYS[1])
return 1
