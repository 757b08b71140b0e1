import type { Redis } from "ioredis";
import type { UpsertAccountInput } from "../../accounts/schemas";
import type { Runtime } from "../../runtime";
import { addDays } from "../../calendar";
import { localCalendar } from "../../usage/local-time";
import { costTextToNanos } from "../../usage/normalize";
import { findRecordedRequestIds } from "../../usage/usage.repository";
import { ledgerCoverage } from "./crs.repository";
import { CrsAccountDirectory } from "./attribution";
import { crsCalendar, crsKeys, parseServiceRates, type CrsCalendar } from "./layout";
import {
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
import { RejectionLog, refusedEventReason, visible, type RejectionSummary } from "../shared/rejections";
import { ensureUnattributed, writeAccounts, writeApiKeys, writeCrsEvents } from "./sink";

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
  /** Accounts per platform (every family, and those known only from records). */
  accountsByPlatform: Record<string, number>;
  /** Accounts of families this product does not know, taken from the records that name them. */
  accountsFromRecords: { id: string; platform: string; crsAccountType: string | null }[];
  apiKeys: number;
  apiKeysDeleted: number;
  /** Events from per-request records: mapped, and written (the rest were there already). */
  records: Figures & { inserted: number; duplicates: number; afterUntil: number };
  /** Aggregate events (day / month / all-time residuals) and how many were written. */
  aggregates: Figures & { inserted: number; duplicates: number; byKind: Record<string, number> };
  /** Part of the events put on the "unattributed" account (aggregates of shared keys, records naming no account of this CRS). */
  unattributed: Figures & { keys: string[] };
  notReconstructed: { keyId: string; bucket: string; model: string; reason: string; counts: Record<string, number> }[];
  /** Everything not taken, by reason, the first ones named with their Redis key: keys of the wrong type, bad records, refused events. */
  rejections: RejectionSummary;
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

/** A few keys' newest records' times (for the offset): whatever is not a record with a timestamp is passed over. */
async function sampleTimes(reader: CrsReader): Promise<{ keyId: string; ms: number }[]> {
  const ignore = new RejectionLog();
  const samples: { keyId: string; ms: number }[] = [];
  for await (const ids of reader.apiKeyIds()) {
    const heads = await reader.records(ids.slice(0, 50), ignore, 1);
    for (const [keyId, list] of heads) {
      const r = mapRecord(keyId, list[0] ?? "", crsCalendar(0), NO_RATES);
      if (!isUnmapped(r)) samples.push({ keyId, ms: Date.parse(r.event.occurredAt) });
    }
    if (samples.length >= 8) break;
  }
  return samples;
}
const NO_RATES: RateContext = { globalRates: {}, keyRates: () => ({}) };

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
  directory: CrsAccountDirectory;
  log: RejectionLog;
}

/**
 * The residual aggregate events of one key: CRS's aggregates minus what the ledger holds and
 * what retained records (written or not) will hold. The ledger is read in one snapshot. The
 * residual goes to the key's one account when that is an account of this CRS, else to the
 * unattributed account.
 */
export async function keyResiduals(ctx: KeyBatchContext, keyId: string, retained: CrsEvent[], boundAccounts: string[], horizonMs: number): Promise<ResidualResult & { newAccounts: UpsertAccountInput[] }> {
  const aggregates = await ctx.reader.aggregates(keyId, ctx.models, ctx.cal, ctx.nowMs, ctx.log);
  const covered = ctx.runtime.db
    ? await ctx.runtime.db.db.transaction().setIsolationLevel("repeatable read").execute(async (trx) => {
        // Any account: CRS ids embed the key, so an id names one event.
        const inLedger = new Set(await findRecordedRequestIds(trx, retained.map((e) => e.event.requestId)));
        return [...(await ledgerCoverage(trx, keyId)), ...coveredOf(retained.filter((e) => !inLedger.has(e.event.requestId)))];
      })
    : coveredOf(retained);
  const accounts = new Set([...retained.map((e) => e.event.accountId), ...boundAccounts]);
  accounts.delete(UNATTRIBUTED_ACCOUNT_ID);
  let accountId = accounts.size === 1 ? [...accounts][0]! : UNATTRIBUTED_ACCOUNT_ID;
  let newAccounts: UpsertAccountInput[] = [];
  if (accountId !== UNATTRIBUTED_ACCOUNT_ID) {
    const verdict = await ctx.directory.permitted([accountId]);
    newAccounts = verdict.newAccounts;
    if (!verdict.ok.has(accountId)) accountId = UNATTRIBUTED_ACCOUNT_ID;
  }
  return { ...residualEvents({ keyId, cal: ctx.cal, aggregates, covered, horizonMs, accountId }), newAccounts };
}

