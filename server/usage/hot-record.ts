import { pipelineBySlot, type RedisClient, type SlotOp } from "../redis";
import { ACCOUNT_FIELD, ALL_TIME, COUNTER_FIELDS, DEDUPE_TTL_SECONDS, hotKeys, modelField, type Window } from "./hot-keys";
import { placeholderCalls, placeholderOp, placeholderReplied } from "./hot-index";
import { dayExpireAt, monthExpireAt } from "./local-time";
import type { NormalizedEvent } from "./normalize";
import { isNoScript, RedisScript } from "./redis-script";

/** Counting events in Redis: lua/record-usage.lua, its KEYS/ARGV layout, and the pipeline. */

const recordScript = new RedisScript("record-usage.lua");
/** For the layout test, which runs the script with a layout of its own. */
export const recordScriptSha = recordScript.sha;


/** One window's two hashes (hot-keys.ts) and when they expire (0: never, all time). */
export interface RecordWindow {
  counters: string;
  keyCounters: string;
  expireAt: number;
}

export interface RecordEvent {
  dedupeKey: string;
  requestId: string;
  /** Whether the sums of the layout hold this event (the caller expects it to be new). */
  summed: boolean;
}

/** Counters summed over events, with the latest use (ties: the smallest model). */
interface RecordSum {
  counters: (number | bigint)[];
  /** counters.join(","), kept from the one event summed so far (most sums hold one). */
  text: string | null;
  lastUsedAt: number;
  lastModel: string;
}

/** An event's counters in COUNTER_FIELDS order, and as text. */
interface EventCounters {
  values: number[];
  text: string;
}

/** Per window: the fields of its counters hash and of its key-counters hash, each with its sum. */
export interface WindowSums {
  counters: Map<string, RecordSum>;
  keyCounters: Map<string, RecordSum>;
}

/** Everything one call of the recording script touches, for one account. windows[0] is all time. */
export interface RecordLayout {
  lock: string;
  held: string;
  dedupeTtlSeconds: number;
  windows: RecordWindow[];
  events: RecordEvent[];
  /** Parallel to windows. */
  sums: WindowSums[];
}

/**
 * Ties of lastUsedAt go to the smallest model name by its UTF-8 bytes, whatever the locale (Lua's
 * `<`, which compared them before the sums moved here, follows Redis's LC_COLLATE).
 */
function modelBefore(a: string, b: string): boolean {
  return a !== b && Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0;
}

function addTo(sums: Map<string, RecordSum>, field: string, e: NormalizedEvent, c: EventCounters): void {
  const sum = sums.get(field);
  if (!sum) {
    sums.set(field, { counters: c.values.slice(), text: c.text, lastUsedAt: e.occurredAtMs, lastModel: e.model });
    return;
  }
  sum.text = null;
  const into = sum.counters;
  for (let j = 0; j < into.length; j++) {
    const v = c.values[j]!;
    if (v === 0) continue;
    const cur = into[j]!;
    const n = typeof cur === "number" ? cur + v : cur + BigInt(v);
    // Past 2^53 a double is no longer exact: the sum goes on in BigInt.
    into[j] = typeof n === "number" && !Number.isSafeInteger(n) ? BigInt(cur) + BigInt(v) : n;
  }
  if (e.occurredAtMs > sum.lastUsedAt || (e.occurredAtMs === sum.lastUsedAt && modelBefore(e.model, sum.lastModel))) {
    sum.lastUsedAt = e.occurredAtMs;
    sum.lastModel = e.model;
  }
}

/** A day's or a month's records of an event: the account's, its model's and its API key's. */
function addToWindow(s: WindowSums, e: NormalizedEvent, c: EventCounters): void {
  addTo(s.counters, ACCOUNT_FIELD, e, c);
  addTo(s.counters, modelField(e.model), e, c);
  addTo(s.keyCounters, e.apiKeyId, e, c);
}

/**
 * The layout of a group of events of one account; windows in order of first appearance. The sums
 * hold the events `summed` says (by default each request id's first event in the group).
 */
export function recordLayout(prefix: string, events: NormalizedEvent[], nowSeconds: number, summed?: boolean[]): RecordLayout {
  const k = hotKeys(prefix);
  const accountId = events[0]!.accountId;
  const windows: RecordWindow[] = [{ counters: k.counters(accountId, ALL_TIME), keyCounters: k.keyCounters(accountId, ALL_TIME), expireAt: 0 }];
  const sums: WindowSums[] = [{ counters: new Map(), keyCounters: new Map() }];
  // Per day and per month of the group: its window's sums, or null when too old for Redis.
  const days = new Map<string, WindowSums | null>();
  const months = new Map<string, WindowSums | null>();
  const windowSums = (kind: "d" | "m", key: string): WindowSums | null => {
    const cache = kind === "d" ? days : months;
    let s = cache.get(key);
    if (s === undefined) {
      // A window whose expiry has passed is too old for Redis: only all time counts the event.
      s = null;
      const at = kind === "d" ? dayExpireAt(key) : monthExpireAt(key);
      if (at > nowSeconds) {
        const w: Window = kind === "d" ? { kind, date: key } : { kind, month: key };
        windows.push({ counters: k.counters(accountId, w), keyCounters: k.keyCounters(accountId, w), expireAt: at });
        s = { counters: new Map(), keyCounters: new Map() };
        sums.push(s);
      }
      cache.set(key, s);
    }
    return s;
  };
  const firstOf = new Set<string>();
  const layoutEvents = events.map((e, i) => {
    const summedHere = summed ? summed[i]! : !firstOf.has(e.requestId);
    firstOf.add(e.requestId);
    const day = windowSums("d", e.date);
    const month = windowSums("m", e.month);
    if (summedHere) {
      const values = COUNTER_FIELDS.map((f) => e.counters[f]);
      const c = { values, text: values.join(",") };
      addTo(sums[0]!.counters, ACCOUNT_FIELD, e, c);
      addTo(sums[0]!.keyCounters, e.apiKeyId, e, c);
      if (day) addToWindow(day, e, c);
      if (month) addToWindow(month, e, c);
    }
    return { dedupeKey: k.dedupe(accountId, e.requestId), requestId: e.requestId, summed: summedHere };
  });
  return { lock: k.reconcileLock(accountId), held: k.reconcileHeld(accountId), dedupeTtlSeconds: DEDUPE_TTL_SECONDS, windows, events: layoutEvents, sums };
}

