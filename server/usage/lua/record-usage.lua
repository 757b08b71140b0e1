-- Records a group of events of ONE account atomically: for each event, SET NX its dedupe key and
-- only if that succeeded add it to sums kept in the script; then, per window, read the records it
-- touches with one HMGET, add, and write them back with one HSET (see hot-keys.ts for the layout).
-- A 500-event group thus costs ~one command per event (the dedupe) plus a few per window.
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
-- per window its EXPIREAT (0: none), then per event 4 values: api key, model, request id, and the
-- numbers "<day window> <month window> <occurredAt ms> <nC counters>" in one string (windows 0:
-- too old for Redis) — one argument instead of thirteen halves the cost of sending and receiving
-- them. Returns per event 1 (counted), 0 (duplicate) or -1 (held: retry).
--
-- Sums are exact: Lua numbers are doubles, so past 2^52 the script adds decimal strings instead.
local ttl = ARGV[1]
local nW = tonumber(ARGV[2])
local nE = tonumber(ARGV[3])
local NC = tonumber(ARGV[4])
local EW = 4
local NUMS = '^' .. string.rep('(-?%d+) ', NC + 2) .. '(-?%d+)$'
local E0 = 4 + nW
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
      redis.call('SADD', KEYS[2], ARGV[E0 + (e - 1) * EW + 3])
      out[e] = -1
    end
  end
  redis.call('EXPIRE', KEYS[2], 3600)
  return out
end
local BIG = 4503599627370496
local function fmt(n) return string.format('%d', n) end
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
-- s: a stored decimal string (nil or '' read as 0); v: a number below 2^52 or a decimal string.
local function add(s, v)
  if s == nil or s == '' then s = '0' end
  if type(v) == 'number' then
    if v == 0 then return s end
    if #s <= 15 then return fmt(tonumber(s) + v) end
    v = fmt(v)
  end
  return bigadd(s, v)
end
local function record(t, field)
  local r = t[field]
  if not r then
    r = { last = -1, lm = '' }
    for f = 1, NC do r[f] = 0 end
    t[field] = r
  end
  return r
end
-- Adds an event to a record; the latest use wins, ties go to the smallest model name.
local function bump(r, c, at, model)
  for f = 1, NC do
    local v = c[f]
    if v ~= 0 then
      local cur = r[f]
      if type(cur) == 'number' and math.abs(cur + v) < BIG then r[f] = cur + v
      else r[f] = add(type(cur) == 'number' and fmt(cur) or cur, v) end
    end
  end
  if at > r.last or (at == r.last and model < r.lm) then
    r.last = at
    r.lm = model
  end
end
local C, K = {}, {}
for w = 1, nW do
  C[w] = {}
  K[w] = {}
end
local c = {}
for e = 1, nE do
  local b = E0 + (e - 1) * EW
  if not redis.call('SET', KEYS[D0 + e], '1', 'NX', 'EX', ttl) then
    out[e] = seen(KEYS[D0 + e])
  else
    out[e] = 1
    local m = { string.match(ARGV[b + 4], NUMS) }
    local dw, mw, at = m[1], m[2], tonumber(m[3])
    for f = 1, NC do c[f] = tonumber(m[f + 3]) end
    local keyId, model = ARGV[b + 1], ARGV[b + 2]
    local mf = 'm:' .. model
    bump(record(C[1], '_'), c, at, model)
    bump(record(K[1], keyId), c, at, model)
    for s = 1, 2 do
      local w = tonumber(s == 1 and dw or mw)
      if w > 0 then
        bump(record(C[w], '_'), c, at, model)
        bump(record(C[w], mf), c, at, model)
        bump(record(K[w], keyId), c, at, model)
      end
    end
  end
end
-- A stored record: NC counters and lastUsedAt, then (API key records) the model, which may hold commas.
local PAT = '^' .. string.rep('(-?%d*),', NC) .. '(%d*),?(.*)$'
local FMT = string.rep('%d,', NC) .. '%d'
local EXACT = 9007199254740992
-- The new stored form of record r added to the stored one. One string.format in the usual
-- case (string work dominates the script's cost); decimal-string sums past 2^53.
local function merged(stored, r, withModel)
  local st = {}
  if stored then st = { string.match(stored, PAT) } end
  local sLast, sModel = st[NC + 1], st[NC + 2]
  local last, model = r.last, r.lm
  local prev = tonumber(sLast or '')
  if prev ~= nil and prev > last then
    last = prev
    model = sModel or ''
  end
  local n = {}
  for j = 1, NC do n[j] = tonumber(st[j] or '') or 0 end
  local exact = true
  for j = 1, NC do
    local v = r[j]
    if type(v) ~= 'number' then exact = false break end
    n[j] = n[j] + v
    if math.abs(n[j]) >= EXACT then exact = false break end
  end
  local text
  if exact then
    n[NC + 1] = last
    text = string.format(FMT, unpack(n))
  else
    local o = {}
    for j = 1, NC do o[j] = add(st[j], r[j]) end
    o[NC + 1] = fmt(last)
    text = table.concat(o, ',')
  end
  if withModel then text = text .. ',' .. model end
  return text
end
local function flush(key, t, withModel, expireAt)
  local fields = {}
  for f in pairs(t) do fields[#fields + 1] = f end
  if #fields == 0 then return end
  local stored = redis.call('HMGET', key, unpack(fields))
  local args = {}
  for i, f in ipairs(fields) do
    args[#args + 1] = f
    args[#args + 1] = merged(stored[i], t[f], withModel)
  end
  redis.call('HSET', key, unpack(args))
  if expireAt ~= '0' then redis.call('EXPIREAT', key, expireAt) end
end
for w = 1, nW do
  flush(KEYS[1 + 2 * w], C[w], false, ARGV[4 + w])
  flush(KEYS[2 + 2 * w], K[w], true, ARGV[4 + w])
end
return out
