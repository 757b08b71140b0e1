import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isRedisReady } from "../../redis";
import { createRuntime, type Runtime } from "../../runtime";
import { createTestRuntime, type TestRuntime } from "../../testing/runtime";
import { createTestDatabase, testConfig, withRedis } from "../../testing/stores";
import { Drainer } from "../../usage/drainer";
import { heldRequestIds, lockAccounts, unlockAccounts } from "../../usage/hot-reconcile";
import { reconcileHotCounters } from "../../usage/reconcile";
import type { UsageEvent } from "../../usage/schemas";
import { startOwnRedis, waitFor, type OwnRedis } from "../../testing/servers";
import { expectPgFigures, expectRedisFigures } from "../../usage/testing";
import { expectedFigures, makeEvents, type Expected } from "../../usage/usage.fixtures";
import { recordUsage } from "../../usage/usage.service";
import type { CrsEvent } from "./mapping";
import { writeCrsEvents, type SinkResult } from "./sink";

/**
 * The CRS sink writes through the same entry point as REST (recordUsage, ledger first): its
 * events are deduplicated against REST's in both stores, wait for a reconcile like REST's, and
 * leave the same bookkeeping when Redis is bypassed. A sink that wrote around recordUsage would
 * fail here.
 */

const TZ = "Asia/Shanghai";

const usd = (v: string | number) => (typeof v === "number" ? v.toFixed(8) : v);

