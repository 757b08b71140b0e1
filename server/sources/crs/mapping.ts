import { createHash } from "node:crypto";
import { MEASURES as LEDGER_MEASURES } from "../../../db/measures";
import type { UpsertAccountInput, UpsertApiKeyInput } from "../../accounts/schemas";
import { costTextToNanos } from "../../usage/normalize";
import { MAX_TOKENS_PER_FIELD, MIN_OCCURRED_AT, isStorableText, parseCostUsd, roundHalfUp8, type UsageEvent } from "../../usage/schemas";
import { ACCOUNT_FAMILIES, BINDING_VALUE_PREFIXES, GROUP_BINDING_PREFIX, KEY_BINDING_FIELDS, crsService, normalizeCrsModel, type CrsCalendar } from "./layout";
import { quote } from "../shared/rejections";

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

/** CRS's records are under 2 KB; anything far bigger is not one of them. */
export const MAX_RECORD_BYTES = 64 * 1024;

/** A field of an object parsed from CRS's JSON: own properties only (a record may carry "constructor"). */
const own = (o: object, k: string): unknown => (Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined);
const bool = (v: string | undefined) => v === "true";

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
  const globalRate = Number(rates.globalRates[service]) || 1.0;
  const keyRate = Number(rates.keyRates(keyId)[service] ?? 1.0);
  return real * globalRate * (Number.isFinite(keyRate) ? keyRate : 1.0);
}

/** One of our events (both costs as 8-decimal USD strings) and where it came from in CRS. */
export interface CrsEvent {
  event: UsageEvent & { cost: string; ratedCost: string };
  /** CRS day (UTC+offset) of the request or bucket. */
  crsDay: string;
  kind: "record" | "day" | "month" | "alltime";
  /** The record's `accountType`, when it names one. */
  crsAccountType?: string;
}

/** A record that cannot become an event, and why (a RejectionLog reason, and the value at fault). */
export interface Unmapped {
  keyId: string;
  reason: string;
  detail?: string;
}

export const isUnmapped = (x: CrsEvent | Unmapped): x is Unmapped => "reason" in x;

/** The ledger's count measures an event gives (db/measures.ts): a CRS record carries each under the same name, an aggregate hash too. */
type CountInput = Extract<(typeof LEDGER_MEASURES)[number], { kind: "count"; input: object }>["name"];
export const MEASURES = LEDGER_MEASURES.filter((m) => m.kind === "count" && "input" in m).map((m) => m.name as CountInput);
const COUNT_DEFAULTS = Object.fromEntries(LEDGER_MEASURES.map((m) => [m.name, "input" in m && "default" in m.input ? m.input.default : 0])) as Record<CountInput, number>;
/** A record stands for one request: every count but requests is read from it. */
const TOKEN_FIELDS = MEASURES.filter((m) => m !== "requests");

/** A token count as CRS writes it: a JSON integer ≥ 0 (absent or null: 0); anything else is refused, never rounded or clamped. */
function tokenCount(r: object, field: CountInput): number | Omit<Unmapped, "keyId"> {
  const v = own(r, field);
  if (v === undefined || v === null) return 0;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) return { reason: "a token count that is not a non-negative integer", detail: `${field} ${quote(v)}` };
  if (v > MAX_TOKENS_PER_FIELD) return { reason: "a token count beyond the ledger's bound", detail: `${field} ${quote(v)} > ${MAX_TOKENS_PER_FIELD}` };
  return v;
}

/** A cost as CRS writes it, a JSON number ≥ 0 within the ledger's bound, as 8-decimal text. */
function costText(v: unknown, field: string): string | Omit<Unmapped, "keyId"> {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) return { reason: "a cost that is not a non-negative number", detail: `${field} ${quote(v)}` };
  const r = parseCostUsd(v);
  return r.ok ? r.text : { reason: "a cost beyond the ledger's bound per request", detail: `${field} ${quote(v)}: ${r.message}` };
}

/** The full-precision real cost CRS computed: realCostBreakdown.total / costBreakdown.total, else the 6-decimal fields. */
function realCostOf(r: object): { value: unknown; field: string } {
  for (const b of ["realCostBreakdown", "costBreakdown"]) {
    const breakdown = own(r, b);
    const total = breakdown && typeof breakdown === "object" ? own(breakdown, "total") : undefined;
    if (total !== undefined && total !== null) return { value: total, field: `${b}.total` };
  }
  for (const f of ["realCost", "cost"]) {
    const v = own(r, f);
    if (v !== undefined && v !== null) return { value: v, field: f };
  }
  return { value: 0, field: "cost" };
}

