import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { upsertAccount, upsertApiKey } from "../accounts/accounts.service";
import { AppError } from "../errors";
import { createRedis } from "../redis";
import { createRuntime, type Runtime } from "../runtime";
import { createTestDatabase, dropRedisPrefix, testConfig, type TestDatabase } from "../testing/stores";
import { Drainer } from "./drainer";
import { ACCOUNT_FIELD, hotKeys, unpackCounters } from "./hot-keys";
import { outboxStats } from "./hot-outbox";
import { NEGATIVE_IN_REQUEST, type UsageEvent } from "./schemas";
import {
  expectedFigures,
  localDate,
  makeEvents,
  pgFigures,
  plain,
  redisFigures,
  usdText,
  type Expected,
} from "./usage.fixtures";
import { expectPgFigures, expectRedisFigures } from "./testing";
import { recordUsage } from "./usage.service";

// tRPC's init module is marked server-only; outside Next.js that import would throw.
vi.mock("server-only", () => ({}));

const TZ = "Asia/Shanghai";

interface Env {
  db: TestDatabase;
  runtime: Runtime;
  prefix: string;
  extra: Runtime[];
  /** Another Redis connection for assertions. */
  redis: ReturnType<typeof createRedis>;
}

const envs: Env[] = [];

async function setup(overrides: Record<string, string | undefined> = {}): Promise<Env> {
  const db = await createTestDatabase({ migrated: true });
  const config = testConfig({ DATABASE_URL: db.url, USAGE_TIMEZONE: TZ, ...overrides });
  const runtime = await createRuntime(config, { ownDatabase: true });
  const redis = createRedis(testConfig().redisUrl!);
  await redis.connect();
  const env: Env = { db, runtime, prefix: config.redisKeyPrefix, extra: [], redis };
  envs.push(env);
  return env;
}

/** Another "client": its own Redis connection and PostgreSQL pool, same stores. */
async function anotherClient(env: Env): Promise<Runtime> {
  const rt = await createRuntime(env.runtime.config, { ownDatabase: true });
  env.extra.push(rt);
  return rt;
}

async function drain(env: Env): Promise<number> {
  const drainer = new Drainer(env.runtime.config, env.runtime.db!);
  try {
    return (await drainer.drainAll()).inserted;
  } finally {
    await drainer.stop({ forget: true });
  }
}

async function assertBothStores(env: Env, expected: Expected) {
  await expectPgFigures(env.runtime.db!.db, expected);
  await expectRedisFigures(env.redis, env.prefix, expected);
}

afterEach(async () => {
  while (envs.length) {
    const env = envs.pop()!;
    for (const rt of env.extra) await rt.close();
    await env.runtime.close();
    env.redis.disconnect();
    await env.db.drop();
    await dropRedisPrefix(env.prefix);
  }
});

