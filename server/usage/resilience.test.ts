import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { health } from "../health/health.service";
import { isRedisReady } from "../redis";
import { createRuntime, type Runtime } from "../runtime";
import { createTestDatabase, dropRedisPrefix, testConfig, withRedis, type TestDatabase } from "../testing/stores";
import { startUsageBackground } from "./background";
import { Drainer } from "./drainer";
import { outboxStats } from "./hot-outbox";
import { heldRequestIds } from "./hot-reconcile";
import { reconcileHotCounters } from "./reconcile";
import { startOwnMigratedPostgres, startOwnRedis, waitFor, type OwnPostgres, type OwnRedis } from "../testing/servers";
import { expectPgFigures, expectRedisFigures } from "./testing";
import { expectedFigures, makeEvents, pgFigures, plain, redisFigures, withoutModelTotals, type Expected } from "./usage.fixtures";
import { recordUsage } from "./usage.service";

const TZ = "Asia/Shanghai";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function redisMatches(runtime: Runtime, expected: Expected): Promise<boolean> {
  const { figures, layoutMismatches } = await withRedis(runtime, (client) => redisFigures(client, runtime.config.redisKeyPrefix, expected));
  const same = (a: Map<string, unknown>, b: Map<string, unknown>) => JSON.stringify(plain(a), (_, v) => (typeof v === "bigint" ? v.toString() : v)) === JSON.stringify(plain(b), (_, v) => (typeof v === "bigint" ? v.toString() : v));
  return same(figures.account, expected.account) && same(figures.key, expected.key) && same(figures.model, withoutModelTotals(expected)) && !layoutMismatches.length;
}

const expectPg = (runtime: Runtime, expected: Expected) => expectPgFigures(runtime.db!.db, expected);
const expectRedis = (runtime: Runtime, expected: Expected) => withRedis(runtime, (client) => expectRedisFigures(client, runtime.config.redisKeyPrefix, expected));

async function backlog(runtime: Runtime) {
  return outboxStats(runtime.redis!, runtime.config.redisKeyPrefix);
}

describe("PostgreSQL stops and comes back", () => {
  let pg: OwnPostgres;
  beforeAll(async () => {
    pg = await startOwnMigratedPostgres();
  });
  afterAll(() => pg?.destroy());

  it("keeps accepting into the stream, then the drainer catches up: nothing lost, nothing doubled", async () => {
    const config = testConfig({ DATABASE_URL: pg.url, USAGE_TIMEZONE: TZ, DB_STATEMENT_TIMEOUT_MS: "5000" });
    const runtime = await createRuntime(config, { ownDatabase: true });
    // Neither store reachable: a second app whose Redis is a closed port.
    const blind = await createRuntime(testConfig({ DATABASE_URL: pg.url, REDIS_URL: "redis://127.0.0.1:1" }), { ownDatabase: true });
    const drainer = new Drainer(config, runtime.db!, { blockMs: 200 });
    cleanups.push(() => dropRedisPrefix(config.redisKeyPrefix), () => runtime.close(), () => blind.close(), () => drainer.stop({ forget: true }));
    drainer.start();

    const a = makeEvents({ count: 200, seed: 21, idPrefix: "pgdown-a" });
    expect(await recordUsage(runtime, { events: a })).toMatchObject({ accepted: 200 });
    await waitFor(async () => (await backlog(runtime)).length === 0, "the first batch to drain");

    pg.stop();
    const b = makeEvents({ count: 300, seed: 22, idPrefix: "pgdown-b" });
    for (let i = 0; i < 300; i += 100) expect(await recordUsage(runtime, { events: b.slice(i, i + 100) })).toEqual({ accepted: 100, duplicates: 0, rejected: [] });
    expect(await recordUsage(runtime, { events: a.slice(0, 50) })).toEqual({ accepted: 0, duplicates: 50, rejected: [] });

    const h = await health(runtime);
    expect(h.status).toBe("degraded");
    expect(h.postgres).toMatchObject({ configured: true, ok: false });
    expect(h.redis).toMatchObject({ configured: true, ok: true });
    expect(h.outbox.length).toBeGreaterThanOrEqual(3);
    expect(h.outbox.oldestAgeSeconds).toBeGreaterThanOrEqual(0);

    const refused = await recordUsage(blind, { events: b.slice(0, 1) }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: "UNAVAILABLE", extra: { retryAfterSeconds: 5 } });

    await waitFor(() => drainer.status().lastError !== null, "the drainer to fail on PostgreSQL and back off");
    expect((await backlog(runtime)).length).toBeGreaterThanOrEqual(3);
    pg.start();
    await waitFor(async () => {
      const s = await backlog(runtime);
      return s.length === 0 && s.pending === 0;
    }, "the backlog to drain after PostgreSQL returned", 45_000);

    const expected = expectedFigures([...a, ...b], TZ);
    await expectPg(runtime, expected);
    await expectRedis(runtime, expected);
    expect((await health(runtime)).status).toBe("ok");
  });
});

