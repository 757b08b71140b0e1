import { logger } from "../../logger";
import { metrics } from "../../metrics/metrics";
import { isRedisReady } from "../../redis";
import type { Runtime } from "../../runtime";
import { insertStagedRows, stageUsageRows } from "../../usage/bulk.repository";
import { seedDedupeKeys } from "../../usage/dedupe-seeds";
import { DAY_TTL_SECONDS, MONTH_TTL_SECONDS } from "../../usage/hot-keys";
import { registerPlaceholders } from "../../usage/hot-index";
import type { NormalizedEvent } from "../../usage/normalize";
import { reconcileHotCounters } from "../../usage/reconcile";
import type { UsageEvent } from "../../usage/schemas";
import { validateEvents } from "../../usage/usage.service";
import { rawKeptFromMs } from "../../maintenance/raw-horizon";
import { writeEvents, type SinkResult } from "./sink";

/**
 * The bulk mode of the ledger's write path, for importers of history (sub2api:import; any source's
 * full import): the same events, checks and results as writeEvents (sink.ts), at about COPY's
 * speed. Call writeEventsBulk per batch (one transaction each, batches of 10,000–50,000), then
 * finishBulk once with the accounts written.
 *
 * - Validation and normalization: validateEvents, as recordUsage (exact money, local day and
 *   hour in USAGE_TIMEZONE); a refused event is reported by its index.
 * - PostgreSQL (usage/bulk.repository.ts): the normalized rows are COPYed (pg-copy-streams: COPY
 *   FROM STDIN on the pool's connection, no JSON to build or parse) into a session TEMP table,
 *   then insert_usage_batch's two paths run over it in the same transaction — every id inserted
 *   into usage_request_ids and every row into usage_records in one statement when none is known
 *   (in a savepoint), else each (account, request id) claimed with ON CONFLICT DO NOTHING and the
 *   claimed rows inserted. So a re-import inserts nothing, a repeat within the batch is a
 *   duplicate, and an id written at the same moment by the ledger-first follower is counted by
 *   whichever commits first. usage_records' statement trigger updates the rollups as for every
 *   write (no second rollup definition); month partitions are ensured as insertUsageRows does.
 * - Redis: counting each event (the recording script: ~55 µs of redis-server per event) is what
 *   made imports slow. Instead, per batch, the inserted ids get their dedupe keys (SET NX, as
 *   after a write that bypassed Redis) and unknown accounts and keys their placeholders, as the
 *   recording script's pipeline does; and finishBulk rebuilds the touched accounts' counters from
 *   the PostgreSQL rollups with the reconcile machinery (reconcile.ts: per-account locks, the
 *   outbox drained, one REPEATABLE READ snapshot, an atomic swap) for every window Redis keeps
 *   (days within DAY_TTL, months within MONTH_TTL, all time). That swap is exact while other
 *   writers go on, so Redis ends equal to what counting each event would have given. Between a
 *   batch and finishBulk the touched accounts' counters are short (never over); if the process
 *   dies before finishBulk, the next rebuild (`npm run usage:reconcile`) repairs them.
 *   Without Redis configured there is nothing to do; with Redis down the ids are kept for their
 *   dedupe keys and a rebuild is asked for, as for any write that bypassed Redis.
 * - Without PostgreSQL, or on PGlite (no COPY), it is writeEvents.
 */

/** Events validated (and encoded) between two turns of the event loop. */
const SLICE = 500;
export const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

const DAYS_KEPT = Math.ceil(DAY_TTL_SECONDS / 86_400) + 2;
const MONTHS_KEPT = Math.ceil(MONTH_TTL_SECONDS / (28 * 86_400)) + 1;

export interface BulkOptions {
  /**
   * A write this one must follow (the previous batch's): the events are validated at once, and
   * written once that write succeeded — so that validating a batch overlaps writing the one before.
   */
  after?: Promise<unknown>;
}

