import type { Redis } from "ioredis";
import { deleteApiKey, upsertAccount, upsertApiKey } from "../accounts/accounts.service";
import { upsertAccountInput, upsertApiKeyInput } from "../accounts/schemas";
import type { Runtime } from "../runtime";
import { addDays, localCalendar } from "../usage/local-time";
import { costTextToNanos } from "../usage/normalize";
import { ledgerCoverage, recordedIds } from "./crs.repository";
import { crsCalendar, parseServiceRates, type CrsCalendar } from "./layout";
import {
  UNATTRIBUTED_ACCOUNT,
  UNATTRIBUTED_ACCOUNT_ID,
  coveredOf,
  isUnmapped,
  keyServiceRates,
  mapAccount,
  mapApiKey,
  mapRecord,
  residualEvents,
  type CrsEvent,
  type RateContext,
  type ResidualResult,
} from "./mapping";
import { CrsReader, type CrsHash } from "./reader";
import { writeCrsEvents } from "./sink";

/**
 * History from a CRS Redis (`npm run crs:import`): accounts, keys, every retained per-request
 * record as one event, and what only CRS's aggregates still hold as marked aggregate events.
 * Read-only on CRS. Idempotent: record ids come from the records' content, and aggregate events
 * fill only what the ledger does not hold yet, so a second run — or a run after the follower —
 * adds nothing.
 */

export class CrsImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CrsImportError";
  }
}

export interface ImportOptions {
  /** Only records before this instant (the follower's start: the cut-over). */
  until?: Date;
  dryRun?: boolean;
  /** CRS's TIMEZONE_OFFSET when the data cannot tell (CRS_TIMEZONE_OFFSET, default 8). */
  offsetHours: number;
  now?: () => number;
  /** Keys done so far and an estimate of all (CRS's apikey:hash_map size). */
  onProgress?: (done: number, total: number) => void;
}

export interface Figures {
  events: number;
  requests: number;
  costNanos: number;
  ratedCostNanos: number;
}
const zeroFigures = (): Figures => ({ events: 0, requests: 0, costNanos: 0, ratedCostNanos: 0 });
function add(f: Figures, events: CrsEvent[]) {
  for (const e of events) {
    f.events++;
    f.requests += e.event.requests ?? 1;
    f.costNanos += costTextToNanos(e.event.cost);
    f.ratedCostNanos += costTextToNanos(e.event.ratedCost);
  }
}

export interface ImportReport {
  dryRun: boolean;
  until: string | null;
  crsOffsetHours: number;
  accounts: number;
  apiKeys: number;
  apiKeysDeleted: number;
  /** Events from per-request records: mapped, and written (the rest were there already). */
  records: Figures & { inserted: number; duplicates: number; afterUntil: number };
  /** Aggregate events (day / month / all-time residuals) and how many were written. */
  aggregates: Figures & { inserted: number; duplicates: number; byKind: Record<string, number> };
  /** Part of the aggregates put on the "unattributed" account. */
  unattributed: Figures & { keys: string[] };
  notReconstructed: { keyId: string; bucket: string; model: string; reason: string; counts: Record<string, number> }[];
  rejected: { requestId: string; message: string }[];
  durationMs: number;
  eventsPerSecond: number;
}

/** The offset CRS used, from its data, or `fallback` when nothing tells. */
async function crsOffset(reader: CrsReader, samples: { keyId: string; ms: number }[], fallback: number): Promise<number> {
  if (!samples.length) return fallback;
  const candidates = await reader.detectOffsetHours(samples.slice(0, 8));
  if (candidates.includes(fallback)) return fallback;
  if (candidates.length === 1) return candidates[0]!;
  throw new CrsImportError(
    `cannot tell CRS's time-zone offset from its data (candidates ${candidates.join(", ")} h); set CRS_TIMEZONE_OFFSET to CRS's TIMEZONE_OFFSET`,
  );
}

