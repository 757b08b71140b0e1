import type { Kysely } from "kysely";
import type { Database } from "../../db/types";
import { isDatabaseUnavailable } from "../../db/errors";
import { AppError } from "../errors";
import type { Runtime } from "../runtime";
import { findRawKeptFrom } from "./retention.repository";

/**
 * Where raw usage_records begin (USAGE_RAW_RETENTION_MONTHS, retention.service.ts): before this
 * instant, months were dropped (or are due to be) and so were their request-id claims. Writers
 * refuse events before it (a repeat of one could no longer be recognized), and reads of raw records
 * over a range that starts before it answer RAW_RECORDS_EXPIRED instead of less.
 */

/** The first instant of the UTC month `months` before the month of `nowMs`. */
export function retentionHorizon(nowMs: number, months: number): Date {
  const now = new Date(nowMs);
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - months, 1));
}

/** The horizon changes once a month: each process reads it at most this often. */
const CACHE_MS = 30_000;
const cache = new WeakMap<Kysely<Database>, { readAt: number; keptFromMs: number | undefined }>();

async function recordedKeptFromMs(db: Kysely<Database>, nowMs: number): Promise<number | undefined> {
  const hit = cache.get(db);
  if (hit && nowMs - hit.readAt < CACHE_MS && hit.readAt <= nowMs) return hit.keptFromMs;
  try {
    const keptFromMs = (await findRawKeptFrom(db))?.getTime();
    cache.set(db, { readAt: nowMs, keptFromMs });
    return keptFromMs;
  } catch (err) {
    // PostgreSQL down: the hot path still records; the last horizon read (and the configured one) stand.
    if (isDatabaseUnavailable(err)) return hit?.keptFromMs;
    throw err;
  }
}

/** After a retention run in this process: the next read sees its horizon at once. */
export function forgetRawKeptFrom(db: Kysely<Database>): void {
  cache.delete(db);
}

/**
 * The first instant whose raw records are kept: the later of the horizon a retention run recorded
 * and the one USAGE_RAW_RETENTION_MONTHS gives now (a run is due for it); undefined: all are kept.
 */
export async function rawKeptFromMs(runtime: Pick<Runtime, "config" | "db">, nowMs = Date.now()): Promise<number | undefined> {
  const months = runtime.config.usageRawRetentionMonths;
  const configured = months === undefined ? undefined : retentionHorizon(nowMs, months).getTime();
  const recorded = runtime.db ? await recordedKeptFromMs(runtime.db.db, nowMs) : undefined;
  if (configured === undefined) return recorded;
  return recorded === undefined ? configured : Math.max(configured, recorded);
}

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function rawRecordsExpired(keptFromMs: number, what: string): AppError {
  return new AppError(
    "RAW_RECORDS_EXPIRED",
    `${what} needs raw usage records from before ${isoDate(keptFromMs)}, which are no longer kept (USAGE_RAW_RETENTION_MONTHS); raw records are kept from ${new Date(keptFromMs).toISOString()}. Figures by day, month and all time (the rollups) are complete.`,
  );
}

/** A read of raw usage_records from `fromMs` on: RAW_RECORDS_EXPIRED (410) when part of it is gone. */
export async function assertRawRecordsKept(runtime: Runtime, fromMs: number, what: string, nowMs = Date.now()): Promise<void> {
  const keptFrom = await rawKeptFromMs(runtime, nowMs);
  if (keptFrom !== undefined && fromMs < keptFrom) throw rawRecordsExpired(keptFrom, what);
}
