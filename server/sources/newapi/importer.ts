import type { Runtime } from "../../runtime";
import { findRecordedRequestIds } from "../../usage/usage.repository";
import type { UsageEvent } from "../../usage/schemas";
import { RejectionLog, visible, type RejectionSummary } from "../shared/rejections";
import { writeEvents } from "../shared/sink";
import { isUnmapped, mapLog, NOT_USAGE, rowKey } from "./mapping";
import type { LogRow, NewapiReader, Variant } from "./reader";
import { NewapiDirectory } from "./sync";

/**
 * Imports a new-api's or one-api's history (read-only there): its channels and tokens, then every
 * usage row of `logs` (consume, refund) up to the highest id at the start, oldest first in
 * batches by primary key. Safe to re-run and to run beside the follower: events are keyed by the
 * row's id, so what the ledger has is skipped as a duplicate. Rows the relay deleted (its
 * "delete old logs" purge) cannot be read; what the ledger already took stays.
 */

export const IMPORT_BATCH = 5_000;

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
  /** Sums of the events read, exact (USD, 8 decimals). */
  cost: string;
  ratedCost: string;
  firstAt: string | null;
  lastAt: string | null;
  rejections: RejectionSummary;
  durationMs: number;
  eventsPerSecond: number;
}

/** "-12.345" → 1e-8 USD units, exact. */
export function usdToUnits(usd: string): bigint {
  const neg = usd.startsWith("-");
  const [int, frac = ""] = (neg ? usd.slice(1) : usd).split(".");
  const n = BigInt(int!) * 100_000_000n + BigInt((frac + "00000000").slice(0, 8));
  return neg ? -n : n;
}
export const unitsToUsd = (n: bigint) => {
  const neg = n < 0n;
  const a = neg ? -n : n;
  return `${neg ? "-" : ""}${a / 100_000_000n}.${(a % 100_000_000n).toString().padStart(8, "0")}`;
};

export async function importNewapi(runtime: Runtime, reader: NewapiReader, opts: NewapiImportOptions): Promise<NewapiImportReport> {
  const started = Date.now();
  if (!runtime.db) throw new Error("the new-api import writes the ledger in PostgreSQL: it needs POSTGRES_ENABLED=true");
  const dryRun = opts.dryRun ?? false;
  const batch = opts.batch ?? IMPORT_BATCH;
  const log = new RejectionLog();
  const { variant } = await reader.schema();
  const upToId = await reader.maxId();
  const total = await reader.countUsage(upToId);
  const directory = new NewapiDirectory(runtime, reader, opts.source);
  const synced = await directory.sync(log, { dryRun });
  const report: NewapiImportReport = {
    source: opts.source,
    relay: variant,
    dryRun,
    upToId,
    quotaPerUnit: synced.quotaPerUnit,
    accounts: synced.accounts,
    apiKeys: synced.keys,
    rowsRead: 0,
    events: 0,
    inserted: 0,
    duplicates: 0,
    requests: 0,
    corrections: 0,
    cost: "0",
    ratedCost: "0",
    firstAt: null,
    lastAt: null,
    rejections: log.summary(),
    durationMs: 0,
    eventsPerSecond: 0,
  };
  let cost = 0n;
  let rated = 0n;
  let first = Infinity;
  let last = -Infinity;
  opts.onProgress?.(0, total);
  // Reading the next batch overlaps writing this one.
  let next: Promise<LogRow[]> | undefined = reader.logsAfter("0", batch, { upToId, usageOnly: true });
  while (next) {
    const rows: LogRow[] = await next;
    if (!rows.length) break;
    next = rows.length === batch ? reader.logsAfter(rows.at(-1)!.id, batch, { upToId, usageOnly: true }) : undefined;
    report.rowsRead += rows.length;
    const events: UsageEvent[] = [];
    for (const r of rows) {
      const e = mapLog(opts.source, variant, directory.money, r);
      if (e === NOT_USAGE) continue;
      if (isUnmapped(e)) {
        log.add(e.reason, rowKey("logs", r.id), e.detail);
        continue;
      }
      events.push(e);
    }
    if (dryRun) {
      const have = new Set(await findRecordedRequestIds(runtime.db.db, events.map((e) => e.requestId)));
      report.duplicates += events.filter((e) => have.has(e.requestId)).length;
    } else {
      await directory.ensureChannels(events.map((e) => e.accountId), log);
      const written = await writeEvents(runtime, events);
      report.inserted += written.inserted;
      report.duplicates += written.duplicates;
      const refused = new Set(written.rejected.map((x) => x.index));
      for (const x of written.rejected) log.add("an event the ledger refused", rowKey("logs", events[x.index]!.requestId.slice(opts.source.length + 1)), visible(x.message, 160));
      if (refused.size) events.splice(0, events.length, ...events.filter((_, i) => !refused.has(i)));
    }
    for (const e of events) {
      report.events++;
      report.requests += e.requests ?? 1;
      if (e.requests === 0) report.corrections++;
      cost += usdToUnits(String(e.cost));
      rated += usdToUnits(String(e.ratedCost));
      const t = Date.parse(e.occurredAt);
      if (t < first) first = t;
      if (t > last) last = t;
    }
    opts.onProgress?.(report.rowsRead, Math.max(total, report.rowsRead));
  }
  report.cost = unitsToUsd(cost);
  report.ratedCost = unitsToUsd(rated);
  report.firstAt = Number.isFinite(first) ? new Date(first).toISOString() : null;
  report.lastAt = Number.isFinite(last) ? new Date(last).toISOString() : null;
  report.rejections = log.summary();
  report.durationMs = Date.now() - started;
  report.eventsPerSecond = Math.round(report.events / Math.max(0.001, report.durationMs / 1000));
  return report;
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