/** Refuses when USAGE_TIMEZONE's day boundaries differ from CRS's fixed offset anywhere in [from, to]. */
export function checkTimeZone(cal: CrsCalendar, timeZone: string, fromMs: number, toMs: number): void {
  const local = localCalendar(timeZone);
  for (let day = cal.day(fromMs); day <= cal.day(toMs); day = addDays(day, 1)) {
    const start = cal.dayStartMs(day);
    if (local.at(start).date !== day || local.at(start - 1).date !== addDays(day, -1)) {
      throw new CrsImportError(
        `USAGE_TIMEZONE=${timeZone} does not share CRS's day boundaries (UTC${cal.offsetHours >= 0 ? "+" : ""}${cal.offsetHours}) on ${day}: ` +
          `CRS's daily and monthly buckets would land on other days here. Set USAGE_TIMEZONE to a zone at UTC${cal.offsetHours >= 0 ? "+" : ""}${cal.offsetHours} ` +
          `(e.g. ${cal.offsetHours === 8 ? "Asia/Shanghai" : `Etc/GMT${cal.offsetHours > 0 ? "-" : "+"}${Math.abs(cal.offsetHours)}`}) and rebuild the rollups, or import nothing.`,
      );
    }
  }
}

export interface KeyBatchContext {
  runtime: Runtime;
  reader: CrsReader;
  cal: CrsCalendar;
  rates: RateContext;
  models: string[];
  nowMs: number;
  dryRun: boolean;
}

/**
 * The residual aggregate events of one key: CRS's aggregates minus what the ledger holds and
 * what retained records (written or not) will hold. The ledger is read in one snapshot.
 */
export async function keyResiduals(ctx: KeyBatchContext, keyId: string, retained: CrsEvent[], boundAccounts: string[], horizonMs: number): Promise<ResidualResult> {
  const aggregates = await ctx.reader.aggregates(keyId, ctx.models, ctx.cal, ctx.nowMs);
  const covered = ctx.runtime.db
    ? await ctx.runtime.db.db.transaction().setIsolationLevel("repeatable read").execute(async (trx) => {
        const inLedger = await recordedIds(trx, retained.map((e) => e.event.requestId));
        return [...(await ledgerCoverage(trx, keyId)), ...coveredOf(retained.filter((e) => !inLedger.has(e.event.requestId)))];
      })
    : coveredOf(retained);
  const accounts = new Set([...retained.map((e) => e.event.accountId), ...boundAccounts]);
  accounts.delete(UNATTRIBUTED_ACCOUNT_ID);
  const accountId = accounts.size === 1 ? [...accounts][0]! : UNATTRIBUTED_ACCOUNT_ID;
  return residualEvents({ keyId, cal: ctx.cal, aggregates, covered, horizonMs, accountId });
}

