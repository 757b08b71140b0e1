import { logger } from "../../logger";
import { metrics } from "../../metrics/metrics";
import { isRedisReady } from "../../redis";
import type { Runtime } from "../../runtime";
import { insertStagedRows, newStagedBatch, stageUsageRows, type StagedBatch } from "../../usage/bulk.repository";
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
 * speed. Add the batches (10,000–50,000 events each) to a BulkWriter, which writes them in
 * transactions of up to ROWS_PER_WRITE rows, one after another (writeEventsBulk writes one batch
 * alone); then call finishBulk once with the accounts written.
 *
 * - Validation and normalization: validateEvents, as recordUsage (exact money, local day and
 *   hour in USAGE_TIMEZONE); a refused event is reported by its index in its batch, at once.
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
 *   made imports slow. Instead, per write, the inserted ids get their dedupe keys (SET NX, as
 *   after a write that bypassed Redis) and unknown accounts and keys their placeholders, as the
 *   recording script's pipeline does; and finishBulk rebuilds the touched accounts' counters from
 *   the PostgreSQL rollups with the reconcile machinery (reconcile.ts: per-account locks, the
 *   outbox drained, one REPEATABLE READ snapshot, an atomic swap) for every window Redis keeps
 *   (days within DAY_TTL, months within MONTH_TTL, all time). That swap is exact while other
 *   writers go on, so Redis ends equal to what counting each event would have given. Between a
 *   write and finishBulk the touched accounts' counters are short (never over); if the process
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

/**
 * Rows one write takes at most when a caller adds batches to a BulkWriter: its statement's
 * trigger then updates each rollup row touched once for all of them. With history spread over
 * many keys and days most of a write's cost is that trigger: on the new-api bench's 875,003 rows
 * (1,200 keys, 90 days), statements of 20,000 rows took ~20 % more PostgreSQL time than statements
 * of 100,000 (35.7 s against 29.8 s, 2026-12-07). A write's rows are held in memory (their COPY
 * text) until it commits, and as many more wait behind it at most.
 */
export const ROWS_PER_WRITE = 100_000;

/** What became of a batch once its write committed. */
export interface BulkWritten {
  inserted: number;
  duplicates: number;
}

/** An inserted event, as its Redis work needs it. */
type BulkId = Pick<NormalizedEvent, "accountId" | "requestId" | "apiKeyId">;

interface Piece {
  /** The batch's valid events: positions [from, from + count) of the write. */
  from: number;
  ids: BulkId[];
  done: (w: BulkWritten) => void;
  failed: (err: unknown) => void;
}

interface Group {
  staged: StagedBatch;
  pieces: Piece[];
}

/**
 * Batches written in the ledger's bulk mode, in order: `add` validates and encodes a batch and
 * answers its refusals at once; its rows are written with the batches after it, up to
 * ROWS_PER_WRITE rows per transaction, while the caller reads and adds the next ones (one write
 * under way and one being staged at most: `add` waits for the write before when the next is
 * full). `close` writes the rest and waits for everything. A failed write fails the batches in
 * it, every `add` after it and `close`. One `add` at a time.
 */
export class BulkWriter {
  private group: Group | undefined;
  /** The write under way (never rejects: a failure is kept in `failure`). */
  private writing: Promise<void> = Promise.resolve();
  private failure: { err: unknown } | undefined;

  constructor(
    private readonly runtime: Runtime,
    private readonly opts: { rowsPerWrite?: number } = {},
  ) {}

  async add(events: UsageEvent[]): Promise<{ rejected: SinkResult["rejected"]; written: Promise<BulkWritten> }> {
    if (this.failure) throw this.failure.err;
    const { runtime } = this;
    const { db } = runtime;
    if (!db || db.kind !== "postgres") {
      // PGlite (no COPY): the per-event path, one batch after the other.
      await this.writing;
      const r = await writeEvents(runtime, events);
      return { rejected: r.rejected, written: Promise.resolve({ inserted: r.inserted, duplicates: r.duplicates }) };
    }
    // Validated in slices, letting the write under way (its COPY, then its statements) go on
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
    if (rejected.length) metrics().events.inc({ result: "rejected" }, rejected.length);
    const group = (this.group ??= { staged: newStagedBatch(), pieces: [] });
    const from = group.staged.rows;
    await stageUsageRows(db, valid, group.staged);
    let piece!: Piece;
    const written = new Promise<BulkWritten>((done, failed) => {
      piece = { from, ids: valid.map((e) => ({ accountId: e.accountId, requestId: e.requestId, apiKeyId: e.apiKeyId })), done, failed };
    });
    // The caller may look at `written` only later, or never.
    written.catch(() => {});
    group.pieces.push(piece);
    if (group.staged.rows >= (this.opts.rowsPerWrite ?? ROWS_PER_WRITE)) await this.startWrite();
    return { rejected, written };
  }

  /** Writes what is staged and waits for every write and its Redis work; throws a write's failure. */
  async close(): Promise<void> {
    await this.startWrite();
    await this.writing;
    if (this.failure) throw this.failure.err;
  }

  /** The staged group's write, once the one under way is done. */
  private async startWrite(): Promise<void> {
    const group = this.group;
    this.group = undefined;
    if (!group) return;
    await this.writing;
    if (this.failure) {
      for (const p of group.pieces) p.failed(this.failure.err);
      throw this.failure.err;
    }
    this.writing = this.write(group).catch((err: unknown) => {
      this.failure = { err };
      for (const p of group.pieces) p.failed(err);
    });
  }

  private async write({ staged, pieces }: Group): Promise<void> {
    const { runtime } = this;
    const positions = await insertStagedRows(runtime.db!, staged, runtime.config.usageTimezone);
    const inserted: BulkId[] = [];
    const m = metrics().events;
    let k = 0;
    for (const p of pieces) {
      const before = inserted.length;
      for (; k < positions.length && positions[k]! < p.from + p.ids.length; k++) inserted.push(p.ids[positions[k]! - p.from]!);
      const w = { inserted: inserted.length - before, duplicates: p.ids.length - (inserted.length - before) };
      if (w.inserted) m.inc({ result: "accepted" }, w.inserted);
      if (w.duplicates) m.inc({ result: "duplicate" }, w.duplicates);
      p.done(w);
    }
    // Off the write's path: the next write need not wait for Redis. finishBulk waits for it
    // (markInRedis never throws: a failure is a bypass, as for any write).
    const marking = markInRedis(runtime, inserted);
    const pending = marks.get(runtime) ?? new Set<Promise<void>>();
    marks.set(runtime, pending);
    pending.add(marking);
    void marking.finally(() => pending.delete(marking));
  }
}

/** One batch written in bulk mode, alone (a caller with many batches uses a BulkWriter). */
export async function writeEventsBulk(runtime: Runtime, events: UsageEvent[]): Promise<SinkResult> {
  const writer = new BulkWriter(runtime);
  const { rejected, written } = await writer.add(events);
  await writer.close();
  return { ...(await written), rejected };
}

/** Redis work of bulk writes still under way, per runtime: finishBulk waits for it. */
const marks = new WeakMap<Runtime, Set<Promise<void>>>();

/** Dedupe keys of the inserted ids and placeholders of their accounts and keys; the counters are finishBulk's. */
async function markInRedis(runtime: Runtime, inserted: BulkId[]): Promise<void> {
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

function distinctKeys(events: BulkId[]): { accountId: string; apiKeyId: string }[] {
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
