import { sql } from "kysely";
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type * as Measures from "../../db/measures";
import { createRuntime, type Runtime } from "../runtime";
import { createTestDatabase, dropRedisPrefix, testConfig, type TestDatabase } from "../testing/stores";
import { csvLine, exportAccountUsage, exportBreakdown } from "../usage-stats/csv";
import { readAccountCounters } from "../usage-stats/hot-reader";
import { usageTotals } from "../usage-stats/schemas";
import { getAccountBreakdown, getAccountSummary, listAccountUsage } from "../usage-stats/stats.service";
import { Drainer } from "./drainer";
import { reconcileHotCounters } from "./reconcile";
import { recordUsage } from "./usage.service";

vi.mock("server-only", () => ({}));

/**
 * Issue 21, item 1: a measure is declared once (db/measures.ts). Here a measure the product does
 * not have, `fakeUnits`, is added to that declaration in this test alone, and the only other change
 * is the one migration line a real measure would need (usage_add_measure). It must then flow
 * through every store and every answer — recorded through Redis and the outbox, drained into
 * usage_records and the rollups, read back by the list, the summary, the breakdown (sorted by it),
 * the Redis fallback, the reconcile that rebuilds the counters, the CSV and the OpenAPI schema —
 * without another file knowing about it.
 */
vi.mock("../../db/measures", async (importOriginal) => {
  const real = await importOriginal<typeof Measures>();
  const fake = {
    name: "fakeUnits",
    kind: "count",
    column: "fake_units",
    recordColumn: "fake_units",
    input: { default: 0, max: 1_000_000 },
    read: true,
    accountSort: true,
    breakdownSort: true,
    label: { "zh-CN": "测试单位", en: "fake units" },
  } as const;
  return { ...real, MEASURES: [...real.MEASURES, fake] };
});

const TZ = "Asia/Shanghai";
const now = new Date();
const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000).toISOString();
const event = (requestId: string, apiKeyId: string, fakeUnits: number | undefined, minutesAgo: number) => ({
  requestId,
  occurredAt: at(minutesAgo),
  accountId: "acc-fake",
  apiKeyId,
  model: "m-1",
  inputTokens: 10,
  outputTokens: 20,
  cacheCreateTokens: 0,
  cacheReadTokens: 5,
  cost: "0.0001",
  ...(fakeUnits === undefined ? {} : { fakeUnits }),
});

let tdb: TestDatabase;
let both: Runtime;
let hot: Runtime;

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  // The one migration line a new measure needs.
  await sql`SELECT usage_add_measure('fakeUnits', 'count', 'fake_units')`.execute(tdb.handle.db);
  both = await createRuntime(testConfig({ DATABASE_URL: tdb.url, USAGE_TIMEZONE: TZ }), { ownDatabase: true });
  hot = await createRuntime(testConfig({ POSTGRES_ENABLED: "false", USAGE_TIMEZONE: TZ, REDIS_KEY_PREFIX: both.config.redisKeyPrefix }), { ownDatabase: true });
});

afterAll(async () => {
  const prefix = both?.config.redisKeyPrefix;
  await hot?.close();
  await both?.close();
  if (prefix) await dropRedisPrefix(prefix);
  await tdb?.drop();
});