export async function importCrs(runtime: Runtime, crs: Redis, opts: ImportOptions): Promise<ImportReport> {
  const started = performance.now();
  const now = opts.now ?? Date.now;
  const nowMs = now();
  const untilMs = opts.until ? opts.until.getTime() : Number.POSITIVE_INFINITY;
  const dryRun = !!opts.dryRun;
  const reader = new CrsReader(crs);
  const report: ImportReport = {
    dryRun,
    until: opts.until ? opts.until.toISOString() : null,
    crsOffsetHours: opts.offsetHours,
    accounts: 0,
    apiKeys: 0,
    apiKeysDeleted: 0,
    records: { ...zeroFigures(), inserted: 0, duplicates: 0, afterUntil: 0 },
    aggregates: { ...zeroFigures(), inserted: 0, duplicates: 0, byKind: {} },
    unattributed: { ...zeroFigures(), keys: [] },
    notReconstructed: [],
    rejected: [],
    durationMs: 0,
    eventsPerSecond: 0,
  };

  // Time zone first: nothing is written when the calendars disagree.
  const firstIds: string[] = [];
  for await (const ids of reader.apiKeyIds()) {
    firstIds.push(...ids);
    if (firstIds.length >= 8) break;
  }
  const heads = await reader.records(firstIds, 1);
  const samples = [...heads].flatMap(([keyId, list]) => {
    const ms = list[0] ? Date.parse((JSON.parse(list[0]) as { timestamp?: string }).timestamp ?? "") : NaN;
    return Number.isFinite(ms) ? [{ keyId, ms }] : [];
  });
  const offset = await crsOffset(reader, samples, opts.offsetHours);
  report.crsOffsetHours = offset;
  const cal = crsCalendar(offset);
  checkTimeZone(cal, runtime.config.usageTimezone, nowMs - 400 * 86_400_000, nowMs + 86_400_000);

  const accounts = await reader.accounts();
  for (const a of accounts) {
    if (!dryRun) await upsertAccount(runtime, upsertAccountInput.parse(mapAccount(a.family, a.id, a.hash)));
    report.accounts++;
  }
  let unattributedCreated = false;

  const rates: RateContext = { globalRates: parseServiceRates(await reader.serviceRatesJson()), keyRates: () => ({}) };
  const ctx: KeyBatchContext = { runtime, reader, cal, rates, models: await reader.knownModels(cal, nowMs), nowMs, dryRun };
  const estimate = Number(await crs.hlen("apikey:hash_map").catch(() => 0)) || 0;
  let done = 0;

  for await (const ids of reader.apiKeyIds()) {
    const hashes = await reader.hashes(ids.map((id) => `apikey:${id}`));
    const keyHash = new Map<string, CrsHash>(ids.map((id, i) => [id, hashes[i]!]));
    rates.keyRates = (keyId) => keyServiceRates(keyHash.get(keyId));
    const mappedKeys = ids.map((id) => mapApiKey(id, keyHash.get(id)!));
    if (!dryRun) {
      for (const k of mappedKeys) {
        await upsertApiKey(runtime, upsertApiKeyInput.parse(k.input));
        if (k.deleted) await deleteApiKey(runtime, { id: k.input.id });
      }
    }
    report.apiKeys += mappedKeys.length;
    report.apiKeysDeleted += mappedKeys.filter((k) => k.deleted).length;

    const states = await reader.keyStates(ids);
    const lists = await reader.records(ids);
    const toWrite: CrsEvent[] = [];
    const retainedOf = new Map<string, CrsEvent[]>();
    for (const id of ids) {
      const retained: CrsEvent[] = [];
      for (const json of lists.get(id) ?? []) {
        const m = mapRecord(id, json, cal, rates);
        if (isUnmapped(m)) {
          report.notReconstructed.push({ keyId: id, bucket: "record", model: "", reason: m.reason, counts: { requests: 1 } });
          continue;
        }
        retained.push(m);
        if (Date.parse(m.event.occurredAt) >= untilMs) report.records.afterUntil++;
        else toWrite.push(m);
      }
      retainedOf.set(id, retained);
    }
    add(report.records, toWrite);
    if (!dryRun && toWrite.length) {
      const r = await writeCrsEvents(runtime, toWrite);
      report.records.inserted += r.inserted;
      report.records.duplicates += r.duplicates;
      report.rejected.push(...r.rejected.map((x) => ({ requestId: x.requestId, message: x.message })));
    }

    // Aggregates only for keys whose records do not hold all their requests.
    for (const id of ids) {
      const state = states.get(id)!;
      const retained = retainedOf.get(id)!;
      if (state.totalRequests <= retained.length) continue;
      const oldest = retained.reduce((m, e) => Math.min(m, Date.parse(e.event.occurredAt)), nowMs);
      const res = await keyResiduals(ctx, id, retained, mappedKeys.find((k) => k.input.id === id)!.boundAccounts, Math.min(oldest, untilMs));
      report.notReconstructed.push(...res.notReconstructed.map((n) => ({ keyId: id, ...n, counts: n.counts as Record<string, number> })));
      if (!res.events.length) continue;
      add(report.aggregates, res.events);
      for (const e of res.events) report.aggregates.byKind[e.kind] = (report.aggregates.byKind[e.kind] ?? 0) + 1;
      const unattributed = res.events.filter((e) => e.event.accountId === UNATTRIBUTED_ACCOUNT_ID);
      if (unattributed.length) {
        add(report.unattributed, unattributed);
        report.unattributed.keys.push(id);
        if (!dryRun && !unattributedCreated) {
          await upsertAccount(runtime, UNATTRIBUTED_ACCOUNT);
          unattributedCreated = true;
        }
      }
      if (!dryRun) {
        const r = await writeCrsEvents(runtime, res.events);
        report.aggregates.inserted += r.inserted;
        report.aggregates.duplicates += r.duplicates;
        report.rejected.push(...r.rejected.map((x) => ({ requestId: x.requestId, message: x.message })));
      }
    }
    done += ids.length;
    opts.onProgress?.(done, Math.max(estimate, done));
  }
  report.durationMs = Math.round(performance.now() - started);
  report.eventsPerSecond = Math.round(((report.records.events + report.aggregates.events) * 1000) / Math.max(1, report.durationMs));
  return report;
}

