import { sql, type RawBuilder } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../testing/stores";
import { firstDayOf, lastDayOf } from "../calendar";
import { decompose, type RangePlan } from "./range";
import { encodeKeyCursor } from "./schemas";
import { findKeyUsage, keyUsageSql, type KeyUsagePage } from "./keys.repository";

/**
 * The key list at 100,000 keys (rollups written directly, a day's rows together as the ledger
 * writes them on that day: this file is about plans, not figures):
 * each statement reads the rollups once, and nothing runs once per key — every plan node runs at
 * most once per row of the page. The latencies of a first and a deep page are printed (no timed
 * assertion: this machine's load is not the code's).
 */

const KEYS = 100_000;
const ACCOUNTS = 200;
const DAYS = 14;
const LIMIT = 50;

let tdb: TestDatabase;
let today: string;
let month: string;

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  const db = tdb.handle.db;
  today = (await sql<{ d: string }>`SELECT current_date::text AS d`.execute(db)).rows[0]!.d;
  month = today.slice(0, 7);
  // 1.5M rollup rows: the setup may outlast the test pool's 30 s statement timeout on a loaded
  // machine (it did beside a 100M-record bench), so it runs in one transaction allowed 10 minutes.
  await db.transaction().execute(async (trx) => {
    await sql`SET LOCAL statement_timeout = '600s'`.execute(trx);
    await sql`INSERT INTO accounts (id, name) SELECT format('acc-%s', lpad(i::text, 3, '0')), format('Account %s', i) FROM generate_series(1, ${ACCOUNTS}) i`.execute(trx);
    await sql`INSERT INTO api_keys (id, name, account_id) SELECT format('key-%s', lpad(i::text, 6, '0')), format('Key %s', i), format('acc-%s', lpad((1 + i % ${ACCOUNTS})::text, 3, '0'))
      FROM generate_series(1, ${KEYS}) i`.execute(trx);
    // Every key on its own account, one in ten on a second one too; figures vary with the key so that sorts mean something.
    await sql`CREATE TEMP TABLE pairs AS
      SELECT k.id AS api_key_id, k.account_id, ((hashtext(k.id) & 1023) + 1)::int8 AS n FROM api_keys k
      UNION ALL SELECT k.id, format('acc-%s', lpad((1 + (i + 7) % ${ACCOUNTS})::text, 3, '0')), ((hashtext(k.id || 'b') & 255) + 1)::int8
      FROM api_keys k, LATERAL (SELECT substr(k.id, 5)::int AS i) x WHERE x.i % 10 = 0`.execute(trx);
    const cols = sql.raw("requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, total_tokens, cost_nanos, rated_cost_nanos, last_used_at, last_model");
    const vals = (mult: number) =>
      sql.raw(`p.n * ${mult}, p.n * ${mult} * 1000, p.n * ${mult} * 200, 0, p.n * ${mult} * 50, p.n * ${mult} * 1250, p.n * ${mult} * 12345678, p.n * ${mult} * 15432098, now() - (p.n || ' seconds')::interval, 'model-' || (p.n % 7)`);
    await sql`INSERT INTO usage_key_daily (account_id, usage_date, api_key_id, ${cols})
      SELECT p.account_id, d::date, p.api_key_id, ${vals(1)} FROM generate_series(current_date - ${sql.lit(DAYS - 1)}, current_date, interval '1 day') d, pairs p
      ORDER BY d, p.api_key_id`.execute(trx);
    await sql`INSERT INTO usage_key_monthly (account_id, usage_month, api_key_id, ${cols})
      SELECT p.account_id, m::date, p.api_key_id, ${vals(30)} FROM pairs p, generate_series(date_trunc('month', current_date) - interval '2 months', date_trunc('month', current_date), interval '1 month') m
      ORDER BY m, p.api_key_id`.execute(trx);
    await sql`INSERT INTO usage_key_totals (account_id, api_key_id, ${cols}) SELECT p.account_id, p.api_key_id, ${vals(90)} FROM pairs p`.execute(trx);
  });
  await sql`ANALYZE`.execute(db);
}, 600_000);

afterAll(async () => {
  await tdb?.drop();
});

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Actual Loops"?: number;
  Plans?: PlanNode[];
}

function nodes(node: PlanNode, out: PlanNode[] = []): PlanNode[] {
  out.push(node);
  for (const child of node.Plans ?? []) nodes(child, out);
  return out;
}