/**
 * The rated cost CRS charged: its recorded `cost` (6 decimals) unless our recomputation from
 * the full-precision real cost rounds to exactly that, which gives the same charge with all its
 * decimals. A record whose rate CRS computed otherwise (per-model rates, a key rate changed since)
 * keeps CRS's figure: the product never recomputes a charge it cannot reproduce.
 */
function ratedCostText(r: object, real: number, recomputed: number, hasRecorded: boolean): string | Omit<Unmapped, "keyId"> {
  const recorded = own(r, "cost");
  const full = own(r, "ratedCostFull") ?? own(own(r, "ratedCostBreakdown") ?? {}, "total");
  if (typeof full === "number") return costText(full, "ratedCostBreakdown.total");
  if (!hasRecorded || recorded === undefined || recorded === null) return costText(recomputed, "cost (rated)");
  if (typeof recorded === "number" && Number.isFinite(recorded) && Number(recomputed.toFixed(6)) === recorded) return costText(recomputed, "cost (rated)");
  if (typeof recorded === "number" && real === 0 && recorded === 0) return "0";
  return costText(recorded, "cost (rated)");
}

/** The account CRS names in a record, without the family prefix a key binding carries (`responses:`, `api:`). */
function recordAccountId(v: unknown, accountType: string | undefined): string | null | Omit<Unmapped, "keyId"> {
  if (v === undefined || v === null || v === "") return null;
  if (typeof v !== "string") return { reason: "an account id that is not text", detail: quote(v) };
  const id = accountType === "openai-responses" ? v.replace(/^responses:/, "") : accountType === "gemini-api" || accountType === "gemini" ? v.replace(/^api:/, "") : v;
  if (!id || id.length > 128 || !isStorableText(id)) return { reason: "an account id that cannot be one here", detail: quote(v, 40) };
  return id;
}

/**
 * One record of `usage:records:{key}` → one event, taken exactly or refused with the reason: a
 * record is JSON written by another program and can hold anything.
 */
export function mapRecord(keyId: string, recordJson: string, cal: CrsCalendar, rates: RateContext): CrsEvent | Unmapped {
  if (recordJson.length > MAX_RECORD_BYTES) return { keyId, reason: "a usage record too big to be CRS's", detail: `${recordJson.length} bytes` };
  let r: unknown;
  try {
    r = JSON.parse(recordJson);
  } catch {
    return { keyId, reason: "a usage record that is not JSON", detail: quote(recordJson, 40) };
  }
  if (!r || typeof r !== "object" || Array.isArray(r)) return { keyId, reason: "a usage record that is not a JSON object", detail: quote(recordJson, 40) };
  const ts = own(r, "timestamp");
  const ms = typeof ts === "string" && ts.length <= 40 ? Date.parse(ts) : NaN;
  if (!Number.isFinite(ms)) return { keyId, reason: "a usage record without a valid timestamp", detail: quote(ts) };
  if (ms < Date.parse(MIN_OCCURRED_AT)) return { keyId, reason: "a usage record dated before what the ledger takes", detail: `${quote(ts)} < ${MIN_OCCURRED_AT}` };
  const m = own(r, "model");
  if (m !== undefined && m !== null && typeof m !== "string") return { keyId, reason: "a model name that is not text", detail: quote(m) };
  const rawModel = typeof m === "string" && m ? m : "unknown";
  if (rawModel.length > 128 || !isStorableText(rawModel)) return { keyId, reason: "a model name that cannot be one here", detail: quote(rawModel, 40) };
  const model = normalizeCrsModel(rawModel) || rawModel;
  const tokens: Record<string, number> = {};
  for (const f of TOKEN_FIELDS) {
    const t = tokenCount(r, f);
    if (typeof t !== "number") return { keyId, ...t };
    tokens[f] = t;
  }
  const at = own(r, "accountType");
  const accountType = typeof at === "string" && at && at.length <= 64 && isStorableText(at) ? at : undefined;
  const account = recordAccountId(own(r, "accountId"), accountType);
  if (account !== null && typeof account !== "string") return { keyId, ...account };
  const realSource = realCostOf(r);
  const real = costText(realSource.value, realSource.field);
  if (typeof real !== "string") return { keyId, ...real };
  const realNumber = realSource.value as number;
  const rated = ratedCostText(r, realNumber, ratedCostOf(realNumber, accountType, rawModel, keyId, rates), own(r, "realCost") !== undefined);
  if (typeof rated !== "string") return { keyId, ...rated };
  const metadata: Record<string, unknown> = { source: "crs" };
  const reqId = own(r, "requestId");
  if (typeof reqId === "string" && reqId && isStorableText(reqId)) metadata.crsRequestId = reqId.slice(0, 128);
  if (rawModel !== model) metadata.crsModel = rawModel;
  if (accountType) metadata.crsAccountType = accountType;
  return {
    event: {
      requestId: recordRequestId(keyId, recordJson),
      occurredAt: new Date(ms).toISOString(),
      accountId: account ?? UNATTRIBUTED_ACCOUNT_ID,
      apiKeyId: keyId,
      model,
      ...(tokens as Omit<Counts, "requests">),
      requests: 1,
      cost: real,
      ratedCost: rated,
      metadata,
    },
    crsDay: cal.day(ms),
    kind: "record",
    ...(accountType ? { crsAccountType: accountType } : {}),
  };
}