describe("the drainer dies between commit and acknowledgement", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterAll(async () => db?.drop());

  it("another drainer claims the pending entries; the redelivery writes nothing twice", async () => {
    const config = testConfig({ DATABASE_URL: db.url, USAGE_TIMEZONE: TZ });
    const runtime = await createRuntime(config, { ownDatabase: true });
    cleanups.push(() => dropRedisPrefix(config.redisKeyPrefix), () => runtime.close());
    const events = makeEvents({ count: 300, seed: 31, idPrefix: "crash" });
    for (let i = 0; i < 300; i += 100) await recordUsage(runtime, { events: events.slice(i, i + 100) });

    const doomed = new Drainer(config, runtime.db!, {
      afterCommit: () => {
        throw new Error("killed after commit, before XACK");
      },
    });
    await expect(doomed.drainOnce()).rejects.toThrow("killed after commit");
    await doomed.stop();
    const expected = expectedFigures(events, TZ);
    await expectPg(runtime, expected);
    expect(await backlog(runtime)).toMatchObject({ length: 3, pending: 3 });

    const rescuer = new Drainer(config, runtime.db!, { claimIdleMs: 0 });
    const r = await rescuer.drainAll();
    await rescuer.stop({ forget: true });
    expect(r).toMatchObject({ entries: 3, events: 300, inserted: 0 });
    expect(await backlog(runtime)).toMatchObject({ length: 0, pending: 0 });
    await expectPg(runtime, expected);
    await expectRedis(runtime, expected);
  });

  it("a drainer restarted under the same name resumes its own pending entries", async () => {
    const config = testConfig({ DATABASE_URL: db.url, USAGE_TIMEZONE: TZ });
    const runtime = await createRuntime(config, { ownDatabase: true });
    cleanups.push(() => dropRedisPrefix(config.redisKeyPrefix), () => runtime.close());
    const before = await pgFigures(runtime.db!.db);
    const events = makeEvents({ count: 50, seed: 32, idPrefix: "resume" });
    await recordUsage(runtime, { events });
    let fail = true;
    const d = new Drainer(config, runtime.db!, {
      consumer: "node-1",
      afterCommit: () => {
        if (fail) throw new Error("crash");
      },
    });
    await expect(d.drainOnce()).rejects.toThrow("crash");
    fail = false;
    expect(await d.drainOnce()).toMatchObject({ entries: 1, inserted: 0 });
    await d.stop({ forget: true });
    expect(await backlog(runtime)).toMatchObject({ length: 0, pending: 0 });
    const after = await pgFigures(runtime.db!.db);
    expect(after.rows - before.rows).toBe(50);
    expect(after.costNanos - before.costNanos).toBe(expectedFigures(events, TZ).costNanos);
  });
});

