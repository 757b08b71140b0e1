import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRuntime, type TestRuntime } from "../../testing/runtime";
import { health } from "../../health/health.service";
import { scrapeMetrics } from "../../health/scrape";
import { waitFor } from "../../testing/servers";
import { startSub2apiFollower, Sub2apiFollower } from "./follower";
import { Sub2apiReader } from "./reader";
import { addAccount, addKey, addLog, addUser, createSub2apiDatabase, type Sub2apiDatabase } from "./sub2api.fixtures";
import { figuresBy, generateLogs, ledgerFigures, writeLogs, type GeneratedLog } from "./testing";

/**
 * The sub2api follower on a live sub2api-shaped database: new rows within a poll, a restart
 * mid-stream, and the row whose transaction commits after a higher id was read (two writers
 * holding their transactions open), a rolled-back id given up after its wait — every figure exact.
 * The clock is injected: the gap's wait passes without waiting.
 */

let env: TestRuntime;
let s2a: Sub2apiDatabase;
const readers: Sub2apiReader[] = [];
const ids: Record<string, string> = {};
let clock = Date.now();
const now = () => clock;
let accounts: { id: string; ledger: string }[];
let keys: { id: string; userId: string; ledger: string }[];

beforeAll(async () => {
  env = await createTestRuntime({ USAGE_TIMEZONE: "UTC" });
  s2a = await createSub2apiDatabase();
  ids.u = await addUser(s2a.pool, "carol@example.com");
  ids.a = await addAccount(s2a.pool, { name: "acct", platform: "anthropic", type: "oauth" });
  ids.k = await addKey(s2a.pool, { userId: ids.u, name: "carol" });
  accounts = [{ id: ids.a, ledger: `s2a-live-${ids.a}` }];
  keys = [{ id: ids.k, userId: ids.u!, ledger: `s2a-live-key-${ids.k}` }];
}, 60_000);

afterAll(async () => {
  for (const r of readers) await r.close();
  await s2a?.drop();
  await env?.close();
});

function follower(owner: string): Sub2apiFollower {
  const reader = Sub2apiReader.connect(s2a.readUrl);
  readers.push(reader);
  return new Sub2apiFollower(env.runtime, reader, { owner, now, source: "s2a-live", gapWaitMs: 60_000, batch: 50 });
}

const rows = (n: number, seed: number) => generateLogs(n, seed, Date.now() - 5_000, 1, accounts, keys);

