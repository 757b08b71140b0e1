import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { findSession, insertSession, revokeUserSessions } from "../auth/hot-store";
import { health } from "../health/health.service";
import { connectWithin, createRedis, isCluster, pipelineBySlot, scanKeys, type RedisClient } from "../redis";
import { createRuntime, type Runtime } from "../runtime";
import { createTestDatabase, testConfig, type TestDatabase } from "../testing/stores";
import { listAccountUsage } from "../usage-stats/stats.service";
import { Drainer } from "./drainer";
import { hotKeys } from "./hot-keys";
import { outboxStats } from "./hot-outbox";
import { reconcileHotCounters } from "./reconcile";
import { startOwnCluster, waitFor, type OwnCluster } from "../testing/servers";
import { expectPgFigures, expectRedisFigures } from "./testing";
import { expectedFigures, makeEvents } from "./usage.fixtures";
import { recordUsage } from "./usage.service";

vi.mock("server-only", () => ({}));

/**
 * The hot path on a real Redis Cluster of three masters (REDIS_CLUSTER_NODES): recording several
 * accounts at once (their keys on different nodes), the outbox and the drainer, the Redis-only
 * fallback reads, reconcile, the session store, and a master killed and restarted mid-ingest —
 * every figure exact in both stores.
 */

const TZ = "Asia/Shanghai";
const ACCOUNTS = ["acc-a", "acc-b", "acc-c", "acc-d", "acc-e", "acc-f"];

let cluster: OwnCluster;
let db: TestDatabase;
let runtime: Runtime;
let redis: RedisClient;
let prefix: string;

beforeAll(async () => {
  // With AOF (fsync always), so that the master killed by the last test restarts with its data.
  cluster = await startOwnCluster({ persistent: true });
  db = await createTestDatabase({ migrated: true });
  const config = testConfig({ DATABASE_URL: db.url, REDIS_URL: undefined, REDIS_CLUSTER_NODES: cluster.nodes, USAGE_TIMEZONE: TZ });
  prefix = config.redisKeyPrefix;
  runtime = await createRuntime(config, { ownDatabase: true });
  await waitFor(() => runtime.redis?.status === "ready", "the cluster client");
  redis = createRedis(config.redisUrl!);
  await redis.connect();
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await runtime?.close();
  await db?.drop();
  cluster?.destroy();
});

const events = makeEvents({ count: 900, seed: 17, idPrefix: "cluster", accounts: ACCOUNTS });
const expected = expectedFigures(events, TZ);

/** nano-USD → USD half-up to 6 decimals, the API's rounding. */
const usd6 = (nanos: bigint) => Number((nanos + 500n) / 1000n) / 1e6;

async function drain(): Promise<number> {
  const drainer = new Drainer(runtime.config, runtime.db!);
  try {
    return (await drainer.drainAll()).inserted;
  } finally {
    await drainer.stop({ forget: true });
  }
}