/** A REST event as the CRS mapping would emit it (costs as decimal text, the rated cost always set). */
function asCrs(e: UsageEvent): CrsEvent {
  const cost = usd(e.cost);
  return { event: { ...e, cost, ratedCost: e.ratedCost === undefined ? cost : usd(e.ratedCost) }, crsDay: e.occurredAt.slice(0, 10), kind: "record" };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function testRuntime(overrides: Record<string, string | undefined> = {}): Promise<Runtime> {
  const t: TestRuntime = await createTestRuntime({ USAGE_TIMEZONE: TZ, ...overrides });
  cleanups.push(() => t.close());
  return t.runtime;
}

/** Another client on the same stores: its own Redis connection and PostgreSQL pool. */
async function anotherClient(runtime: Runtime): Promise<Runtime> {
  const rt = await createRuntime(runtime.config, { ownDatabase: true });
  cleanups.push(() => rt.close());
  return rt;
}

async function drain(runtime: Runtime): Promise<number> {
  const drainer = new Drainer(runtime.config, runtime.db!);
  try {
    return (await drainer.drainAll()).inserted;
  } finally {
    await drainer.stop({ forget: true });
  }
}

async function expectBothStores(runtime: Runtime, expected: Expected): Promise<void> {
  await expectPgFigures(runtime.db!.db, expected);
  await withRedis(runtime, (client) => expectRedisFigures(client, runtime.config.redisKeyPrefix, expected));
}

/** Resolves once every distinct request id of `events` waits in its account's held set. */
async function waitUntilHeld(runtime: Runtime, events: UsageEvent[]): Promise<void> {
  const accounts = [...new Set(events.map((e) => e.accountId))];
  await waitFor(async () => {
    const ids = await Promise.all(accounts.map((id) => heldRequestIds(runtime.redis!, runtime.config.redisKeyPrefix, id)));
    return ids.flat().length === new Set(events.map((e) => e.requestId)).size;
  }, "the CRS events to wait on the reconcile lock");
}

/** A promise and whether it has settled yet. */
interface Tracked<T> {
  promise: Promise<T>;
  settled(): boolean;
}

function tracked<T>(p: Promise<T>): Tracked<T> {
  let done = false;
  const promise = p.finally(() => (done = true));
  return { promise, settled: () => done };
}

describe("the CRS sink and REST dedupe each other in both stores", () => {
  it("an event the sink wrote is a duplicate when REST resends it: PostgreSQL and Redis count it once", async () => {
    const runtime = await testRuntime();
    const events = makeEvents({ count: 40, seed: 81, idPrefix: "crs-then-rest" });
    expect(await writeCrsEvents(runtime, events.map(asCrs))).toEqual({ inserted: 40, duplicates: 0, rejected: [] });
    // Ledger first: PostgreSQL holds the rows at once, without a drain.
    await expectBothStores(runtime, expectedFigures(events, TZ));

    expect(await recordUsage(runtime, { events })).toEqual({ accepted: 0, duplicates: 40, rejected: [] });
    expect(await drain(runtime)).toBe(0);
    await expectBothStores(runtime, expectedFigures(events, TZ));
  });

  it("an event REST recorded (still in the outbox) is counted once in Redis when the sink writes it too", async () => {
    const runtime = await testRuntime();
    const events = makeEvents({ count: 40, seed: 82, idPrefix: "rest-then-crs" });
    expect(await recordUsage(runtime, { events })).toEqual({ accepted: 40, duplicates: 0, rejected: [] });
    // Not drained yet: the ledger takes the rows from the sink, Redis has counted them already.
    expect(await writeCrsEvents(runtime, events.map(asCrs))).toEqual({ inserted: 40, duplicates: 0, rejected: [] });
    expect(await drain(runtime)).toBe(0);
    await expectBothStores(runtime, expectedFigures(events, TZ));
    expect(await writeCrsEvents(runtime, events.map(asCrs))).toEqual({ inserted: 0, duplicates: 40, rejected: [] });
    await expectBothStores(runtime, expectedFigures(events, TZ));
  });

  it("reports rejected events by their index in the whole write, next to the accepted ones", async () => {
    const runtime = await testRuntime();
    const events = makeEvents({ count: 3, seed: 83, idPrefix: "crs-rejected" }).map(asCrs);
    events[1] = { ...events[1]!, event: { ...events[1]!.event, inputTokens: -1 } };
    const r = await writeCrsEvents(runtime, events);
    expect(r).toMatchObject({ inserted: 2, duplicates: 0, rejected: [{ index: 1, requestId: "crs-rejected-1" }] });
  });
});

describe("a CRS write while an account's counters are rebuilt", () => {
  it("waits for the reconcile and is counted exactly once (the rebuild has it, the retry does not add it again)", async () => {
    const runtime = await testRuntime();
    const writer = await anotherClient(runtime);
    const a = makeEvents({ count: 150, seed: 84, idPrefix: "crs-rec-a" });
    await recordUsage(runtime, { events: a });
    const held = makeEvents({ count: 60, seed: 85, idPrefix: "crs-rec-held" });
    let write: Tracked<SinkResult> | undefined;
    const r = await reconcileHotCounters(runtime, {
      afterLock: async () => {
        write = tracked(writeCrsEvents(writer, held.map(asCrs)));
        await waitUntilHeld(runtime, held);
        expect(write.settled()).toBe(false);
      },
    });
    expect(r.skipped).toEqual([]);
    expect(await write!.promise).toEqual({ inserted: 60, duplicates: 0, rejected: [] });
    await expectBothStores(runtime, expectedFigures([...a, ...held], TZ));
    expect(await recordUsage(runtime, { events: held })).toEqual({ accepted: 0, duplicates: 60, rejected: [] });
    await expectBothStores(runtime, expectedFigures([...a, ...held], TZ));
  });

  it("waits while the lock is held and counts its events once the lock is released without a rebuild", async () => {
    const runtime = await testRuntime();
    const a = makeEvents({ count: 60, seed: 86, idPrefix: "crs-lock-a" });
    expect(await writeCrsEvents(runtime, a.map(asCrs))).toMatchObject({ inserted: 60 });
    const accounts = [...new Set(a.map((e) => e.accountId))];
    const token = randomBytes(12).toString("hex");
    const prefix = runtime.config.redisKeyPrefix;
    expect(await lockAccounts(runtime.redis!, prefix, accounts, token, 60_000)).toEqual(accounts);

    const held = makeEvents({ count: 50, seed: 87, idPrefix: "crs-lock-held", accounts });
    const write = tracked(writeCrsEvents(runtime, held.map(asCrs)));
    await waitUntilHeld(runtime, held);
    // In the ledger already, and not counted in Redis while the lock lasts.
    await expectPgFigures(runtime.db!.db, expectedFigures([...a, ...held], TZ));
    expect(write.settled()).toBe(false);
    // A reconcile that gives up (its lock released by unlock.lua) rebuilt nothing: the waiting
    // write has to count its events itself — a sink that stopped waiting would lose them.
    await unlockAccounts(runtime.redis!, prefix, accounts, token);
    expect(await write.promise).toEqual({ inserted: 50, duplicates: 0, rejected: [] });
    await expectBothStores(runtime, expectedFigures([...a, ...held], TZ));
  });
});

describe("a CRS write while Redis is down", () => {
  let redis: OwnRedis;
  beforeAll(async () => {
    redis = await startOwnRedis();
  });
  afterAll(() => redis?.destroy());

  it("goes into the ledger and remembers its ids, so a REST resend after Redis returns is a duplicate there too", async () => {
    const db = await createTestDatabase({ migrated: true });
    cleanups.push(() => db.drop());
    const runtime = await createRuntime(testConfig({ DATABASE_URL: db.url, REDIS_URL: redis.url, USAGE_TIMEZONE: TZ }), { ownDatabase: true });
    cleanups.push(() => runtime.close());
    let bypassed = 0;
    runtime.events.on("redisBypassed", () => bypassed++);

    redis.stop();
    await waitFor(() => !isRedisReady(runtime.redis), "the client to notice");
    const b = makeEvents({ count: 40, seed: 88, idPrefix: "crs-rdown-b" });
    expect(await writeCrsEvents(runtime, b.map(asCrs))).toEqual({ inserted: 40, duplicates: 0, rejected: [] });
    await expectPgFigures(runtime.db!.db, expectedFigures(b, TZ));
    expect(bypassed).toBeGreaterThan(0);
    expect(runtime.bypassedIds.size).toBe(40);

    redis.start();
    await waitFor(() => isRedisReady(runtime.redis), "the client to reconnect", 20_000);
    // Counting resumes only after the bypassed ids got their dedupe keys.
    const c = makeEvents({ count: 30, seed: 89, idPrefix: "crs-rdown-c", accounts: [...new Set(b.map((e) => e.accountId))] });
    expect(await recordUsage(runtime, { events: c })).toEqual({ accepted: 30, duplicates: 0, rejected: [] });
    expect(runtime.bypassedIds.size).toBe(0);
    expect(await recordUsage(runtime, { events: b })).toEqual({ accepted: 0, duplicates: 40, rejected: [] });
    // This Redis lost everything when it stopped: it counts c alone until the next rebuild.
    await withRedis(runtime, (client) => expectRedisFigures(client, runtime.config.redisKeyPrefix, expectedFigures(c, TZ)));
    expect(await drain(runtime)).toBe(30);

    const r = await reconcileHotCounters(runtime);
    expect(r.skipped).toEqual([]);
    await expectBothStores(runtime, expectedFigures([...b, ...c], TZ));
  });
});
