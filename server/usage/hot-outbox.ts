import { pipelineBySlot, type RedisClient } from "../redis";
import { hotKeys, OUTBOX_GROUP } from "./hot-keys";

/**
 * The outbox stream: every recorded batch is appended here before it is counted, and the
 * drainers (one consumer group) move it into PostgreSQL, acknowledging only after commit.
 */

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
export async function appendOutbox(redis: RedisClient, prefix: string, entry: Omit<OutboxEntry, "id">): Promise<string> {
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
export async function ensureOutboxGroup(redis: RedisClient, prefix: string): Promise<void> {
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
  redis: RedisClient,
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
  redis: RedisClient,
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
export async function ackOutbox(redis: RedisClient, prefix: string, ids: string[]): Promise<void> {
  if (!ids.length) return;
  const key = hotKeys(prefix).outbox();
  const res = await redis.multi().xack(key, OUTBOX_GROUP, ...ids).xdel(key, ...ids).exec();
  const failed = res?.find(([err]) => err);
  if (!res || failed) throw failed?.[0] ?? new Error("outbox acknowledgement was discarded");
}

/** Moves an entry PostgreSQL refuses for good to the dead-letter stream, then acknowledges it. */
export async function deadLetterOutbox(redis: RedisClient, prefix: string, entry: OutboxEntry, reason: string): Promise<void> {
  const k = hotKeys(prefix);
  await redis.xadd(k.outboxDead(), "*", "source", entry.id, "n", String(entry.count), "pm", entry.months.join(","), "rows", entry.rowsJson ?? "[]", "error", reason.slice(0, 2000));
  await ackOutbox(redis, prefix, [entry.id]);
}

/** Removes consumers that hold nothing and have been idle for a while (restarted processes). */
export async function pruneOutboxConsumers(redis: RedisClient, prefix: string, idleMs: number): Promise<number> {
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
export async function forgetOutboxConsumer(redis: RedisClient, prefix: string, consumer: string): Promise<void> {
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

export async function outboxStats(redis: RedisClient, prefix: string, opts: { countEvents?: boolean } = {}): Promise<OutboxStats> {
  const k = hotKeys(prefix);
  const outbox = k.outbox();
  const res = await pipelineBySlot(redis, [
    { key: outbox, add: (p) => void p.xlen(outbox) },
    { key: outbox, add: (p) => void p.xrange(outbox, "-", "+", "COUNT", 1) },
    { key: outbox, add: (p) => void p.xrevrange(outbox, "+", "-", "COUNT", 1) },
    { key: outbox, add: (p) => void p.call("XINFO", "GROUPS", outbox) },
    { key: k.outboxDead(), add: (p) => void p.xlen(k.outboxDead()) },
  ]);
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
export async function outboxLastId(redis: RedisClient, prefix: string): Promise<string | undefined> {
  const last = await redis.xrevrange(hotKeys(prefix).outbox(), "+", "-", "COUNT", 1);
  return last[0]?.[0];
}

/** True while the outbox holds an entry with an id ≤ upToId (not yet in PostgreSQL). */
export async function outboxHoldsUpTo(redis: RedisClient, prefix: string, upToId: string): Promise<boolean> {
  const first = await redis.xrange(hotKeys(prefix).outbox(), "-", upToId, "COUNT", 1);
  return first.length > 0;
}