/* ------------------------------------------------------------ metadata */

const slugOf = (v: string | undefined, fallback: string) => {
  const s = (v ?? "").toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 32);
  return s || fallback;
};
/** Names and descriptions: text CRS shows, taken as written up to our column's size (NUL and lone surrogates dropped). */
const text = (v: string | undefined, max: number) => {
  const t = v ? v.replace(/\u0000/g, "").replace(/\p{Cs}/gu, "\uFFFD").slice(0, max) : "";
  return t || undefined;
};
const field = (h: Record<string, string>, k: string): string | undefined => (Object.hasOwn(h, k) ? h[k] : undefined);

/** The platform of an account known only from records: its `accountType`, as a slug. */
export function platformOfRecordType(accountType: string | undefined): string {
  const family = ACCOUNT_FAMILIES.find((f) => f.recordType === accountType);
  return family ? family.platform : slugOf(accountType, "crs-unknown");
}

/** An account of one family (its fields as text) → our upsert. */
export function mapAccount(family: { prefix: string; platform: string }, id: string, h: Record<string, string>): UpsertAccountInput {
  const priority = Number.parseInt(field(h, "priority") ?? "", 10);
  const metadata: Record<string, unknown> = { source: "crs", crsRedisKey: `${family.prefix}${id}`.slice(0, 300) };
  if (field(h, "isActive") !== undefined) metadata.isActive = bool(field(h, "isActive"));
  if (field(h, "schedulable") !== undefined) metadata.schedulable = bool(field(h, "schedulable"));
  const createdAt = text(field(h, "createdAt"), 40);
  if (createdAt) metadata.createdAt = createdAt;
  const description = text(field(h, "description"), 500);
  if (description) metadata.description = description;
  // Bedrock keeps no status: an inactive account is "inactive", an active one "active".
  const status = field(h, "status") ?? (field(h, "isActive") === "false" ? "inactive" : undefined);
  return {
    id,
    name: text(field(h, "name"), 200) ?? id,
    platform: family.platform,
    type: slugOf(field(h, "accountType"), "shared"),
    status: slugOf(status, "active"),
    priority: Number.isFinite(priority) && priority >= 0 ? Math.min(priority, 1_000_000) : 50,
    metadata,
  };
}

/** An account CRS names in records and keeps counters for, of a family this product does not know. */
export function accountFromRecords(id: string, accountType: string | undefined): UpsertAccountInput {
  return {
    id,
    name: id,
    platform: platformOfRecordType(accountType),
    type: "shared",
    status: "active",
    metadata: { source: "crs", knownFrom: "records", ...(accountType ? { crsAccountType: accountType } : {}) },
  };
}

/** CRS binds keys to `group:<id>` (a pool) or `responses:<id>`/`api:<id>` (another family of one account). */
function bindingAccount(value: string): string | undefined {
  if (value.startsWith(GROUP_BINDING_PREFIX)) return undefined;
  const prefix = BINDING_VALUE_PREFIXES.find((p) => value.startsWith(p));
  return prefix ? value.slice(prefix.length) : value;
}

