import type { ChainableCommander, Redis } from "ioredis";
import {
  ACCOUNT_FIELD,
  ALL_TIME,
  DEDUPE_TTL_SECONDS,
  OUTBOX_GROUP,
  hotKeys,
  modelField,
  packCounters,
  windowSuffix,
  type CounterField,
  type Window,
} from "./hot-keys";
import { dayExpireAt, monthExpireAt } from "./local-time";
import type { NormalizedEvent } from "./normalize";

/**
 * Every Redis command of the usage capability: the recording script, the outbox stream, the
 * metadata index and the reconciler's writes. Key layout: hot-keys.ts.
 */

/**
 * Records a group of events of ONE account atomically: for each event, SET NX its dedupe key and
 * only if that succeeded add it to sums kept in the script; then, per window, read the records it
 * touches with one HMGET, add, and write them back with one HSET (see hot-keys.ts for the layout).
 * A 500-event group thus costs ~one command per event (the dedupe) plus a few per window.
 *
 * While the account is being reconciled (its lock exists) nothing is counted: new request ids are
 * remembered in the held set and reported as -1 so the writer retries after the rebuild. The
 * reconciler marks the held ids that its PostgreSQL snapshot already contains with dedupe value
 * 'r': the first retry of such an id reports it as counted (1) without adding it again.
 *
 * KEYS[1] reconcile lock, KEYS[2] held set, then per window w: KEYS[1+2w] counters hash,
 * KEYS[2+2w] key-counters hash (window 1 is all time), then KEYS[2+2nW+e] the dedupe key of
 * event e. ARGV: dedupe TTL, nW, nE, per window its EXPIREAT (0: none), then per event 4 values:
 * api key, model, request id, and the numbers "<day window> <month window> <occurredAt ms> <9
 * counters>" in one string (windows 0: too old for Redis) — one argument instead of twelve halves
 * the cost of sending and receiving them. Returns per event 1 (counted), 0 (duplicate) or -1
 * (held: retry).
 *
 * Sums are exact: Lua numbers are doubles, so past 2^52 the script adds decimal strings instead.
 */
const RECORD_LUA = `
local ttl = ARGV[1]
local nW = tonumber(ARGV[2])
local nE = tonumber(ARGV[3])
local EW = 4
local NUMS = '^(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+)$'
local E0 = 3 + nW
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
local function bigadd(a, b)
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
    r = { 0, 0, 0, 0, 0, 0, 0, 0, 0, last = -1, lm = '' }
    t[field] = r
  end
  return r
end
-- Adds an event to a record; the latest use wins, ties go to the smallest model name.
local function bump(r, c, at, model)
  for f = 1, 9 do
    local v = c[f]
    if v > 0 then
      local cur = r[f]
      if type(cur) == 'number' and cur + v < BIG then r[f] = cur + v
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
    local dw, mw, at
    dw, mw, at, c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9] = string.match(ARGV[b + 4], NUMS)
    for f = 1, 9 do c[f] = tonumber(c[f]) end
    at = tonumber(at)
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
-- A stored record: 9 counters and lastUsedAt, then (API key records) the model, which may hold commas.
local PAT = '^(%d*),(%d*),(%d*),(%d*),(%d*),(%d*),(%d*),(%d*),(%d*),(%d*),?(.*)$'
local EXACT = 9007199254740992
-- The new stored form of record r added to the stored one. One string.format in the usual
-- case (string work dominates the script's cost); decimal-string sums past 2^53.
local function merged(stored, r, withModel)
  local s1, s2, s3, s4, s5, s6, s7, s8, s9, sLast, sModel
  if stored then s1, s2, s3, s4, s5, s6, s7, s8, s9, sLast, sModel = string.match(stored, PAT) end
  local last, model = r.last, r.lm
  local prev = tonumber(sLast or '')
  if prev ~= nil and prev > last then
    last = prev
    model = sModel or ''
  end
  local n = { tonumber(s1) or 0, tonumber(s2) or 0, tonumber(s3) or 0, tonumber(s4) or 0, tonumber(s5) or 0, tonumber(s6) or 0, tonumber(s7) or 0, tonumber(s8) or 0, tonumber(s9) or 0 }
  local exact = true
  for j = 1, 9 do
    local v = r[j]
    if type(v) ~= 'number' then exact = false break end
    n[j] = n[j] + v
    if n[j] >= EXACT then exact = false break end
  end
  local text
  if exact then
    text = string.format('%d,%d,%d,%d,%d,%d,%d,%d,%d,%d', n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9], last)
  else
    local o, st = {}, { s1, s2, s3, s4, s5, s6, s7, s8, s9 }
    for j = 1, 9 do o[j] = add(st[j], r[j]) end
    o[10] = fmt(last)
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
  flush(KEYS[1 + 2 * w], C[w], false, ARGV[3 + w])
  flush(KEYS[2 + 2 * w], K[w], true, ARGV[3 + w])
end
return out
`;

