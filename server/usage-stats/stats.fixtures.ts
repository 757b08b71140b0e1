import { sql, type Kysely } from "kysely";
import type { Database } from "../../db/types";
import type { UsageTotals } from "./schemas";

/**
 * Test data for the usage-stats tests: deterministic events, a way to write them through
 * insert_usage_batch, and the expected figures computed from the events alone (no rollups, no
 * code under test). Days are cut at UTC+8, the offset of Asia/Shanghai, the zone the tests use.
 */

export const TEST_TZ = "Asia/Shanghai";
const OFFSET_MS = 8 * 3600_000;

export interface TestEvent {
  requestId: string;
  occurredAt: string;
  accountId: string;
  apiKeyId: string;
  model: string;
  requests?: number;
  inputTokens: number;
  outputTokens: number;
  cacheCreateTokens: number;
  cacheReadTokens: number;
  /** USD with up to 8 decimals. */
  cost: string;
  /** What the key holder is charged; absent: equal to cost. */
  ratedCost?: string;
}

/** Local (UTC+8) date of an ISO instant, by plain arithmetic. */
export function shDate(iso: string): string {
  return new Date(Date.parse(iso) + OFFSET_MS).toISOString().slice(0, 10);
}

/** The instant a UTC+8 local date-time denotes, as ISO. */
export function shInstant(localDateTime: string): string {
  return new Date(Date.parse(`${localDateTime}+08:00`)).toISOString();
}

function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n events of an account spread evenly (strictly increasing instants) over [fromIso, toIso). */
export function spreadEvents(opts: {
  seed: number;
  accountId: string;
  keys: string[];
  models: string[];
  n: number;
  fromIso: string;
  toIso: string;
}): TestEvent[] {
  const rand = mulberry32(opts.seed);
  const from = Date.parse(opts.fromIso);
  const step = Math.floor((Date.parse(opts.toIso) - from) / opts.n);
  const pick = <T,>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  return Array.from({ length: opts.n }, (_, i) => ({
    requestId: `${opts.accountId}-s${opts.seed}-${i}`,
    occurredAt: new Date(from + i * step + Math.floor(rand() * (step - 1))).toISOString(),
    accountId: opts.accountId,
    apiKeyId: pick(opts.keys),
    model: pick(opts.models),
    requests: rand() < 0.2 ? 1 + Math.floor(rand() * 3) : undefined,
    inputTokens: Math.floor(rand() * 50_000),
    outputTokens: Math.floor(rand() * 8_000),
    cacheCreateTokens: rand() < 0.5 ? 0 : Math.floor(rand() * 20_000),
    cacheReadTokens: rand() < 0.5 ? 0 : Math.floor(rand() * 90_000),
    cost: (rand() * 0.9).toFixed(8),
    // Half the events carry a rated cost of their own (a key rate of 1.25 or 0.5), as a relay reports it.
    ratedCost: rand() < 0.5 ? (rand() * 1.2).toFixed(8) : undefined,
  }));
}

export async function insertEvents(db: Kysely<Database>, events: TestEvent[], tz = TEST_TZ): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    const rows = events.slice(i, i + 500).map((e) => ({
      request_id: e.requestId,
      occurred_at: e.occurredAt,
      account_id: e.accountId,
      api_key_id: e.apiKeyId,
      model: e.model,
      requests: e.requests,
      input_tokens: e.inputTokens,
      output_tokens: e.outputTokens,
      cache_create_tokens: e.cacheCreateTokens,
      cache_read_tokens: e.cacheReadTokens,
      total_cost: e.cost,
      rated_cost: e.ratedCost ?? null,
    }));
    await sql`SELECT count(*) FROM insert_usage_batch(${JSON.stringify(rows)}::jsonb, ${tz})`.execute(db);
  }
}

/** "0.12345678" → 123456780n */
export function costNanos(cost: string): bigint {
  const [int = "0", frac = ""] = cost.split(".");
  return BigInt(int) * 1_000_000_000n + BigInt(frac.padEnd(9, "0"));
}

export function expectedTotals(events: TestEvent[]): UsageTotals {
  let nanos = 0n;
  let ratedNanos = 0n;
  const t = { requests: 0, inputTokens: 0, outputTokens: 0, cacheCreateTokens: 0, cacheReadTokens: 0, allTokens: 0, cost: 0, ratedCost: 0 };
  for (const e of events) {
    t.requests += e.requests ?? 1;
    t.inputTokens += e.inputTokens;
    t.outputTokens += e.outputTokens;
    t.cacheCreateTokens += e.cacheCreateTokens;
    t.cacheReadTokens += e.cacheReadTokens;
    t.allTokens += e.inputTokens + e.outputTokens + e.cacheCreateTokens + e.cacheReadTokens;
    nanos += costNanos(e.cost);
    ratedNanos += costNanos(e.ratedCost ?? e.cost);
  }
  // Half-up to whole micro-USD, then USD.
  t.cost = Number((nanos + 500n) / 1000n) / 1e6;
  t.ratedCost = Number((ratedNanos + 500n) / 1000n) / 1e6;
  return t;
}

export function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return m;
}

/** Events whose UTC+8 local date lies in [from, to]. */
export function inDays(events: TestEvent[], from: string, to: string): TestEvent[] {
  return events.filter((e) => {
    const d = shDate(e.occurredAt);
    return d >= from && d <= to;
  });
}

export { parseCsv } from "../testing/csv";

/**
 * An answer without what only its store decides: the source, the time, and 近1小时 (lastHour),
 * which PostgreSQL answers from its records and the live counters cannot (null: checked apart).
 */
export function storeIndependent<T extends { source: string; timestamp: string }>(r: T) {
  const out = { ...r, source: "", timestamp: "" } as Record<string, unknown>;
  const data = out.data;
  if (Array.isArray(data)) out.data = data.map((row: Record<string, unknown>) => ({ ...row, lastHour: "store-dependent" }));
  if (out.summary && typeof out.summary === "object") out.summary = { ...out.summary, lastHour: "store-dependent" };
  return out;
}
