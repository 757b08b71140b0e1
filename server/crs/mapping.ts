import { createHash } from "node:crypto";
import type { UpsertAccountInput, UpsertApiKeyInput } from "../accounts/schemas";
import { costTextToNanos } from "../usage/normalize";
import { MIN_OCCURRED_AT, parseCostUsd, roundHalfUp8, type UsageEvent } from "../usage/schemas";
import { KEY_BINDING_FIELDS, crsService, normalizeCrsModel, type CrsCalendar } from "./layout";

/**
 * CRS data → our inputs, as pure functions (no Redis, no SQL): account and key upserts, one event
 * per retained per-request record, and aggregate events for what only CRS's counters still hold.
 * Over 400 lines on purpose: every rule of reading CRS's data (its quirks are in the fixture's
 * README) sits in this one pure module, next to the others it must agree with, and mapping.test.ts
 * holds all of it to the ground truth.
 */

/** Where a request goes whose account CRS no longer tells (a key served by several accounts). */
export const UNATTRIBUTED_ACCOUNT_ID = "crs-unattributed";
export const UNATTRIBUTED_ACCOUNT: UpsertAccountInput = {
  id: UNATTRIBUTED_ACCOUNT_ID,
  name: "CRS: unattributed (aggregates of keys served by several accounts)",
  platform: "crs",
  type: "shared",
  status: "active",
  metadata: { source: "crs", note: "usage CRS kept only per key, for a key bound to or served by more than one account" },
};

const sha40 = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 40);

/**
 * The event id of a per-request record: CRS's own request id is random or null, so the id is
 * derived from the key and the exact JSON CRS pushed; the importer and the follower agree on it.
 */
export function recordRequestId(keyId: string, recordJson: string): string {
  return `crs1-${sha40(`${keyId}\n${recordJson}`)}`;
}

const num = (v: unknown): number => {
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : 0;
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
};
const bool = (v: string | undefined) => v === "true";
const cents = (v: number) => (parseCostUsd(v).ok ? (parseCostUsd(v) as { text: string }).text : "0");

/** Rates that turn a real cost into CRS's rated one (apiKeyService.calculateRatedCost). */
export interface RateContext {
  globalRates: Record<string, number>;
  /** The key's `serviceRates` as stored now (CRS does not keep past rates). */
  keyRates(keyId: string): Record<string, number>;
}

/** CRS's rated cost of a request, as its double: real × global rate × key rate, in that order. */
export function ratedCostOf(real: number, accountType: string | null | undefined, model: string, keyId: string, rates: RateContext): number {
  if (!(real > 0)) return real;
  const service = crsService(accountType, model);
  const globalRate = rates.globalRates[service] || 1.0;
  const keyRate = rates.keyRates(keyId)[service] ?? 1.0;
  return real * globalRate * keyRate;
}

/** One of our events (both costs as 8-decimal USD strings) and where it came from in CRS. */
export interface CrsEvent {
  event: UsageEvent & { cost: string; ratedCost: string };
  /** CRS day (UTC+offset) of the request or bucket. */
  crsDay: string;
  kind: "record" | "day" | "month" | "alltime";
}

interface CrsRecord {
  timestamp?: string;
  model?: string;
  accountId?: string | null;
  accountType?: string | null;
  requestId?: string | null;
  inputTokens?: number;
  outputTokens?: number;
  cacheCreateTokens?: number;
  cacheReadTokens?: number;
  ephemeral5mTokens?: number;
  ephemeral1hTokens?: number;
  cost?: number;
  realCost?: number;
  costBreakdown?: { total?: number } | null;
  realCostBreakdown?: { total?: number } | null;
}

/** A record that cannot become an event, and why. */
export interface Unmapped {
  keyId: string;
  reason: string;
}

/** The full-precision real cost CRS computed: costBreakdown.total, else the 6-decimal fields. */
function realCostOf(r: CrsRecord): number {
  const full = r.realCostBreakdown?.total ?? r.costBreakdown?.total;
  if (typeof full === "number" && Number.isFinite(full)) return full;
  if (typeof r.realCost === "number") return r.realCost;
  return typeof r.cost === "number" ? r.cost : 0;
}

