import { sql, type RawBuilder } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../testing/stores";
import { decompose, type RangePlan } from "./range";
import {
  accountListPageSql,
  accountListSummarySql,
  accountRangeTotalsSql,
  accountSql,
  accountWindowsSql,
  availableSourcesSql,
  dailySeriesSql,
  keyBreakdownSql,
  modelBreakdownSql,
  monthlySeriesSql,
} from "./stats.repository";
import { TEST_TZ, insertEvents, shInstant, spreadEvents } from "./stats.fixtures";
import { lastHourByAccountSql, lastHourOfListSql, type LastHourWindow } from "./live.repository";

/**
 * Every statement of the read path is planned against a database holding raw records and rollups
 * for 5,000 accounts: no plan may touch usage_records (or one of its partitions), and the account
 * list stays fast.
 */

let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  const db = tdb.handle.db;
  await sql`SELECT ensure_usage_partitions('2026-01-01', (now() + interval '2 months')::date)`.execute(db);
  await insertEvents(
    db,
    spreadEvents({ seed: 7, accountId: "acc-00001", keys: ["k1", "k2", "k3"], models: ["m1", "m2"], n: 300, fromIso: shInstant("2026-01-01T00:00:00.000"), toIso: new Date().toISOString() }),
    TEST_TZ,
  );
  // Rollups of 5,000 accounts written directly: this test is about plans and speed, not figures.
  await sql`INSERT INTO accounts (id, name, platform, status, priority)
    SELECT format('acc-%s', lpad(i::text, 5, '0')), format('Account %s', i), (ARRAY['claude','openai','gemini'])[1 + i % 3], 'active', i % 100
    FROM generate_series(2, 5000) i`.execute(db);
  await sql`INSERT INTO usage_account_daily (account_id, usage_date, requests, input_tokens, output_tokens, total_tokens, cost_nanos, last_used_at)
    SELECT a.id, d::date, 10, 1000, 200, 1200, 12345, now() FROM accounts a, generate_series(current_date - 40, current_date, interval '1 day') d
    ON CONFLICT DO NOTHING`.execute(db);
  await sql`INSERT INTO usage_account_monthly (account_id, usage_month, requests, input_tokens, output_tokens, total_tokens, cost_nanos, last_used_at)
    SELECT a.id, date_trunc('month', d)::date, 300, 30000, 6000, 36000, 370350, now() FROM accounts a, generate_series(current_date - 400, current_date, interval '1 month') d
    ON CONFLICT DO NOTHING`.execute(db);
  await sql`INSERT INTO usage_account_totals (account_id, requests, input_tokens, output_tokens, total_tokens, cost_nanos, last_used_at)
    SELECT id, 4000, 400000, 80000, 480000, 4938000, now() FROM accounts ON CONFLICT DO NOTHING`.execute(db);
  await sql`UPDATE accounts SET sources = (CASE abs(hashtext(id)) % 4 WHEN 0 THEN '{crs}' WHEN 1 THEN '{crs,sub2api}' WHEN 2 THEN '{sub2api}' ELSE '{}' END)::text[]`.execute(db);
  // 60,000 records of 60 accounts over the last 40 days, every hour: what the last hour reads.
  await sql`INSERT INTO usage_records (request_id, occurred_at, usage_date, usage_hour, account_id, api_key_id, model, input_tokens, total_tokens, total_cost)
    SELECT 'r' || i, t, (t AT TIME ZONE ${TEST_TZ})::date, extract(hour FROM t AT TIME ZONE ${TEST_TZ})::smallint,
           format('acc-%s', lpad((2 + i % 60)::text, 5, '0')), 'k' || (i % 7), 'm1', 100, 100, 0.001
      FROM generate_series(1, 60000) i, LATERAL (SELECT now() - make_interval(secs => i * 57) AS t) x`.execute(db);
  await sql`ANALYZE`.execute(db);
});

afterAll(async () => {
  await tdb?.drop();
});

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}

function relations(node: PlanNode, out: string[] = []): string[] {
  if (node["Relation Name"]) out.push(node["Relation Name"]);
  for (const child of node.Plans ?? []) relations(child, out);
  return out;
}

async function planOf(stmt: RawBuilder<unknown>): Promise<string[]> {
  const r = await sql<{ "QUERY PLAN": [{ Plan: PlanNode }] }>`EXPLAIN (FORMAT JSON) ${stmt}`.execute(tdb.handle.db);
  return relations(r.rows[0]!["QUERY PLAN"][0].Plan);
}

const today = new Date().toISOString().slice(0, 10);
const month = today.slice(0, 7);
const plans: [string, RangePlan][] = [
  ["total", { kind: "total" }],
  ["one day", decompose("2026-03-31", "2026-03-31")],
  ["one month", decompose("2026-03-01", "2026-03-31")],
  ["custom: days + months + days", decompose("2024-01-15", "2026-10-20")],
];
const filter = { platform: "claude", status: "active", search: "acc", source: "crs", today, month };

