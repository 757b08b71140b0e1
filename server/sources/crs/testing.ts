import { sql, type Kysely } from "kysely";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startOwnRedis, type OwnRedis } from "../../testing/servers";
import type { Database } from "../../../db/types";
import type { Sums } from "../../usage/usage.fixtures";
import { fixture } from "./crs.fixtures";

/** What the CRS import and follower tests compare: expected.json's figures and the ledger's rollups. */

/** One bucket of expected.json (the fields the tests read): the ledger's measures, costs as USD text. */
export type CrsFigs = Omit<Sums, "costNanos" | "ratedCostNanos"> & { cost: string; ratedCost: string };

export interface CrsExpected {
  accounts: Record<string, { allTime: CrsFigs; byDay: Record<string, CrsFigs> }>;
  apiKeys: Record<string, { allTime: CrsFigs; byDay: Record<string, CrsFigs>; byMonth: Record<string, CrsFigs> }>;
  global: { allTime: CrsFigs };
}

export const expected = fixture<CrsExpected>("expected.json");

const TOKENS = ["requests", "inputTokens", "outputTokens", "cacheCreateTokens", "cacheReadTokens", "ephemeral5mTokens", "ephemeral1hTokens", "allTokens"] as const;

/** The part of a bucket the rollups hold: token counts, the real and the rated cost. */
export const pickFigures = (f: CrsFigs) => ({ ...Object.fromEntries(TOKENS.map((t) => [t, f[t]])), cost: f.cost, ratedCost: f.ratedCost });

const BUCKETS = { all: "'all'", day: "to_char(usage_date, 'YYYY-MM-DD')", month: "to_char(usage_month, 'YYYY-MM')" } as const;

/**
 * A rollup table's figures per id and bucket, keyed `${id}|${bucket}` (bucket "all" for the
 * totals tables), in pickFigures' shape: the costs as USD text without trailing zeros.
 */
export async function rollupFigures(
  db: Kysely<Database>,
  table: string,
  idColumn: "account_id" | "api_key_id",
  bucket: keyof typeof BUCKETS,
): Promise<Map<string, Record<string, unknown>>> {
  const r = await sql<Record<string, string>>`
    select ${sql.raw(idColumn)} as id, ${sql.raw(BUCKETS[bucket])} as bucket, sum(requests)::int as requests, sum(input_tokens)::int as "inputTokens",
      sum(output_tokens)::int as "outputTokens", sum(cache_create_tokens)::int as "cacheCreateTokens",
      sum(cache_read_tokens)::int as "cacheReadTokens", sum(ephemeral_5m_tokens)::int as "ephemeral5mTokens",
      sum(ephemeral_1h_tokens)::int as "ephemeral1hTokens", sum(total_tokens)::int as "allTokens",
      (sum(cost_nanos) / 1e9)::numeric(20,8)::text as cost, (sum(rated_cost_nanos) / 1e9)::numeric(20,8)::text as "ratedCost"
      from ${sql.table(table)} group by 1, 2`.execute(db);
  return new Map(r.rows.map(({ id, bucket: b, cost, ratedCost, ...rest }) => [`${id}|${b}`, { ...rest, cost: String(Number(cost)), ratedCost: String(Number(ratedCost)) }]));
}

/**
 * For a test file: a redis-server of its own standing for CRS's Redis (started before the first
 * test, destroyed after the last), and cleanups each test registers, run after it.
 */
export function ownCrsRedis(): { url(): string; cleanups: (() => Promise<void>)[] } {
  let crs: OwnRedis | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    crs = await startOwnRedis();
  });
  afterAll(() => crs?.destroy());
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  return { url: () => crs!.url, cleanups };
}
