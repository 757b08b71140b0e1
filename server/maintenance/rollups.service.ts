import type { DbHandle } from "../../db/client";
import {
  addPartitionToRollups,
  compactRollups,
  listUsagePartitions,
  lockUsageForRebuild,
  relocalizePartition,
  setRollupTimezone,
  truncateRollups,
  zeroApiKeyTotals,
} from "./rollups.repository";
import { findRawKeptFrom } from "./retention.repository";
import { AppError } from "../errors";

export interface RebuildProgress {
  partition: string;
  done: number;
  total: number;
  relocalized: number;
}

/**
 * Recomputes every rollup (and api_keys totals) from raw usage_records, one monthly partition at
 * a time, in the usage time zone given. One transaction: readers see the old rollups until it
 * commits, a failure leaves them untouched, and re-running gives the same result. The rollups are
 * rewritten compactly at the end (compactRollups).
 * Refused once retention dropped raw months (USAGE_RAW_RETENTION_MONTHS): the rollups are then the
 * only record of those months, and rebuilding from what is left would erase their figures.
 */
export async function rebuildRollups(
  handle: DbHandle,
  timezone: string,
  onProgress: (p: RebuildProgress) => void = () => {},
): Promise<{ partitions: number; relocalized: number }> {
  return handle.db.transaction().execute(async (tx) => {
    await lockUsageForRebuild(tx);
    const keptFrom = await findRawKeptFrom(tx);
    if (keptFrom) {
      throw new AppError(
        "CONFLICT",
        `Rollups not rebuilt: raw usage records before ${keptFrom.toISOString()} were dropped by retention (USAGE_RAW_RETENTION_MONTHS), ` +
          "so the rollups are the only record of those months and rebuilding them from the raw records left would erase their figures.",
      );
    }
    const partitions = await listUsagePartitions(tx);
    await truncateRollups(tx);
    await zeroApiKeyTotals(tx);
    let relocalized = 0;
    for (const [i, p] of partitions.entries()) {
      relocalized += await relocalizePartition(tx, p.name, timezone);
      await addPartitionToRollups(tx, p.name);
      onProgress({ partition: p.name, done: i + 1, total: partitions.length, relocalized });
    }
    await compactRollups(tx);
    await setRollupTimezone(tx, timezone);
    return { partitions: partitions.length, relocalized };
  });
}