async function analyze(stmt: RawBuilder<unknown>): Promise<{ nodes: PlanNode[]; ms: number }> {
  const r = await sql<{ "QUERY PLAN": [{ Plan: PlanNode; "Execution Time": number }] }>`EXPLAIN (ANALYZE, FORMAT JSON) ${stmt}`.execute(tdb.handle.db);
  const plan = r.rows[0]!["QUERY PLAN"][0];
  return { nodes: nodes(plan.Plan), ms: plan["Execution Time"] };
}

const windows = (): [string, RangePlan][] => [
  ["today", decompose(today, today)],
  ["this month", decompose(firstDayOf(month), lastDayOf(month))],
  ["total", { kind: "total" }],
];

describe(`the key list at ${KEYS.toLocaleString("en")} keys`, () => {
  it.each(["today", "this month", "total"])("%s: reads each rollup once and does nothing once per key", async (label) => {
    const plan = windows().find(([l]) => l === label)![1];
    const pages: [string, KeyUsagePage, { search?: string }][] = [
      ["first page by cost", { sort: "cost", order: "desc", limit: LIMIT + 1 }, {}],
      ["deep page by allTokens", { sort: "allTokens", order: "desc", limit: LIMIT + 1, after: { value: "5000", id: "key-050000" } }, {}],
      ["by name, searched", { sort: "name", order: "asc", limit: LIMIT + 1 }, { search: "key 9" }],
      ["by last use", { sort: "lastUsedAt", order: "asc", limit: LIMIT + 1 }, {}],
    ];
    for (const [what, page, filter] of pages) {
      const { nodes: all } = await analyze(keyUsageSql(plan, filter, page));
      const scanned = all.filter((n) => n["Relation Name"]).map((n) => n["Relation Name"]!);
      for (const rel of scanned) expect(rel, what).toMatch(/^(accounts|api_keys|usage_key_(daily|monthly|totals))$/);
      expect(scanned.filter((r) => r.startsWith("usage_key_")).length, what).toBeGreaterThan(0);
      for (const n of all) expect(n["Actual Loops"] ?? 0, `${what}: ${n["Node Type"]} ${n["Relation Name"] ?? ""}`).toBeLessThanOrEqual(LIMIT + 1);
    }
  });

  it("pages are as fast deep as first (measured, printed)", async () => {
    const db = tdb.handle.db;
    const lines: string[] = [];
    for (const [label, plan] of windows()) {
      const first = await findKeyUsage(db, plan, {}, { sort: "cost", order: "desc", limit: LIMIT + 1 });
      expect(first.totals.keys).toBe(KEYS);
      expect(first.rows).toHaveLength(LIMIT + 1);
      // A cursor 90 % of the way down the list.
      const ordered = await sql<{ api_key_id: string; v: string }>`SELECT api_key_id, v::text FROM (
          SELECT api_key_id, sum(cost_nanos) AS v FROM (${sql.raw(label === "total" ? "SELECT * FROM usage_key_totals" : label === "today" ? `SELECT * FROM usage_key_daily WHERE usage_date = '${today}'` : `SELECT * FROM usage_key_monthly WHERE usage_month = '${firstDayOf(month)}'`)}) r
          GROUP BY api_key_id) s ORDER BY v DESC, api_key_id COLLATE "C" OFFSET ${Math.floor(KEYS * 0.9)} LIMIT 1`.execute(db);
      const after = { value: ordered.rows[0]!.v, id: ordered.rows[0]!.api_key_id };
      expect(encodeKeyCursor({ sort: "cost", order: "desc", ...after }).length).toBeLessThan(200);
      const timings: number[] = [];
      for (const page of [{ sort: "cost", order: "desc", limit: LIMIT + 1 }, { sort: "cost", order: "desc", limit: LIMIT + 1, after }] as KeyUsagePage[]) {
        const runs: number[] = [];
        for (let i = 0; i < 3; i++) {
          const started = performance.now();
          const res = await findKeyUsage(db, plan, {}, page);
          runs.push(performance.now() - started);
          expect(res.rows.length).toBe(LIMIT + 1);
        }
        timings.push(Math.min(...runs));
      }
      lines.push(`${label}: first page ${timings[0]!.toFixed(0)} ms, page at 90 % ${timings[1]!.toFixed(0)} ms (best of 3)`);
    }
    console.log(`[keys.explain] ${KEYS} keys, ${DAYS} days of daily rollups:\n  ${lines.join("\n  ")}`);
  });
});