/**
 * Replaces an account's counters for some windows with figures from PostgreSQL, if the caller
 * still holds the account's reconcile lock and the held set has not grown since the caller
 * looked; then marks the held ids the snapshot contains ('r') and releases lock and held set.
 * KEYS[1] lock, KEYS[2] held set, then keys referenced by index. ARGV[1] lock token, ARGV[2]
 * held-set size seen, ARGV[3] dedupe TTL, ARGV[4] a JSON plan; numbers travel as strings.
 * Returns 1 done, 0 lock lost, 2 held set changed (look again).
 */
const REPLACE_LUA = `
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
`;

/** Releases a lock without a rebuild; held writers then count their events as usual. */
const UNLOCK_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end
return 0
`;

type ScriptRunner = (...args: (string | number)[]) => Promise<unknown>;
interface UsageScripts {
  ubRecordUsage: ScriptRunner;
  ubReplaceCounters: ScriptRunner;
  ubUnlock: ScriptRunner;
}
const withScripts = new WeakSet<Redis>();

/** ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT (also inside pipelines). */
function scripts(redis: Redis): Redis & UsageScripts {
  if (!withScripts.has(redis)) {
    redis.defineCommand("ubRecordUsage", { lua: RECORD_LUA });
    redis.defineCommand("ubReplaceCounters", { lua: REPLACE_LUA });
    redis.defineCommand("ubUnlock", { lua: UNLOCK_LUA, numberOfKeys: 2 });
    withScripts.add(redis);
  }
  return redis as Redis & UsageScripts;
}

/** At most this many events per script call, so one call never blocks Redis for long. */
const EVENTS_PER_SCRIPT = 500;

function recordArgs(prefix: string, events: NormalizedEvent[], nowSeconds: number): (string | number)[] {
  const k = hotKeys(prefix);
  const accountId = events[0]!.accountId;
  // Window 1 is all time; day and month windows follow in order of appearance.
  const windowKeys: string[] = [k.counters(accountId, ALL_TIME), k.keyCounters(accountId, ALL_TIME)];
  const expireAts: number[] = [0];
  const windowOf = new Map<string, number>();
  const windowIndex = (w: Window, expireAt: number) => {
    const suffix = windowSuffix(w);
    let i = windowOf.get(suffix);
    if (i === undefined) {
      windowKeys.push(k.counters(accountId, w), k.keyCounters(accountId, w));
      expireAts.push(expireAt);
      i = expireAts.length;
      windowOf.set(suffix, i);
    }
    return i;
  };
  const dedupeKeys: string[] = [];
  const eventArgs: (string | number)[] = [];
  for (const e of events) {
    const dExp = dayExpireAt(e.date);
    const mExp = monthExpireAt(e.month);
    // A window whose expiry has passed is too old for Redis: only all-time counts it.
    const d = dExp > nowSeconds ? windowIndex({ kind: "d", date: e.date }, dExp) : 0;
    const m = mExp > nowSeconds ? windowIndex({ kind: "m", month: e.month }, mExp) : 0;
    dedupeKeys.push(k.dedupe(accountId, e.requestId));
    const c = e.counters;
    const numbers = `${d} ${m} ${e.occurredAtMs} ${c.requests} ${c.inputTokens} ${c.outputTokens} ${c.cacheCreateTokens} ${c.cacheReadTokens} ${c.ephemeral5mTokens} ${c.ephemeral1hTokens} ${c.allTokens} ${c.costNanos}`;
    eventArgs.push(e.apiKeyId, e.model, e.requestId, numbers);
  }
  const keys = [k.reconcileLock(accountId), k.reconcileHeld(accountId), ...windowKeys, ...dedupeKeys];
  return [keys.length, ...keys, DEDUPE_TTL_SECONDS, expireAts.length, events.length, ...expireAts, ...eventArgs];
}

/** 1 counted, 0 duplicate, -1 held because the account is being reconciled (retry). */
export type HotStatus = 1 | 0 | -1;

/**
 * Counts events in Redis (dedupe + counters), one atomic script per account group, all in one
 * pipeline. Also registers unknown accounts / keys in the metadata index as placeholders.
 * Throws if Redis fails; statuses of groups that did run are then unknown to the caller.
 */
export async function countHotEvents(redis: Redis, prefix: string, events: NormalizedEvent[]): Promise<HotStatus[]> {
  const r = scripts(redis);
  const byAccount = new Map<string, number[]>();
  events.forEach((e, i) => {
    const list = byAccount.get(e.accountId);
    if (list) list.push(i);
    else byAccount.set(e.accountId, [i]);
  });
  const k = hotKeys(prefix);
  const pipe = r.pipeline() as ChainableCommander & UsageScripts;
  const groups: number[][] = [];
  const nowSeconds = Math.floor(Date.now() / 1000);
  for (const indexes of byAccount.values()) {
    for (let s = 0; s < indexes.length; s += EVENTS_PER_SCRIPT) {
      const slice = indexes.slice(s, s + EVENTS_PER_SCRIPT);
      groups.push(slice);
      void pipe.ubRecordUsage(...recordArgs(prefix, slice.map((i) => events[i]!), nowSeconds));
    }
  }
  const placeholderKeys = new Map<string, string>();
  for (const e of events) placeholderKeys.set(e.apiKeyId, e.accountId);
  for (const accountId of byAccount.keys()) {
    pipe.hsetnx(k.accountIndex(), accountId, JSON.stringify({ name: accountId, platform: "unknown", type: "shared", status: "unknown", priority: 50 }));
  }
  for (const [apiKeyId, accountId] of placeholderKeys) {
    pipe.hsetnx(k.apiKeyIndex(), apiKeyId, JSON.stringify({ name: apiKeyId, accountId, status: "unknown" }));
  }
  const results = (await pipe.exec()) ?? [];
  const statuses: HotStatus[] = new Array(events.length).fill(-1);
  groups.forEach((indexes, g) => {
    const [err, reply] = results[g] ?? [new Error("no reply")];
    if (err) throw err;
    const arr = reply as number[];
    indexes.forEach((i, j) => (statuses[i] = arr[j] === 1 ? 1 : arr[j] === 0 ? 0 : -1));
  });
  return statuses;
}

/* ------------------------------------------------------------------ outbox */

export interface OutboxEntry {
  id: string;
  /** Number of events in the entry. */
  count: number;
  /** UTC months of the rows ('YYYY-MM-01'), for partition checks. */
  months: string[];
  /** JSON array of UsageBatchRow; null when the entry was deleted meanwhile. */
  rowsJson: string | null;
}

/** Appends one batch to the outbox stream; returns the entry id. */
export async function appendOutbox(redis: Redis, prefix: string, entry: Omit<OutboxEntry, "id">): Promise<string> {
  const id = await redis.xadd(hotKeys(prefix).outbox(), "*", "n", String(entry.count), "pm", entry.months.join(","), "rows", entry.rowsJson ?? "[]");
  if (!id) throw new Error("XADD returned no id");
  return id;
}

function parseEntry(id: string, fields: string[] | null): OutboxEntry {
  if (!fields) return { id, count: 0, months: [], rowsJson: null };
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  const months = map.get("pm");
  return { id, count: Number(map.get("n") ?? 0), months: months ? months.split(",") : [], rowsJson: map.get("rows") ?? null };
}

/** Creates the drainers' consumer group (and the stream) if missing. */
export async function ensureOutboxGroup(redis: Redis, prefix: string): Promise<void> {
  try {
    await redis.xgroup("CREATE", hotKeys(prefix).outbox(), OUTBOX_GROUP, "0", "MKSTREAM");
  } catch (err) {
    if (!String((err as Error).message).includes("BUSYGROUP")) throw err;
  }
}

/**
 * Reads entries for a consumer: new ones (`>`) or, with `pending`, the ones already delivered to
 * it and not acknowledged (after a failed write).
 */
export async function readOutbox(
  redis: Redis,
  prefix: string,
  consumer: string,
  opts: { count: number; blockMs?: number; pending?: boolean },
): Promise<OutboxEntry[]> {
  const args: (string | number)[] = ["GROUP", OUTBOX_GROUP, consumer, "COUNT", opts.count];
  if (opts.blockMs && !opts.pending) args.push("BLOCK", opts.blockMs);
  args.push("STREAMS", hotKeys(prefix).outbox(), opts.pending ? "0" : ">");
  const reply = (await redis.call("XREADGROUP", ...args)) as [string, [string, string[] | null][]][] | null;
  const entries = reply?.[0]?.[1] ?? [];
  return entries.map(([id, fields]) => parseEntry(id, fields));
}

/** Takes over entries idle for minIdleMs in other consumers' pending lists (dead consumers). */
export async function claimOutbox(
  redis: Redis,
  prefix: string,
  consumer: string,
  opts: { minIdleMs: number; count: number },
): Promise<OutboxEntry[]> {
  const out: OutboxEntry[] = [];
  let cursor = "0-0";
  do {
    const reply = (await redis.call("XAUTOCLAIM", hotKeys(prefix).outbox(), OUTBOX_GROUP, consumer, opts.minIdleMs, cursor, "COUNT", opts.count)) as [
      string,
      [string, string[] | null][],
      string[]?,
    ];
    cursor = reply[0];
    for (const [id, fields] of reply[1]) out.push(parseEntry(id, fields));
  } while (cursor !== "0-0" && out.length < opts.count);
  return out;
}

/** Acknowledges and deletes entries in one MULTI, so the stream length is the backlog. */
export async function ackOutbox(redis: Redis, prefix: string, ids: string[]): Promise<void> {
  if (!ids.length) return;
  const key = hotKeys(prefix).outbox();
  const res = await redis.multi().xack(key, OUTBOX_GROUP, ...ids).xdel(key, ...ids).exec();
  const failed = res?.find(([err]) => err);
  if (!res || failed) throw failed?.[0] ?? new Error("outbox acknowledgement was discarded");
}

/** Moves an entry PostgreSQL refuses for good to the dead-letter stream, then acknowledges it. */
export async function deadLetterOutbox(redis: Redis, prefix: string, entry: OutboxEntry, reason: string): Promise<void> {
  const k = hotKeys(prefix);
  await redis.xadd(k.outboxDead(), "*", "source", entry.id, "n", String(entry.count), "pm", entry.months.join(","), "rows", entry.rowsJson ?? "[]", "error", reason.slice(0, 2000));
  await ackOutbox(redis, prefix, [entry.id]);
}

/** Removes consumers that hold nothing and have been idle for a while (restarted processes). */
export async function pruneOutboxConsumers(redis: Redis, prefix: string, idleMs: number): Promise<number> {
  const key = hotKeys(prefix).outbox();
  const rows = (await redis.call("XINFO", "CONSUMERS", key, OUTBOX_GROUP)) as (string | number)[][];
  let removed = 0;
  for (const row of rows) {
    const info = new Map<string, string | number>();
    for (let i = 0; i + 1 < row.length; i += 2) info.set(String(row[i]), row[i + 1]!);
    if (Number(info.get("pending")) === 0 && Number(info.get("idle")) > idleMs) {
      await redis.xgroup("DELCONSUMER", key, OUTBOX_GROUP, String(info.get("name")));
      removed++;
    }
  }
  return removed;
}

/** Removes a consumer from the group if it holds no unacknowledged entries. */
export async function forgetOutboxConsumer(redis: Redis, prefix: string, consumer: string): Promise<void> {
  const key = hotKeys(prefix).outbox();
  const pending = (await redis.xpending(key, OUTBOX_GROUP, "-", "+", 1, consumer)) as unknown[];
  if (!pending.length) await redis.xgroup("DELCONSUMER", key, OUTBOX_GROUP, consumer);
}

export interface OutboxStats {
  /** Entries (batches) not yet written to PostgreSQL. */
  length: number;
  /** Events in those entries. */
  events: number | null;
  oldestAgeMs: number | null;
  /** Entries delivered to a drainer and not yet acknowledged. */
  pending: number;
  consumers: number;
  deadLetters: number;
  lastId: string | null;
}

const idTime = (id: string) => Number(id.split("-")[0]);

export async function outboxStats(redis: Redis, prefix: string, opts: { countEvents?: boolean } = {}): Promise<OutboxStats> {
  const k = hotKeys(prefix);
  const res = await redis
    .pipeline()
    .xlen(k.outbox())
    .xrange(k.outbox(), "-", "+", "COUNT", 1)
    .xrevrange(k.outbox(), "+", "-", "COUNT", 1)
    .call("XINFO", "GROUPS", k.outbox())
    .xlen(k.outboxDead())
    .exec();
  const val = (i: number) => {
    const [err, v] = res?.[i] ?? [new Error("no reply")];
    if (err && !String(err.message).includes("no such key")) throw err;
    return err ? undefined : v;
  };
  const length = Number(val(0) ?? 0);
  const first = (val(1) as [string, string[]][] | undefined)?.[0];
  const last = (val(2) as [string, string[]][] | undefined)?.[0];
  let pending = 0;
  let consumers = 0;
  for (const row of (val(3) as (string | number)[][] | undefined) ?? []) {
    const info = new Map<string, string | number>();
    for (let i = 0; i + 1 < row.length; i += 2) info.set(String(row[i]), row[i + 1]!);
    if (info.get("name") === OUTBOX_GROUP) {
      pending = Number(info.get("pending") ?? 0);
      consumers = Number(info.get("consumers") ?? 0);
    }
  }
  let events: number | null = null;
  if (opts.countEvents && length <= 10_000) {
    const all = await redis.xrange(k.outbox(), "-", "+");
    events = all.reduce((sum, [, fields]) => sum + parseEntry("", fields).count, 0);
  }
  return {
    length,
    events,
    oldestAgeMs: first ? Math.max(0, Date.now() - idTime(first[0])) : null,
    pending,
    consumers,
    deadLetters: Number(val(4) ?? 0),
    lastId: last?.[0] ?? null,
  };
}

/** Id of the newest outbox entry, if any. */
export async function outboxLastId(redis: Redis, prefix: string): Promise<string | undefined> {
  const last = await redis.xrevrange(hotKeys(prefix).outbox(), "+", "-", "COUNT", 1);
  return last[0]?.[0];
}

/** True while the outbox holds an entry with an id ≤ upToId (not yet in PostgreSQL). */
export async function outboxHoldsUpTo(redis: Redis, prefix: string, upToId: string): Promise<boolean> {
  const first = await redis.xrange(hotKeys(prefix).outbox(), "-", upToId, "COUNT", 1);
  return first.length > 0;
}

/* ------------------------------------------------------------------ metadata index */

export interface AccountIndexEntry {
  name: string;
  platform: string;
  type: string;
  status: string;
  priority: number;
}
export interface ApiKeyIndexEntry {
  name: string;
  accountId: string | null;
  status: string;
}

export async function setAccountIndex(redis: Redis, prefix: string, id: string, entry: AccountIndexEntry): Promise<void> {
  await redis.hset(hotKeys(prefix).accountIndex(), id, JSON.stringify(entry));
}
export async function setApiKeyIndex(redis: Redis, prefix: string, id: string, entry: ApiKeyIndexEntry): Promise<void> {
  await redis.hset(hotKeys(prefix).apiKeyIndex(), id, JSON.stringify(entry));
}
export async function deleteAccountIndex(redis: Redis, prefix: string, id: string): Promise<void> {
  await redis.hdel(hotKeys(prefix).accountIndex(), id);
}
export async function deleteApiKeyIndex(redis: Redis, prefix: string, id: string): Promise<void> {
  await redis.hdel(hotKeys(prefix).apiKeyIndex(), id);
}
export async function findAccountIndex(redis: Redis, prefix: string, id: string): Promise<AccountIndexEntry | undefined> {
  const v = await redis.hget(hotKeys(prefix).accountIndex(), id);
  return v ? (JSON.parse(v) as AccountIndexEntry) : undefined;
}
export async function findApiKeyIndex(redis: Redis, prefix: string, id: string): Promise<ApiKeyIndexEntry | undefined> {
  const v = await redis.hget(hotKeys(prefix).apiKeyIndex(), id);
  return v ? (JSON.parse(v) as ApiKeyIndexEntry) : undefined;
}
export async function allAccountIndex(redis: Redis, prefix: string): Promise<Map<string, AccountIndexEntry>> {
  const all = await redis.hgetall(hotKeys(prefix).accountIndex());
  return new Map(Object.entries(all).map(([id, v]) => [id, JSON.parse(v) as AccountIndexEntry]));
}
export async function allApiKeyIndex(redis: Redis, prefix: string): Promise<Map<string, ApiKeyIndexEntry>> {
  const all = await redis.hgetall(hotKeys(prefix).apiKeyIndex());
  return new Map(Object.entries(all).map(([id, v]) => [id, JSON.parse(v) as ApiKeyIndexEntry]));
}

/* ------------------------------------------------------------------ reconciliation */

/** Takes the reconcile lock of each account that is free; returns the ones taken. */
export async function lockAccounts(redis: Redis, prefix: string, accountIds: string[], token: string, ttlMs: number): Promise<string[]> {
  const k = hotKeys(prefix);
  const pipe = redis.pipeline();
  for (const id of accountIds) pipe.set(k.reconcileLock(id), token, "PX", ttlMs, "NX");
  const res = (await pipe.exec()) ?? [];
  return accountIds.filter((_, i) => res[i]?.[1] === "OK");
}

export async function unlockAccounts(redis: Redis, prefix: string, accountIds: string[], token: string): Promise<void> {
  const r = scripts(redis);
  const k = hotKeys(prefix);
  await Promise.all(accountIds.map((id) => r.ubUnlock(k.reconcileLock(id), k.reconcileHeld(id), token)));
}

export type CounterValues = Record<CounterField, number> & { lastUsedAt: number | null; lastModel?: string | null };

export interface AccountCounters {
  window: Window;
  account: CounterValues | undefined;
  keys: Map<string, CounterValues>;
  /** Day and month windows only. */
  models: Map<string, CounterValues>;
}

/** When the counters were last rebuilt from PostgreSQL (undefined: never, or Redis was flushed). */
export async function findCountersRebuiltAt(redis: Redis, prefix: string): Promise<string | undefined> {
  return (await redis.get(hotKeys(prefix).countersRebuilt())) ?? undefined;
}

export async function setCountersRebuiltAt(redis: Redis, prefix: string, at: Date): Promise<void> {
  await redis.set(hotKeys(prefix).countersRebuilt(), at.toISOString());
}

/** Request ids that arrived while the account was locked (see RECORD_LUA). */
export async function heldRequestIds(redis: Redis, prefix: string, accountId: string): Promise<string[]> {
  return redis.smembers(hotKeys(prefix).reconcileHeld(accountId));
}

/**
 * Replaces an account's counters for the given windows in one atomic script (both hashes of each
 * window are deleted and written anew), marks `inSnapshot` (held request ids the figures already
 * include) and releases the lock. `held.seen` is the size of the held set the caller examined.
 * Returns "lost" (lock expired: nothing written) or "changed" (more ids were held meanwhile:
 * examine them and call again).
 */
export async function replaceAccountCounters(
  redis: Redis,
  prefix: string,
  accountId: string,
  token: string,
  windows: AccountCounters[],
  held: { seen: number; inSnapshot: string[] },
): Promise<"done" | "lost" | "changed"> {
  const k = hotKeys(prefix);
  const keys: string[] = [];
  const index = new Map<string, number>();
  // KEYS[1] and KEYS[2] are the lock and the held set; plan indexes count from 3.
  const idx = (key: string) => {
    let i = index.get(key);
    if (i === undefined) {
      keys.push(key);
      i = keys.length + 2;
      index.set(key, i);
    }
    return i;
  };
  const plan = {
    del: [] as number[],
    hashes: [] as [number, string[]][],
    expire: [] as [number, string][],
    mark: held.inSnapshot.map((id) => idx(k.dedupe(accountId, id))),
  };
  for (const wc of windows) {
    const w = wc.window;
    const expireAt = w.kind === "d" ? dayExpireAt(w.date) : w.kind === "m" ? monthExpireAt(w.month) : undefined;
    const counters = idx(k.counters(accountId, w));
    const keyCounters = idx(k.keyCounters(accountId, w));
    plan.del.push(counters, keyCounters);
    const fields: string[] = [];
    if (wc.account) fields.push(ACCOUNT_FIELD, packCounters(wc.account, false));
    if (w.kind !== "t") for (const [model, v] of wc.models) fields.push(modelField(model), packCounters(v, false));
    const keyFields: string[] = [];
    for (const [keyId, v] of wc.keys) keyFields.push(keyId, packCounters(v, true));
    for (const [key, f] of [[counters, fields], [keyCounters, keyFields]] as const) {
      if (!f.length) continue;
      plan.hashes.push([key, f]);
      if (expireAt !== undefined) plan.expire.push([key, String(expireAt)]);
    }
  }
  const r = scripts(redis);
  const res = await r.ubReplaceCounters(
    keys.length + 2,
    k.reconcileLock(accountId),
    k.reconcileHeld(accountId),
    ...keys,
    token,
    held.seen,
    DEDUPE_TTL_SECONDS,
    JSON.stringify(plan),
  );
  return res === 1 ? "done" : res === 2 ? "changed" : "lost";
}