export function mapRecord(keyId: string, recordJson: string, cal: CrsCalendar, rates: RateContext): CrsEvent | Unmapped {
  let r: CrsRecord;
  try {
    r = JSON.parse(recordJson) as CrsRecord;
  } catch {
    return { keyId, reason: "a usage record that is not JSON" };
  }
  const ms = typeof r.timestamp === "string" ? Date.parse(r.timestamp) : NaN;
  if (!Number.isFinite(ms)) return { keyId, reason: "a usage record without a valid timestamp" };
  const rawModel = typeof r.model === "string" && r.model ? r.model : "unknown";
  const model = normalizeCrsModel(rawModel);
  const real = realCostOf(r);
  const rated = ratedCostOf(real, r.accountType, rawModel, keyId, rates);
  const metadata: Record<string, unknown> = { source: "crs" };
  if (r.requestId) metadata.crsRequestId = String(r.requestId).slice(0, 128);
  if (rawModel !== model) metadata.crsModel = rawModel.slice(0, 200);
  if (r.accountType) metadata.crsAccountType = String(r.accountType).slice(0, 64);
  return {
    event: {
      requestId: recordRequestId(keyId, recordJson),
      occurredAt: new Date(ms).toISOString(),
      accountId: typeof r.accountId === "string" && r.accountId ? r.accountId : UNATTRIBUTED_ACCOUNT_ID,
      apiKeyId: keyId,
      model: model.slice(0, 128),
      inputTokens: num(r.inputTokens),
      outputTokens: num(r.outputTokens),
      cacheCreateTokens: num(r.cacheCreateTokens),
      cacheReadTokens: num(r.cacheReadTokens),
      ephemeral5mTokens: num(r.ephemeral5mTokens),
      ephemeral1hTokens: num(r.ephemeral1hTokens),
      requests: 1,
      cost: cents(real),
      ratedCost: cents(rated),
      metadata,
    },
    crsDay: cal.day(ms),
    kind: "record",
  };
}

export const isUnmapped = (x: CrsEvent | Unmapped): x is Unmapped => "reason" in x;

/* ------------------------------------------------------------ metadata */

const slugOf = (v: string | undefined, fallback: string) => {
  const s = (v ?? "").toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 32);
  return s || fallback;
};
const text = (v: string | undefined, max: number) => (v ? v.slice(0, max) : undefined);

/** An account hash of one platform family → our upsert. */
export function mapAccount(family: { prefix: string; platform: string }, id: string, h: Record<string, string>): UpsertAccountInput {
  const priority = Number.parseInt(h.priority ?? "", 10);
  const metadata: Record<string, unknown> = { source: "crs", crsRedisKey: `${family.prefix}${id}` };
  if (h.isActive !== undefined) metadata.isActive = bool(h.isActive);
  if (h.schedulable !== undefined) metadata.schedulable = bool(h.schedulable);
  if (h.createdAt) metadata.createdAt = h.createdAt;
  if (h.description) metadata.description = h.description.slice(0, 500);
  return {
    id,
    name: text(h.name, 200) ?? id,
    platform: family.platform,
    type: slugOf(h.accountType, "shared"),
    status: slugOf(h.status, "active"),
    priority: Number.isFinite(priority) && priority >= 0 ? Math.min(priority, 1_000_000) : 50,
    metadata,
  };
}

/** CRS binds keys to `group:<id>` (a pool) or `responses:<id>`/`api:<id>` (another family of one account). */
function bindingAccount(value: string): string | undefined {
  if (value.startsWith("group:")) return undefined;
  return value.replace(/^(responses|api):/, "");
}

const jsonOr = (v: string | undefined, fallback: unknown): unknown => {
  if (v === undefined || v === "") return fallback;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
};
const limit = (v: string | undefined): string | null => {
  const n = Number(v);
  if (!v || !Number.isFinite(n) || n <= 0) return null;
  const r = parseCostUsd(n);
  return r.ok ? r.text : null;
};

export interface MappedApiKey {
  input: UpsertApiKeyInput;
  deleted: boolean;
  /** Accounts it is bound to (any number); the upsert carries one only when there is exactly one. */
  boundAccounts: string[];
}