/** API keys per step of an import: bounds what one step holds (records: ≤ 100 × 200). */
const KEYS_PER_STEP = 100;

export async function importCrs(runtime: Runtime, crs: Redis, opts: ImportOptions): Promise<ImportReport> {
  const started = performance.now();
  const now = opts.now ?? Date.now;
  const nowMs = now();
  const untilMs = opts.until ? opts.until.getTime() : Number.POSITIVE_INFINITY;
  const dryRun = !!opts.dryRun;
  const reader = new CrsReader(crs);
  const log = new RejectionLog();
  const directory = new CrsAccountDirectory(runtime, reader);
  const report: ImportReport = {
    dryRun,
    until: opts.until ? opts.until.toISOString() : null,
    crsOffsetHours: opts.offsetHours,
    accounts: 0,
    accountsByPlatform: {},
    accountsFromRecords: [],
    apiKeys: 0,
    apiKeysDeleted: 0,
    records: { ...zeroFigures(), inserted: 0, duplicates: 0, afterUntil: 0 },
    aggregates: { ...zeroFigures(), inserted: 0, duplicates: 0, byKind: {} },
    unattributed: { ...zeroFigures(), keys: [] },
    notReconstructed: [],
    rejections: log.summary(),
    durationMs: 0,
    eventsPerSecond: 0,
  };

  // Time zone first: nothing is written when the calendars disagree.
  const offset = await crsOffset(reader, await sampleTimes(reader), opts.offsetHours);
  report.crsOffsetHours = offset;
  const cal = crsCalendar(offset);
  checkTimeZone(cal, runtime.config.usageTimezone, nowMs - 400 * 86_400_000, nowMs + 86_400_000);

  const countAccount = (platform: string) => {
    report.accounts++;
    report.accountsByPlatform[platform] = (report.accountsByPlatform[platform] ?? 0) + 1;
  };
  for await (const rows of reader.accounts(log, nowMs)) {
    const mapped = rows.map((a) => ({ input: mapAccount(a.family, a.id, a.fields), key: `${a.family.prefix}${a.id}` }));
    const admitted = await directory.admitFamilyAccounts(mapped.map((m) => ({ ...m, id: m.input.id, platform: m.input.platform })), log, (m) => m.key);
    if (!dryRun) await writeAccounts(runtime, admitted, log);
    for (const a of admitted) countAccount(a.input.platform ?? "");
  }
  const writeNewAccounts = async (accounts: UpsertAccountInput[]) => {
    for (const a of accounts) {
      countAccount(a.platform ?? "");
      report.accountsFromRecords.push({ id: a.id, platform: a.platform ?? "", crsAccountType: (a.metadata?.crsAccountType as string | undefined) ?? null });
    }
    if (!dryRun) await writeAccounts(runtime, accounts.map((input) => ({ input, key: `account_usage:${input.id}` })), log);
  };

  const rates: RateContext = { globalRates: parseServiceRates(await reader.serviceRatesJson()), keyRates: () => ({}) };
  const ctx: KeyBatchContext = { runtime, reader, cal, rates, models: await reader.knownModels(cal, nowMs, log), nowMs, dryRun, directory, log };
  const estimate = Number(await crs.hlen("apikey:hash_map").catch(() => 0)) || 0;
  let done = 0;

  const write = async (events: CrsEvent[], into: { inserted: number; duplicates: number }) => {
    if (dryRun || !events.length) return;
    await ensureUnattributed(runtime, events);
    const r = await writeCrsEvents(runtime, events);
    into.inserted += r.inserted;
    into.duplicates += r.duplicates;
    for (const x of r.rejected) log.add(refusedEventReason(x.code), `usage:records:${events[x.index]?.event.apiKeyId ?? "?"}`, x.message.slice(0, 160));
  };

  for await (const scanned of reader.apiKeyIds()) {
    for (let step = 0; step < scanned.length; step += KEYS_PER_STEP) {
      const batch = scanned.slice(step, step + KEYS_PER_STEP);
      const hashes = await reader.hashes(batch.map((id) => crsKeys.apiKey(id)), log);
      const keyHash = new Map<string, CrsHash>();
      batch.forEach((id, i) => hashes[i] && keyHash.set(id, hashes[i]!));
      const ids = batch.filter((id) => keyHash.has(id));
      rates.keyRates = (keyId) => keyServiceRates(keyHash.get(keyId));
      const mappedKeys = new Map(ids.map((id) => [id, mapApiKey(id, keyHash.get(id)!)]));
      if (!dryRun) await writeApiKeys(runtime, [...mappedKeys.values()], log);
      report.apiKeys += mappedKeys.size;
      report.apiKeysDeleted += [...mappedKeys.values()].filter((k) => k.deleted).length;

      const states = await reader.keyStates(ids, log);
      const lists = await reader.records(ids, log);
      const toWrite: CrsEvent[] = [];
      const retainedOf = new Map<string, CrsEvent[]>();
      for (const id of ids) {
        const retained: CrsEvent[] = [];
        (lists.get(id) ?? []).forEach((json, j) => {
          if (!json) return; // too big: counted by the reader
          const m = mapRecord(id, json, cal, rates);
          if (isUnmapped(m)) {
            log.add(m.reason, `${crsKeys.records(id)}[${j}]`, m.detail);
            return;
          }
          retained.push(m);
          if (Date.parse(m.event.occurredAt) >= untilMs) report.records.afterUntil++;
          else toWrite.push(m);
        });
        retainedOf.set(id, retained);
      }
      const attributed = await directory.attribute([...retainedOf.values()].flat(), log);
      await writeNewAccounts(attributed.newAccounts);
      add(report.records, toWrite);
      const unattributedRecords = toWrite.filter((e) => e.event.accountId === UNATTRIBUTED_ACCOUNT_ID);
      add(report.unattributed, unattributedRecords);
      await write(toWrite, report.records);

      // Aggregates only for keys whose records do not hold all their requests.
      for (const id of ids) {
        const state = states.get(id)!;
        const retained = retainedOf.get(id)!;
        if (state.totalRequests <= retained.length) continue;
        const oldest = retained.reduce((m, e) => Math.min(m, Date.parse(e.event.occurredAt)), nowMs);
        const res = await keyResiduals(ctx, id, retained, mappedKeys.get(id)!.boundAccounts, Math.min(oldest, untilMs));
        await writeNewAccounts(res.newAccounts);
        report.notReconstructed.push(...res.notReconstructed.map((n) => ({ keyId: id, ...n, counts: n.counts as Record<string, number> })));
        if (!res.events.length) continue;
        add(report.aggregates, res.events);
        for (const e of res.events) report.aggregates.byKind[e.kind] = (report.aggregates.byKind[e.kind] ?? 0) + 1;
        const unattributed = res.events.filter((e) => e.event.accountId === UNATTRIBUTED_ACCOUNT_ID);
        if (unattributed.length) {
          add(report.unattributed, unattributed);
          report.unattributed.keys.push(id);
        }
        await write(res.events, report.aggregates);
      }
      done += batch.length;
      opts.onProgress?.(done, Math.max(estimate, done));
    }
  }
  report.rejections = log.summary();
  report.durationMs = Math.round(performance.now() - started);
  report.eventsPerSecond = Math.round(((report.records.events + report.aggregates.events) * 1000) / Math.max(1, report.durationMs));
  return report;
}

