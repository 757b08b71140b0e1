import { pipelineBySlot, type RedisClient, type SlotOp } from "../redis";
import { ALL_TIME, COUNTER_FIELDS, DEDUPE_TTL_SECONDS, hotKeys, windowSuffix, type CounterField, type Window } from "./hot-keys";
import { placeholderOps } from "./hot-index";
import { dayExpireAt, monthExpireAt } from "./local-time";
import type { NormalizedEvent } from "./normalize";
import { isNoScript, RedisScript } from "./redis-script";

/** Counting events in Redis: lua/record-usage.lua, its KEYS/ARGV layout, and the pipeline. */

const recordScript = new RedisScript("record-usage.lua");


/** One window's two hashes (hot-keys.ts) and when they expire (0: never, all time). */
export interface RecordWindow {
  counters: string;
  keyCounters: string;
  expireAt: number;
}

export interface RecordEvent {
  dedupeKey: string;
  apiKeyId: string;
  model: string;
  requestId: string;
  /** 1-based index into RecordLayout.windows of its day and month windows; 0: too old for Redis. */
  dayWindow: number;
  monthWindow: number;
  occurredAtMs: number;
  counters: Record<CounterField, number>;
}

/** Everything one call of the recording script touches, for one account. windows[0] is all time. */
export interface RecordLayout {
  lock: string;
  held: string;
  dedupeTtlSeconds: number;
  windows: RecordWindow[];
  events: RecordEvent[];
}

/** The layout of a group of events of one account; windows in order of first appearance. */
export function recordLayout(prefix: string, events: NormalizedEvent[], nowSeconds: number): RecordLayout {
  const k = hotKeys(prefix);
  const accountId = events[0]!.accountId;
  const windows: RecordWindow[] = [{ counters: k.counters(accountId, ALL_TIME), keyCounters: k.keyCounters(accountId, ALL_TIME), expireAt: 0 }];
  const windowOf = new Map<string, number>();
  const windowIndex = (w: Window, expireAt: number) => {
    // A window whose expiry has passed is too old for Redis: only all time counts the event.
    if (expireAt <= nowSeconds) return 0;
    const suffix = windowSuffix(w);
    let i = windowOf.get(suffix);
    if (i === undefined) {
      windows.push({ counters: k.counters(accountId, w), keyCounters: k.keyCounters(accountId, w), expireAt });
      i = windows.length;
      windowOf.set(suffix, i);
    }
    return i;
  };
  return {
    lock: k.reconcileLock(accountId),
    held: k.reconcileHeld(accountId),
    dedupeTtlSeconds: DEDUPE_TTL_SECONDS,
    windows,
    events: events.map((e) => ({
      dedupeKey: k.dedupe(accountId, e.requestId),
      apiKeyId: e.apiKeyId,
      model: e.model,
      requestId: e.requestId,
      dayWindow: windowIndex({ kind: "d", date: e.date }, dayExpireAt(e.date)),
      monthWindow: windowIndex({ kind: "m", month: e.month }, monthExpireAt(e.month)),
      occurredAtMs: e.occurredAtMs,
      counters: e.counters,
    })),
  };
}

/**
 * KEYS and ARGV of lua/record-usage.lua (its header describes the same layout). The counters go in
 * COUNTER_FIELDS order, the order of a stored record.
 */
export function recordScriptCall(layout: RecordLayout): { keys: string[]; argv: (string | number)[] } {
  const keys = [layout.lock, layout.held, ...layout.windows.flatMap((w) => [w.counters, w.keyCounters]), ...layout.events.map((e) => e.dedupeKey)];
  const argv: (string | number)[] = [layout.dedupeTtlSeconds, layout.windows.length, layout.events.length, COUNTER_FIELDS.length, ...layout.windows.map((w) => w.expireAt)];
  for (const e of layout.events) {
    const numbers = [e.dayWindow, e.monthWindow, e.occurredAtMs, ...COUNTER_FIELDS.map((f) => e.counters[f])].join(" ");
    argv.push(e.apiKeyId, e.model, e.requestId, numbers);
  }
  return { keys, argv };
}

/** 1 counted, 0 duplicate, -1 held because the account is being reconciled (retry). */
export type HotStatus = 1 | 0 | -1;

/** At most this many events per script call, so one call never blocks Redis for long. */
const EVENTS_PER_SCRIPT = 500;

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
  const groups: { indexes: number[]; call: ReturnType<typeof recordScriptCall> }[] = [];
  for (const indexes of byAccount.values()) {
    for (let s = 0; s < indexes.length; s += EVENTS_PER_SCRIPT) {
      const slice = indexes.slice(s, s + EVENTS_PER_SCRIPT);
      groups.push({ indexes: slice, call: recordScriptCall(recordLayout(prefix, slice.map((i) => events[i]!), nowSeconds)) });
    }
  }
  // One pipeline (one slot per account group on a cluster: every key of a call carries the account's tag).
  const ops: SlotOp[] = groups.map((g) => ({ key: g.call.keys[0]!, add: (p) => recordScript.queue(p, g.call.keys, g.call.argv) }));
  const results = await pipelineBySlot(redis, [...ops, ...placeholderOps(prefix, events)]);
  const statuses: HotStatus[] = new Array(events.length).fill(-1);
  for (const [g, group] of groups.entries()) {
    let [err, reply] = results[g] ?? [new Error("no reply")];
    // Redis restarted or flushed its scripts: this call did not run; load the script and run it.
    if (err && isNoScript(err)) [err, reply] = [null, await recordScript.run(redis, group.call.keys, group.call.argv)];
    if (err) throw err;
    const arr = reply as number[];
    group.indexes.forEach((i, j) => (statuses[i] = arr[j] === 1 ? 1 : arr[j] === 0 ? 0 : -1));
  }
  return statuses;
}