/** An `apikey:{id}` hash → our upsert (and whether CRS soft-deleted it). */
export function mapApiKey(id: string, h: Record<string, string>): MappedApiKey {
  const bindings: Record<string, string> = {};
  const accounts = new Set<string>();
  for (const f of KEY_BINDING_FIELDS) {
    const v = h[f];
    if (!v) continue;
    bindings[f] = v;
    const a = bindingAccount(v);
    if (a) accounts.add(a);
    else accounts.add(`?${v}`); // a group: several accounts
  }
  const deleted = bool(h.isDeleted);
  const bound = [...accounts].filter((a) => !a.startsWith("?"));
  const hashed = h.apiKey && /^[0-9a-fA-F]{32,128}$/.test(h.apiKey) ? h.apiKey : null;
  return {
    input: {
      id,
      name: text(h.name, 200) ?? id,
      accountId: accounts.size === 1 && bound.length === 1 ? bound[0]! : null,
      status: deleted ? "deleted" : h.isActive === "false" ? "disabled" : "active",
      hashedKey: hashed,
      dailyCostLimit: limit(h.dailyCostLimit),
      totalCostLimit: limit(h.totalCostLimit),
      metadata: {
        source: "crs",
        bindings,
        permissions: jsonOr(h.permissions, []),
        serviceRates: jsonOr(h.serviceRates, {}),
        tags: jsonOr(h.tags, []),
        createdAt: h.createdAt || null,
        deletedAt: h.deletedAt || null,
      },
    },
    deleted,
    boundAccounts: bound,
  };
}

/** The key's rates from its hash, as CRS reads them (bad JSON → none). */
export function keyServiceRates(h: Record<string, string> | undefined): Record<string, number> {
  try {
    const v = JSON.parse(h?.serviceRates || "{}") as unknown;
    return v && typeof v === "object" ? (v as Record<string, number>) : {};
  } catch {
    return {};
  }
}

/* ------------------------------------------------------------ aggregates */

export const MEASURES = ["requests", "inputTokens", "outputTokens", "cacheCreateTokens", "cacheReadTokens", "ephemeral5mTokens", "ephemeral1hTokens"] as const;
export type Measure = (typeof MEASURES)[number];
export type Counts = Record<Measure, number>;

/** Counters of one aggregate hash, with CRS's micro-USD costs. */
export interface CrsCounters extends Counts {
  realCostMicro: number;
  ratedCostMicro: number;
}

export function parseCounters(h: Record<string, string>): CrsCounters {
  const out = { realCostMicro: num(h.realCostMicro), ratedCostMicro: num(h.ratedCostMicro) } as CrsCounters;
  for (const m of MEASURES) out[m] = num(h[m]);
  return out;
}

/** What the ledger already holds (or a retained record will give) for one key × model × day. */
export interface Covered extends Counts {
  model: string;
  /** CRS day == usage_date (the importer refuses when the calendars differ). */
  day: string;
  /** 'month' / 'alltime' aggregate rows are dated on their bucket's first day and cover no day. */
  kind: "event" | "day" | "month" | "alltime";
  realNanos: number;
  ratedNanos: number;
}

export interface KeyAggregates {
  keyId: string;
  /** model → day → counters (`usage:{key}:model:daily:{model}:{day}`). */
  daily: Map<string, Map<string, CrsCounters>>;
  monthly: Map<string, Map<string, CrsCounters>>;
  allTime: Map<string, CrsCounters>;
  /** CRS's full-precision cost strings (INCRBYFLOAT sums): all time, and per day for ~30 days. */
  realCostTotal: string | null;
  ratedCostTotal: string | null;
  realCostDaily: Map<string, string>;
  ratedCostDaily: Map<string, string>;
}

export interface ResidualPlan {
  keyId: string;
  cal: CrsCalendar;
  aggregates: KeyAggregates;
  /** Ledger rows of the key plus every retained record (imported now, before, or left to the follower). */
  covered: Covered[];
  /** No residual after this instant: records cover everything from the oldest retained one on. */
  horizonMs: number;
  accountId: string;
}

export interface ResidualResult {
  events: CrsEvent[];
  /** Counter excess CRS holds with no request behind it (its output-token inflation) or deficits. */
  notReconstructed: { bucket: string; model: string; reason: string; counts: Partial<Counts> }[];
}

