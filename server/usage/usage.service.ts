import type { ZodError } from "zod";
import type { DbHandle } from "../../db/client";
import { AppError } from "../errors";
import { logger } from "../logger";
import { isRedisReady, type RedisClient } from "../redis";
import type { Runtime } from "../runtime";
import { appendOutbox } from "./hot-outbox";
import { countHotEvents, type HotStatus } from "./hot-record";
import { normalizeEvent, type NormalizedEvent } from "./normalize";
import { isPlainValidEvent, usageEventSchema, type RecordUsageInput, type RecordUsageResult, type RejectedEvent } from "./schemas";
import { metrics } from "../metrics/metrics";
import { isDatabaseUnavailable, isExpiredRawMonth } from "../../db/errors";
import { insertUsageRows } from "./usage.repository";
import { forgetRawKeptFrom, rawKeptFromMs } from "../maintenance/raw-horizon";

/**
 * Recording usage: the one entry point for every writer — REST, tRPC, the demo generator, the CRS
 * importer and follower (crs/sink.ts), scripts, tests. One validation, one insert into the ledger
 * (insertUsageRows), one way of counting in Redis (bypassed ids first, then the dedupe + counters
 * script, waiting out a reconcile), in one of two orders:
 *
 * - "hot-first" (the default): the batch is appended to the outbox stream first, then counted by
 *   one atomic script per account; the drainer moves the outbox into PostgreSQL.
 * - "ledger-first" (bulk imports): into PostgreSQL in one idempotent statement, then Redis counts
 *   exactly the rows PostgreSQL inserted, so a re-import after Redis's 72-hour dedupe window
 *   cannot count anything twice, and the ledger is current at once for a caller that compares
 *   against it. If the process dies between the two steps, Redis is short until the next rebuild
 *   (`npm run usage:reconcile`) — never over. Without PostgreSQL it is the hot-first path.
 *
 * Without Redis (unset, down, or failing mid-request): straight into PostgreSQL in one idempotent
 * statement, the ids remembered (runtime.bypassedIds) to get their dedupe keys once Redis is back.
 * A 2xx therefore means the events are in the stream or committed.
 */

const RETRY_AFTER_SECONDS = 5;
/** How long a write waits for an account whose counters are being rebuilt. */
const RECONCILE_WAIT_MS = 15_000;

export interface RecordOptions {
  /** See the header: "hot-first" (the default) or "ledger-first". */
  order?: "hot-first" | "ledger-first";
}

export async function recordUsage(runtime: Runtime, input: RecordUsageInput, options: RecordOptions = {}): Promise<RecordUsageResult> {
  const { events, rejected } = validateEvents(input.events, runtime.config.usageTimezone, await rawKeptFromMs(runtime, runtime.clock.now()));
  const m = metrics().events;
  if (rejected.length) m.inc({ result: "rejected" }, rejected.length);
  if (!events.length) return { accepted: 0, duplicates: 0, rejected };
  const written = options.order === "ledger-first" && runtime.db ? await writeLedgerFirst(runtime, runtime.db, events) : await writeEvents(runtime, events);
  if (written.accepted) m.inc({ result: "accepted" }, written.accepted);
  if (written.duplicates) m.inc({ result: "duplicate" }, written.duplicates);
  return { ...written, rejected };
}

/**
 * Checks each event on its own: the good ones are normalized, the bad ones reported by index.
 * With `rawKeptFromMs` (raw-horizon.ts), an event before it is refused: its month's raw records and
 * request-id claims were dropped by retention, so a repeat of it could no longer be recognized.
 */
export function validateEvents(raw: unknown[], timeZone: string, rawKeptFromMs?: number): { events: NormalizedEvent[]; rejected: RejectedEvent[] } {
  const events: NormalizedEvent[] = [];
  const rejected: RejectedEvent[] = [];
  const accept = (index: number, e: NormalizedEvent) => {
    if (rawKeptFromMs === undefined || e.occurredAtMs >= rawKeptFromMs) events.push(e);
    else rejected.push({ index, code: "RAW_RECORDS_EXPIRED", message: expiredMessage(rawKeptFromMs) });
  };
  raw.forEach((value, index) => {
    if (isPlainValidEvent(value)) {
      accept(index, normalizeEvent(value, timeZone));
      return;
    }
    const parsed = usageEventSchema.safeParse(value);
    if (parsed.success) accept(index, normalizeEvent(parsed.data, timeZone));
    else rejected.push(rejection(index, value, parsed.error));
  });
  return { events, rejected };
}

const expiredMessage = (keptFromMs: number) =>
  `occurredAt: is before ${new Date(keptFromMs).toISOString()}, where raw usage records begin (USAGE_RAW_RETENTION_MONTHS); ` +
  "older request ids are no longer kept, so a repeat could not be recognized and the event is not recorded";