describe("a measure added to db/measures.ts and by one migration line", () => {
  it("is recorded, drained, rolled up, read, sorted by, exported and rebuilt like every other", async () => {
    const events = [event("r1", "k-a", 7, 3), event("r2", "k-a", 5, 2), event("r3", "k-b", 40, 1), event("r4", "k-b", undefined, 1)];
    // Its input is validated like the others: out of its bound, the event is refused by index.
    const bad = { ...event("r5", "k-a", 2_000_000, 1) };
    const recorded = await recordUsage(both, { events: [...events, events[0]!, bad] });
    expect(recorded.accepted).toBe(4);
    expect(recorded.duplicates).toBe(1);
    expect(recorded.rejected).toEqual([{ index: 5, code: "INVALID_FIELD", message: "fakeUnits: must be at most 1000000" }]);

    // Redis: the live counters carry it (the Lua script takes its field count from the declaration).
    const live = await readAccountCounters(both.redis!, both.config.redisKeyPrefix, ["acc-fake"], [{ kind: "t" }]);
    expect((live[0]![0] as unknown as Record<string, number>).fakeUnits).toBe(52);

    // PostgreSQL: through the outbox into usage_records and every rollup level.
    const drainer = new Drainer(both.config, both.db!);
    try {
      expect((await drainer.drainAll()).inserted).toBe(4);
    } finally {
      await drainer.stop({ forget: true });
    }
    const db = tdb.handle.db;
    const sums = await sql<{ t: string; n: string }>`
      SELECT 'records' AS t, sum(fake_units)::text AS n FROM usage_records
      UNION ALL SELECT 'account_daily', sum(fake_units)::text FROM usage_account_daily
      UNION ALL SELECT 'account_monthly', sum(fake_units)::text FROM usage_account_monthly
      UNION ALL SELECT 'account_totals', sum(fake_units)::text FROM usage_account_totals
      UNION ALL SELECT 'key_daily', sum(fake_units)::text FROM usage_key_daily
      UNION ALL SELECT 'key_monthly', sum(fake_units)::text FROM usage_key_monthly
      UNION ALL SELECT 'key_totals', sum(fake_units)::text FROM usage_key_totals
      UNION ALL SELECT 'model_daily', sum(fake_units)::text FROM usage_model_daily
      UNION ALL SELECT 'model_monthly', sum(fake_units)::text FROM usage_model_monthly
      UNION ALL SELECT 'model_totals', sum(fake_units)::text FROM usage_model_totals`.execute(db);
    expect(Object.fromEntries(sums.rows.map((r) => [r.t, r.n]))).toEqual({
      records: "52",
      account_daily: "52",
      account_monthly: "52",
      account_totals: "52",
      key_daily: "52",
      key_monthly: "52",
      key_totals: "52",
      model_daily: "52",
      model_monthly: "52",
      model_totals: "52",
    });

    // Read from the rollups: the list (sorted by it), the summary and the breakdown (sorted by it).
    const list = await listAccountUsage(both, { sort: "total.fakeUnits" as never, order: "desc", format: "json" }, now);
    expect(list.source).toBe("postgres");
    const row = list.data.find((a) => a.id === "acc-fake")!;
    expect((row.usage.total as Record<string, number>).fakeUnits).toBe(52);
    expect((list.summary.total as Record<string, number>).fakeUnits).toBe(52);
    const summary = await getAccountSummary(both, { id: "acc-fake", range: "total" }, now);
    expect((summary.data.usage as Record<string, number>).fakeUnits).toBe(52);
    expect((summary.data.byModel![0] as unknown as Record<string, number>).fakeUnits).toBe(52);
    const breakdown = await getAccountBreakdown(both, { id: "acc-fake", range: "total", sort: "fakeUnits" as never, order: "asc", format: "json" }, now);
    expect(breakdown.data.items.map((k) => [k.apiKeyId, (k as Record<string, unknown>).fakeUnits])).toEqual([
      ["k-a", 12],
      ["k-b", 40],
    ]);
    expect((breakdown.data.totals as Record<string, number>).fakeUnits).toBe(52);

    // The CSV exports: a column of its own, with the figures.
    const exp = await exportBreakdown(both, { id: "acc-fake", range: "total", sort: "fakeUnits" as never, order: "desc", format: "csv" }, { now });
    const col = exp.header.indexOf("fakeUnits");
    expect(col).toBeGreaterThan(1);
    const lines: string[] = [];
    for await (const batch of exp.rows) for (const cells of batch) lines.push(csvLine(cells));
    expect(lines.map((l) => l.split(",")[0] + "=" + l.split(",")[col])).toEqual(["k-b=40", "k-a=12"]);
    const listCsv = await exportAccountUsage(both, { sort: "name", format: "csv" }, { now });
    expect(listCsv.header).toContain("total.fakeUnits");
    await listCsv.close();

    // The OpenAPI schema of every figure answer (UsageTotals) documents it.
    const doc = (z.toJSONSchema(usageTotals) as { $defs: Record<string, { properties: Record<string, { type: string }>; required: string[] }> }).$defs.UsageTotals!;
    expect(doc.properties.fakeUnits).toMatchObject({ type: "integer" });
    expect(doc.required).toContain("fakeUnits");

    // The Redis fallback answers it too (a runtime without PostgreSQL reads the same counters).
    const fallback = await getAccountSummary(hot, { id: "acc-fake", range: "total" }, now);
    expect(fallback.source).toBe("redis");
    expect((fallback.data.usage as Record<string, number>).fakeUnits).toBe(52);

    // Rebuilding the counters from PostgreSQL keeps it: flush the account's counters, reconcile, read.
    await both.redis!.del(...(await both.redis!.keys(`${both.config.redisKeyPrefix}{a:acc-fake}:*`)));
    expect((await reconcileHotCounters(both)).accounts).toBe(1);
    const rebuilt = await readAccountCounters(both.redis!, both.config.redisKeyPrefix, ["acc-fake"], [{ kind: "t" }]);
    expect((rebuilt[0]![0] as unknown as Record<string, number>).fakeUnits).toBe(52);
  });
});
