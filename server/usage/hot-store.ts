import type { ChainableCommander, Redis } from "ioredis";
import {
  COUNTER_FIELDS,
  DEDUPE_TTL_SECONDS,
  OUTBOX_GROUP,
  hotKeys,
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
 * only if that succeeded add it to the sums; then apply the sums to the counter hashes, the rank
 * sorted sets and the model sets with one command per key. Aggregating inside the script keeps a
 * 1,000-event batch to a few hundred Redis calls instead of ~100 per event.
 *
 * While the account is being reconciled (its lock exists) nothing is counted: new request ids are
 * remembered in the held set and reported as -1 so the writer retries after the rebuild. The
 * reconciler marks the held ids that its PostgreSQL snapshot already contains with dedupe value
 * 'r': the first retry of such an id reports it as counted (1) without adding it again.
 *
 * KEYS[1] reconcile lock, KEYS[2] held set, KEYS[2+e] dedupe key of event e, then counter keys
 * referenced by index. ARGV: dedupe TTL, #targets, #events, then per target (api key × model ×
 * local day) 17 values, then per event 12 values (target, occurredAt ms, request id, 9 counters).
 * Returns per event 1 (counted), 0 (duplicate) or -1 (held: retry).
 */
const RECORD_LUA = `
local ttl = ARGV[1]
local nT = tonumber(ARGV[2])
local nE = tonumber(ARGV[3])
local TW, EW = 17, 12
local E0 = 3 + nT * TW
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
    if redis.call('EXISTS', KEYS[2 + e]) == 1 then
      out[e] = seen(KEYS[2 + e])
    else
      redis.call('SADD', KEYS[2], ARGV[E0 + (e - 1) * EW + 3])
      out[e] = -1
    end
  end
  redis.call('EXPIRE', KEYS[2], 3600)
  return out
end
local FIELDS = {'requests','inputTokens','outputTokens','cacheCreateTokens','cacheReadTokens','ephemeral5mTokens','ephemeral1hTokens','allTokens','costNanos'}
local LIMIT = 4503599627370496
local function fmt(n) return string.format('%d', n) end
-- Sums stay below 2^52 so every Lua double is exact; past that a partial sum is written out.
local hashes, ranks = {}, {}
local function addHash(k, f, v)
  local h = hashes[k]
  if not h then
    h = { 0, 0, 0, 0, 0, 0, 0, 0, 0 }
    hashes[k] = h
  end
  if h[f] + v > LIMIT then
    redis.call('HINCRBY', KEYS[k], FIELDS[f], fmt(h[f]))
    h[f] = 0
  end
  h[f] = h[f] + v
end
-- A target (api key x model x local day) passes its sums to its 8 hashes and 3 rank sets.
local function spread(tb, f, v)
  for s = 1, 8 do
    local k = tonumber(ARGV[tb + s])
    if k > 0 then addHash(k, f, v) end
  end
  if f == 8 then
    local keyId = ARGV[tb + 14]
    for s = 9, 11 do
      local k = tonumber(ARGV[tb + s])
      if k > 0 then
        local r = ranks[k]
        if not r then r = {}; ranks[k] = r end
        r[keyId] = (r[keyId] or 0) + v
      end
    end
  end
end
local targets = {}
for e = 1, nE do
  local b = E0 + (e - 1) * EW
  if not redis.call('SET', KEYS[2 + e], '1', 'NX', 'EX', ttl) then
    out[e] = seen(KEYS[2 + e])
  else
    out[e] = 1
    local t = tonumber(ARGV[b + 1])
    local tg = targets[t]
    if not tg then
      tg = { sums = { 0, 0, 0, 0, 0, 0, 0, 0, 0 }, last = -1 }
      targets[t] = tg
    end
    local sums = tg.sums
    for f = 1, 9 do
      local v = tonumber(ARGV[b + 3 + f])
      if v > 0 then
        if sums[f] + v > LIMIT then
          spread(3 + (t - 1) * TW, f, sums[f])
          sums[f] = 0
        end
        sums[f] = sums[f] + v
      end
    end
    local at = tonumber(ARGV[b + 2])
    if at > tg.last then tg.last = at end
  end
end
-- Latest use per hash; on per-key hashes also the model of that use (ties: the smallest name).
local lastAt, lastModel, expires, sets = {}, {}, {}, {}
for t, tg in pairs(targets) do
  local tb = 3 + (t - 1) * TW
  for f = 1, 9 do
    if tg.sums[f] > 0 then spread(tb, f, tg.sums[f]) end
  end
  local model = ARGV[tb + 15]
  local dayExp, monthExp = ARGV[tb + 16], ARGV[tb + 17]
  for s = 1, 13 do
    local k = tonumber(ARGV[tb + s])
    if k > 0 then
      if s <= 8 then
        local cur = lastAt[k]
        if cur == nil or tg.last > cur or (tg.last == cur and model < lastModel[k]) then
          lastAt[k] = tg.last
          lastModel[k] = model
        end
        if not hashes[k] then hashes[k] = { 0, 0, 0, 0, 0, 0, 0, 0, 0 } end
      elseif s <= 11 then
        -- A key with no tokens in the window is still ranked (score 0), so readers list it.
        local r = ranks[k]
        if not r then r = {}; ranks[k] = r end
        local keyId = ARGV[tb + 14]
        r[keyId] = r[keyId] or 0
      else
        local st = sets[k]
        if not st then st = {}; sets[k] = st end
        st[model] = true
      end
      if s == 1 or s == 2 or s == 3 or s == 9 or s == 12 then expires[k] = dayExp
      elseif s == 4 or s == 5 or s == 6 or s == 10 or s == 13 then expires[k] = monthExp end
    end
  end
end
local isKey = {}
for t in pairs(targets) do
  local tb = 3 + (t - 1) * TW
  for _, s in ipairs({ 2, 5, 8 }) do
    local k = tonumber(ARGV[tb + s])
    if k > 0 then isKey[k] = true end
  end
end
for k, h in pairs(hashes) do
  for f = 1, 9 do
    if h[f] > 0 then redis.call('HINCRBY', KEYS[k], FIELDS[f], fmt(h[f])) end
  end
  local cur = tonumber(redis.call('HGET', KEYS[k], 'lastUsedAt') or '-1')
  if lastAt[k] >= cur then
    if isKey[k] then
      redis.call('HSET', KEYS[k], 'lastUsedAt', fmt(lastAt[k]), 'lastModel', lastModel[k])
    else
      redis.call('HSET', KEYS[k], 'lastUsedAt', fmt(lastAt[k]))
    end
  end
end
for k, r in pairs(ranks) do
  for m, score in pairs(r) do redis.call('ZINCRBY', KEYS[k], fmt(score), m) end
end
for k, st in pairs(sets) do
  for m in pairs(st) do redis.call('SADD', KEYS[k], m) end
end
for k, t in pairs(expires) do redis.call('EXPIREAT', KEYS[k], t) end
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
  redis.call('HSET', KEYS[h[1]], unpack(h[2]))
end
for _, z in ipairs(plan.zsets) do
  local args = z[2]
  for i = 1, #args, 2 do redis.call('ZADD', KEYS[z[1]], args[i], args[i + 1]) end
end
for _, s in ipairs(plan.sets) do
  for _, m in ipairs(s[2]) do redis.call('SADD', KEYS[s[1]], m) end
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
  const keys: string[] = [k.reconcileLock(accountId), k.reconcileHeld(accountId)];
  for (const e of events) keys.push(k.dedupe(accountId, e.requestId));
  const keyIndex = new Map<string, number>();
  const idx = (key: string) => {
    let i = keyIndex.get(key);
    if (i === undefined) {
      keys.push(key);
      i = keys.length;
      keyIndex.set(key, i);
    }
    return i;
  };
  const targets = new Map<string, number>();
  const targetArgs: (string | number)[] = [];
  const eventArgs: (string | number)[] = [];
  const total: Window = { kind: "t" };
  for (const e of events) {
    const targetKey = `${e.apiKeyId}\u0000${e.model}\u0000${e.date}`;
    let t = targets.get(targetKey);
    if (t === undefined) {
      const dExp = dayExpireAt(e.date);
      const mExp = monthExpireAt(e.month);
      // A window whose expiry has passed is too old for Redis: only all-time counts it.
      const d = dExp > nowSeconds ? ({ kind: "d", date: e.date } as const) : undefined;
      const m = mExp > nowSeconds ? ({ kind: "m", month: e.month } as const) : undefined;
      targetArgs.push(
        d ? idx(k.account(accountId, d)) : 0,
        d ? idx(k.key(accountId, e.apiKeyId, d)) : 0,
        d ? idx(k.model(accountId, e.model, d)) : 0,
        m ? idx(k.account(accountId, m)) : 0,
        m ? idx(k.key(accountId, e.apiKeyId, m)) : 0,
        m ? idx(k.model(accountId, e.model, m)) : 0,
        idx(k.account(accountId, total)),
        idx(k.key(accountId, e.apiKeyId, total)),
        d ? idx(k.rank(accountId, d)) : 0,
        m ? idx(k.rank(accountId, m)) : 0,
        idx(k.rank(accountId, total)),
        d ? idx(k.models(accountId, d)) : 0,
        m ? idx(k.models(accountId, m)) : 0,
        e.apiKeyId,
        e.model,
        dExp,
        mExp,
      );
      t = targets.size + 1;
      targets.set(targetKey, t);
    }
    eventArgs.push(t, e.occurredAtMs, e.requestId);
    for (const f of COUNTER_FIELDS) eventArgs.push(e.counters[f]);
  }
  return [keys.length, ...keys, DEDUPE_TTL_SECONDS, targets.size, events.length, ...targetArgs, ...eventArgs];
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

/** API key ids and models Redis currently holds for an account's windows (to delete them). */
export async function windowMembers(
  redis: Redis,
  prefix: string,
  accountId: string,
  windows: Window[],
): Promise<{ keys: string[][]; models: string[][] }> {
  const k = hotKeys(prefix);
  const pipe = redis.pipeline();
  for (const w of windows) {
    pipe.zrange(k.rank(accountId, w), 0, -1);
    pipe.smembers(k.models(accountId, w));
  }
  const res = (await pipe.exec()) ?? [];
  const keys: string[][] = [];
  const models: string[][] = [];
  windows.forEach((_, i) => {
    const [e1, v1] = res[2 * i] ?? [new Error("no reply")];
    const [e2, v2] = res[2 * i + 1] ?? [new Error("no reply")];
    if (e1 || e2) throw e1 ?? e2;
    keys.push(v1 as string[]);
    models.push(v2 as string[]);
  });
  return { keys, models };
}

export type CounterValues = Record<(typeof COUNTER_FIELDS)[number], number> & { lastUsedAtMs: number | null; lastModel?: string | null };

export interface AccountCounters {
  window: Window;
  account: CounterValues | undefined;
  keys: Map<string, CounterValues>;
  /** Day and month windows only. */
  models: Map<string, CounterValues>;
}

function hashArgs(v: CounterValues, withLastModel: boolean): string[] {
  const args: string[] = [];
  for (const f of COUNTER_FIELDS) args.push(f, String(v[f]));
  if (v.lastUsedAtMs !== null) args.push("lastUsedAt", String(v.lastUsedAtMs));
  if (withLastModel && v.lastModel) args.push("lastModel", v.lastModel);
  return args;
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
 * Replaces an account's counters for the given windows in one atomic script, marks `inSnapshot`
 * (held request ids the figures already include) and releases the lock. `existing` are the
 * members windowMembers() returned (their keys are deleted first); `heldSeen` the size of the
 * held set the caller examined. Returns "lost" (lock expired: nothing written) or "changed"
 * (more ids were held meanwhile: examine them and call again).
 */
export async function replaceAccountCounters(
  redis: Redis,
  prefix: string,
  accountId: string,
  token: string,
  windows: AccountCounters[],
  existing: { keys: string[][]; models: string[][] },
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
    zsets: [] as [number, string[]][],
    sets: [] as [number, string[]][],
    expire: [] as [number, string][],
    mark: held.inSnapshot.map((id) => idx(k.dedupe(accountId, id))),
  };
  windows.forEach((wc, wi) => {
    const w = wc.window;
    const expireAt = w.kind === "d" ? dayExpireAt(w.date) : w.kind === "m" ? monthExpireAt(w.month) : undefined;
    const written: number[] = [];
    const del = (key: string) => plan.del.push(idx(key));
    del(k.account(accountId, w));
    del(k.rank(accountId, w));
    for (const keyId of existing.keys[wi] ?? []) del(k.key(accountId, keyId, w));
    if (w.kind !== "t") {
      del(k.models(accountId, w));
      for (const model of existing.models[wi] ?? []) del(k.model(accountId, model, w));
    }
    if (wc.account) {
      plan.hashes.push([idx(k.account(accountId, w)), hashArgs(wc.account, false)]);
      written.push(idx(k.account(accountId, w)));
    }
    const rank: string[] = [];
    for (const [keyId, v] of wc.keys) {
      plan.hashes.push([idx(k.key(accountId, keyId, w)), hashArgs(v, true)]);
      written.push(idx(k.key(accountId, keyId, w)));
      rank.push(String(v.allTokens), keyId);
    }
    if (rank.length) {
      plan.zsets.push([idx(k.rank(accountId, w)), rank]);
      written.push(idx(k.rank(accountId, w)));
    }
    if (w.kind !== "t" && wc.models.size) {
      for (const [model, v] of wc.models) {
        plan.hashes.push([idx(k.model(accountId, model, w)), hashArgs(v, false)]);
        written.push(idx(k.model(accountId, model, w)));
      }
      plan.sets.push([idx(k.models(accountId, w)), [...wc.models.keys()]]);
      written.push(idx(k.models(accountId, w)));
    }
    if (expireAt !== undefined) for (const i of written) plan.expire.push([i, String(expireAt)]);
  });
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