const zeroCounts = (): Counts => ({ requests: 0, inputTokens: 0, outputTokens: 0, cacheCreateTokens: 0, cacheReadTokens: 0, ephemeral5mTokens: 0, ephemeral1hTokens: 0 });
const nanosOfText = (t: string | null | undefined) => (t ? costTextToNanos(roundHalfUp8(t.includes("e") ? Number(t).toFixed(12) : t)) : null);
const usd = (nanos: number) => {
  const n = Math.max(0, Math.round(nanos / 10)) * 10; // 8 decimals
  const int = Math.floor(n / 1e9);
  const frac = String(n % 1e9).padStart(9, "0").slice(0, 8).replace(/0+$/, "");
  return frac ? `${int}.${frac}` : String(int);
};

/**
 * What only the aggregates still hold for one key: per model, each daily bucket minus what covers
 * its day, then each monthly bucket minus its days, then all time minus its months; a positive
 * remainder with requests becomes one aggregate event. Costs: CRS's micro-USD counters, then made
 * exact where CRS keeps a full-precision sum (per day for ~30 days, all time always): the day's
 * and the key's totals are exact, a bucket's share of them within a micro-dollar.
 */
export function residualEvents(p: ResidualPlan): ResidualResult {
  const { cal, aggregates: a, keyId } = p;
  const out: ResidualResult = { events: [], notReconstructed: [] };
  const covered = [...p.covered];
  const sum = (pred: (c: Covered) => boolean) => {
    const s = { ...zeroCounts(), realNanos: 0, ratedNanos: 0 };
    for (const c of covered) {
      if (!pred(c)) continue;
      for (const m of MEASURES) s[m] += c[m];
      s.realNanos += c.realNanos;
      s.ratedNanos += c.ratedNanos;
    }
    return s;
  };
  const horizonDay = cal.day(p.horizonMs);
  const horizonMonth = horizonDay.slice(0, 7);
  const emit = (kind: "day" | "month" | "alltime", model: string, bucket: string, agg: CrsCounters, cov: ReturnType<typeof sum>, occurredAtMs: number) => {
    const r = zeroCounts();
    const deficit: Partial<Counts> = {};
    for (const m of MEASURES) {
      r[m] = agg[m] - cov[m];
      if (r[m] < 0) {
        deficit[m] = r[m];
        r[m] = 0;
      }
    }
    if (Object.keys(deficit).length) out.notReconstructed.push({ bucket, model, reason: "the ledger and records hold more than CRS's counter", counts: deficit });
    if (r.requests === 0) {
      const excess = Object.fromEntries(MEASURES.filter((m) => r[m] > 0).map((m) => [m, r[m]]));
      if (Object.keys(excess).length) out.notReconstructed.push({ bucket, model, reason: "tokens in CRS's key counters without a request behind them (CRS inflates output tokens of cache-only requests)", counts: excess });
      return;
    }
    const realNanos = Math.max(0, agg.realCostMicro * 1000 - cov.realNanos);
    const ratedNanos = Math.max(0, agg.ratedCostMicro * 1000 - cov.ratedNanos);
    const ms = Math.max(occurredAtMs, Date.parse(MIN_OCCURRED_AT));
    const ev: CrsEvent = {
      event: {
        requestId: `crsagg1-${sha40(`${keyId}\n${model}\n${kind}\n${bucket}\n${agg.requests}`)}`,
        occurredAt: new Date(ms).toISOString(),
        accountId: p.accountId,
        apiKeyId: keyId,
        model,
        ...r,
        cost: usd(realNanos),
        ratedCost: usd(ratedNanos),
        metadata: { source: "crs", crsAggregate: kind, bucket },
      },
      crsDay: cal.day(ms),
      kind,
    };
    out.events.push(ev);
    covered.push({ model, day: ev.crsDay, kind, ...r, realNanos: costTextToNanos(ev.event.cost), ratedNanos: costTextToNanos(ev.event.ratedCost) });
  };

  for (const [model, days] of [...a.daily].sort()) {
    for (const [day, agg] of [...days].sort()) {
      if (day > horizonDay) continue;
      emit("day", model, day, agg, sum((c) => c.model === model && c.day === day && (c.kind === "event" || c.kind === "day")), cal.dayStartMs(day));
    }
  }
  for (const [model, months] of [...a.monthly].sort()) {
    for (const [month, agg] of [...months].sort()) {
      if (month > horizonMonth) continue;
      emit("month", model, month, agg, sum((c) => c.model === model && c.day.startsWith(month) && c.kind !== "alltime"), cal.monthStartMs(month));
    }
  }
  for (const [model, agg] of [...a.allTime].sort()) {
    const months = [...(a.monthly.get(model)?.keys() ?? [])].sort();
    const before = months.length ? cal.monthStartMs(months[0]!) - 1 : p.horizonMs;
    emit("alltime", model, "all", agg, sum((c) => c.model === model), before);
  }

  // Exact costs where CRS has a full-precision sum: each such day, then the key's all time.
  const setCost = (e: CrsEvent, field: "real" | "rated", nanos: number) => {
    if (field === "real") e.event.cost = usd(nanos);
    else e.event.ratedCost = usd(nanos);
  };
  const nanosOf = (e: CrsEvent, field: "real" | "rated") => costTextToNanos(field === "real" ? e.event.cost : e.event.ratedCost);
  const fix = (field: "real" | "rated", targets: CrsEvent[], exact: number | null, coveredNanos: number) => {
    if (exact === null || !targets.length) return;
    const want = exact - coveredNanos;
    const have = targets.reduce((s, e) => s + nanosOf(e, field), 0);
    const biggest = targets.reduce((b, e) => (nanosOf(e, field) > nanosOf(b, field) ? e : b));
    const v = nanosOf(biggest, field) + (want - have);
    if (v >= 0) setCost(biggest, field, v);
  };
  const original = p.covered;
  const byDay = new Map<string, CrsEvent[]>();
  for (const e of out.events) if (e.kind === "day") byDay.set(e.crsDay, [...(byDay.get(e.crsDay) ?? []), e]);
  for (const [day, evs] of byDay) {
    const cov = original.filter((c) => c.day === day && (c.kind === "event" || c.kind === "day"));
    fix("real", evs, nanosOfText(a.realCostDaily.get(day)), cov.reduce((s, c) => s + c.realNanos, 0));
    fix("rated", evs, nanosOfText(a.ratedCostDaily.get(day)), cov.reduce((s, c) => s + c.ratedNanos, 0));
  }
  // The all-time correction goes to buckets no exact day pins down (months, all time), if any.
  const exactDays = (field: "real" | "rated") => new Set([...byDay.keys()].filter((d) => (field === "real" ? a.realCostDaily : a.ratedCostDaily).has(d)));
  for (const field of ["real", "rated"] as const) {
    const pinned = exactDays(field);
    const free = out.events.filter((e) => e.kind !== "day" || !pinned.has(e.crsDay));
    const exact = nanosOfText(field === "real" ? a.realCostTotal : a.ratedCostTotal);
    if (exact === null) continue;
    const pinnedNanos = out.events.filter((e) => !free.includes(e)).reduce((s, e) => s + nanosOf(e, field), 0);
    const cov = original.reduce((s, c) => s + (field === "real" ? c.realNanos : c.ratedNanos), 0);
    fix(field, free, exact - pinnedNanos, cov);
  }
  return out;
}

/** Sums of events as Covered rows (records retained in CRS, or events being written). */
export function coveredOf(events: CrsEvent[]): Covered[] {
  return events.map((e) => ({
    model: e.event.model,
    day: e.crsDay,
    kind: e.kind === "record" ? ("event" as const) : e.kind,
    requests: e.event.requests ?? 1,
    inputTokens: e.event.inputTokens,
    outputTokens: e.event.outputTokens,
    cacheCreateTokens: e.event.cacheCreateTokens,
    cacheReadTokens: e.event.cacheReadTokens,
    ephemeral5mTokens: e.event.ephemeral5mTokens ?? 0,
    ephemeral1hTokens: e.event.ephemeral1hTokens ?? 0,
    realNanos: costTextToNanos(e.event.cost),
    ratedNanos: costTextToNanos(e.event.ratedCost),
  }));
}
