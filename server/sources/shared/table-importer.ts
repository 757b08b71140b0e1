import type { Runtime } from "../../runtime";
import { findRecordedRequestIds } from "../../usage/usage.repository";
import type { UsageEvent } from "../../usage/schemas";
import { BulkWriter, finishBulk, yieldToIo } from "./bulk";
import { refusedEventReason, visible, type RejectionLog } from "./rejections";

/**
 * Importing a relay's history kept in SQL (sub2api's usage_logs, new-api's logs): the rows up to
 * the highest id at the start, oldest first in batches by primary key, mapped by the relay's
 * mapping and written in the ledger's bulk mode (bulk.ts), the counters of the accounts touched
 * rebuilt at the end. Reading the next batch, mapping and validating it overlap writing this one;
 * the writes run one after another (each one transaction on the same rollup rows, several batches
 * per transaction: BulkWriter). Safe to re-run
 * and beside the follower: events are keyed by the row's id, what the ledger has is a duplicate.
 */

export interface TableImportSource<Row extends { id: string }> {
  table: string;
  /** Usage rows above `afterId`, at most `limit`, in id order, up to the import's highest id. */
  rowsAfter(afterId: string, limit: number): Promise<Row[]>;
  /** A row → an event, `null` when the row is not usage, or why it cannot be one. */
  map(row: Row): UsageEvent | { reason: string; detail?: string } | null;
  /** Before a batch's events are written (e.g. placeholders for accounts the relay no longer has). */
  prepare?(events: UsageEvent[], log: RejectionLog): Promise<void>;
}

export interface TableImportOptions {
  batch: number;
  dryRun: boolean;
  log: RejectionLog;
  /** Usage rows to read (the progress bar's total). */
  total: number;
  onProgress?: (done: number, total: number) => void;
}

export interface TableImportTally {
  rowsRead: number;
  events: number;
  inserted: number;
  duplicates: number;
  requests: number;
  /** Events of requests = 0 (a relay's refunds, negative re-charges). */
  corrections: number;
  /** Sums of the events taken, exact, in nano-USD. */
  costNanos: bigint;
  ratedCostNanos: bigint;
  firstMs: number | null;
  lastMs: number | null;
  /** Rebuilding the Redis counters of the accounts touched, at the end. */
  countersRebuildMs: number;
}

/** "-12.345" USD → nano-USD, exact (events hold at most 8 decimals). */
export function usdToNanos(usd: string): bigint {
  const neg = usd.startsWith("-");
  const [int, frac = ""] = (neg ? usd.slice(1) : usd).split(".");
  const n = BigInt(int!) * 1_000_000_000n + BigInt((frac + "000000000").slice(0, 9));
  return neg ? -n : n;
}
export const nanosToUsd = (n: bigint) => {
  const a = n < 0n ? -n : n;
  return `${n < 0n ? "-" : ""}${a / 1_000_000_000n}.${(a % 1_000_000_000n).toString().padStart(9, "0")}`;
};

export async function importTable<Row extends { id: string }>(runtime: Runtime, t: TableImportSource<Row>, opts: TableImportOptions): Promise<TableImportTally> {
  if (!runtime.db) throw new Error("an import writes the ledger in PostgreSQL: it needs POSTGRES_ENABLED=true");
  const db = runtime.db.db;
  const { log, batch, dryRun } = opts;
  const out: TableImportTally = { rowsRead: 0, events: 0, inserted: 0, duplicates: 0, requests: 0, corrections: 0, costNanos: 0n, ratedCostNanos: 0n, firstMs: null, lastMs: null, countersRebuildMs: 0 };
  const tally = (events: UsageEvent[]) => {
    for (const e of events) {
      out.events++;
      const requests = e.requests ?? 1;
      out.requests += requests;
      if (requests === 0) out.corrections++;
      out.costNanos += usdToNanos(String(e.cost));
      out.ratedCostNanos += usdToNanos(String(e.ratedCost ?? e.cost));
      const ms = Date.parse(e.occurredAt);
      if (out.firstMs === null || ms < out.firstMs) out.firstMs = ms;
      if (out.lastMs === null || ms > out.lastMs) out.lastMs = ms;
    }
  };
  const touched = new Set<string>();
  opts.onProgress?.(0, opts.total);
  let next: Promise<Row[]> | undefined = t.rowsAfter("0", batch);
  const writer = new BulkWriter(runtime);
  while (next) {
    const rows: Row[] = await next;
    if (!rows.length) break;
    next = rows.length === batch ? t.rowsAfter(rows.at(-1)!.id, batch) : undefined;
    const events: UsageEvent[] = [];
    const rowOf: string[] = [];
    for (let k = 0; k < rows.length; k++) {
      // Mapped in slices: the write under way goes on between them.
      if (k && k % 500 === 0) await yieldToIo();
      const r = rows[k]!;
      const e = t.map(r);
      if (e === null) continue;
      if ("reason" in e) log.add(e.reason, `${t.table}#${r.id}`, e.detail);
      else {
        events.push(e);
        rowOf.push(r.id);
      }
    }
    out.rowsRead += rows.length;
    const rowsRead = out.rowsRead;
    if (dryRun) {
      const have = new Set(await findRecordedRequestIds(db, events.map((e) => e.requestId)));
      out.duplicates += events.filter((e) => have.has(e.requestId)).length;
      tally(events);
      opts.onProgress?.(rowsRead, Math.max(opts.total, rowsRead));
      continue;
    }
    for (const e of events) touched.add(e.accountId);
    await t.prepare?.(events, log);
    // Validated and staged now (while the write before goes on), written with the next batches.
    const { rejected, written } = await writer.add(events);
    const refused = new Set(rejected.map((x) => x.index));
    for (const x of rejected) log.add(refusedEventReason(x.code), `${t.table}#${rowOf[x.index]}`, visible(x.message, 160));
    tally(refused.size ? events.filter((_, i) => !refused.has(i)) : events);
    void written.then((w) => {
      out.inserted += w.inserted;
      out.duplicates += w.duplicates;
      opts.onProgress?.(rowsRead, Math.max(opts.total, rowsRead));
    }, () => {});
  }
  await writer.close();
  if (!dryRun && touched.size) {
    const started = Date.now();
    await finishBulk(runtime, touched);
    out.countersRebuildMs = Date.now() - started;
  }
  return out;
}
