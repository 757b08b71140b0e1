-- Records a group of events of ONE account atomically: for each event, SET NX its dedupe key; the
-- records the events add to come summed by the writer (recordScriptCall in hot-record.ts), one per
-- hash field, so the script reads each field it touches with one HMGET per hash, adds, and writes
-- them back with one HSET (see hot-keys.ts for the layout). A field not stored yet is written as
-- sent. Per event the script does one command and no string work: parsing and formatting records
-- is what its CPU goes to (issue 26), so an event costs it nothing beyond its dedupe key.
--
-- The sums hold the events the writer expected to be new (ARGV[5]: one character per event, '1'
-- summed, '0' not). If the dedupe keys say otherwise (a repeat, or a race with another writer),
-- the script undoes the keys it set, writes nothing, and returns a string of one character per
-- event, '1' new and '0' already seen: the writer sums those again and calls once more.
--
-- While the account is being reconciled (its lock exists) nothing is counted: new request ids are
-- remembered in the held set and reported as -1 so the writer retries after the rebuild. The
-- reconciler marks the held ids that its PostgreSQL snapshot already contains with dedupe value
-- 'r': the first retry of such an id reports it as counted (1) without adding it again.
--
-- KEYS and ARGV: built by recordScriptCall() in hot-record.ts, whose layout test runs this file.
-- KEYS[1] reconcile lock, KEYS[2] held set, then per window w: KEYS[1+2w] counters hash,
-- KEYS[2+2w] key-counters hash (window 1 is all time), then KEYS[2+2nW+e] the dedupe key of
-- event e. ARGV: dedupe TTL, nW, nE, nC (the number of counters: COUNTER_FIELDS in hot-keys.ts),
-- the summed-events string, per window 3 values: its EXPIREAT (0: none), the number of fields of
-- its counters hash and of its key-counters hash; per event its request id; then per window the
-- (field, sum) pairs of its counters hash, then those of its key-counters hash. A sum is a stored
-- record (hot-keys.ts packCounters): "<nC counters>,<lastUsedAt>[,<model>]". Returns per event
-- 1 (counted), 0 (duplicate) or -1 (held: retry), or the string described above.
--
-- Sums are exact: Lua numbers are doubles, so past 2^53 the script adds decimal strings instead.
local ttl = ARGV[1]
local nW = tonumber(ARGV[2])
local nE = tonumber(ARGV[3])
local NC = tonumber(ARGV[4])
local summed = ARGV[5]
local W0 = 5
local E0 = W0 + 3 * nW
local D0 = 2 + 2 * nW
local out = {}
local function seen(k)
  local v = redis.call('GET', k)
  if v == 'r' then
    redis.call('SET', k, '1', 'KEEPTTL')
    return 1
  end
  return 0
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  for e = 1, nE do
    if redis.call('EXISTS', KEYS[D0 + e]) == 1 then
      out[e] = seen(KEYS[D0 + e])
    else
      redis.call('SADD', KEYS[2], ARGV[E0 + e])
      out[e] = -1
    end
  end
  redis.call('EXPIRE', KEYS[2], 3600)
  return out
