import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rebuildRollups } from "../maintenance/rollups.service";
import { createRuntime, type Runtime } from "../runtime";
import { createTestDatabase, dropRedisPrefix, testConfig, type TestDatabase } from "../testing/stores";
import { csvResponse, exportAccountUsage, exportBreakdown } from "../usage-stats/csv";
import { getAccountBreakdown, getAccountSummary, listAccountUsage } from "../usage-stats/stats.service";
import { Drainer } from "./drainer";
import { ACCOUNT_FIELD, hotKeys, unpackCounters } from "./hot-keys";
import { reconcileHotCounters } from "./reconcile";
import { recordUsage } from "./usage.service";

/**
 * The int8 policy end to end: sums of counters are bigint in TypeScript and decimal strings on the
 * wire (PostgreSQL text, Redis records), never JS numbers. One account goes past 2^53 nano-USD
 * (about 9.007 million USD all time) through every path: recording (Redis and the outbox), the
 * drain into PostgreSQL, every read from both stores, CSV, reconcile and rebuild-rollups.
 */

const TZ = "Asia/Shanghai";
const EVENTS = 10;
const COST = "950000.12345678"; // the largest cost one event may carry is 1,000,000 USD
const NANOS = 950000123456780n * BigInt(EVENTS); // 9,500,001,234,567,800 > 2^53 = 9,007,199,254,740,992
const USD = 9500001.234568;

let tdb: TestDatabase;
let both: Runtime;
let hotOnly: Runtime;

beforeAll(async () => {
  expect(NANOS > 2n ** 53n).toBe(true);
  tdb = await createTestDatabase({ migrated: true });
  both = await createRuntime(testConfig({ DATABASE_URL: tdb.url, USAGE_TIMEZONE: TZ }), { ownDatabase: true });
  hotOnly = await createRuntime(testConfig({ POSTGRES_ENABLED: "false", USAGE_TIMEZONE: TZ, REDIS_KEY_PREFIX: both.config.redisKeyPrefix }), { ownDatabase: true });
  const now = Date.now();
  const events = Array.from({ length: EVENTS }, (_, i) => ({
    requestId: `big-${i}`,
    occurredAt: new Date(now - 60_000 + i).toISOString(),
    accountId: "acc-big",
    apiKeyId: `key-${i % 2}`,
    model: "m",
    inputTokens: 1,
    outputTokens: 1,
    cacheCreateTokens: 0,
    cacheReadTokens: 0,
    cost: COST,
  }));
  expect(await recordUsage(both, { events })).toMatchObject({ accepted: EVENTS });
  const drainer = new Drainer(both.config, both.db!);
  try {
    expect(await drainer.drainAll()).toMatchObject({ inserted: EVENTS });
  } finally {
    await drainer.stop({ forget: true });
  }
});

afterAll(async () => {
  await both?.close();
  await hotOnly?.close();
  if (both) await dropRedisPrefix(both.config.redisKeyPrefix);
  await tdb?.drop();
});

async function pgTotals(): Promise<string[]> {
  const r = await sql<{ n: string }>`
    SELECT cost_nanos::text AS n FROM usage_account_totals WHERE account_id = 'acc-big'
    UNION ALL SELECT sum(cost_nanos)::text FROM usage_key_totals WHERE account_id = 'acc-big'
    UNION ALL SELECT sum(cost_nanos)::text FROM usage_account_daily WHERE account_id = 'acc-big'`.execute(tdb.handle.db);
  return r.rows.map((x) => x.n);
}

async function redisTotal(): Promise<bigint> {
  const v = await both.redis!.hget(hotKeys(both.config.redisKeyPrefix).counters("acc-big", { kind: "t" }), ACCOUNT_FIELD);
  return unpackCounters(v).costNanos;
}

async function reads(runtime: Runtime) {
  const list = await listAccountUsage(runtime, { sort: "total.cost", order: "desc", format: "json" });
  const row = list.data.find((a) => a.id === "acc-big")!;
  expect(row.usage.total.cost).toBe(USD);
  expect(row.usage.daily.cost).toBe(USD);
  expect(row.usage.monthly.cost).toBe(USD);
  expect(list.summary.total.cost).toBe(USD);
  for (const range of ["total", "daily", "monthly"] as const) {
    const s = await getAccountSummary(runtime, { id: "acc-big", range });
    expect(s.data.usage.cost, range).toBe(USD);
    const b = await getAccountBreakdown(runtime, { id: "acc-big", range, sort: "cost", order: "desc", format: "json" });
    expect(b.data.items.reduce((sum, k) => sum + BigInt(Math.round(k.cost * 1e6)), 0n), range).toBe(9500001234568n);
  }
  return list.source;
}

describe("an account past 2^53 nano-USD", () => {
  it("is recorded and drained exactly into both stores", async () => {
    expect(await pgTotals()).toEqual([String(NANOS), String(NANOS), String(NANOS)]);
    expect(await redisTotal()).toBe(NANOS);
  });

  it("reads exactly from PostgreSQL and from the Redis counters", async () => {
    expect(await reads(both)).toBe("postgres");
    expect(await reads(hotOnly)).toBe("redis");
  });

  it("exports exact CSV", async () => {
    const list = await csvResponse(await exportAccountUsage(both, { sort: "total.cost", order: "desc", format: "csv" })).text();
    expect(list).toContain("9500001.234568");
    const keys = await csvResponse(await exportBreakdown(both, { id: "acc-big", range: "total", sort: "cost", order: "desc", format: "csv" })).text();
    expect(keys.match(/\d+\.\d{6}/g)?.length).toBeGreaterThanOrEqual(2);
  });

  it("reconciles the Redis counters from PostgreSQL exactly", async () => {
    await both.redis!.del(hotKeys(both.config.redisKeyPrefix).counters("acc-big", { kind: "t" }));
    const r = await reconcileHotCounters(both);
    expect(r.skipped).toEqual([]);
    expect(await redisTotal()).toBe(NANOS);
    expect(await reads(hotOnly)).toBe("redis");
  });

  it("rebuilds the rollups exactly", async () => {
    await sql`UPDATE usage_account_totals SET cost_nanos = 0`.execute(tdb.handle.db);
    await rebuildRollups(tdb.handle, TZ);
    expect(await pgTotals()).toEqual([String(NANOS), String(NANOS), String(NANOS)]);
    expect(await reads(both)).toBe("postgres");
  });
});