describe("the sub2api follower", () => {
  it("records every row exactly: new rows, a restart mid-stream, a late commit and a rolled-back id", async () => {
    const written: GeneratedLog[] = [];
    const history = rows(30, 1);
    await writeLogs(s2a.pool, history);
    let f = follower("node-a");
    // First start: sub2api's present; the history is the import's.
    expect(await f.pollOnce()).toMatchObject({ leader: true, rowsRead: 0, events: 0, horizon: String(30) });

    // New rows, more than one poll's batch (50): the next poll goes on.
    const burst = rows(70, 2);
    await writeLogs(s2a.pool, burst);
    written.push(...burst);
    expect(await f.pollOnce()).toMatchObject({ rowsRead: 50, events: 50, more: true });
    // A restart mid-stream (a second instance takes over once the lease is released).
    await f.stop();
    f = follower("node-b");
    expect(await f.pollOnce()).toMatchObject({ leader: true, rowsRead: 20, events: 20, more: false, openGaps: 0 });

    // Two writers: A's row gets the lower id but commits after B's.
    const a = await s2a.pool.connect();
    const b = await s2a.pool.connect();
    const [late, early] = rows(2, 3);
    await a.query("begin");
    const lateId = await addLog(a, late!);
    await b.query("begin");
    const earlyId = await addLog(b, early!);
    await b.query("commit");
    expect(BigInt(earlyId)).toBe(BigInt(lateId) + 1n);
    written.push(early!);
    const p1 = await f.pollOnce();
    expect(p1).toMatchObject({ rowsRead: 1, events: 1, openGaps: 1, horizon: String(BigInt(lateId) - 1n) });
    // A restart while the gap is open: it reads from the horizon again (a duplicate) and waits on.
    await f.stop();
    f = follower("node-c");
    expect(await f.pollOnce()).toMatchObject({ rowsRead: 1, events: 0, openGaps: 1 });
    await a.query("commit");
    written.push(late!);
    expect(await f.pollOnce()).toMatchObject({ rowsRead: 1, lateRows: 1, events: 1, openGaps: 0, horizon: earlyId });

    // A rolled-back insert leaves a hole for good: given up after the wait (the injected clock).
    await a.query("begin");
    await addLog(a, rows(1, 4)[0]!);
    await a.query("rollback");
    const after = rows(1, 5);
    const afterId = (await writeLogs(s2a.pool, after))[0]!;
    written.push(...after);
    expect(await f.pollOnce()).toMatchObject({ events: 1, openGaps: 1 });
    expect(await f.pollOnce()).toMatchObject({ rowsRead: 0, openGaps: 1, gapsExpired: 0 });
    clock += 61_000;
    expect(await f.pollOnce()).toMatchObject({ rowsRead: 0, openGaps: 0, gapsExpired: 1, horizon: afterId });
    a.release();
    b.release();

    // Every row written since the follower started, exactly once.
    const db = env.runtime.db!.db;
    expect(await ledgerFigures(db, "usage_account_totals", "account_id")).toEqual(figuresBy(written, (l) => l.ledgerAccount));
    expect(await ledgerFigures(db, "usage_key_totals", "api_key_id")).toEqual(figuresBy(written, (l) => l.ledgerKey));

    // /admin/health shows the source with what it read and where it stands.
    // (Health's clock is the database's, which holds the lease: the injected one ran ahead.)
    const h = await health(env.runtime, Date.now());
    expect(h.sources).toEqual([
      expect.objectContaining({
        source: "s2a-live",
        kind: "sub2api",
        leader: "node-c",
        rowsRead: 50 + 20 + 1 + 1 + 1 + 1,
        eventsRecorded: 50 + 20 + 1 + 1 + 1, // the re-read after the restart was a duplicate
        consecutiveErrors: 0,
        cursor: { horizon: afterId, maxRead: afterId, openGaps: 0 },
      }),
    ]);
    // …and /metrics.
    const { body } = await scrapeMetrics(env.runtime);
    expect(body).toContain('ub_source_rows_read{source="s2a-live",kind="sub2api",app="usage-breakdown"} 74');
    expect(body).toContain('ub_source_events_recorded{source="s2a-live",kind="sub2api",app="usage-breakdown"} 73');
    expect(body).toContain('ub_source_consecutive_errors{source="s2a-live",kind="sub2api",app="usage-breakdown"} 0');
    await f.stop();
  });

  it("records a failing poll for health and goes on when sub2api answers again", async () => {
    const reader = Sub2apiReader.connect(s2a.readUrl.replace(/_ro@/, "_nobody@"));
    readers.push(reader);
    const f = new Sub2apiFollower(env.runtime, reader, { owner: "node-x", now, source: "s2a-broken" });
    for (let i = 0; i < 3; i++) await expect(f.pollOnce()).rejects.toThrow();
    const h = await health(env.runtime, clock);
    expect(h.sources.find((s) => s.source === "s2a-broken")).toMatchObject({ kind: "sub2api", ok: false, consecutiveErrors: 3, errors: 3 });
    expect(h.status).toBe("degraded");
    await f.stop({ release: false });
    // The login works again (here: another reader under the same owner): the run of failures ends.
    const good = Sub2apiReader.connect(s2a.readUrl);
    readers.push(good);
    const g = new Sub2apiFollower(env.runtime, good, { owner: "node-x", now, source: "s2a-broken" });
    expect(await g.pollOnce()).toMatchObject({ leader: true });
    const after = (await health(env.runtime, clock)).sources.find((s) => s.source === "s2a-broken");
    expect(after).toMatchObject({ ok: true, consecutiveErrors: 0, errors: 3, lastError: expect.stringMatching(/nobody/) });
    await g.stop();
  });

  it("a source configured here shows in /admin/health before it reads, and is ok once the started follower reads", async () => {
    const cfg = await createTestRuntime({ SUB2API_DATABASE_URL: s2a.readUrl, SUB2API_SOURCE: "s2a-cfg", SUB2API_POLL_INTERVAL_MS: "100" });
    try {
      const before = await health(cfg.runtime);
      expect(before.sources).toEqual([expect.objectContaining({ source: "s2a-cfg", kind: "sub2api", configured: true, ok: false, leader: null })]);
      expect(before.status).toBe("degraded");
      const started = await startSub2apiFollower(cfg.runtime);
      try {
        await waitFor(async () => (await health(cfg.runtime)).status === "ok", "the started follower to read sub2api", 20_000, 50);
        const after = await health(cfg.runtime);
        expect(after.sources).toEqual([expect.objectContaining({ source: "s2a-cfg", configured: true, ok: true, leader: expect.any(String) })]);
      } finally {
        await started!.stop();
      }
    } finally {
      await cfg.close();
    }
  }, 60_000);

  it("re-reads accounts and the keys sub2api changed every 5 minutes: a renamed key, a deleted one; the rest untouched", async () => {
    const other = await addKey(s2a.pool, { userId: ids.u!, name: "carol spare" });
    // Last changed an hour ago (a sync reads again what changed in the minute before the last one).
    await s2a.pool.query("update api_keys set updated_at = now() - interval '1 hour'");
    const f = follower("node-d");
    await f.pollOnce();
    const db = env.runtime.db!.db;
    const key = (id: string) => db.selectFrom("api_keys").select(["name", "status", "updated_at"]).where("id", "=", `s2a-live-key-${id}`).executeTakeFirstOrThrow();
    const spare = await key(other);
    expect(spare.name).toBe("carol spare");
    await s2a.pool.query("update api_keys set name = 'carol renamed', updated_at = now() where id = $1", [ids.k]);
    await f.pollOnce();
    expect((await key(ids.k!)).name).toBe("carol");
    clock += 5 * 60_000;
    await f.pollOnce();
    expect((await key(ids.k!)).name).toBe("carol renamed");
    // Unchanged in sub2api: not written again.
    expect((await key(other)).updated_at).toEqual(spare.updated_at);
    await s2a.pool.query("update api_keys set deleted_at = now(), updated_at = now() where id = $1", [other]);
    clock += 5 * 60_000;
    await f.pollOnce();
    expect(await key(other)).toMatchObject({ status: "deleted" });
    // Accounts the same way: a renamed one, then deleted — marked once, not again at each sync.
    const account = () => db.selectFrom("accounts").select(["name", "deleted_at", "updated_at"]).where("id", "=", `s2a-live-${ids.a}`).executeTakeFirstOrThrow();
    await s2a.pool.query("update accounts set name = 'acct renamed', deleted_at = now(), updated_at = now() where id = $1", [ids.a]);
    clock += 5 * 60_000;
    await f.pollOnce();
    const gone = await account();
    expect(gone.name).toBe("acct renamed");
    expect(gone.deleted_at).not.toBeNull();
    await s2a.pool.query("update accounts set updated_at = now() - interval '1 hour' where id = $1", [ids.a]);
    clock += 5 * 60_000;
    await f.pollOnce();
    expect(await account()).toEqual(gone);
    await f.stop();
  });
});