describe("Redis is unavailable", () => {
  let db: TestDatabase;
  let redis: OwnRedis;
  beforeAll(async () => {
    redis = await startOwnRedis();
  });
  afterAll(() => redis?.destroy());
  afterEach(async () => {
    await db?.drop();
  });

  async function runtimeOnOwnRedis(opts: { startBackground?: boolean } = {}) {
    db = await createTestDatabase({ migrated: true });
    const config = testConfig({ DATABASE_URL: db.url, REDIS_URL: redis.url, USAGE_TIMEZONE: TZ });
    const runtime = await createRuntime(config, { ownDatabase: true });
    const background = opts.startBackground ? startUsageBackground(runtime) : undefined;
    cleanups.push(() => runtime.close(), async () => background?.stop());
    return runtime;
  }

  it("writes straight to PostgreSQL, and reconciliation restores the counters exactly", async () => {
    const runtime = await runtimeOnOwnRedis();
    const a = makeEvents({ count: 150, seed: 41, idPrefix: "rdown-a" });
    await recordUsage(runtime, { events: a });
    const drainer = new Drainer(runtime.config, runtime.db!);
    await drainer.drainAll();
    await drainer.stop({ forget: true });

    redis.stop(); // and with it every counter, dedupe key and the outbox group
    await waitFor(() => !isRedisReady(runtime.redis), "the client to notice");
    const b = makeEvents({ count: 200, seed: 42, idPrefix: "rdown-b" });
    expect(await recordUsage(runtime, { events: b })).toEqual({ accepted: 200, duplicates: 0, rejected: [] });
    expect(await recordUsage(runtime, { events: [...a.slice(0, 10), ...b.slice(0, 10)] })).toEqual({ accepted: 0, duplicates: 20, rejected: [] });
    expect((await health(runtime)).redis).toMatchObject({ configured: true, ok: false });

    redis.start();
    await waitFor(() => isRedisReady(runtime.redis), "the client to reconnect", 20_000);
    const r = await reconcileHotCounters(runtime);
    expect(r.skipped).toEqual([]);
    expect(r.accounts).toBe(3);
    const expected = expectedFigures([...a, ...b], TZ);
    await expectPg(runtime, expected);
    await expectRedis(runtime, expected);

    // Counting continues on top of the rebuilt figures.
    const c = makeEvents({ count: 40, seed: 43, idPrefix: "rdown-c" });
    expect(await recordUsage(runtime, { events: c })).toMatchObject({ accepted: 40 });
    await expectRedis(runtime, expectedFigures([...a, ...b, ...c], TZ));

    // What went straight to PostgreSQL got its dedupe keys in Redis before c was counted: a resend
    // of it is a duplicate in Redis too, and the counters stay exact.
    expect(runtime.bypassedIds.size).toBe(0);
    expect(await recordUsage(runtime, { events: b })).toEqual({ accepted: 0, duplicates: 200, rejected: [] });
    await expectRedis(runtime, expectedFigures([...a, ...b, ...c], TZ));
  });

  it("rebuilds the counters by itself when Redis comes back (background hook)", async () => {
    const runtime = await runtimeOnOwnRedis({ startBackground: true });
    const a = makeEvents({ count: 100, seed: 44, idPrefix: "auto-a" });
    await recordUsage(runtime, { events: a });
    // This Redis keeps nothing across a restart: let the background drainer commit `a` first.
    await waitFor(async () => (await pgFigures(runtime.db!.db)).rows === 100, "the background drainer to commit the first batch");
    redis.stop();
    await waitFor(() => !isRedisReady(runtime.redis), "the client to notice");
    const b = makeEvents({ count: 100, seed: 45, idPrefix: "auto-b" });
    expect(await recordUsage(runtime, { events: b })).toMatchObject({ accepted: 100 });
    redis.start();
    const expected = expectedFigures([...a, ...b], TZ);
    await waitFor(async () => isRedisReady(runtime.redis) && (await redisMatches(runtime, expected)), "the automatic rebuild", 30_000);
    await waitFor(async () => (await pgFigures(runtime.db!.db)).rows === 200, "PostgreSQL to hold both batches");
    await expectPg(runtime, expected);
  });

  it("starts with Redis down (a closed port) and still records into PostgreSQL", async () => {
    db = await createTestDatabase({ migrated: true });
    const config = testConfig({ DATABASE_URL: db.url, REDIS_URL: "redis://127.0.0.1:1", USAGE_TIMEZONE: TZ });
    const runtime = await createRuntime(config, { ownDatabase: true });
    cleanups.push(() => runtime.close());
    const events = makeEvents({ count: 30, seed: 46, idPrefix: "closed" });
    expect(await recordUsage(runtime, { events })).toEqual({ accepted: 30, duplicates: 0, rejected: [] });
    await expectPg(runtime, expectedFigures(events, TZ));
  });
});

describe("reconciliation while events keep arriving", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: true });
  });
  afterAll(async () => db?.drop());

  it("events held back during the swap are counted exactly once, whether or not the snapshot has them", async () => {
    const config = testConfig({ DATABASE_URL: db.url, USAGE_TIMEZONE: TZ });
    const runtime = await createRuntime(config, { ownDatabase: true });
    const writer = await createRuntime(config, { ownDatabase: true });
    cleanups.push(() => dropRedisPrefix(config.redisKeyPrefix), () => runtime.close(), () => writer.close());
    const a = makeEvents({ count: 200, seed: 51, idPrefix: "live-a" });
    await recordUsage(runtime, { events: a });

    // Sent while the accounts are locked; drained into PostgreSQL before the snapshot is read.
    const held = makeEvents({ count: 60, seed: 52, idPrefix: "live-held" });
    let heldResult: Promise<unknown> | undefined;
    const r = await reconcileHotCounters(runtime, {
      afterLock: async () => {
        heldResult = recordUsage(writer, { events: held });
        // Every held event reached Redis and was put aside while its account is locked.
        const accounts = [...new Set(held.map((e) => e.accountId))];
        await waitFor(async () => {
          const ids = await Promise.all(accounts.map((id) => heldRequestIds(writer.redis!, config.redisKeyPrefix, id)));
          return ids.flat().length === new Set(held.map((e) => e.requestId)).size;
        }, "the held events to wait on the lock");
      },
    });
    expect(r.skipped).toEqual([]);
    expect(await heldResult).toEqual({ accepted: 60, duplicates: 0, rejected: [] });

    // And a stretch of writers racing several reconciles and a running drainer.
    const drainer = new Drainer(config, runtime.db!, { blockMs: 100 });
    drainer.start();
    const racing = Array.from({ length: 6 }, (_, i) => makeEvents({ count: 80, seed: 60 + i, idPrefix: `live-race-${i}` }));
    await Promise.all([
      (async () => {
        for (const batch of racing) await recordUsage(writer, { events: batch });
      })(),
      (async () => {
        for (let i = 0; i < 3; i++) await reconcileHotCounters(runtime);
      })(),
    ]);
    await waitFor(async () => (await backlog(runtime)).length === 0, "the outbox to drain");
    await drainer.stop({ forget: true });

    const expected = expectedFigures([...a, ...held, ...racing.flat()], TZ);
    await expectPg(runtime, expected);
    await expectRedis(runtime, expected);
  });
});