describe("on a 3-master Redis Cluster", () => {
  it("records accounts spread over the nodes, drains the outbox and holds every figure exactly in both stores", async () => {
    expect(isCluster(runtime.redis!)).toBe(true);
    for (let i = 0; i < events.length; i += 300) {
      // A batch sent twice: the second time every event is a duplicate, on whatever node its account lives.
      const batch = events.slice(i, i + 300);
      expect(await recordUsage(runtime, { events: batch })).toMatchObject({ accepted: 300, duplicates: 0 });
      expect(await recordUsage(runtime, { events: batch })).toMatchObject({ accepted: 0, duplicates: 300 });
    }
    const stats = await outboxStats(runtime.redis!, prefix);
    expect(stats.length).toBe(6); // outbox first: each batch, the resent ones too (PostgreSQL dedupes them)
    expect(await drain()).toBe(900);
    await expectPgFigures(runtime.db!.db, expected);
    await expectRedisFigures(redis, prefix, expected);
    expect((await outboxStats(runtime.redis!, prefix)).length).toBe(0);
    // The accounts' keys really are on different masters.
    const nodesWithKeys = (redis as import("ioredis").Cluster).nodes("master");
    const counts = await Promise.all(nodesWithKeys.map(async (n) => (await n.keys(`${prefix}{a:*`)).length));
    expect(counts.filter((c) => c > 0).length).toBeGreaterThanOrEqual(2);
    expect((await health(runtime)).redis).toMatchObject({ configured: true, ok: true });
  }, 60_000);

  it("answers from the counters alone when PostgreSQL is disabled (the fallback)", async () => {
    const hot = await createRuntime(testConfig({ POSTGRES_ENABLED: "false", REDIS_URL: undefined, REDIS_CLUSTER_NODES: cluster.nodes, REDIS_KEY_PREFIX: prefix, USAGE_TIMEZONE: TZ }), { ownDatabase: true });
    try {
      await waitFor(() => hot.redis?.status === "ready", "the cluster client");
      const res = await listAccountUsage(hot, { sort: "name", limit: 50, offset: 0, format: "json" });
      expect(res.source).toBe("redis");
      for (const acc of ACCOUNTS) {
        const want = expected.account.get(`${acc}|t`)!;
        const got = res.data.find((a) => a.id === acc)!.usage.total;
        expect([acc, got.requests, got.allTokens, got.cost, got.ratedCost]).toEqual([acc, want.requests, want.allTokens, usd6(want.costNanos), usd6(want.ratedCostNanos)]);
      }
    } finally {
      await hot.close();
    }
  });

  it("rebuilds the counters of every account from PostgreSQL after they were lost", async () => {
    const found: string[] = [];
    for await (const keys of scanKeys(redis, `${prefix}{a:*:c:*`)) found.push(...keys);
    for await (const keys of scanKeys(redis, `${prefix}{a:*:k:*`)) found.push(...keys);
    expect(found.length).toBeGreaterThan(ACCOUNTS.length);
    await pipelineBySlot(redis, found.map((key) => ({ key, add: (p) => void p.del(key) })));
    const r = await reconcileHotCounters(runtime);
    expect(r.skipped).toEqual([]);
    expect(r.accounts).toBe(ACCOUNTS.length);
    await expectRedisFigures(redis, prefix, expected);
    expect(await redis.get(hotKeys(prefix).countersRebuilt())).toBeTruthy();
  }, 60_000);

  it("keeps sessions whose keys fall in different slots", async () => {
    const now = new Date();
    const s = { tokenHash: "h1", username: "boss", createdAt: now, lastSeenAt: now, expiresAt: new Date(now.getTime() + 3_600_000) };
    await insertSession(redis, prefix, s, 60_000);
    await insertSession(redis, prefix, { ...s, tokenHash: "h2" }, 60_000);
    expect(await findSession(redis, prefix, "h1")).toMatchObject({ username: "boss" });
    expect(await revokeUserSessions(redis, prefix, "boss")).toBe(2);
    expect(await findSession(redis, prefix, "h2")).toBeUndefined();
  });

  // Last: it takes a master down.
  it("a master SIGKILLed mid-ingest and restarted: nothing lost or doubled, a connect meanwhile gives up in time, reconcile restores the counters", async () => {
    const more = makeEvents({ count: 600, seed: 23, idPrefix: "restart", accounts: ACCOUNTS });
    expect(await recordUsage(runtime, { events: more.slice(0, 200) })).toMatchObject({ accepted: 200, duplicates: 0 });
    cluster.killNode(0);
    await waitFor(() => cluster.clusterState(1) === "fail", "the others to mark the cluster failed", 20_000);
    // Recording goes on: Redis refuses (CLUSTERDOWN), the batch goes straight to PostgreSQL.
    expect(await recordUsage(runtime, { events: more.slice(200, 400) })).toMatchObject({ accepted: 200, duplicates: 0 });
    expect(runtime.bypassedIds.size).toBe(200);
    // A client connecting now must not wait for ever (a drainer's or reconcile's fresh connection).
    const late = createRedis(runtime.config.redisUrl!, { name: "late" });
    const outcome = await connectWithin(late, 3_000).then(
      () => "ready",
      (e: Error) => e.message,
    );
    expect(["ready", "Redis did not become ready within 3000 ms"]).toContain(outcome);
    await cluster.startNode(0);
    // The same client connects once the cluster is back, whatever happened before.
    if (late.status !== "ready") await connectWithin(late);
    expect(await late.set(`${prefix}{late}probe`, "1")).toBe("OK");
    late.disconnect();
    await waitFor(async () => (await recordUsage(runtime, { events: more.slice(400) })).rejected.length === 0, "recording after the restart");
    // Resent after the restart: all duplicates. The 200 that went straight to PostgreSQL got their
    // dedupe keys in Redis before the first batch was counted there again.
    expect(runtime.bypassedIds.size).toBe(0);
    expect(await recordUsage(runtime, { events: more })).toMatchObject({ accepted: 0, duplicates: 600 });
    await drain();
    const all = expectedFigures([...events, ...more], TZ);
    await expectPgFigures(runtime.db!.db, all);
    const r = await reconcileHotCounters(runtime);
    expect(r.skipped).toEqual([]);
    await expectRedisFigures(redis, prefix, all);
  }, 120_000);
});
