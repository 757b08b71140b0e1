import type { Runtime } from "../../runtime";
import { RejectionLog, visible, type RejectionSummary } from "../shared/rejections";
import { importTable, nanosToUsd, usdToNanos } from "../shared/table-importer";
import { mapLog } from "./mapping";
import type { LogRow, Sub2apiReader } from "./reader";
import { Sub2apiDirectory } from "./sync";

/**
 * Imports a sub2api's history (read-only there): its accounts and keys, then every usage_logs row
 * up to the highest id at the start, oldest first in batches by primary key, written in the
 * ledger's bulk mode (shared/table-importer.ts, shared/bulk.ts: COPY, several batches per
 * transaction, the same claims and rollups as every write), and the Redis counters of the accounts
 * written rebuilt from the ledger at the end. Safe to re-run and to run beside the follower: events are keyed by the
 * row's id, so what the ledger has is skipped as a duplicate. Rows sub2api deleted (its 90-day
 * retention, a user deleted with its logs) cannot be read; what the ledger already took stays.
 */

export const IMPORT_BATCH = 20_000;

export interface Sub2apiImportOptions {
  source: string;
  dryRun?: boolean;
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface Sub2apiImportReport {
  source: string;
  dryRun: boolean;
  /** The highest usage_logs id when the import began: rows above it are the follower's. */
  upToId: string;
  accounts: number;
  /** sub2api accounts synced from CRS, whose usage lands on the CRS account. */
  linkedAccounts: number;
  apiKeys: number;
  rowsRead: number;
  events: number;
  inserted: number;
  duplicates: number;
  requests: number;
  /** Sums of the events read, exact (USD strings with 9 decimals). */
  cost: string;
  ratedCost: string;
  firstAt: string | null;
  lastAt: string | null;
  rejections: RejectionSummary;
  durationMs: number;
  /** Of durationMs, the Redis counters of the accounts written rebuilt from the ledger at the end (finishBulk). */
  countersRebuildMs: number;
  eventsPerSecond: number;
}

export { usdToNanos, nanosToUsd };

export async function importSub2api(runtime: Runtime, reader: Sub2apiReader, opts: Sub2apiImportOptions): Promise<Sub2apiImportReport> {
  const started = Date.now();
  if (!runtime.db) throw new Error("the sub2api import writes the ledger in PostgreSQL: it needs POSTGRES_ENABLED=true");
  const dryRun = opts.dryRun ?? false;
  const log = new RejectionLog();
  await reader.schema();
  const upToId = await reader.maxId();
  const total = await reader.countLogs();
  const directory = new Sub2apiDirectory(runtime, reader, opts.source);
  const synced = await directory.sync(log, { dryRun });
  const t = await importTable<LogRow>(
    runtime,
    {
      table: "usage_logs",
      rowsAfter: (after, limit) => reader.logsAfter(after, limit, upToId),
      map: (r) => mapLog(opts.source, r, directory.accountOf),
    },
    { batch: opts.batch ?? IMPORT_BATCH, dryRun, log, total, onProgress: opts.onProgress },
  );
  const durationMs = Date.now() - started;
  return {
    source: opts.source,
    dryRun,
    upToId,
    accounts: synced.accounts,
    linkedAccounts: synced.linked,
    apiKeys: synced.keys,
    rowsRead: t.rowsRead,
    events: t.events,
    inserted: t.inserted,
    duplicates: t.duplicates,
    requests: t.requests,
    cost: nanosToUsd(t.costNanos),
    ratedCost: nanosToUsd(t.ratedCostNanos),
    firstAt: t.firstMs === null ? null : new Date(t.firstMs).toISOString(),
    lastAt: t.lastMs === null ? null : new Date(t.lastMs).toISOString(),
    rejections: log.summary(),
    durationMs,
    countersRebuildMs: t.countersRebuildMs,
    eventsPerSecond: Math.round(t.events / Math.max(0.001, durationMs / 1000)),
  };
}

export function formatSub2apiReport(r: Sub2apiImportReport): string {
  const lines = [
    `${r.dryRun ? "DRY RUN — nothing written. " : ""}sub2api import (source "${r.source}") of usage_logs up to id ${r.upToId}`,
    `  accounts:   ${r.accounts} (${r.linkedAccounts} synced from CRS: their usage lands on the CRS account)`,
    `  API keys:   ${r.apiKeys}`,
    `  rows read:  ${r.rowsRead}${r.firstAt ? ` (${r.firstAt} … ${r.lastAt})` : ""}`,
    `  events:     ${r.events} (${r.requests} requests, $${r.cost} real, $${r.ratedCost} charged)` +
      (r.dryRun ? `: ${r.events - r.duplicates} new, ${r.duplicates} in the ledger already` : `: ${r.inserted} new, ${r.duplicates} duplicates skipped`),
    `  not taken:  ${r.rejections.total ? `${r.rejections.total} (skipped and counted; the run went on)` : "nothing"}`,
    ...Object.entries(r.rejections.byReason).map(([reason, n]) => `    - ${n} × ${reason}`),
    ...(r.rejections.named.length ? [`    the first ${r.rejections.named.length}:`, ...r.rejections.named.slice(0, 20).map((x) => `      ${x.key}: ${x.reason}${x.detail ? ` (${visible(x.detail, 160)})` : ""}`)] : []),
    `  not reconstructed: rows sub2api no longer holds (its usage-log retention, 90 days by default; a user deleted with its logs)`,
    `  ${r.durationMs} ms, ${r.eventsPerSecond} events/s`,
  ];
  return lines.join("\n");
}