function rejection(index: number, value: unknown, error: ZodError): RejectedEvent {
  const given = (key: PropertyKey) => typeof value === "object" && value !== null && Object.hasOwn(value, key) && (value as Record<PropertyKey, unknown>)[key] !== undefined;
  const parts: string[] = [];
  let code: RejectedEvent["code"] = "INVALID_FIELD";
  error.issues.forEach((issue, i) => {
    const path = issue.path.map(String).join(".");
    let kind: RejectedEvent["code"] = "INVALID_FIELD";
    let text: string;
    if (issue.code === "unrecognized_keys") {
      kind = "UNKNOWN_FIELD";
      text = `${issue.keys.join(", ")}: unknown field${issue.keys.length > 1 ? "s" : ""}`;
    } else if (!path) {
      kind = "INVALID_EVENT";
      text = `event: must be a JSON object with the usage fields (${issue.message})`;
    } else if (issue.code === "invalid_type" && issue.path.length === 1 && !given(issue.path[0]!)) {
      kind = "MISSING_FIELD";
      text = `${path}: is required`;
    } else {
      text = `${path}: ${issue.message}`;
    }
    if (i === 0) code = kind;
    if (i < 5) parts.push(text);
  });
  if (error.issues.length > 5) parts.push(`… and ${error.issues.length - 5} more`);
  return { index, code, message: parts.join("; ") };
}

type Written = Omit<RecordUsageResult, "rejected">;

/** PostgreSQL down (a refusal of ours, such as RAW_RECORDS_EXPIRED, is not: its code is no SQLSTATE). */
const pgUnavailable = (err: unknown) => !(err instanceof AppError) && isDatabaseUnavailable(err);

function unavailable(message: string): AppError {
  return new AppError("UNAVAILABLE", message, { retryAfterSeconds: RETRY_AFTER_SECONDS });
}

async function writeEvents(runtime: Runtime, events: NormalizedEvent[]): Promise<Written> {
  const { redis, db } = runtime;
  if (isRedisReady(redis)) return writeHot(runtime, redis, events);
  if (redis) runtime.events.emit("redisBypassed");
  if (!db) throw unavailable("Usage cannot be recorded: Redis is unavailable and PostgreSQL is disabled. Retry later.");
  try {
    return await writeBypassing(runtime, db, events);
  } catch (err) {
    if (!pgUnavailable(err)) throw err;
    logger.warn(`[usage] PostgreSQL unavailable and Redis ${redis ? "down" : "not configured"}: refusing the batch (${(err as Error).message})`);
    throw unavailable("Usage cannot be recorded: PostgreSQL and Redis are both unavailable. Retry later.");
  }
}

async function writeHot(runtime: Runtime, redis: RedisClient, events: NormalizedEvent[]): Promise<Written> {
  let outboxed = false;
  try {
    await seedBypassedIds(runtime, redis);
    // Outbox first: an event may be in the outbox and not counted (PostgreSQL dedupes and a
    // reconcile recounts), but never counted and missing from the outbox.
    if (runtime.db) {
      await appendOutbox(redis, runtime.config.redisKeyPrefix, {
        count: events.length,
        months: monthsOf(events),
        rowsJson: rowsJsonOf(events),
      });
      outboxed = true;
    }
    const statuses = await countInRedis(runtime, redis, events);
    return {
      accepted: statuses.filter((s) => s !== 0).length,
      duplicates: statuses.filter((s) => s === 0).length,
    };
  } catch (err) {
    runtime.events.emit("redisBypassed");
    if (!runtime.db) {
      throw unavailable(`Usage cannot be recorded: Redis failed (${(err as Error).message}) and PostgreSQL is disabled. Retry later.`);
    }
    logger.warn(`[usage] Redis write failed (${(err as Error).message}); writing the batch straight to PostgreSQL`);
    // Already in the outbox, the batch is durable whatever happens next: a drainer may even have
    // committed it before the direct write below, so what that write skips is not known to be a
    // duplicate. Such a batch is answered as accepted in full (only its repeats within the batch
    // are duplicates); the ledger's idempotency keeps every event once either way.
    const durable = (): Written => {
      const distinct = new Set(events.map((e) => e.requestId)).size;
      return { accepted: distinct, duplicates: events.length - distinct };
    };
    try {
      const direct = await writeBypassing(runtime, runtime.db, events);
      return outboxed ? durable() : direct;
    } catch (pgErr) {
      if (outboxed) return durable();
      if (pgUnavailable(pgErr)) throw unavailable("Usage cannot be recorded: PostgreSQL and Redis are both unavailable. Retry later.");
      throw pgErr;
    }
  }
}

/**
 * Ledger first: one idempotent statement into PostgreSQL, then Redis counts exactly the rows it
 * inserted, the way the hot path counts (countInRedis). When Redis is not ready or fails, the
 * inserted ids are remembered like any write that bypassed Redis, and the counters are rebuilt.
 */
