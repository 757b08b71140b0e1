import type { DbHandle } from "../../db/client";
import type { AppConfig } from "../config";
import { RAW_RETENTION_MAX_MONTHS, RAW_RETENTION_MIN_MONTHS } from "../config";
import { AppError } from "../errors";
import { forgetRawKeptFrom, retentionHorizon } from "./raw-horizon";
import {
  advanceRawKeptFrom,
  countExpiredClaims,
  deleteExpiredClaims,
  dropPartition,
  findRawKeptFrom,
  keepExpiredCoverage,
  listExpiredPartitions,
  setLocalLockTimeout,
  tryRetentionLock,
  type RawPartition,
} from "./retention.repository";

/**
 * Raw-record retention (issue 26): whole monthly partitions of usage_records before the horizon
 * (the first UTC month kept = the current one − USAGE_RAW_RETENTION_MONTHS) are detached and
 * dropped, and the request-id claims before it deleted in bounded batches. The rollups are
 * separate tables and keep every figure. The horizon is recorded in usage_settings in the same
 * transaction as the drops, so writers refuse older events (raw-horizon.ts) and the partition
 * guard (0017) never recreates a dropped month; what each dropped partition held per key × model ×
 * day is kept for CRS's gap filling (usage_expired_coverage). One run at a time (an advisory lock); a second
 * run finds nothing to do.
 */

export interface RetentionOptions {
  months: number;
  /** The clock (tests inject it). */
  now?: Date;
  /** Nothing changes; the plan is returned. */
  dryRun?: boolean;
  /** Claims deleted per statement, and at most this many statements per run (the rest: next run). */
  claimBatch?: number;
  maxClaimBatches?: number;
  /** Giving up on the lock of usage_records rather than queueing ingest behind it. */
  lockTimeoutMs?: number;
}

export interface RetentionResult {
  /** The first instant whose raw records are kept. */
  keptFrom: Date;
  dryRun: boolean;
  /** false: another process is running retention now; nothing was done. */
  ran: boolean;
  partitions: RawPartition[];
  /** Claims deleted (dry run: found, counted up to 1,000,000). */
  claims: number;
  /** More claims are left for the next run (the per-run bound was reached). */
  claimsLeft: boolean;
}

const DRY_RUN_CLAIM_COUNT_LIMIT = 1_000_000;

export function checkRetentionMonths(months: number): void {
  if (!Number.isInteger(months) || months < RAW_RETENTION_MIN_MONTHS || months > RAW_RETENTION_MAX_MONTHS) {
    throw new AppError("BAD_REQUEST", `months must be a whole number from ${RAW_RETENTION_MIN_MONTHS} to ${RAW_RETENTION_MAX_MONTHS}, got ${months}`);
  }
}

export async function applyRawRetention(handle: DbHandle, o: RetentionOptions): Promise<RetentionResult> {
  checkRetentionMonths(o.months);
  const now = o.now ?? new Date();
  const planned = retentionHorizon(now.getTime(), o.months);
  const db = handle.db;
  // The horizon never moves back: a larger USAGE_RAW_RETENTION_MONTHS later cannot bring rows back.
  const recorded = await findRawKeptFrom(db);
  const keptFrom = recorded && recorded > planned ? recorded : planned;
  if (o.dryRun) {
    const partitions = await listExpiredPartitions(db, keptFrom);
    const claims = await countExpiredClaims(db, keptFrom, DRY_RUN_CLAIM_COUNT_LIMIT);
    return { keptFrom, dryRun: true, ran: true, partitions, claims, claimsLeft: claims >= DRY_RUN_CLAIM_COUNT_LIMIT };
  }

  // A partition per transaction: DETACH takes an ACCESS EXCLUSIVE lock on usage_records until
  // commit, so each holds it only for its own drop, not while the next partition is read.
  const dropped: RawPartition[] = [];
  for (;;) {
    const step = await db.transaction().execute(async (tx) => {
      if (!(await tryRetentionLock(tx))) return "busy" as const;
      await setLocalLockTimeout(tx, o.lockTimeoutMs ?? 10_000);
      // Recorded first: from this commit on no writer recreates a dropped month (0017's guard).
      await advanceRawKeptFrom(tx, keptFrom);
      const [oldest] = await listExpiredPartitions(tx, keptFrom, 1);
      if (!oldest) return undefined;
      await keepExpiredCoverage(tx, oldest.name);
      await dropPartition(tx, oldest.name);
      return oldest;
    });
    if (step === "busy") {
      forgetRawKeptFrom(db);
      return { keptFrom, dryRun: false, ran: dropped.length > 0, partitions: dropped, claims: 0, claimsLeft: false };
    }
    if (!step) break;
    dropped.push(step);
  }
  forgetRawKeptFrom(db);

  const batch = o.claimBatch ?? 10_000;
  const maxBatches = o.maxClaimBatches ?? 100;
  let claims = 0;
  let claimsLeft = false;
  for (let i = 0; ; i++) {
    if (i >= maxBatches) {
      claimsLeft = true;
      break;
    }
    const n = await deleteExpiredClaims(db, keptFrom, batch);
    claims += n;
    if (n < batch) break;
  }
  return { keptFrom, dryRun: false, ran: true, partitions: dropped, claims, claimsLeft };
}

/** The run the background work does: USAGE_RAW_RETENTION_MONTHS, or nothing when it is unset. */
export async function runConfiguredRetention(config: AppConfig, handle: DbHandle, now = new Date()): Promise<RetentionResult | undefined> {
  if (config.usageRawRetentionMonths === undefined) return undefined;
  return applyRawRetention(handle, { months: config.usageRawRetentionMonths, now });
}