describe("recordUsage with Redis and PostgreSQL", () => {
  it("lands a batch in both stores: raw rows, rollups, key totals and Redis counters equal independent sums", async () => {
    const env = await setup();
    const events = makeEvents({ count: 400, seed: 1, idPrefix: "both", spanMs: 6 * 3600_000 });
    const r = await recordUsage(env.runtime, { events });
    expect(r).toEqual({ accepted: 400, duplicates: 0, rejected: [] });

    const stats = await outboxStats(env.runtime.redis!, env.prefix, { countEvents: true });
    expect(stats.events).toBe(400);
    expect(await drain(env)).toBe(400);
    expect((await outboxStats(env.runtime.redis!, env.prefix)).length).toBe(0);

    const expected = expectedFigures(events, TZ);
    await assertBothStores(env, expected);

    // Spot check one figure by hand, in both stores.
    const first = events[0]!;
    const date = localDate(Date.parse(first.occurredAt), TZ);
    const accDay = expected.account.get(`${first.accountId}|d:${date}`)!;
    const stored = await env.redis.hget(hotKeys(env.prefix).counters(first.accountId, { kind: "d", date }), ACCOUNT_FIELD);
    expect(unpackCounters(stored).costNanos).toBe(accDay.costNanos);
    const row = await sql<{ c: string }>`select cost_nanos::text as c from usage_account_daily where account_id = ${first.accountId} and usage_date = ${date}`.execute(env.runtime.db!.db);
    expect(BigInt(row.rows[0]!.c)).toBe(accDay.costNanos);
  });

  it("counts a batch sent twice, and sent concurrently by several clients, once everywhere", async () => {
    const env = await setup();
    const events = makeEvents({ count: 300, seed: 2, idPrefix: "dup" });
    expect(await recordUsage(env.runtime, { events })).toEqual({ accepted: 300, duplicates: 0, rejected: [] });
    expect(await recordUsage(env.runtime, { events })).toEqual({ accepted: 0, duplicates: 300, rejected: [] });

    // Five clients send the same new batch at the same moment, each in a different order.
    const more = makeEvents({ count: 250, seed: 3, idPrefix: "race" });
    const clients = [env.runtime, ...(await Promise.all([1, 2, 3, 4].map(() => anotherClient(env))))];
    const results = await Promise.all(
      clients.map((rt, i) => recordUsage(rt, { events: i % 2 ? [...more].reverse() : more })),
    );
    expect(results.reduce((s, r) => s + r.accepted, 0)).toBe(250);
    expect(results.reduce((s, r) => s + r.duplicates, 0)).toBe(4 * 250);

    // Within one batch too: the second copy of a request id is a duplicate.
    const withInnerDup = [...makeEvents({ count: 3, seed: 4, idPrefix: "inner" })];
    withInnerDup.push({ ...withInnerDup[0]! });
    expect(await recordUsage(env.runtime, { events: withInnerDup })).toEqual({ accepted: 3, duplicates: 1, rejected: [] });

    // Several drainers at once share the outbox without writing anything twice.
    const drainers = [0, 1, 2].map(() => new Drainer(env.runtime.config, env.runtime.db!, { readCount: 2 }));
    await Promise.all(drainers.map((d) => d.drainAll()));
    await Promise.all(drainers.map((d) => d.stop({ forget: true })));
    expect((await outboxStats(env.runtime.redis!, env.prefix)).length).toBe(0);

    await assertBothStores(env, expectedFigures([...events, ...more, ...withInnerDup], TZ));
  });

  it("takes a request id reused by another account as that account's request, in the answer, Redis and PostgreSQL alike", async () => {
    const env = await setup();
    const mine = makeEvents({ count: 40, seed: 21, idPrefix: "reuse", accounts: ["acc-a"] });
    const theirs = mine.map((e, i) => ({ ...e, accountId: "acc-b", apiKeyId: i % 2 ? "key-b1" : "key-b2" }));
    expect(await recordUsage(env.runtime, { events: mine })).toEqual({ accepted: 40, duplicates: 0, rejected: [] });
    expect(await recordUsage(env.runtime, { events: theirs })).toEqual({ accepted: 40, duplicates: 0, rejected: [] });
    // The same account sending the id again is the duplicate, in one batch and across batches.
    expect(await recordUsage(env.runtime, { events: [...theirs.slice(0, 5), ...mine.slice(0, 5)] })).toEqual({ accepted: 0, duplicates: 10, rejected: [] });
    expect(await drain(env)).toBe(80);
    await assertBothStores(env, expectedFigures([...mine, ...theirs], TZ));
    const rows = await sql<{ n: number }>`select count(*)::int as n from usage_request_ids where request_id like 'reuse%'`.execute(env.runtime.db!.db);
    expect(rows.rows[0]!.n).toBe(80);
  });

  it("puts 23:59:59.999 and 00:00:00 local on different days in both stores, agreeing with each other", async () => {
    const env = await setup();
    const today = localDate(Date.now(), TZ);
    const yesterday = localDate(Date.parse(`${today}T12:00:00+08:00`) - 86400_000, TZ);
    const base = { accountId: "acc-mid", apiKeyId: "key-mid", model: "m", inputTokens: 10, outputTokens: 1, cacheCreateTokens: 0, cacheReadTokens: 0 };
    const events: UsageEvent[] = [
      { ...base, requestId: "mid-1", occurredAt: `${yesterday}T23:59:59.999+08:00`, cost: "0.00000001" },
      { ...base, requestId: "mid-2", occurredAt: `${today}T00:00:00+08:00`, cost: "0.00000002" },
      // The same instants written in UTC: 15:59:59.999Z is still "yesterday" in Shanghai.
      { ...base, requestId: "mid-3", occurredAt: new Date(Date.parse(`${yesterday}T23:59:59.999+08:00`)).toISOString(), cost: 0.00000004 },
      { ...base, requestId: "mid-4", occurredAt: new Date(Date.parse(`${today}T00:00:00+08:00`)).toISOString(), cost: 0.00000008 },
    ];
    expect(await recordUsage(env.runtime, { events })).toEqual({ accepted: 4, duplicates: 0, rejected: [] });
    await drain(env);

    const rows = await sql<{ request_id: string; usage_date: string; usage_hour: number }>`
      select request_id, usage_date, usage_hour from usage_records order by request_id`.execute(env.runtime.db!.db);
    expect(rows.rows).toEqual([
      { request_id: "mid-1", usage_date: yesterday, usage_hour: 23 },
      { request_id: "mid-2", usage_date: today, usage_hour: 0 },
      { request_id: "mid-3", usage_date: yesterday, usage_hour: 23 },
      { request_id: "mid-4", usage_date: today, usage_hour: 0 },
    ]);
    const k = hotKeys(env.prefix);
    const day = async (date: string) => unpackCounters(await env.redis.hget(k.counters("acc-mid", { kind: "d", date }), ACCOUNT_FIELD));
    expect((await day(yesterday)).costNanos).toBe(50n);
    expect((await day(today)).costNanos).toBe(100n);
    const pgDays = await sql<{ usage_date: string; cost_nanos: number }>`
      select usage_date, cost_nanos from usage_account_daily where account_id = 'acc-mid' order by usage_date`.execute(env.runtime.db!.db);
    expect(pgDays.rows).toEqual([
      { usage_date: yesterday, cost_nanos: 50 },
      { usage_date: today, cost_nanos: 100 },
    ]);
    await assertBothStores(env, expectedFigures(events, TZ));
  });

  it("keeps sums exact past 2^53 (the counters add decimal strings there), in one batch and across batches", async () => {
    const env = await setup();
    const at = new Date().toISOString();
    const big = (i: number): UsageEvent => ({
      requestId: `big-${i}`,
      occurredAt: at,
      accountId: "acc-big",
      apiKeyId: "key-big",
      model: "m",
      inputTokens: 1,
      outputTokens: 0,
      cacheCreateTokens: 0,
      cacheReadTokens: 0,
      cost: "999999.99999999",
    });
    // 15 events pass 2^53 nano-USD inside the first script call; the next 10 (and 20 nano-USD:
    // past 2^54 a double holds multiples of 4 only) add to the stored values.
    const first = Array.from({ length: 15 }, (_, i) => big(i));
    const second = [...Array.from({ length: 10 }, (_, i) => big(15 + i)), { ...big(99), requestId: "small", cost: "0.00000002" }];
    expect(await recordUsage(env.runtime, { events: first })).toMatchObject({ accepted: 15 });
    expect(await recordUsage(env.runtime, { events: second })).toMatchObject({ accepted: 11 });
    await drain(env);
    const expected = expectedFigures([...first, ...second], TZ);
    expect(expected.account.get("acc-big|t")!.costNanos).toBe(24_999_999_999_999_770n);
    const hot = await redisFigures(env.redis, env.prefix, expected);
    expect(plain(hot.figures.account)).toEqual(plain(expected.account));
    expect(plain(hot.figures.key)).toEqual(plain(expected.key));
    expect(hot.layoutMismatches).toEqual([]);
    // PostgreSQL's rollups hold the same exact sum (read as text: past 2^53 a JS number cannot).
    const pg = await sql<{ c: string }>`select cost_nanos::text as c from usage_account_totals where account_id = 'acc-big'`.execute(env.runtime.db!.db);
    expect(pg.rows).toEqual([{ c: "24999999999999770" }]);
  });

  it("records the good events of a batch and reports each bad one by index", async () => {
    const env = await setup();
    const good = makeEvents({ count: 3, seed: 5, idPrefix: "good" });
    const g = (i: number) => ({ ...good[i]! });
    const future = new Date(Date.now() + 10 * 60_000).toISOString();
    const batch: unknown[] = [
      g(0),
      { ...g(1), requestId: "bad-1", inputTokens: -1 },
      { ...g(1), requestId: "bad-2", outputTokens: 1.5 },
      { ...g(1), requestId: "bad-3", cost: "0.123456789" },
      { ...g(1), requestId: "bad-4", occurredAt: "2026-01-01T10:00:00" },
      { ...g(1), requestId: "bad-5", occurredAt: future },
      { ...g(1), requestId: "bad-6", surprise: 1 },
      { ...g(1), requestId: "bad\u00007" },
      "not an event",
      g(1),
      { ...g(1), requestId: "bad-8", accountId: undefined },
      { ...g(1), requestId: "bad-9", cost: -0.5 },
      { ...g(1), requestId: "bad-10", inputTokens: 2 ** 53 },
      { ...g(1), requestId: "x".repeat(129) },
      { ...g(1), requestId: "bad-11", metadata: { blob: "y".repeat(5000) } },
      { ...g(1), requestId: "bad-12", cost: "NaN" },
      { ...g(1), requestId: "bad-13", occurredAt: "2026-02-30T10:00:00Z" },
      g(2),
    ];
    const r = await recordUsage(env.runtime, { events: batch });
    expect(r.accepted).toBe(3);
    expect(r.duplicates).toBe(0);
    expect(r.rejected.map((x) => [x.index, x.code])).toEqual([
      [1, "INVALID_FIELD"],
      [2, "INVALID_FIELD"],
      [3, "INVALID_FIELD"],
      [4, "INVALID_FIELD"],
      [5, "INVALID_FIELD"],
      [6, "UNKNOWN_FIELD"],
      [7, "INVALID_FIELD"],
      [8, "INVALID_EVENT"],
      [10, "MISSING_FIELD"],
      [11, "INVALID_FIELD"],
      [12, "INVALID_FIELD"],
      [13, "INVALID_FIELD"],
      [14, "INVALID_FIELD"],
      [15, "INVALID_FIELD"],
      [16, "INVALID_FIELD"],
    ]);
    const msg = (i: number) => r.rejected.find((x) => x.index === i)!.message;
    expect(msg(1)).toMatch(/^inputTokens: /);
    expect(msg(2)).toBe("outputTokens: must be a non-negative integer");
    expect(msg(3)).toBe("cost: must have at most 8 decimal places");
    expect(msg(4)).toMatch(/^occurredAt: must be an ISO-8601 date-time with an offset/);
    expect(msg(5)).toBe("occurredAt: is more than 5 minutes in the future");
    expect(msg(6)).toBe("surprise: unknown field");
    expect(msg(7)).toBe("requestId: must not contain NUL bytes or unpaired surrogates");
    expect(msg(10)).toBe("accountId: is required");
    expect(msg(11)).toBe(`cost: ${NEGATIVE_IN_REQUEST}`);
    expect(msg(13)).toBe("requestId: must be at most 128 characters");
    expect(msg(14)).toMatch(/^metadata: must be at most 4096 bytes as JSON/);

    await drain(env);
    await assertBothStores(env, expectedFigures(good, TZ));
  });

  it("creates placeholder accounts and keys for unknown ids, which a later upsert completes", async () => {
    const env = await setup();
    const [e] = makeEvents({ count: 1, seed: 6, idPrefix: "ph", accounts: ["acc-new"] });
    const event = { ...e!, apiKeyId: "key-new" };
    await recordUsage(env.runtime, { events: [event] });
    await drain(env);
    const db = env.runtime.db!.db;
    const acc = await db.selectFrom("accounts").select(["id", "name", "status"]).where("id", "=", "acc-new").executeTakeFirst();
    expect(acc).toEqual({ id: "acc-new", name: "acc-new", status: "unknown" });
    const key = await db.selectFrom("api_keys").select(["id", "name", "status", "account_id", "total_cost_accumulated"]).where("id", "=", "key-new").executeTakeFirst();
    expect(key).toEqual({ id: "key-new", name: "key-new", status: "unknown", account_id: "acc-new", total_cost_accumulated: usdText(expectedFigures([event], TZ).costNanos) });
    const index = await env.redis.hget(hotKeys(env.prefix).accountIndex(), "acc-new");
    expect(JSON.parse(index!)).toMatchObject({ name: "acc-new", status: "unknown" });

    const upserted = await upsertAccount(env.runtime, { id: "acc-new", name: "New Account", platform: "claude" });
    expect(upserted).toMatchObject({ id: "acc-new", name: "New Account", platform: "claude", status: "active" });
    const k = await upsertApiKey(env.runtime, { id: "key-new", name: "New Key", hashedKey: "a".repeat(64) });
    expect(k).toMatchObject({ id: "key-new", name: "New Key", status: "active", accountId: "acc-new", hasHashedKey: true });
    expect(k).not.toHaveProperty("hashedKey");
    // Usage history and the accumulated cost survive the upsert.
    expect(k.totalCostAccumulated).toBe(key!.total_cost_accumulated);
    expect(JSON.parse((await env.redis.hget(hotKeys(env.prefix).accountIndex(), "acc-new"))!)).toMatchObject({ name: "New Account", status: "active" });
  });

  it("serves usage.record over tRPC with the same schema", async () => {
    const env = await setup();
    const { appRouter } = await import("../trpc/routers/_app");
    const { createCallerFactory } = await import("../trpc/init");
    const caller = createCallerFactory(appRouter)({
      runtime: env.runtime,
      req: new Request("http://localhost/api/trpc/usage.record"),
      requestId: "test",
      principal: { kind: "token", name: "test", scopes: ["usage:write"], id: "t1" },
    });
    const events = makeEvents({ count: 5, seed: 7, idPrefix: "trpc" });
    expect(await caller.usage.record({ events: [...events, { bogus: true }] })).toMatchObject({ accepted: 5, duplicates: 0, rejected: [{ index: 5 }] });
    await expect(caller.usage.record({ events: [] })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(caller.usage.record({ events: new Array(1001).fill(events[0]) })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    const reader = createCallerFactory(appRouter)({
      runtime: env.runtime,
      req: new Request("http://localhost/api/trpc/usage.record"),
      requestId: "test",
      principal: { kind: "token", name: "reader", scopes: ["usage:read"], id: "t2" },
    });
    await expect(reader.usage.record({ events })).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});

describe("recordUsage with one store", () => {
  it("POSTGRES_ENABLED=false: counts in Redis only, with no outbox", async () => {
    const env = await setup({ POSTGRES_ENABLED: "false" });
    const events = makeEvents({ count: 120, seed: 8, idPrefix: "ronly" });
    expect(await recordUsage(env.runtime, { events })).toEqual({ accepted: 120, duplicates: 0, rejected: [] });
    expect(await recordUsage(env.runtime, { events })).toEqual({ accepted: 0, duplicates: 120, rejected: [] });
    expect(await env.redis.exists(hotKeys(env.prefix).outbox())).toBe(0);
    const expected = expectedFigures(events, TZ);
    const hot = await redisFigures(env.redis, env.prefix, expected);
    expect(plain(hot.figures.account)).toEqual(plain(expected.account));
    expect(plain(hot.figures.key)).toEqual(plain(expected.key));
    expect(hot.layoutMismatches).toEqual([]);
  });

  it("REDIS_URL unset: writes straight to PostgreSQL, idempotent under concurrency", async () => {
    const env = await setup({ REDIS_URL: "" });
    expect(env.runtime.redis).toBeUndefined();
    const events = makeEvents({ count: 200, seed: 9, idPrefix: "pgonly" });
    const clients = [env.runtime, ...(await Promise.all([1, 2, 3].map(() => anotherClient(env))))];
    const results = await Promise.all(clients.map((rt) => recordUsage(rt, { events })));
    expect(results.reduce((s, r) => s + r.accepted, 0)).toBe(200);
    expect(results.reduce((s, r) => s + r.duplicates, 0)).toBe(600);
    // A request id reused by another account is its own request here too.
    const reused = events.slice(0, 10).map((e) => ({ ...e, accountId: e.accountId === "acc-c" ? "acc-a" : "acc-c", apiKeyId: e.accountId === "acc-c" ? "key-a1" : "key-c1" }));
    expect(await recordUsage(env.runtime, { events: [...reused, ...reused] })).toEqual({ accepted: 10, duplicates: 10, rejected: [] });
    const pg = await pgFigures(env.runtime.db!.db);
    const expected = expectedFigures([...events, ...reused], TZ);
    expect(pg.rows).toBe(210);
    expect(plain(pg.account)).toEqual(plain(expected.account));
    expect(plain(pg.key)).toEqual(plain(expected.key));
    expect(plain(pg.model)).toEqual(plain(expected.model));
  });
});

describe("recordUsage when a store fails", () => {
  let closedPort: string;
  beforeAll(async () => {
    const net = await import("node:net");
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    closedPort = String((srv.address() as { port: number }).port);
    await new Promise((r) => srv.close(r));
  });
  afterAll(() => {});

  it("Redis unreachable and PostgreSQL disabled: 503 with Retry-After, nothing acknowledged", async () => {
    const env = await setup({ POSTGRES_ENABLED: "false", REDIS_URL: `redis://127.0.0.1:${closedPort}` });
    const err = await recordUsage(env.runtime, { events: makeEvents({ count: 2, seed: 10, idPrefix: "down" }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: "UNAVAILABLE", extra: { retryAfterSeconds: 5 } });
  });
});
