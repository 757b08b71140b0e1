import net from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type DbHandle } from "../../db/client";
import { createRedis } from "../redis";
import { createRuntime, trackRuntime, type Runtime } from "../runtime";
import { freePort } from "../testing/ports";
import { createTestRuntime, type TestRuntime } from "../testing/runtime";
import { waitFor } from "../testing/servers";
import { createTestDatabase, dropRedisPrefix, testConfig } from "../testing/stores";
import { readiness } from "./probes";

/** The migrator's advisory lock (db/migrator.ts): holding it keeps a start-up inside its migrations. */
const MIGRATION_LOCK = 7_311_420_001;

/** A PostgreSQL nobody serves: a free port, nothing listening (the shared server is never stopped). */
async function unreachablePostgres(): Promise<DbHandle> {
  const url = `postgres://postgres@127.0.0.1:${await freePort()}/nothing`;
  return createDatabase({ databaseUrl: url, pgliteDir: "", statementTimeoutMs: 1_000, lazy: true });
}

const ready = (runtime: Runtime) => ({ state: "ready" as const, runtime });

let t: TestRuntime;
let pgDown: DbHandle;
beforeAll(async () => {
  t = await createTestRuntime();
  pgDown = await unreachablePostgres();
});
afterAll(async () => {
  await pgDown.close().catch(() => {});
  await t.close();
});

describe("readiness", () => {
  it("is ready when PostgreSQL answers", async () => {
    expect(await readiness(ready(t.runtime))).toEqual({ ready: true, reason: "ok" });
  });

  it("is not ready while the start-up applies migrations, and ready once they are done", async () => {
    const database = await createTestDatabase();
    const config = testConfig({ DATABASE_URL: database.url });
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    let runtime: Runtime | undefined;
    try {
      await holder.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
      const pending = createRuntime(config, { ownDatabase: true, prepare: true });
      const status = trackRuntime(pending);
      // The start-up is inside migrate(), waiting for the lock.
      await waitFor(
        async () => (await holder.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rows[0]!.n === 1,
        "the start-up to wait for the migration lock",
      );
      expect(await readiness(status())).toEqual({ ready: false, reason: "starting" });
      await holder.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
      runtime = await pending;
      expect(status().state).toBe("ready");
      expect(await readiness(status())).toEqual({ ready: true, reason: "ok" });
    } finally {
      await holder.end().catch(() => {});
      await runtime?.close();
      await database.drop();
      await dropRedisPrefix(config.redisKeyPrefix);
    }
  });

  it("is not ready after a start-up that failed", async () => {
    const status = trackRuntime(Promise.reject(new Error("no database")));
    await waitFor(() => status().state === "failed", "the failed start-up");
    expect(await readiness(status())).toEqual({ ready: false, reason: "start-up failed" });
  });

  it("is ready while PostgreSQL is unreachable and Redis can take the fallback", async () => {
    expect(await readiness(ready({ ...t.runtime, db: pgDown }))).toEqual({ ready: true, reason: "postgres unreachable, serving from redis" });
  });

  it("is not ready while PostgreSQL is unreachable and Redis is not configured or unreachable", async () => {
    expect(await readiness(ready({ ...t.runtime, db: pgDown, redis: undefined }))).toEqual({ ready: false, reason: "postgres unreachable, no redis" });
    const redisDown = createRedis(`redis://127.0.0.1:${await freePort()}`);
    try {
      await expect(redisDown.connect()).rejects.toThrow();
      expect(await readiness(ready({ ...t.runtime, db: pgDown, redis: redisDown }))).toEqual({ ready: false, reason: "postgres and redis unreachable" });
      // POSTGRES_ENABLED=false: Redis is the whole service.
      expect(await readiness(ready({ ...t.runtime, db: undefined }))).toEqual({ ready: true, reason: "ok" });
      expect(await readiness(ready({ ...t.runtime, db: undefined, redis: redisDown }))).toEqual({ ready: false, reason: "redis unreachable" });
    } finally {
      redisDown.disconnect();
    }
  });

  it("gives up on a PostgreSQL that accepts connections and never answers, within its timeout", async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    const hanging = await createDatabase({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/x`, pgliteDir: "", statementTimeoutMs: 60_000, lazy: true });
    try {
      const started = performance.now();
      const r = await readiness(ready({ ...t.runtime, db: hanging, redis: undefined }), 300);
      expect(r).toEqual({ ready: false, reason: "postgres unreachable, no redis" });
      // pg's own connection timeout is 10 s: the probe's 300 ms decided.
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
      await hanging.close().catch(() => {});
    }
  });
});
