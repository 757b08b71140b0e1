import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertAccount } from "../accounts/accounts.service";
import { createRedis } from "../redis";
import { createRuntime, type Runtime } from "../runtime";
import { createTestRuntime, type TestRuntime } from "../testing/runtime";
import { getAccountBreakdown, listAccountUsage } from "../usage-stats/stats.service";
import { recordUsage } from "../usage/usage.service";
import type { DemoFigures, DemoTotals } from "./demo-plan";
import { cleanDemoData, generateDemoData } from "./demo.service";

const TZ = "Asia/Shanghai";
const OPTIONS = { accounts: 3, keysPerAccount: 2, days: 20, events: 600, seed: "unit" };

const figuresOf = (t: DemoTotals) => ({
  requests: t.requests,
  inputTokens: t.inputTokens,
  outputTokens: t.outputTokens,
  cacheCreateTokens: t.cacheCreateTokens,
  cacheReadTokens: t.cacheReadTokens,
  allTokens: t.allTokens,
  cost: t.cost,
  ratedCost: t.ratedCost,
});

describe("demo data through the recording services", () => {
  let ledger: TestRuntime;
  let runtime: Runtime;
  let redisOnly: Runtime;
  let figures: DemoFigures;

  beforeAll(async () => {
    ledger = await createTestRuntime({ USAGE_TIMEZONE: TZ });
    runtime = ledger.runtime;
    redisOnly = await createRuntime({ ...runtime.config, postgresEnabled: false });
    // Data that is not the demo's: it must survive --clean.
    await upsertAccount(runtime, { id: "real-acc", name: "Real account", platform: "claude" });
    await recordUsage(runtime, {
      events: [
        {
          requestId: "real-req-1",
          occurredAt: new Date().toISOString(),
          accountId: "real-acc",
          apiKeyId: "real-key",
          model: "claude-sonnet-4-5-20250929",
          inputTokens: 10,
          outputTokens: 5,
          cacheCreateTokens: 0,
          cacheReadTokens: 0,
          cost: "0.0001",
        },
      ],
    });
    figures = (await generateDemoData(runtime, OPTIONS)).figures;
  });

  afterAll(async () => {
    await redisOnly?.close();
    await ledger?.close();
  });

  it("PostgreSQL answers the figures the generator reports", async () => {
    const list = await listAccountUsage(runtime, { search: "demo-", sort: "name", limit: 100, offset: 0, format: "json" });
    expect(list.source).toBe("postgres");
    expect(list.data.map((a) => a.id).sort()).toEqual(figures.accounts.map((a) => a.id).sort());
    for (const a of figures.accounts) {
      const row = list.data.find((r) => r.id === a.id)!;
      expect(row.name).toBe(a.name);
      expect(row.usage.total, a.id).toEqual(figuresOf(a.usage.total));
      expect(row.usage.monthly).toEqual(figuresOf(a.usage.monthly));
      expect(row.usage.daily).toEqual(figuresOf(a.usage.daily));
    }
    const first = figures.firstAccount;
    const b = await getAccountBreakdown(runtime, { id: first.id, range: "total", limit: 100, offset: 0, sort: "allTokens", order: "desc", format: "json" });
    expect(b.data.total).toBe(first.keys.length);
    for (const k of first.keys) {
      const item = b.data.items.find((i) => i.apiKeyId === k.apiKeyId)!;
      expect(item.apiKeyName).toBe(k.apiKeyName);
      expect({ ...figuresOf(k.usage.total), lastModel: k.lastModel.total }).toEqual({
        requests: item.requests,
        inputTokens: item.inputTokens,
        outputTokens: item.outputTokens,
        cacheCreateTokens: item.cacheCreateTokens,
        cacheReadTokens: item.cacheReadTokens,
        allTokens: item.allTokens,
        cost: item.cost,
        ratedCost: item.ratedCost,
        lastModel: item.lastModel,
      });
    }
  });

  it("the Redis counters (the fallback) answer the same figures", async () => {
    const list = await listAccountUsage(redisOnly, { search: "demo-", sort: "name", limit: 100, offset: 0, format: "json" });
    expect(list.source).toBe("redis");
    for (const a of figures.accounts) {
      const row = list.data.find((r) => r.id === a.id)!;
      expect(row?.name, a.id).toBe(a.name);
      expect(row.usage.total).toEqual(figuresOf(a.usage.total));
      expect(row.usage.daily).toEqual(figuresOf(a.usage.daily));
    }
  });

  it("a second run with the same seed replaces the data instead of adding to it", async () => {
    const again = await generateDemoData(runtime, OPTIONS);
    expect(again.cleaned.db?.accounts).toBe(OPTIONS.accounts);
    const list = await listAccountUsage(runtime, { search: "demo-", sort: "name", limit: 100, offset: 0, format: "json" });
    for (const a of again.figures.accounts) expect(list.data.find((r) => r.id === a.id)!.usage.total).toEqual(figuresOf(a.usage.total));
  });

  it("--clean removes the demo data and nothing else", async () => {
    await cleanDemoData(runtime);
    const list = await listAccountUsage(runtime, { sort: "name", limit: 100, offset: 0, format: "json" });
    expect(list.data.map((a) => a.id)).toEqual(["real-acc"]);
    expect(list.data[0]!.usage.total.requests).toBe(1);
    const d = runtime.db!.db;
    expect(await d.selectFrom("usage_records").select("request_id").where("account_id", "like", "demo-%").execute()).toEqual([]);
    expect(await d.selectFrom("usage_request_ids").select("request_id").where("request_id", "like", "demo-%").execute()).toEqual([]);
    expect(await d.selectFrom("api_keys").select("id").where("id", "like", "demo-%").execute()).toEqual([]);
    expect(await d.selectFrom("usage_key_totals").select("api_key_id").where("account_id", "like", "demo-%").execute()).toEqual([]);
    const redis = createRedis(runtime.config.redisUrl!);
    await redis.connect();
    try {
      const prefix = runtime.config.redisKeyPrefix;
      const [, left] = await redis.scan("0", "MATCH", `${prefix}{a:demo-*`, "COUNT", 100_000);
      expect(left).toEqual([]);
      expect((await redis.keys(`${prefix}{a:real-acc}*`)).length).toBeGreaterThan(0);
      expect(Object.keys(await redis.hgetall(`${prefix}accounts`))).toEqual(["real-acc"]);
    } finally {
      redis.disconnect();
    }
  });
});