end
local set, found, mismatch = {}, {}, false
for e = 1, nE do
  local k = KEYS[D0 + e]
  local isNew = redis.call('SET', k, '1', 'NX', 'EX', ttl) ~= false
  if isNew then set[#set + 1] = k end
  if isNew ~= (string.byte(summed, e) == 49) then mismatch = true end
  found[e] = isNew and '1' or '0'
end
if mismatch then
  if #set > 0 then redis.call('DEL', unpack(set)) end
  return table.concat(found)
end
for e = 1, nE do
  if found[e] == '1' then out[e] = 1 else out[e] = seen(KEYS[D0 + e]) end
end
if #set == 0 then return out end
local fmt = string.format
-- Decimal strings of digits: their sum, and (a >= b) their difference.
local function uadd(a, b)
  local r, carry, i, j = {}, 0, #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local s = carry
    if i > 0 then s = s + string.byte(a, i) - 48 end
    if j > 0 then s = s + string.byte(b, j) - 48 end
    if s >= 10 then carry = 1; s = s - 10 else carry = 0 end
    r[#r + 1] = string.char(48 + s)
    i = i - 1
    j = j - 1
  end
  return string.reverse(table.concat(r))
end
local function usub(a, b)
  local r, borrow, i, j = {}, 0, #a, #b
  while i > 0 do
    local s = string.byte(a, i) - 48 - borrow
    if j > 0 then s = s - (string.byte(b, j) - 48) end
    if s < 0 then s = s + 10; borrow = 1 else borrow = 0 end
    r[#r + 1] = string.char(48 + s)
    i = i - 1
    j = j - 1
  end
  local t = (string.gsub(string.reverse(table.concat(r)), '^0+', ''))
  if t == '' then return '0' end
  return t
end
-- Signed: money sums may be negative (a correction, migration 0013); counts never are.
local function bigadd(a, b)
  local na, nb = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
  if na then a = string.sub(a, 2) end
  if nb then b = string.sub(b, 2) end
  local t, neg
  if na == nb then
    t, neg = uadd(a, b), na
  elseif #a > #b or (#a == #b and a > b) then
    t, neg = usub(a, b), na
  else
    t, neg = usub(b, a), nb
  end
  if neg and t ~= '0' then return '-' .. t end
  return t
end
-- A stored record: NC counters and lastUsedAt, then (API key records) the model, which may hold commas.
-- Parts are taken as written and read with tonumber (a malformed part reads as 0): a pattern of
-- digits costs the matcher twice as much as one of non-commas.
local PAT = '^' .. string.rep('([^,]*),', NC) .. '([^,]*),?(.*)$'
local EXACT = 9007199254740992
-- A sum added to a stored record: only the counters the sum changes are parsed and formatted
-- (string work dominates the script's cost); decimal-string sums past 2^53.
local function merged(stored, sum, withModel)
  local st = { string.match(stored, PAT) }
  local d = { string.match(sum, PAT) }
  local o = {}
  for j = 1, NC do
    local s, v = st[j], d[j]
    local a = tonumber(s or '')
    if a == nil then s, a = '0', 0 end
    if v == '0' then
      o[j] = s
    else
      local b = tonumber(v)
      local n = a + b
      if math.abs(a) < EXACT and math.abs(b) < EXACT and math.abs(n) < EXACT then o[j] = fmt('%d', n)
      else o[j] = bigadd(s, v) end
    end
  end
  local last, model = d[NC + 1], d[NC + 2]
  local prev = tonumber(st[NC + 1] or '')
  if prev ~= nil and prev > tonumber(last) then
    last = st[NC + 1]
    model = st[NC + 2] or ''
  end
  o[NC + 1] = last
  if withModel then o[NC + 2] = model end
  return table.concat(o, ',')
end
local function flush(key, p, n, withModel, expireAt)
  if n == 0 then return end
  local fields = {}
  for i = 1, n do fields[i] = ARGV[p + 2 * i - 1] end
  local stored = redis.call('HMGET', key, unpack(fields))
  local args = {}
  for i = 1, n do
    local s, sum = stored[i], ARGV[p + 2 * i]
    args[2 * i - 1] = fields[i]
    if s and s ~= '' then args[2 * i] = merged(s, sum, withModel) else args[2 * i] = sum end
  end
  redis.call('HSET', key, unpack(args))
  if expireAt ~= '0' then redis.call('EXPIREAT', key, expireAt) end
end
local p = E0 + nE
for w = 1, nW do
  local b = W0 + 3 * (w - 1)
  local nCF, nKF = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  flush(KEYS[1 + 2 * w], p, nCF, false, ARGV[b + 1])
  p = p + 2 * nCF
  flush(KEYS[2 + 2 * w], p, nKF, true, ARGV[b + 1])
  p = p + 2 * nKF
end
return out