export async function writeEventsBulk(runtime: Runtime, events: UsageEvent[], opts: BulkOptions = {}): Promise<SinkResult> {
  const { db } = runtime;
  if (!db || db.kind !== "postgres") {
    await opts.after;
    return writeEvents(runtime, events);
  }
  // Validated in slices, letting the write before this one (its COPY, then its statements) go on
  // between them: a batch's CPU work must not hold the event loop for a second.
  const valid: NormalizedEvent[] = [];
  const rejected: SinkResult["rejected"] = [];
  const keptFrom = await rawKeptFromMs(runtime, runtime.clock.now());
  for (let i = 0; i < events.length; i += SLICE) {
    if (i) await yieldToIo();
    const checked = validateEvents(events.slice(i, i + SLICE), runtime.config.usageTimezone, keptFrom);
    valid.push(...checked.events);
    for (const x of checked.rejected) rejected.push({ ...x, index: i + x.index, requestId: events[i + x.index]!.requestId });
  }
  const staged = await stageUsageRows(db, valid);
  await opts.after;
  const positions = await insertStagedRows(db, staged, runtime.config.usageTimezone);
  const inserted = positions.map((i) => valid[i]!);
  const result: SinkResult = { inserted: inserted.length, duplicates: valid.length - inserted.length, rejected };
  const m = metrics().events;
  if (rejected.length) m.inc({ result: "rejected" }, rejected.length);
  if (result.inserted) m.inc({ result: "accepted" }, result.inserted);
  if (result.duplicates) m.inc({ result: "duplicate" }, result.duplicates);
  // Off the write's path: the next batch's write need not wait for Redis. finishBulk waits for it
  // (markInRedis never throws: a failure is a bypass, as for any write).
  const marking = markInRedis(runtime, inserted);
  const pending = marks.get(runtime) ?? new Set<Promise<void>>();
  marks.set(runtime, pending);
  pending.add(marking);
  void marking.finally(() => pending.delete(marking));
  return result;
}

/** Redis work of bulk writes still under way, per runtime: finishBulk waits for it. */
const marks = new WeakMap<Runtime, Set<Promise<void>>>();

/** Dedupe keys of the inserted ids and placeholders of their accounts and keys; the counters are finishBulk's. */
async function markInRedis(runtime: Runtime, inserted: NormalizedEvent[]): Promise<void> {
  const { redis } = runtime;
  if (!redis || !inserted.length) return;
  if (!isRedisReady(redis)) {
    runtime.bypassedIds.add(inserted);
    runtime.events.emit("redisBypassed");
    return;
  }
  try {
    await Promise.all([seedDedupeKeys(redis, runtime.config.redisKeyPrefix, inserted), registerPlaceholders(redis, runtime.config.redisKeyPrefix, distinctKeys(inserted))]);
  } catch (err) {
    logger.warn(`[usage] bulk write: Redis failed (${(err as Error).message}); the dedupe keys will be written when it answers again`);
    runtime.bypassedIds.add(inserted);
    runtime.events.emit("redisBypassed");
  }
}

function distinctKeys(events: NormalizedEvent[]): { accountId: string; apiKeyId: string }[] {
  const seen = new Map<string, { accountId: string; apiKeyId: string }>();
  for (const e of events) if (!seen.has(e.apiKeyId)) seen.set(e.apiKeyId, { accountId: e.accountId, apiKeyId: e.apiKeyId });
  return [...seen.values()];
}

export interface BulkFinish {
  /** Accounts whose Redis counters were rebuilt from PostgreSQL. */
  rebuilt: number;
  /** Accounts not rebuilt (a reconcile elsewhere held them, or Redis failed): left to the next rebuild. */
  skipped: string[];
}

/**
 * After the last writeEventsBulk of an import: the Redis counters of these accounts rebuilt from
 * PostgreSQL for every window Redis keeps. Without Redis nothing; with Redis down or failing, a
 * rebuild is asked for (the runtime's "redisBypassed") and the accounts are reported skipped.
 */
export async function finishBulk(runtime: Runtime, accountIds: Iterable<string>): Promise<BulkFinish> {
  await Promise.all(marks.get(runtime) ?? []);
  const ids = [...new Set(accountIds)];
  const { redis, db } = runtime;
  if (!redis || !db || !ids.length) return { rebuilt: 0, skipped: [] };
  try {
    if (!isRedisReady(redis)) throw new Error("Redis is not reachable");
    const r = await reconcileHotCounters(runtime, { accountIds: ids, days: DAYS_KEPT, months: MONTHS_KEPT });
    return { rebuilt: r.accounts, skipped: r.skipped };
  } catch (err) {
    logger.warn(`[usage] bulk write: rebuilding the Redis counters of ${ids.length} account(s) failed (${(err as Error).message}); they will be rebuilt from PostgreSQL later`);
    runtime.events.emit("redisBypassed");
    return { rebuilt: 0, skipped: ids };
  }
}