const statements: [string, RawBuilder<unknown>][] = [
  ["account list page by daily.cost", accountListPageSql(filter, { sort: "daily.cost", order: "desc", limit: 100, offset: 0 })],
  ["account list page by name, no filter", accountListPageSql({ today, month }, { sort: "name", order: "asc", limit: 500, offset: 4000 })],
  ["account list summary", accountListSummarySql(filter)],
  ["account list summary, no relay source", accountListSummarySql({ source: "none", today, month })],
  ["available sources", availableSourcesSql()],
  ["account", accountSql("acc-00001")],
  ["account windows", accountWindowsSql("acc-00001", today, month)],
  ["daily series", dailySeriesSql("acc-00001", "2026-01-01", "2026-03-31")],
  ...plans.flatMap(([label, plan]): [string, RawBuilder<unknown>][] => [
    [`range totals (${label})`, accountRangeTotalsSql("acc-00001", plan)],
    [`models (${label})`, modelBreakdownSql("acc-00001", plan)],
    [`monthly series (${label})`, monthlySeriesSql("acc-00001", plan)],
    [`key breakdown (${label})`, keyBreakdownSql("acc-00001", plan, { sort: "cost", order: "desc", limit: 20, offset: 0 })],
  ]),
];

interface IndexedNode extends PlanNode {
  "Index Name"?: string;
  "Index Cond"?: string;
  Plans?: IndexedNode[];
}

function nodes(node: IndexedNode, out: IndexedNode[] = []): IndexedNode[] {
  out.push(node);
  for (const child of node.Plans ?? []) nodes(child, out);
  return out;
}

describe("the last hour (live.repository.ts)", () => {
  const hourAgo = new Date(Date.now() - 3_600_000);
  const [lowDate, lowHour] = (() => {
    const local = new Date(Date.now() - 2 * 3_600_000 + 8 * 3_600_000).toISOString();
    return [local.slice(0, 10), Number(local.slice(11, 13))] as const;
  })();
  const w: LastHourWindow = { from: hourAgo, to: new Date(), lowDate, lowHour, highDate: new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10) };
  it.each([
    ["one account", lastHourByAccountSql(["acc-00001"], w)],
    ["a page of accounts", lastHourByAccountSql(["acc-00001", "acc-00002", "acc-00003"], w)],
  ])("%s reads records by account, date and hour, or by occurred_at (BRIN)", async (_label, stmt) => {
    const r = await sql<{ "QUERY PLAN": [{ Plan: IndexedNode }] }>`EXPLAIN (FORMAT JSON) ${stmt}`.execute(tdb.handle.db);
    const plan = r.rows[0]!["QUERY PLAN"][0].Plan;
    const onRecords = nodes(plan).filter((n) => n["Relation Name"]?.startsWith("usage_records"));
    expect(onRecords.length).toBeGreaterThan(0);
    for (const n of onRecords) {
      expect(n["Node Type"], JSON.stringify(plan)).toMatch(/Index Scan|Bitmap Heap Scan/);
    }
    const conds = nodes(plan).map((n) => n["Index Cond"] ?? "").join(" ");
    expect(conds, JSON.stringify(plan)).toMatch(/usage_hour|occurred_at/);
  });

  // The whole list's hour reads the window's records once, by occurred_at (BRIN) or by date, and
  // keeps the list's accounts by a join after the scan.
  it("every account of the list's filters reads the window's days by an index", async () => {
    const r = await sql<{ "QUERY PLAN": [{ Plan: IndexedNode }] }>`EXPLAIN (FORMAT JSON) ${lastHourOfListSql(filter, w)}`.execute(tdb.handle.db);
    const all = nodes(r.rows[0]!["QUERY PLAN"][0].Plan);
    const onRecords = all.filter((n) => n["Relation Name"]?.startsWith("usage_records"));
    expect(onRecords.length).toBeGreaterThan(0);
    for (const n of onRecords) expect(n["Node Type"], JSON.stringify(n)).toMatch(/Index Scan|Bitmap Heap Scan/);
    const recordConds = all.filter((n) => n["Index Name"]?.startsWith("usage_records")).map((n) => n["Index Cond"] ?? "");
    expect(recordConds.length).toBeGreaterThan(0);
    for (const c of recordConds) expect(c).toMatch(/usage_date|occurred_at/);
    // Read once for all accounts (materialized, then joined), never per account: with the
    // statistics of 100M records the planner had joined per account, reading the window's page
    // ranges once for each (27.6 ms instead of 3); a small table's statistics never show that.
    for (const c of recordConds) expect(c, JSON.stringify(all)).not.toMatch(/account_id/);
    const cte = all.find((n) => n["Node Type"] === "CTE Scan");
    expect(cte, JSON.stringify(all)).toBeDefined();
    expect(all.some((n) => n["Node Type"] === "Nested Loop" && nodes(n).some((m) => m["Relation Name"]?.startsWith("usage_records")))).toBe(false);
  });
});

describe("query plans", () => {
  it.each(statements)("%s reads rollups only", async (_label, stmt) => {
    const rels = await planOf(stmt);
    expect(rels.length).toBeGreaterThan(0);
    for (const rel of rels) expect(rel).toMatch(/^(accounts|api_keys|usage_(account|key|model)_(daily|monthly|totals))$/);
  });

  it("answers the 5,000-account list sorted by a figure quickly", async () => {
    const db = tdb.handle.db;
    await accountListPageSql({ today, month }, { sort: "monthly.cost", order: "desc", limit: 100, offset: 0 }).execute(db);
    const started = performance.now();
    const [page, sum] = await Promise.all([
      accountListPageSql({ today, month }, { sort: "daily.allTokens", order: "desc", limit: 100, offset: 2000 }).execute(db),
      accountListSummarySql({ today, month }).execute(db),
    ]);
    const ms = performance.now() - started;
    expect(page.rows).toHaveLength(100);
    expect(sum.rows[0]!.total_accounts).toBe(5000);
    expect(ms).toBeLessThan(1500);
  });
});
