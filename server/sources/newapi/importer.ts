import type { Runtime } from "../../runtime";
import { RejectionLog, visible, type RejectionSummary } from "../shared/rejections";
import { importTable, nanosToUsd } from "../shared/table-importer";
import { mapLog, NOT_USAGE } from "./mapping";
import type { LogRow, NewapiReader, Variant } from "./reader";
import { NewapiDirectory } from "./sync";

/**
 * Imports a new-api's or one-api's history (read-only there): its channels and tokens, then every
 * usage row of `logs` (consume, refund) up to the highest id at the start, oldest first in
 * batches by primary key, in the ledger's bulk mode (shared/table-importer.ts). Safe to re-run and to run beside the follower: events are keyed by the
 * row's id, so what the ledger has is skipped as a duplicate. Rows the relay deleted (its
 * "delete old logs" purge) cannot be read; what the ledger already took stays.
 */

export const IMPORT_BATCH = 20_000;

export interface NewapiImportOptions {
  source: string;
  dryRun?: boolean;
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface NewapiImportReport {
  source: string;
  relay: Variant;
  dryRun: boolean;
  /** The highest logs id when the import began: rows above it are the follower's. */
  upToId: string;
  quotaPerUnit: string;
  accounts: number;
  apiKeys: number;
  rowsRead: number;
  events: number;
  inserted: number;
  duplicates: number;
  requests: number;
  /** Events of requests = 0 (refunds, negative re-charges). */
  corrections: number;
  /** Sums of the events read, exact (USD strings with 9 decimals). */
  cost: string;
  ratedCost: string;
  firstAt: string | null;
  lastAt: string | null;
  rejections: RejectionSummary;
  durationMs: number;
  /** Of durationMs, the Redis counters of the accounts written rebuilt from the ledger at the end. */
  countersRebuildMs: number;
  eventsPerSecond: number;
}

export async function importNewapi(runtime: Runtime, reader: NewapiReader, opts: NewapiImportOptions): Promise<NewapiImportReport> {
  const started = Date.now();
  if (!runtime.db) throw new Error("the new-api import writes the ledger in PostgreSQL: it needs POSTGRES_ENABLED=true");
  const dryRun = opts.dryRun ?? false;
  const log = new RejectionLog();
  const { variant } = await reader.schema();
  const upToId = await reader.maxId();
  const total = await reader.countUsage(upToId);
  const directory = new NewapiDirectory(runtime, reader, opts.source);
  const synced = await directory.sync(log, { dryRun });
  const t = await importTable<LogRow>(
    runtime,
    {
      table: "logs",
      rowsAfter: (after, limit) => reader.logsAfter(after, limit, { upToId, usageOnly: true }),
      map: (r) => {
        const e = mapLog(opts.source, variant, directory.money, r);
        return e === NOT_USAGE ? null : e;
      },
      prepare: (events, l) => directory.ensureChannels(events.map((e) => e.accountId), l),
    },
    { batch: opts.batch ?? IMPORT_BATCH, dryRun, log, total, onProgress: opts.onProgress },
  );
  const durationMs = Date.now() - started;
  return {
    source: opts.source,
    relay: variant,
    dryRun,
    upToId,
    quotaPerUnit: synced.quotaPerUnit,
    accounts: synced.accounts,
    apiKeys: synced.keys,
    rowsRead: t.rowsRead,
    events: t.events,
    inserted: t.inserted,
    duplicates: t.duplicates,
    requests: t.requests,
    corrections: t.corrections,
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

export function formatNewapiReport(r: NewapiImportReport): string {
  const lines = [
    `${r.dryRun ? "DRY RUN — nothing written. " : ""}${r.relay} import (source "${r.source}") of logs up to id ${r.upToId}`,
    `  QuotaPerUnit: ${r.quotaPerUnit} quota = $1`,
    `  channels:   ${r.accounts} (→ accounts)`,
    `  tokens:     ${r.apiKeys} (→ API keys)`,
    `  rows read:  ${r.rowsRead} usage rows${r.firstAt ? ` (${r.firstAt} … ${r.lastAt})` : ""}`,
    `  events:     ${r.events} (${r.requests} requests, ${r.corrections} corrections; $${r.cost} real, $${r.ratedCost} charged)` +
      (r.dryRun ? `: ${r.events - r.duplicates} new, ${r.duplicates} in the ledger already` : `: ${r.inserted} new, ${r.duplicates} duplicates skipped`),
    `  not taken:  ${r.rejections.total ? `${r.rejections.total} (skipped and counted; the run went on)` : "nothing"}`,
    ...Object.entries(r.rejections.byReason).map(([reason, n]) => `    - ${n} × ${reason}`),
    ...(r.rejections.named.length ? [`    the first ${r.rejections.named.length}:`, ...r.rejections.named.slice(0, 20).map((x) => `      ${x.key}: ${x.reason}${x.detail ? ` (${visible(x.detail, 160)})` : ""}`)] : []),
    `  not reconstructed: rows the relay no longer holds (its "delete old logs"), the upstream's own price where new-api wrote no group ratio (real = charged there)`,
    `  ${r.durationMs} ms, ${r.eventsPerSecond} events/s`,
  ];
  return lines.join("\n");
}
