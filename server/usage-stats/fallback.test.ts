import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime, type Clock, type Runtime } from "../runtime";
import { adminQuery, createTestDatabase, dropRedisPrefix, testConfig, type TestDatabase } from "../testing/stores";
import { setAccountIndex, setApiKeyIndex } from "../usage/hot-index";
import { recordUsage } from "../usage/usage.service";
import { csvResponse, exportBreakdown } from "./csv";
import type { AccountBreakdownInput, AccountSummaryInput, AccountUsageListInput } from "./schemas";
import { TEST_TZ, shDate, shInstant, spreadEvents, storeIndependent as figures, type TestEvent } from "./stats.fixtures";
import { getAccountBreakdown, getAccountSummary, listAccountUsage } from "./stats.service";
import { PG_RETRY_AFTER_MS } from "./store-choice";

/**
 * The Redis fallback: the same events recorded through the recording service into PostgreSQL
 * (a runtime without Redis) and into the live counters (a runtime without PostgreSQL). The counters
 * must answer today, this month and all time with PostgreSQL's numbers and refuse the rest (503).
 */

const now = new Date();
const today = shDate(now.toISOString());
const thisMonth = today.slice(0, 7);
const todayStart = Date.parse(shInstant(`${today}T00:00:00.000`));
const lastMonth = shDate(new Date(Date.parse(shInstant(`${thisMonth}-01T00:00:00.000`)) - 1).toISOString()).slice(0, 7);
const yesterday = shDate(new Date(todayStart - 1).toISOString());

const ACCOUNTS = [
  { id: "acc-a", name: "Alpha 账号", platform: "claude", type: "shared", status: "active", priority: 10 },
  { id: "acc-b", name: "beta", platform: "openai", type: "group", status: "active", priority: 20 },
  { id: "acc-c", name: "Gamma", platform: "claude", type: "dedicated", status: "paused", priority: 30 },
  { id: "acc-d", name: "delta", platform: "claude", type: "shared", status: "active", priority: 10 },
];
const KEYS = [
  ...Array.from({ length: 12 }, (_, i) => ({ id: `ka-${String(i + 1).padStart(2, "0")}`, name: `A key ${i + 1}`, accountId: "acc-a" })),
  { id: "kb-1", name: "B 主 key", accountId: "acc-b" },
];
const MODELS = ["claude-sonnet-4", "claude-opus-4", "gpt-5"];
const iso = (ms: number) => new Date(ms).toISOString();

const EVENTS: TestEvent[] = [
  ...spreadEvents({ seed: 11, accountId: "acc-a", keys: KEYS.slice(0, 12).map((k) => k.id), models: MODELS, n: 150, fromIso: iso(todayStart - 20 * 86_400_000), toIso: iso(now.getTime() - 60_000) }),
  ...spreadEvents({ seed: 12, accountId: "acc-a", keys: ["ka-01", "ka-99"], models: MODELS, n: 20, fromIso: shInstant("2026-06-01T00:00:00.000"), toIso: shInstant("2026-07-01T00:00:00.000") }),
  ...spreadEvents({ seed: 13, accountId: "acc-b", keys: ["kb-1", "kb-2"], models: MODELS, n: 30, fromIso: iso(todayStart - 3 * 86_400_000), toIso: iso(now.getTime() - 30_000) }),
  ...spreadEvents({ seed: 14, accountId: "acc-d", keys: ["kd-1"], models: MODELS, n: 5, fromIso: iso(todayStart), toIso: iso(Math.max(todayStart + 5, now.getTime() - 10_000)) }),
  { requestId: "edge-1", occurredAt: iso(todayStart - 1), accountId: "acc-a", apiKeyId: "ka-02", model: "gpt-5", inputTokens: 11, outputTokens: 7, cacheCreateTokens: 5, cacheReadTokens: 3, cost: "0.00000123" },
  { requestId: "edge-2", occurredAt: iso(todayStart), accountId: "acc-a", apiKeyId: "ka-02", model: "claude-opus-4", inputTokens: 13, outputTokens: 2, cacheCreateTokens: 0, cacheReadTokens: 1, cost: "1.5" },
];

let tdb: TestDatabase;
let pg: Runtime;
let hot: Runtime;
let both: Runtime;
/** The clock of `both`: the pause after PostgreSQL was found down passes when the test says so. */
let bothTime = Date.now();
const bothClock: Clock = { now: () => bothTime };

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  const db = tdb.handle.db;
  await db.insertInto("accounts").values(ACCOUNTS.map((a) => ({ ...a, metadata: "{}" }))).execute();
  await db.insertInto("api_keys").values(KEYS.map((k) => ({ id: k.id, name: k.name, account_id: k.accountId, hashed_key: null, metadata: "{}" }))).execute();
  pg = await createRuntime(testConfig({ DATABASE_URL: tdb.url, USAGE_TIMEZONE: TEST_TZ, REDIS_URL: "" }), { ownDatabase: true });
  hot = await createRuntime(testConfig({ POSTGRES_ENABLED: "false", USAGE_TIMEZONE: TEST_TZ }), { ownDatabase: true });
  const prefix = hot.config.redisKeyPrefix;
  for (const a of ACCOUNTS) await setAccountIndex(hot.redis!, prefix, a.id, { name: a.name, platform: a.platform, type: a.type, status: a.status, priority: a.priority });
  for (const k of KEYS) await setApiKeyIndex(hot.redis!, prefix, k.id, { name: k.name, accountId: k.accountId, status: "active" });
  // Partitions for the older month exist from the migration (a year back).
  for (const rt of [pg, hot]) {
    const r = await recordUsage(rt, { events: EVENTS });
    expect(r).toMatchObject({ accepted: EVENTS.length, rejected: [] });
  }
  both = await createRuntime(testConfig({ DATABASE_URL: tdb.url, USAGE_TIMEZONE: TEST_TZ, REDIS_KEY_PREFIX: prefix }), { ownDatabase: true, clock: bothClock });
});

