import type { RedisClient } from "../redis";
import { sql, type Kysely } from "kysely";
import type { Database, RollupMeasures } from "../../db/types";
import { ACCOUNT_FIELD, hotKeys, modelField, unpackCounters, type Window } from "./hot-keys";
import type { UsageEvent } from "./schemas";

/**
 * Test fixtures of the recording tests: deterministic events, and the figures they must produce,
 * computed here independently of the code under test (own time-zone arithmetic, BigInt money).
 */

export interface Sums {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheCreateTokens: number;
  cacheReadTokens: number;
  ephemeral5mTokens: number;
  ephemeral1hTokens: number;
  allTokens: number;
  costNanos: bigint;
  ratedCostNanos: bigint;
}

const zero = (): Sums => ({
  requests: 0,
  inputTokens: 0,
  outputTokens: 0,
  cacheCreateTokens: 0,
  cacheReadTokens: 0,
  ephemeral5mTokens: 0,
  ephemeral1hTokens: 0,
  allTokens: 0,
  costNanos: 0n,
  ratedCostNanos: 0n,
});

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface EventPlan {
  count: number;
  seed: number;
  /** Prefix of request ids (distinct per test). */
  idPrefix: string;
  accounts?: string[];
  /** Events spread over [now - spanMs, now - 1 s]. */
  spanMs?: number;
  now?: number;
}

export const KEYS_OF: Record<string, string[]> = {
  "acc-a": ["key-a1", "key-a2", "key-a3"],
  "acc-b": ["key-b1", "key-b2"],
  "acc-c": ["key-c1"],
};
const MODELS = ["claude-sonnet-4", "claude-opus-4", "gpt-4.1"];

export function makeEvents(p: EventPlan): UsageEvent[] {
  const r = rng(p.seed);
  const accounts = p.accounts ?? Object.keys(KEYS_OF);
  const now = p.now ?? Date.now();
  const span = p.spanMs ?? 3_600_000;
  const pick = <T,>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: p.count }, (_, i) => {
    const accountId = pick(accounts);
    const keys = KEYS_OF[accountId] ?? [`${accountId}-key`];
    const cost = Math.floor(r() * 2_000_000_000) / 1e8;
    const e: UsageEvent = {
      requestId: `${p.idPrefix}-${i}`,
      occurredAt: new Date(now - 1000 - Math.floor(r() * span)).toISOString(),
      accountId,
      apiKeyId: pick(keys),
      model: pick(MODELS),
      inputTokens: Math.floor(r() * 50_000),
      outputTokens: Math.floor(r() * 8_000),
      cacheCreateTokens: r() < 0.3 ? Math.floor(r() * 20_000) : 0,
      cacheReadTokens: r() < 0.5 ? Math.floor(r() * 100_000) : 0,
      // Alternate the two accepted spellings of cost: a decimal string and a JSON number.
      cost: i % 3 === 0 ? cost : cost.toFixed(8),
    };
    if (i % 4 === 0) e.ephemeral5mTokens = Math.floor(r() * 1000);
    if (i % 5 === 0) e.ephemeral1hTokens = Math.floor(r() * 1000);
    if (i % 7 === 0) e.requests = 1 + Math.floor(r() * 3);
    if (i % 6 === 0) e.metadata = { stream: true, ua: "test" };
    // Every other event carries a rated cost of its own (as a relay applying rates reports it),
    // in either spelling; the others are rated at their real cost.
    if (i % 2 === 1) {
      const rated = Math.floor(r() * 3_000_000_000) / 1e8;
      e.ratedCost = i % 4 === 1 ? rated : rated.toFixed(8);
    }
    return e;
  });
}

/** Exact USD decimal (string or number with ≤ 8 decimals) → nano-USD. */
export function nanosOf(cost: string | number): bigint {
  const text = typeof cost === "number" ? cost.toFixed(8) : cost;
  const negative = text.startsWith("-");
  const [int, frac = ""] = (negative ? text.slice(1) : text).split(".");
  const n = BigInt(int!) * 1_000_000_000n + BigInt(frac.padEnd(9, "0").slice(0, 9));
  return negative ? -n : n;
}

/** nano-USD → the NUMERIC(…, 8) text PostgreSQL returns ("12.34567890"). */
export function usdText(nanos: bigint): string {
  if (nanos < 0n) return `-${usdText(-nanos)}`;
  const units = nanos / 10n; // 1e-8 USD
  const s = units.toString().padStart(9, "0");
  return `${s.slice(0, -8)}.${s.slice(-8)}`;
}