async function writeLedgerFirst(runtime: Runtime, handle: DbHandle, events: NormalizedEvent[]): Promise<Written> {
  let insertedIds: string[];
  try {
    insertedIds = await insertUsageRows(handle.db, { rowsJson: rowsJsonOf(events), months: monthsOf(events) }, runtime.config.usageTimezone, "ids");
  } catch (err) {
    refuseExpired(runtime, err);
    if (!pgUnavailable(err)) throw err;
    throw unavailable(`Usage cannot be recorded: PostgreSQL is unavailable (${(err as Error).message}). Retry later.`);
  }
  const inserted = insertedEvents(events, insertedIds);
  const written = { accepted: inserted.length, duplicates: events.length - inserted.length };
  const { redis } = runtime;
  if (!redis || !inserted.length) return written;
  if (!isRedisReady(redis)) {
    runtime.bypassedIds.add(inserted);
    runtime.events.emit("redisBypassed");
    return written;
  }
  try {
    await seedBypassedIds(runtime, redis);
    await countInRedis(runtime, redis, inserted);
  } catch (err) {
    logger.warn(`[usage] counting in Redis failed (${(err as Error).message}); the counters will be rebuilt from PostgreSQL`);
    // Some groups may have been counted: setting their dedupe keys again (SET NX) changes nothing.
    runtime.bypassedIds.add(inserted);
    runtime.events.emit("redisBypassed");
  }
  return written;
}

/**
 * The events whose rows insert_usage_batch inserted. It returns request ids only; when one id
 * comes twice in a batch (a repeat, or two accounts), each returned copy claims the first event
 * with that id not claimed yet.
 */
function insertedEvents(events: NormalizedEvent[], insertedIds: string[]): NormalizedEvent[] {
  const left = new Map<string, number>();
  for (const id of insertedIds) left.set(id, (left.get(id) ?? 0) + 1);
  return events.filter((e) => {
    const n = left.get(e.requestId);
    if (!n) return false;
    left.set(e.requestId, n - 1);
    return true;
  });
}

/**
 * Ids that went straight to PostgreSQL while Redis was bypassed get their dedupe keys before
 * anything is counted in Redis again, so that a resend of them is a duplicate here too.
 */
async function seedBypassedIds(runtime: Runtime, redis: RedisClient): Promise<void> {
  if (runtime.bypassedIds.size) await runtime.bypassedIds.flush(redis, runtime.config.redisKeyPrefix);
}

/**
 * Counts in Redis the way every writer does (dedupe + counters, waiting out a reconcile of the
 * accounts). Events still held when the wait ends are left to the rebuild that this triggers.
 */
async function countInRedis(runtime: Runtime, redis: RedisClient, events: NormalizedEvent[]): Promise<HotStatus[]> {
  const statuses = await countWaitingForReconcile(runtime, redis, events);
  if (statuses.includes(-1)) {
    logger.warn("[usage] counters of some accounts stayed locked by a reconcile; their events will be recounted from PostgreSQL");
    runtime.events.emit("redisBypassed");
  }
  return statuses;
}

/** Counts, and while an account is being reconciled (-1) retries its events with a bounded backoff. */
async function countWaitingForReconcile(runtime: Runtime, redis: RedisClient, events: NormalizedEvent[]): Promise<HotStatus[]> {
  const prefix = runtime.config.redisKeyPrefix;
  const statuses = await countHotEvents(redis, prefix, events);
  const deadline = Date.now() + RECONCILE_WAIT_MS;
  let delay = 20;
  while (statuses.includes(-1) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 250);
    const again = statuses.flatMap((s, i) => (s === -1 ? [i] : []));
    const retried = await countHotEvents(redis, prefix, again.map((i) => events[i]!));
    again.forEach((i, j) => (statuses[i] = retried[j]!));
  }
  return statuses;
}

/** writeDirect while Redis is bypassed: the ids are remembered to get their dedupe keys later. */
async function writeBypassing(runtime: Runtime, handle: DbHandle, events: NormalizedEvent[]): Promise<Written> {
  const written = await writeDirect(runtime, handle, events);
  if (runtime.redis) runtime.bypassedIds.add(events);
  return written;
}

/** One idempotent statement: rows, rollups, key totals and placeholders, or nothing. */
async function writeDirect(runtime: Runtime, handle: DbHandle, events: NormalizedEvent[]): Promise<Written> {
  try {
    const inserted = await insertUsageRows(handle.db, { rowsJson: rowsJsonOf(events), months: monthsOf(events) }, runtime.config.usageTimezone);
    return { accepted: inserted, duplicates: events.length - inserted };
  } catch (err) {
    refuseExpired(runtime, err);
    throw err;
  }
}

/**
 * The partition guard refused a month retention dropped: this process validated the batch with a
 * horizon read just before it moved. Nothing was written; the next attempt reads the horizon
 * again and refuses those events one by one.
 */
function refuseExpired(runtime: Runtime, err: unknown): void {
  if (!isExpiredRawMonth(err)) return;
  if (runtime.db) forgetRawKeptFrom(runtime.db.db);
  throw new AppError("RAW_RECORDS_EXPIRED", `Nothing of this batch was recorded: ${(err as Error).message}. Retry: the events before where raw records begin will be rejected one by one.`);
}

const rowsJsonOf = (events: NormalizedEvent[]) => JSON.stringify(events.map((e) => e.row));
const monthsOf = (events: NormalizedEvent[]) => [...new Set(events.map((e) => e.partitionMonth))];
