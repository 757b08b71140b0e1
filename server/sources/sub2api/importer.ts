import type { Runtime } from "../../runtime";
import { findRecordedRequestIds } from "../../usage/usage.repository";
import type { UsageEvent } from "../../usage/schemas";
import { RejectionLog, visible, type RejectionSummary } from "../shared/rejections";
import { finishBulk, writeEventsBulk } from "../shared/bulk";
import { isUnmapped, mapLog, rowKey } from "./mapping";
import type { LogRow, Sub2apiReader } from "./reader";
import { Sub2apiDirectory } from "./sync";

/**
 * Imports a sub2api's history (read-only there): its accounts and keys, then every usage_logs row
 * up to the highest id at the start, oldest first in batches by primary key — each batch one
 * bulk write into the ledger (shared/bulk.ts: COPY, the same claims and rollups as every write),
 * and the Redis counters of the accounts written rebuilt from the ledger at the end. Safe to re-run and to run beside the follower: events are keyed by the
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

/** "12.34567891" → nano-USD, exact (costs here have at most 8 decimals). */
export function usdToNanos(usd: string): bigint {
  const [int, frac = ""] = usd.split(".");
  return BigInt(int!) * 1_000_000_000n + BigInt((frac + "000000000").slice(0, 9));
}
export const nanosToUsd = (n: bigint) => `${n / 1_000_000_000n}.${(n % 1_000_000_000n).toString().padStart(9, "0")}`;

export async function importSub2api(runtime: Runtime, reader: Sub2apiReader, opts: Sub2apiImportOptions): Promise<Sub2apiImportReport> {
  const started = Date.now();
  if (!runtime.db) throw new Error("the sub2api import writes the ledger in PostgreSQL: it needs POSTGRES_ENABLED=true");
  const dryRun = opts.dryRun ?? false;
  const batch = opts.batch ?? IMPORT_BATCH;
  const log = new RejectionLog();
  await reader.schema();
  const upToId = await reader.maxId();
  const total = await reader.countLogs();
  const directory = new Sub2apiDirectory(runtime, reader, opts.source);
  const synced = await directory.sync(log, { dryRun });
  const report: Sub2apiImportReport = {
    source: opts.source,
    dryRun,
    upToId,
    accounts: synced.accounts,
    linkedAccounts: synced.linked,
    apiKeys: synced.keys,
    rowsRead: 0,
    events: 0,
    inserted: 0,
    duplicates: 0,
    requests: 0,
    cost: "0",
    ratedCost: "0",
    firstAt: null,
    lastAt: null,
    rejections: log.summary(),
    durationMs: 0,
    countersRebuildMs: 0,
    eventsPerSecond: 0,
  };
  let cost = 0n;
  let rated = 0n;
  let first = Infinity;
  let last = -Infinity;
  let after = "0";
  const touched = new Set<string>();
  const tally = (events: UsageEvent[]) => {
    for (const e of events) {
      report.events++;
      report.requests += e.requests ?? 1;
      cost += usdToNanos(String(e.cost));
      rated += usdToNanos(String(e.ratedCost));
      const t = Date.parse(e.occurredAt);
      if (t < first) first = t;
      if (t > last) last = t;
    }
  };
  opts.onProgress?.(0, total);
  // Reading the next batch, mapping and validating it overlap writing this one; the writes
  // themselves run one after another (each one transaction on the same rollup rows).
  let next: Promise<LogRow[]> | undefined = reader.logsAfter(after, batch, upToId);
  let writing: Promise<void> | undefined;
  while (next) {
    const rows: LogRow[] = await next;
    if (!rows.length) break;
    after = rows.at(-1)!.id;
    next = rows.length === batch ? reader.logsAfter(after, batch, upToId) : undefined;
    const events: UsageEvent[] = [];
    for (const r of rows) {
      const e = mapLog(opts.source, r, directory.accountOf);
      if (isUnmapped(e)) {
        log.add(e.reason, rowKey("usage_logs", r.id), e.detail);
        continue;
      }
      events.push(e);
    }
    report.rowsRead += rows.length;
    const rowsRead = report.rowsRead;
    if (dryRun) {
      const have = new Set(await findRecordedRequestIds(runtime.db.db, events.map((e) => e.requestId)));
      report.duplicates += events.filter((e) => have.has(e.requestId)).length;
      tally(events);
      opts.onProgress?.(rowsRead, Math.max(total, rowsRead));
      continue;
    }
    for (const e of events) touched.add(e.accountId);
    const previous = writing;
    writing = writeEventsBulk(runtime, events, { after: previous }).then((written) => {
      report.inserted += written.inserted;
      report.duplicates += written.duplicates;
      const refused = new Set(written.rejected.map((x) => x.index));
      for (const x of written.rejected) log.add("an event the ledger refused", rowKey("usage_logs", events[x.index]!.requestId.slice(opts.source.length + 1)), visible(x.message, 160));
      tally(refused.size ? events.filter((_, i) => !refused.has(i)) : events);
      opts.onProgress?.(rowsRead, Math.max(total, rowsRead));
    });
    // A failed write is thrown by the `await` of it below or on the next turn; until then it must
    // not count as unhandled.
    writing.catch(() => {});
    // At most one batch waits behind the one being written.
    await previous;
  }
  await writing;
  if (!dryRun) {
    const t = Date.now();
    await finishBulk(runtime, touched);
    report.countersRebuildMs = Date.now() - t;
  }
  report.cost = nanosToUsd(cost);
  report.ratedCost = nanosToUsd(rated);
  report.firstAt = Number.isFinite(first) ? new Date(first).toISOString() : null;
  report.lastAt = Number.isFinite(last) ? new Date(last).toISOString() : null;
  report.rejections = log.summary();
  report.durationMs = Date.now() - started;
  report.eventsPerSecond = Math.round(report.events / Math.max(0.001, report.durationMs / 1000));
  return report;
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