/** A JSON field of a key hash, as stored JSON when it is small and safe (no __proto__ / constructor keys), else dropped. */
const jsonField = (v: string | undefined, fallback: unknown, dropped: string[], name: string): unknown => {
  if (v === undefined || v === "") return fallback;
  let parsed: unknown = v;
  try {
    parsed = JSON.parse(v);
  } catch {
    // CRS's older keys hold some of these as plain text ("all", "claude,gemini").
  }
  const json = JSON.stringify(parsed) ?? "";
  if (json.length > 1024 || /"(__proto__|constructor|prototype)"\s*:/.test(json) || !isStorableText(json)) {
    dropped.push(name);
    return fallback;
  }
  return parsed;
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
  /** Metadata fields left out because CRS held something unsafe or too big there. */
  dropped: string[];
}

/** An `apikey:{id}` hash → our upsert (and whether CRS soft-deleted it). */
export function mapApiKey(id: string, h: Record<string, string>): MappedApiKey {
  const bindings: Record<string, string> = {};
  const accounts = new Set<string>();
  const dropped: string[] = [];
  for (const f of KEY_BINDING_FIELDS) {
    const v = field(h, f);
    if (!v) continue;
    if (v.length > 140 || !isStorableText(v)) {
      dropped.push(f);
      continue;
    }
    bindings[f] = v;
    const a = bindingAccount(v);
    if (a) accounts.add(a);
    else accounts.add(`?${v}`); // a group: several accounts
  }
  const deleted = bool(field(h, "isDeleted"));
  const bound = [...accounts].filter((a) => !a.startsWith("?") && a.length <= 128);
  const apiKey = field(h, "apiKey");
  const hashed = apiKey && /^[0-9a-fA-F]{32,128}$/.test(apiKey) ? apiKey : null;
  const createdAt = text(field(h, "createdAt"), 40) ?? null;
  const deletedAt = text(field(h, "deletedAt"), 40) ?? null;
  return {
    input: {
      id,
      name: text(field(h, "name"), 200) ?? id,
      accountId: accounts.size === 1 && bound.length === 1 ? bound[0]! : null,
      status: deleted ? "deleted" : field(h, "isActive") === "false" ? "disabled" : "active",
      hashedKey: hashed,
      dailyCostLimit: limit(field(h, "dailyCostLimit")),
      totalCostLimit: limit(field(h, "totalCostLimit")),
      metadata: {
        source: "crs",
        bindings,
        permissions: jsonField(field(h, "permissions"), [], dropped, "permissions"),
        serviceRates: jsonField(field(h, "serviceRates"), {}, dropped, "serviceRates"),
        tags: jsonField(field(h, "tags"), [], dropped, "tags"),
        createdAt,
        deletedAt,
      },
    },
    deleted,
    boundAccounts: bound,
    dropped,
  };
}

/** The key's rates from its hash, as CRS reads them (bad JSON, or anything but numbers → none). */
export function keyServiceRates(h: Record<string, string> | undefined): Record<string, number> {
  try {
    const v = JSON.parse((h && field(h, "serviceRates")) || "{}") as unknown;
    if (!v || typeof v !== "object" || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === "number" && Number.isFinite(x) && x >= 0));
  } catch {
    return {};
  }
}

/* ------------------------------------------------------------ aggregates */

export type Measure = CountInput;
export type Counts = Record<Measure, number>;

/** Counters of one aggregate hash, with CRS's micro-USD costs. */
export interface CrsCounters extends Counts {
  realCostMicro: number;
  ratedCostMicro: number;
}

/** An aggregate hash's counters, or what is wrong with them: CRS writes integers ≥ 0 and nothing else. */
export function parseCounters(h: Record<string, string>): CrsCounters | { bad: string } {
  const out = {} as CrsCounters;
  for (const m of [...MEASURES, "realCostMicro", "ratedCostMicro"] as const) {
    const v = field(h, m);
    if (v === undefined || v === "") out[m] = 0;
    else if (/^\d{1,15}$/.test(v)) out[m] = Number(v);
    else return { bad: `${m} ${quote(v)}` };
  }
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

const zeroCounts = (): Counts => Object.fromEntries(MEASURES.map((m) => [m, 0])) as Counts;
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
  return events.map((e) => {
    const given = e.event as unknown as Record<string, number | undefined>;
    const c = { model: e.event.model, day: e.crsDay, kind: e.kind === "record" ? ("event" as const) : e.kind } as Covered;
    for (const m of MEASURES) c[m] = given[m] ?? COUNT_DEFAULTS[m];
    c.realNanos = costTextToNanos(e.event.cost);
    c.ratedNanos = costTextToNanos(e.event.ratedCost);
    return c;
  });
}