/** A sum in the stored form of a record (packCounters). */
function packSum(s: RecordSum, withModel: boolean): string {
  const text = `${s.text ?? s.counters.join(",")},${s.lastUsedAt}`;
  return withModel ? `${text},${s.lastModel}` : text;
}

/**
 * KEYS and ARGV of lua/record-usage.lua (its header describes the same layout). The counters go in
 * COUNTER_FIELDS order, the order of a stored record.
 */
export function recordScriptCall(layout: RecordLayout): { keys: string[]; argv: (string | number)[] } {
  const keys = [layout.lock, layout.held];
  for (const w of layout.windows) keys.push(w.counters, w.keyCounters);
  for (const e of layout.events) keys.push(e.dedupeKey);
  const argv: (string | number)[] = [layout.dedupeTtlSeconds, layout.windows.length, layout.events.length, COUNTER_FIELDS.length];
  argv.push(layout.events.map((e) => (e.summed ? "1" : "0")).join(""));
  layout.windows.forEach((w, i) => argv.push(w.expireAt, layout.sums[i]!.counters.size, layout.sums[i]!.keyCounters.size));
  for (const e of layout.events) argv.push(e.requestId);
  for (const s of layout.sums) {
    for (const [field, sum] of s.counters) argv.push(field, packSum(sum, false));
    for (const [field, sum] of s.keyCounters) argv.push(field, packSum(sum, true));
  }
  return { keys, argv };
}

/** 1 counted, 0 duplicate, -1 held because the account is being reconciled (retry). */
export type HotStatus = 1 | 0 | -1;

/** At most this many events per script call, so one call never blocks Redis for long. */
const EVENTS_PER_SCRIPT = 500;
/** Calls of a group whose dedupe keys keep changing under it (other writers) before giving up. */
const MAX_CALLS = 5;

/**
 * Counts events in Redis (dedupe + counters), one atomic script per account group, all in one
 * pipeline. Also registers unknown accounts / keys in the metadata index as placeholders.
 * Throws if Redis fails; statuses of groups that did run are then unknown to the caller.
 */
export async function countHotEvents(redis: RedisClient, prefix: string, events: NormalizedEvent[], nowMs = Date.now()): Promise<HotStatus[]> {
  const byAccount = new Map<string, number[]>();
  events.forEach((e, i) => {
    const list = byAccount.get(e.accountId);
    if (list) list.push(i);
    else byAccount.set(e.accountId, [i]);
  });
  const nowSeconds = Math.floor(nowMs / 1000);
  const groups: { indexes: number[]; events: NormalizedEvent[]; call: ReturnType<typeof recordScriptCall> }[] = [];
  for (const indexes of byAccount.values()) {
    for (let s = 0; s < indexes.length; s += EVENTS_PER_SCRIPT) {
      const slice = indexes.slice(s, s + EVENTS_PER_SCRIPT);
      const group = slice.map((i) => events[i]!);
      groups.push({ indexes: slice, events: group, call: recordScriptCall(recordLayout(prefix, group, nowSeconds)) });
    }
  }
  // One pipeline (one slot per account group on a cluster: every key of a call carries the account's tag).
  const ops: SlotOp[] = groups.map((g) => ({ key: g.call.keys[0]!, add: (p) => recordScript.queue(p, g.call.keys, g.call.argv) }));
  const placeholders = placeholderCalls(prefix, events);
  const results = await pipelineBySlot(redis, [...ops, ...placeholders.map(placeholderOp)]);
  const statuses: HotStatus[] = new Array(events.length).fill(-1);
  for (const [g, group] of groups.entries()) {
    let [err, reply] = results[g] ?? [new Error("no reply")];
    // Redis restarted or flushed its scripts: this call did not run; load the script and run it.
    if (err && isNoScript(err)) [err, reply] = [null, await recordScript.run(redis, group.call.keys, group.call.argv)];
    if (err) throw err;
    // The dedupe keys disagreed with the sums (a repeat, or another writer in between) and nothing
    // was written: the script said which events are new; sum those and call again.
    for (let calls = 1; typeof reply === "string"; calls++) {
      if (calls === MAX_CALLS) throw new Error(`the dedupe keys of account ${group.events[0]!.accountId} kept changing during ${calls} calls`);
      const summed = [...reply].map((c) => c === "1");
      const call = recordScriptCall(recordLayout(prefix, group.events, nowSeconds, summed));
      reply = await recordScript.run(redis, call.keys, call.argv);
    }
    const arr = reply as number[];
    group.indexes.forEach((i, j) => (statuses[i] = arr[j] === 1 ? 1 : arr[j] === 0 ? 0 : -1));
  }
  for (const [i, call] of placeholders.entries()) await placeholderReplied(redis, call, results[groups.length + i]?.[0]);
  return statuses;
}
