import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createRuntime, type Runtime } from "../runtime";
import { testConfig } from "../testing/stores";
import { startOwnMigratedPostgres, startOwnReplica, waitFor, type OwnPostgres } from "../testing/servers";
import { metrics } from "../metrics/metrics";
import { TEST_TZ, expectedTotals, insertEvents, shInstant, spreadEvents } from "./stats.fixtures";
import { getAccountBreakdown, listAccountUsage } from "./stats.service";
import { PG_RETRY_AFTER_MS } from "./store-choice";

vi.mock("server-only", () => ({}));

/**
 * DATABASE_READ_URL on a real streaming replica (pg_basebackup of a primary of the test's own):
 * reads are served by the replica — shown by pausing its WAL replay, which freezes what it
 * answers — writes stay on the primary, and when the replica is down the primary answers.
 */

let primary: OwnPostgres;
let replica: OwnPostgres;
let runtime: Runtime;
let replicaClient: pg.Client;
const clock = { ms: Date.now(), now: () => clock.ms };

const first = spreadEvents({ seed: 5, accountId: "acc-rep", keys: ["k-1", "k-2"], models: ["m"], n: 40, fromIso: shInstant("2026-10-01T00:00:00.000"), toIso: shInstant("2026-10-20T00:00:00.000") });
const second = spreadEvents({ seed: 6, accountId: "acc-rep", keys: ["k-1", "k-3"], models: ["m"], n: 25, fromIso: shInstant("2026-10-21T00:00:00.000"), toIso: shInstant("2026-10-30T00:00:00.000") });
const listInput = { sort: "name", limit: 50, offset: 0, format: "json" } as const;
const totalOf = async () => (await listAccountUsage(runtime, listInput)).data.find((a) => a.id === "acc-rep")?.usage.total;
const replicaReads = async () => (await metrics().reads.get()).values.find((v) => v.labels.source === "replica")?.value ?? 0;

beforeAll(async () => {
  primary = await startOwnMigratedPostgres();
  replica = await startOwnReplica(primary);
  runtime = await createRuntime(testConfig({ DATABASE_URL: primary.url, DATABASE_READ_URL: replica.url, REDIS_URL: "", USAGE_TIMEZONE: TEST_TZ }), { ownDatabase: true, clock });
  replicaClient = new pg.Client({ connectionString: replica.url });
  await replicaClient.connect();
}, 120_000);

afterAll(async () => {
  await replicaClient?.end().catch(() => {});
  await runtime?.close();
  replica?.destroy();
  primary?.destroy();
});

describe("reads from a replica (DATABASE_READ_URL)", () => {
  it("serves the stats from the replica: with its replay paused it answers what it has, not the primary's newer rows", async () => {
    expect((await replicaClient.query("SELECT pg_is_in_recovery() AS r")).rows[0].r).toBe(true);
    await insertEvents(runtime.db!.db, first);
    await waitFor(async () => (await totalOf())?.requests === expectedTotals(first).requests || undefined, "the replica to replay the first events");
    await replicaClient.query("SELECT pg_wal_replay_pause()");
    await waitFor(async () => (await replicaClient.query("SELECT pg_get_wal_replay_pause_state() AS s")).rows[0].s === "paused" || undefined, "replay paused");
    await insertEvents(runtime.db!.db, second); // written to the primary
    const before = await replicaReads();
    expect(await totalOf()).toEqual(expectedTotals(first));
    const b = await getAccountBreakdown(runtime, { id: "acc-rep", range: "total", limit: 100, offset: 0, sort: "allTokens", order: "desc", format: "json" });
    expect(b.data.totals).toEqual(expectedTotals(first));
    expect(await replicaReads()).toBe(before + 2);
    await replicaClient.query("SELECT pg_wal_replay_resume()");
    await waitFor(async () => (await totalOf())?.requests === expectedTotals([...first, ...second]).requests || undefined, "the replica to catch up");
    expect(await totalOf()).toEqual(expectedTotals([...first, ...second]));
  }, 60_000);

  it("keeps answering from the primary while the replica is down, and goes back to it when it returns", async () => {
    await replicaClient.end();
    replica.stop();
    const all = expectedTotals([...first, ...second]);
    const readsBefore = await replicaReads();
    const res = await listAccountUsage(runtime, listInput);
    expect(res.source).toBe("postgres");
    expect(res.data.find((a) => a.id === "acc-rep")?.usage.total).toEqual(all);
    // Marked down: the next reads go straight to the primary, without waiting on the replica.
    expect(await totalOf()).toEqual(all);
    expect(await replicaReads()).toBe(readsBefore);
    replica.start();
    clock.ms += PG_RETRY_AFTER_MS + 1;
    await waitFor(async () => {
      await totalOf();
      return (await replicaReads()) > readsBefore || undefined;
    }, "reads to return to the replica");
    expect(await totalOf()).toEqual(all);
  }, 60_000);
});