afterAll(async () => {
  await adminQuery(`ALTER DATABASE ${tdb.name} ALLOW_CONNECTIONS true`).catch(() => {});
  for (const rt of [pg, hot, both]) await rt?.close();
  if (hot) await dropRedisPrefix(hot.config.redisKeyPrefix);
  await tdb?.drop();
});

/** The answer without what legitimately differs between the stores. */

describe("Redis fallback with PostgreSQL disabled", () => {
  it("lists accounts with PostgreSQL's numbers, sorted, filtered and paged the same way", async () => {
    const inputs: Partial<AccountUsageListInput>[] = [
      {},
      { sort: "total.cost", order: "desc" },
      { sort: "daily.requests" },
      { sort: "monthly.allTokens", order: "asc", limit: 2, offset: 1 },
      { sort: "lastUsedAt" },
      { sort: "priority", platform: "claude" },
      { search: "ALPHA" },
      { status: "paused" },
    ];
    for (const over of inputs) {
      const input: AccountUsageListInput = { sort: "name", format: "json", ...over };
      const fromPg = await listAccountUsage(pg, input, now);
      const fromRedis = await listAccountUsage(hot, input, now);
      expect(fromPg.source).toBe("postgres");
      expect(fromRedis.source).toBe("redis");
      expect(figures(fromRedis), JSON.stringify(over)).toEqual(figures(fromPg));
    }
    const all = await listAccountUsage(hot, { sort: "name", format: "json" }, now);
    expect(all.summary.totalAccounts).toBe(4);
    // The Redis index keeps no sources: none are claimed, none offered.
    expect(all.data.map((a) => a.sources)).toEqual([[], [], [], []]);
    expect(all.data.map((a) => a.lastHour)).toEqual([null, null, null, null]);
    expect(all.summary.lastHour).toBeNull();
    expect(all.availableSources).toEqual([]);
    expect(all.summary.daily.requests).toBeGreaterThan(0);
  });

  it("answers an account's today, this month and all time, with models for today and this month", async () => {
    const ranges: Partial<AccountSummaryInput>[] = [{ range: "daily" }, { range: "daily", date: today }, { range: "monthly" }, { range: "monthly", month: thisMonth }];
    for (const id of ["acc-a", "acc-b", "acc-c"]) {
      for (const r of ranges) {
        const input = { id, range: "total", ...r } as AccountSummaryInput;
        const fromPg = await getAccountSummary(pg, input, now);
        const fromRedis = await getAccountSummary(hot, input, now);
        expect(fromRedis.source).toBe("redis");
        expect(fromRedis.data.series).toBeNull();
        expect(fromRedis.unavailable?.[0]).toMatch(/^series: PostgreSQL is disabled/);
        expect(fromRedis.unavailable?.at(-1)).toMatch(/^account\.sources: PostgreSQL is disabled.*keeps no sources/);
        expect(fromRedis.data.lastHour).toBeNull();
        expect(fromRedis.unavailable).toContainEqual(expect.stringMatching(/^lastHour: PostgreSQL is disabled.*days, not minutes/));
        expect(fromPg.data.lastHour).not.toBeNull();
        expect({ ...fromRedis.data, series: null, lastHour: null }).toEqual({ ...fromPg.data, series: null, lastHour: null });
      }
      const totalPg = await getAccountSummary(pg, { id, range: "total" }, now);
      const totalRedis = await getAccountSummary(hot, { id, range: "total" }, now);
      expect(totalRedis.data.usage).toEqual(totalPg.data.usage);
      expect(totalRedis.data.windows).toEqual(totalPg.data.windows);
      expect(totalRedis.data.account).toEqual(totalPg.data.account);
      expect(totalRedis.data.byModel).toBeNull();
    }
  });

  it("answers breakdowns for today, this month and all time, page by page", async () => {
    const ranges: Partial<AccountBreakdownInput>[] = [{ range: "daily" }, { range: "monthly" }, { range: "total" }];
    for (const r of ranges) {
      for (const [sort, order] of [["allTokens", "desc"], ["cost", "asc"], ["requests", "desc"], ["lastUsedAt", "desc"]] as const) {
        for (const [limit, offset] of [[100, 0], [5, 0], [5, 5], [5, 10], [5, 50]]) {
          const input = { id: "acc-a", sort, order, format: "json", limit, offset, ...r } as AccountBreakdownInput;
          const fromPg = await getAccountBreakdown(pg, input, now);
          const fromRedis = await getAccountBreakdown(hot, input, now);
          expect(fromRedis.source).toBe("redis");
          expect(figures(fromRedis), JSON.stringify(input)).toEqual(figures(fromPg));
        }
      }
    }
    const day = await getAccountBreakdown(hot, { id: "acc-a", range: "daily", sort: "allTokens", order: "desc", format: "json" }, now);
    expect(day.data.items.some((i) => i.apiKeyId === "ka-02" && i.lastModel === "claude-opus-4")).toBe(true);
  });

  it("exports the same breakdown CSV from the counters as from PostgreSQL", async () => {
    for (const range of ["daily", "monthly", "total"] as const) {
      for (const [sort, order] of [["allTokens", "desc"], ["lastUsedAt", "asc"]] as const) {
        const input = { id: "acc-a", range, sort, order, format: "csv" } as AccountBreakdownInput;
        const fromPg = await exportBreakdown(pg, input, { now });
        const fromRedis = await exportBreakdown(hot, input, { now });
        expect([fromPg.source, fromRedis.source]).toEqual(["postgres", "redis"]);
        const text = await csvResponse(fromRedis).text();
        expect(text.split("\r\n").length, `${range} ${sort}`).toBeGreaterThan(2);
        expect(text, `${range} ${sort}`).toBe(await csvResponse(fromPg).text());
      }
    }
  });

  it("refuses with 503 what the counters cannot answer exactly, and still 400s and 404s", async () => {
    const refused: [string, () => Promise<unknown>][] = [
      ["custom range", () => getAccountSummary(hot, { id: "acc-a", range: "custom", start: yesterday, end: today }, now)],
      ["past day", () => getAccountSummary(hot, { id: "acc-a", range: "daily", date: yesterday }, now)],
      ["past month", () => getAccountSummary(hot, { id: "acc-a", range: "monthly", month: lastMonth }, now)],
      ["other tz", () => getAccountSummary(hot, { id: "acc-a", range: "daily", tz: "Asia/Hong_Kong" }, now)],
      ["breakdown custom", () => getAccountBreakdown(hot, { id: "acc-a", range: "custom", start: yesterday, end: today, sort: "allTokens", order: "desc", format: "json" }, now)],
      ["breakdown past day", () => getAccountBreakdown(hot, { id: "acc-a", range: "daily", date: yesterday, sort: "allTokens", order: "desc", format: "json" }, now)],
      ["list in other tz", () => listAccountUsage(hot, { sort: "name", format: "json", tz: "Asia/Hong_Kong" }, now)],
      ["list by source", () => listAccountUsage(hot, { sort: "name", format: "json", source: "crs" }, now)],
      ["list without a source", () => listAccountUsage(hot, { sort: "name", format: "json", source: "none" }, now)],
    ];
    for (const [label, call] of refused) {
      const err = await call().catch((e: unknown) => e);
      expect(err, label).toMatchObject({ code: "UNAVAILABLE" });
      expect((err as Error).message, label).toMatch(/PostgreSQL is disabled.*needs PostgreSQL/);
    }
    await expect(getAccountSummary(hot, { id: "acc-a", range: "daily", tz: "UTC" }, now)).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(getAccountSummary(hot, { id: "nope", range: "daily" }, now)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(getAccountBreakdown(hot, { id: "nope", range: "total", sort: "allTokens", order: "desc", format: "json" }, now)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("Redis fallback with PostgreSQL unreachable", () => {
  it("switches to the counters while PostgreSQL refuses connections and back once it accepts them, without a restart", async () => {
    const input = { id: "acc-a", range: "daily", sort: "allTokens", order: "desc", format: "json" } as AccountBreakdownInput;
    const up = await getAccountBreakdown(both, input, now);
    expect(up.source).toBe("postgres");

    await adminQuery(`ALTER DATABASE ${tdb.name} ALLOW_CONNECTIONS false`);
    await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${tdb.name}'`);
    const down = await getAccountBreakdown(both, input, now);
    expect(down.source).toBe("redis");
    expect(figures(down)).toEqual(figures(up));
    const list = await listAccountUsage(both, { sort: "name", format: "json" }, now);
    expect(list.source).toBe("redis");
    await expect(getAccountSummary(both, { id: "acc-a", range: "custom", start: yesterday, end: today }, now)).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringMatching(/PostgreSQL is unreachable/),
    });

    await adminQuery(`ALTER DATABASE ${tdb.name} ALLOW_CONNECTIONS true`);
    const stillPaused = await getAccountBreakdown(both, input, now);
    expect(stillPaused.source).toBe("redis");
    bothTime += PG_RETRY_AFTER_MS;
    const back = await getAccountBreakdown(both, input, now);
    expect(back.source).toBe("postgres");
    expect(figures(back)).toEqual(figures(up));
  });
});
