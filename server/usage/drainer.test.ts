import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRuntime, type Runtime } from "../runtime";
import { createTestDatabase, dropRedisPrefix, testConfig, type TestDatabase } from "../testing/stores";
import { Drainer } from "./drainer";
import { waitFor } from "../testing/servers";
import { expectedFigures, makeEvents, pgFigures } from "./usage.fixtures";
import { recordUsage } from "./usage.service";

const TZ = "Asia/Shanghai";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
});
afterAll(async () => db?.drop());

async function runtimeWith(overrides: Record<string, string> = {}): Promise<Runtime> {
  const config = testConfig({ DATABASE_URL: db.url, USAGE_TIMEZONE: TZ, ...overrides });
  const runtime = await createRuntime(config, { ownDatabase: true });
  cleanups.push(() => dropRedisPrefix(config.redisKeyPrefix), () => runtime.close());
  return runtime;
}

describe("Drainer", () => {
  it("after emptying the stream, lingers and writes what arrived meanwhile in one transaction", async () => {
    const runtime = await runtimeWith();
    const before = await pgFigures(runtime.db!.db);
    const commits: string[][] = [];
    // The linger is a pause the test ends itself: the batches below arrive during it, whatever the
    // speed of the machine.
    const lingers: (() => void)[] = [];
    const drainer = new Drainer(runtime.config, runtime.db!, {
      lingerMs: 60_000,
      blockMs: 100,
      afterCommit: (ids) => void commits.push(ids),
      delay: (_ms, why) => (why === "linger" ? new Promise<void>((r) => lingers.push(r)) : Promise.resolve()),
    });
    cleanups.push(() => drainer.stop({ forget: true }));
    const events = makeEvents({ count: 40, seed: 41, idPrefix: "linger" });
    await recordUsage(runtime, { events: events.slice(0, 10) });
    drainer.start();
    await waitFor(() => lingers.length === 1, "the loop to linger after the first write");
    expect(commits.map((c) => c.length)).toEqual([1]);
    // Three batches arrive while it lingers: without the pause the loop would write the first of
    // them on its own.
    for (let i = 1; i < 4; i++) await recordUsage(runtime, { events: events.slice(i * 10, i * 10 + 10) });
    lingers[0]!();
    await waitFor(() => commits.flat().length === 4, "the three batches to be written");
    expect(commits.map((c) => c.length)).toEqual([1, 3]);
    expect((await pgFigures(runtime.db!.db)).rows - before.rows).toBe(40);
  });

  it("writes fewer events at a time after a statement timeout, and each event once", async () => {
    const runtime = await runtimeWith({ DB_STATEMENT_TIMEOUT_MS: "2000" });
    const before = await pgFigures(runtime.db!.db);
    const events = makeEvents({ count: 8000, seed: 42, idPrefix: "timeout" });
    for (let i = 0; i < events.length; i += 1000) await recordUsage(runtime, { events: events.slice(i, i + 1000) });
    // 1,000-event entries, 4,000 events per write: four entries per read.
    const drainer = new Drainer(runtime.config, runtime.db!, { maxEventsPerWrite: 4000 });
    cleanups.push(() => drainer.stop({ forget: true }));

    // A rebuild of the rollups holds this lock: the insert waits past the statement timeout.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query("BEGIN; LOCK TABLE usage_records IN SHARE ROW EXCLUSIVE MODE");
    await expect(drainer.drainOnce()).rejects.toThrow(/statement timeout/);
    await locker.query("ROLLBACK");

    expect(await drainer.drainOnce()).toMatchObject({ entries: 2, events: 2000, inserted: 2000 });
    const rest = await drainer.drainAll();
    expect(rest).toMatchObject({ events: 6000, inserted: 6000 });
    const after = await pgFigures(runtime.db!.db);
    expect(after.rows - before.rows).toBe(8000);
    expect(after.costNanos - before.costNanos).toBe(expectedFigures(events, TZ).costNanos);
  });
});