export function localDate(ms: number, timeZone: string): string {
  const p = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "numeric", day: "numeric" }).formatToParts(ms);
  const n = (t: string) => Number(p.find((x) => x.type === t)!.value);
  return `${n("year")}-${String(n("month")).padStart(2, "0")}-${String(n("day")).padStart(2, "0")}`;
}

export interface Expected {
  account: Map<string, Sums>;
  key: Map<string, Sums>;
  model: Map<string, Sums>;
  keyCostNanos: Map<string, bigint>;
  rows: number;
  costNanos: bigint;
  ratedCostNanos: bigint;
}

/** Figures a set of distinct events must produce; keys look like "acc|d:2026-01-31". */
export function expectedFigures(events: UsageEvent[], timeZone: string): Expected {
  const out: Expected = { account: new Map(), key: new Map(), model: new Map(), keyCostNanos: new Map(), rows: 0, costNanos: 0n, ratedCostNanos: 0n };
  const seen = new Set<string>();
  const add = (m: Map<string, Sums>, k: string, e: UsageEvent) => {
    const s = m.get(k) ?? zero();
    s.requests += e.requests ?? 1;
    s.inputTokens += e.inputTokens;
    s.outputTokens += e.outputTokens;
    s.cacheCreateTokens += e.cacheCreateTokens;
    s.cacheReadTokens += e.cacheReadTokens;
    s.ephemeral5mTokens += e.ephemeral5mTokens ?? 0;
    s.ephemeral1hTokens += e.ephemeral1hTokens ?? 0;
    s.allTokens += e.inputTokens + e.outputTokens + e.cacheCreateTokens + e.cacheReadTokens;
    s.costNanos += nanosOf(e.cost);
    s.ratedCostNanos += nanosOf(e.ratedCost ?? e.cost);
    m.set(k, s);
  };
  for (const e of events) {
    // The idempotency key is account + request id (migration 0005).
    const id = `${e.accountId}\u0000${e.requestId}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.rows++;
    out.costNanos += nanosOf(e.cost);
    out.ratedCostNanos += nanosOf(e.ratedCost ?? e.cost);
    const date = localDate(Date.parse(e.occurredAt), timeZone);
    const windows = [`d:${date}`, `m:${date.slice(0, 7)}`, "t"];
    for (const w of windows) {
      add(out.account, `${e.accountId}|${w}`, e);
      add(out.key, `${e.accountId}|${e.apiKeyId}|${w}`, e);
      add(out.model, `${e.accountId}|${e.model}|${w}`, e);
    }
    out.keyCostNanos.set(e.apiKeyId, (out.keyCostNanos.get(e.apiKeyId) ?? 0n) + nanosOf(e.cost));
  }
  return out;
}

/** A rollup row (db/types.ts) as `select *` returns it. */
type Row = Record<string, unknown> & RollupMeasures;

const sumsOfRow = (r: Row): Sums => ({
  requests: r.requests,
  inputTokens: r.input_tokens,
  outputTokens: r.output_tokens,
  cacheCreateTokens: r.cache_create_tokens,
  cacheReadTokens: r.cache_read_tokens,
  ephemeral5mTokens: r.ephemeral_5m_tokens,
  ephemeral1hTokens: r.ephemeral_1h_tokens,
  allTokens: r.total_tokens,
  costNanos: BigInt(r.cost_nanos),
  ratedCostNanos: BigInt(r.rated_cost_nanos),
});

/** Every rollup of PostgreSQL in the shape of Expected. */
export async function pgFigures(db: Kysely<Database>): Promise<Expected> {
  const out: Expected = { account: new Map(), key: new Map(), model: new Map(), keyCostNanos: new Map(), rows: 0, costNanos: 0n, ratedCostNanos: 0n };
  const q = async (text: string) => (await sql.raw<Row>(text).execute(db)).rows;
  for (const r of await q("select * from usage_account_daily")) out.account.set(`${r.account_id}|d:${r.usage_date}`, sumsOfRow(r));
  for (const r of await q("select * from usage_account_monthly")) out.account.set(`${r.account_id}|m:${String(r.usage_month).slice(0, 7)}`, sumsOfRow(r));
  for (const r of await q("select * from usage_account_totals")) out.account.set(`${r.account_id}|t`, sumsOfRow(r));
  for (const r of await q("select * from usage_key_daily")) out.key.set(`${r.account_id}|${r.api_key_id}|d:${r.usage_date}`, sumsOfRow(r));
  for (const r of await q("select * from usage_key_monthly")) out.key.set(`${r.account_id}|${r.api_key_id}|m:${String(r.usage_month).slice(0, 7)}`, sumsOfRow(r));
  for (const r of await q("select * from usage_key_totals")) out.key.set(`${r.account_id}|${r.api_key_id}|t`, sumsOfRow(r));
  for (const r of await q("select * from usage_model_daily")) out.model.set(`${r.account_id}|${r.model}|d:${r.usage_date}`, sumsOfRow(r));
  for (const r of await q("select * from usage_model_monthly")) out.model.set(`${r.account_id}|${r.model}|m:${String(r.usage_month).slice(0, 7)}`, sumsOfRow(r));
  for (const r of await q("select * from usage_model_totals")) out.model.set(`${r.account_id}|${r.model}|t`, sumsOfRow(r));
  const keys = await sql<{ id: string; c: string }>`select id, total_cost_accumulated::text as c from api_keys`.execute(db);
  for (const k of keys.rows) out.keyCostNanos.set(k.id, nanosOf(k.c));
  const raw = await sql<{ n: number; c: string | null; rc: string | null }>`
    select count(*)::int as n, sum(total_cost)::text as c, sum(coalesce(rated_cost, total_cost))::text as rc from usage_records`.execute(db);
  out.rows = raw.rows[0]!.n;
  out.costNanos = raw.rows[0]!.c ? nanosOf(raw.rows[0]!.c) : 0n;
  out.ratedCostNanos = raw.rows[0]!.rc ? nanosOf(raw.rows[0]!.rc) : 0n;
  return out;
}

const FIELDS = ["requests", "inputTokens", "outputTokens", "cacheCreateTokens", "cacheReadTokens", "ephemeral5mTokens", "ephemeral1hTokens", "allTokens"] as const;

function sumsOfRecord(value: string | null): Sums {
  const r = unpackCounters(value);
  const s = zero();
  for (const f of FIELDS) s[f] = Number(r[f]);
  s.costNanos = r.costNanos;
  s.ratedCostNanos = r.ratedCostNanos;
  return s;
}

function parseWindow(w: string): Window {
  if (w === "t") return { kind: "t" };
  return w.startsWith("d:") ? { kind: "d", date: w.slice(2) } : { kind: "m", month: w.slice(2) };
}

/**
 * The Redis counters at the places `like` names (its keys), plus a check of the layout: each
 * window's hashes hold exactly the records expected there (the account, its models, its API
 * keys), nothing more. Model totals do not exist in Redis and are skipped.
 */
export async function redisFigures(redis: RedisClient, prefix: string, like: Expected): Promise<{ figures: Expected; layoutMismatches: string[] }> {
  const k = hotKeys(prefix);
  const out: Expected = { account: new Map(), key: new Map(), model: new Map(), keyCostNanos: new Map(), rows: 0, costNanos: 0n, ratedCostNanos: 0n };
  // Hash → the fields it should hold.
  const fieldsOf = new Map<string, Set<string>>();
  const expectField = (key: string, field: string) => {
    let f = fieldsOf.get(key);
    if (!f) fieldsOf.set(key, (f = new Set()));
    f.add(field);
  };
  for (const id of like.account.keys()) {
    const [acc, w] = id.split("|") as [string, string];
    const key = k.counters(acc, parseWindow(w));
    out.account.set(id, sumsOfRecord(await redis.hget(key, ACCOUNT_FIELD)));
    expectField(key, ACCOUNT_FIELD);
  }
  for (const id of like.key.keys()) {
    const [acc, apiKey, w] = id.split("|") as [string, string, string];
    const key = k.keyCounters(acc, parseWindow(w));
    out.key.set(id, sumsOfRecord(await redis.hget(key, apiKey)));
    expectField(key, apiKey);
  }
  for (const id of like.model.keys()) {
    const [acc, model, w] = id.split("|") as [string, string, string];
    if (w === "t") continue;
    const key = k.counters(acc, parseWindow(w));
    out.model.set(id, sumsOfRecord(await redis.hget(key, modelField(model))));
    expectField(key, modelField(model));
  }
  const layoutMismatches: string[] = [];
  for (const [key, expected] of fieldsOf) {
    const stray = (await redis.hkeys(key)).filter((f) => !expected.has(f));
    if (stray.length) layoutMismatches.push(`${key}: unexpected records ${stray.sort().join(", ")}`);
  }
  return { figures: out, layoutMismatches };
}

/** Drops model totals (not kept in Redis) so the maps compare with redisFigures(). */
export function withoutModelTotals(e: Expected): Map<string, Sums> {
  return new Map([...e.model].filter(([k]) => !k.endsWith("|t")));
}

/** Maps → sorted plain objects, so toEqual reports readable differences. */
export function plain(m: Map<string, unknown>): Record<string, unknown> {
  return Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));
}