const usd = (nanos: number) => (nanos / 1e9).toFixed(8).replace(/\.?0+$/, "") || "0";

/** The closing report, for people. */
export function formatReport(r: ImportReport): string {
  const lines = [
    `${r.dryRun ? "DRY RUN — nothing written. " : ""}CRS import${r.until ? ` of records before ${r.until}` : ""} (CRS time UTC${r.crsOffsetHours >= 0 ? "+" : ""}${r.crsOffsetHours})`,
    `  accounts:          ${r.accounts} (${Object.entries(r.accountsByPlatform).map(([p, n]) => `${n} ${p}`).join(", ") || "none"})`,
    ...(r.accountsFromRecords.length
      ? [`    known only from records (a family this version does not know): ${r.accountsFromRecords.map((a) => `${visible(a.id, 60)} (${a.crsAccountType ?? "no accountType"} → ${a.platform})`).join(", ")}`]
      : []),
    `  API keys:          ${r.apiKeys} (${r.apiKeysDeleted} deleted in CRS, deleted here)`,
    `  events from records: ${r.records.events} (${r.records.requests} requests, $${usd(r.records.costNanos)} real, $${usd(r.records.ratedCostNanos)} rated)` +
      (r.dryRun ? "" : `: ${r.records.inserted} new, ${r.records.duplicates} duplicates skipped`) +
      (r.records.afterUntil ? `; ${r.records.afterUntil} records at or after --until left to the follower` : ""),
    `  aggregate events:  ${r.aggregates.events} (${Object.entries(r.aggregates.byKind).map(([k, n]) => `${n} ${k}`).join(", ") || "none"}; ${r.aggregates.requests} requests, $${usd(r.aggregates.costNanos)})` +
      (r.dryRun ? "" : `: ${r.aggregates.inserted} new, ${r.aggregates.duplicates} duplicates skipped`),
    `  unattributed:      ${r.unattributed.requests} requests, $${usd(r.unattributed.costNanos)} on account "${UNATTRIBUTED_ACCOUNT_ID}"` +
      (r.unattributed.keys.length ? ` (aggregates of keys served by several accounts: ${r.unattributed.keys.map((k) => visible(k, 60)).join(", ")})` : ""),
    `  not reconstructed: ${r.notReconstructed.length ? "" : "nothing"}`,
    ...r.notReconstructed.map((n) => `    - key ${visible(n.keyId, 60)}, ${visible(n.model, 60) || "-"} ${n.bucket}: ${n.reason} (${Object.entries(n.counts).map(([k, v]) => `${k} ${v}`).join(", ")})`),
    `    (always: exact time of aggregate events — a day's or a month's residual is dated at its bucket's start and marked ` +
      `metadata.crsAggregate; costs of residual buckets older than CRS's 30-day cost strings are its micro-dollar counters, ` +
      `the key's all-time cost stays exact; history older than a year exists only as each key × model's all-time residual)`,
    `  not taken:         ${r.rejections.total ? `${r.rejections.total} (skipped and counted; the run went on)` : "nothing"}`,
    ...Object.entries(r.rejections.byReason).map(([reason, n]) => `    - ${n} × ${reason}`),
    ...(r.rejections.named.length ? [`    the first ${r.rejections.named.length}:`, ...r.rejections.named.slice(0, 20).map((x) => `      ${x.key}: ${x.reason}${x.detail ? ` (${visible(x.detail, 160)})` : ""}`)] : []),
    `  ${r.durationMs} ms, ${r.eventsPerSecond} events/s`,
  ];
  return lines.join("\n");
}