const usd = (nanos: number) => (nanos / 1e9).toFixed(8).replace(/\.?0+$/, "") || "0";

/** The closing report, for people. */
export function formatReport(r: ImportReport): string {
  const lines = [
    `${r.dryRun ? "DRY RUN — nothing written. " : ""}CRS import${r.until ? ` of records before ${r.until}` : ""} (CRS time UTC${r.crsOffsetHours >= 0 ? "+" : ""}${r.crsOffsetHours})`,
    `  accounts:          ${r.accounts}`,
    `  API keys:          ${r.apiKeys} (${r.apiKeysDeleted} deleted in CRS, deleted here)`,
    `  events from records: ${r.records.events} (${r.records.requests} requests, $${usd(r.records.costNanos)} real, $${usd(r.records.ratedCostNanos)} rated)` +
      (r.dryRun ? "" : `: ${r.records.inserted} new, ${r.records.duplicates} duplicates skipped`) +
      (r.records.afterUntil ? `; ${r.records.afterUntil} records at or after --until left to the follower` : ""),
    `  aggregate events:  ${r.aggregates.events} (${Object.entries(r.aggregates.byKind).map(([k, n]) => `${n} ${k}`).join(", ") || "none"}; ${r.aggregates.requests} requests, $${usd(r.aggregates.costNanos)})` +
      (r.dryRun ? "" : `: ${r.aggregates.inserted} new, ${r.aggregates.duplicates} duplicates skipped`),
    `  unattributed:      ${r.unattributed.requests} requests, $${usd(r.unattributed.costNanos)} on account "${UNATTRIBUTED_ACCOUNT_ID}"` +
      (r.unattributed.keys.length ? ` (keys served by several accounts: ${r.unattributed.keys.join(", ")})` : ""),
    `  not reconstructed: ${r.notReconstructed.length ? "" : "nothing"}`,
    ...r.notReconstructed.map((n) => `    - key ${n.keyId}, ${n.model || "-"} ${n.bucket}: ${n.reason} (${Object.entries(n.counts).map(([k, v]) => `${k} ${v}`).join(", ")})`),
    `    (always: exact time of aggregate events — a day's or a month's residual is dated at its bucket's start and marked ` +
      `metadata.crsAggregate; costs of residual buckets older than CRS's 30-day cost strings are its micro-dollar counters, ` +
      `the key's all-time cost stays exact; history older than a year exists only as each key × model's all-time residual)`,
    ...(r.rejected.length ? [`  rejected:          ${r.rejected.length}`, ...r.rejected.slice(0, 10).map((x) => `    - ${x.requestId}: ${x.message}`)] : []),
    `  ${r.durationMs} ms, ${r.eventsPerSecond} events/s`,
  ];
  return lines.join("\n");
}
