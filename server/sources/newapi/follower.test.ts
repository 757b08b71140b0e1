import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { health } from "../../health/health.service";
import { scrapeMetrics } from "../../health/scrape";
import { createTestRuntime, type TestRuntime } from "../../testing/runtime";
import { waitFor } from "../../testing/servers";
import { NewapiFollower, startNewapiFollower } from "./follower";
import { createNewapiDatabase, type NewapiDatabase } from "./newapi.fixtures";
import { NewapiReader, NewapiSchemaError } from "./reader";
import { generateNewapiLogs } from "./testing";

/**
 * The new-api follower's life beside its figures (newapi.test.ts): a source configured here in
 * /admin/health and /metrics, a poll's cost (one query when nothing happened), channels and
 * tokens re-read every 5 minutes (renamed, deleted — marked once), a login that fails, a database
 * that is not the relay's. The clock is injected.
 */

let env: TestRuntime;
let na: NewapiDatabase;
const readers: NewapiReader[] = [];
let clock = Date.now();
const now = () => clock;
let channel: number;
let token: number;
let user: number;

const reader = (url = na.url) => {
  const r = NewapiReader.connect(url);
  readers.push(r);
  return r;
};

beforeAll(async () => {
  env = await createTestRuntime({ USAGE_TIMEZONE: "UTC" });
  na = await createNewapiDatabase({ engine: "mysql" });
  user = await na.addUser({ username: "carol" });
  channel = await na.addChannel({ name: "Claude A", type: 14 });
  token = await na.addToken({ userId: user, name: "carol", key: "c".repeat(48) });
}, 60_000);

afterAll(async () => {
  for (const r of readers) await r.close();
  await env?.close();
  await na?.drop();
});

const rows = (n: number, seed: number) => generateNewapiLogs(n, seed, { endMs: Date.now() - 1000, spreadHours: 1, channels: [channel], tokens: [{ id: token, userId: user, name: "carol" }] });

describe("the new-api follower", () => {
  it("costs one query per poll when nothing happened, and reads only what arrived", async () => {
    const f = new NewapiFollower(env.runtime, reader(), { source: "na-cost", owner: "n1", now });
    await f.pollOnce(); // the present, the schema, the first sync
    const idle = await f.pollOnce();
    expect([idle.leader, idle.rowsRead, idle.queries]).toEqual([true, 0, 1]);
    await na.insertLogs(rows(7, 1));
    const seven = await f.pollOnce();
    expect([seven.rowsRead, seven.queries]).toEqual([7, 1]);
    await f.stop();
  });

  it("re-reads channels and tokens every 5 minutes: renamed, deleted (marked once), the rest untouched", async () => {
    const f = new NewapiFollower(env.runtime, reader(), { source: "na-sync", owner: "n2", now });
    await f.pollOnce();
    const db = env.runtime.db!.db;
    const account = () => db.selectFrom("accounts").select(["name", "status", "deleted_at", "updated_at"]).where("id", "=", `na-sync-${channel}`).executeTakeFirstOrThrow();
    const key = () => db.selectFrom("api_keys").select(["name", "status", "updated_at"]).where("id", "=", `na-sync-key-${token}`).executeTakeFirstOrThrow();
    expect(await account()).toMatchObject({ name: "Claude A", status: "active", deleted_at: null });
    const keyBefore = await key();
    await na.query("update channels set name = 'Claude A2' where id = ?", [channel]);
    await f.pollOnce();
    expect((await account()).name).toBe("Claude A");
    clock += 5 * 60_000;
    await f.pollOnce();
    const renamed = await account();
    expect(renamed.name).toBe("Claude A2");
    // The token did not change: not written again.
    expect((await key()).updated_at).toEqual(keyBefore.updated_at);
    await na.deleteChannel(channel);
    await na.deleteToken(token);
    clock += 5 * 60_000;
    await f.pollOnce();
    const gone = await account();
    expect(gone.deleted_at).not.toBeNull();
    expect(await key()).toMatchObject({ status: "deleted" });
    clock += 5 * 60_000;
    await f.pollOnce();
    expect(await account()).toEqual(gone);
    await f.stop();
  });

  it("a source configured here shows in /admin/health and /metrics before it reads, and is ok once the started follower reads", async () => {
    const cfg = await createTestRuntime({ NEWAPI_DATABASE_URL: na.url, NEWAPI_SOURCE: "na-cfg", NEWAPI_POLL_INTERVAL_MS: "100" });
    try {
      const before = await health(cfg.runtime);
      expect(before.sources).toEqual([expect.objectContaining({ source: "na-cfg", kind: "newapi", configured: true, ok: false, leader: null })]);
      expect(before.status).toBe("degraded");
      const started = await startNewapiFollower(cfg.runtime);
      try {
        await waitFor(async () => (await health(cfg.runtime)).status === "ok", "the started follower to read new-api", 20_000, 50);
        expect((await health(cfg.runtime)).sources).toEqual([expect.objectContaining({ source: "na-cfg", configured: true, ok: true, leader: expect.any(String) })]);
        expect((await scrapeMetrics(cfg.runtime)).body).toMatch(/ub_source_up\{source="na-cfg",kind="newapi"[^}]*\} 1/);
      } finally {
        await started!.stop();
      }
    } finally {
      await cfg.close();
    }
  }, 60_000);

  it("records a login that fails in /admin/health, and names a database that is not the relay's", async () => {
    const bad = reader(na.url.replace(/:[^:@/]+@/, ":wrong@"));
    const f = new NewapiFollower(env.runtime, bad, { source: "na-broken", owner: "n3", now });
    await expect(f.pollOnce()).rejects.toThrow(/Access denied/);
    const h = (await health(env.runtime, clock)).sources.find((s) => s.source === "na-broken");
    expect(h).toMatchObject({ kind: "newapi", consecutiveErrors: 1, lastError: expect.stringMatching(/Access denied/) });
    await f.stop({ release: false });
    // A database without new-api's tables (the ledger's own test database here) is refused by name.
    const notRelay = reader(env.database.url);
    await expect(notRelay.schema()).rejects.toThrow(NewapiSchemaError);
    await expect(notRelay.schema()).rejects.toThrow(/no logs table/);
  });
});
