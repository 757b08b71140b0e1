import { Redis } from "ioredis";
import { sql, type Kysely } from "kysely";
import { describe, expect, it } from "vitest";
import type { Database } from "../../../db/types";
import { createTestRuntime } from "../../testing/runtime";
import { health } from "../../health/health.service";
import { findStatuses } from "../shared/status.repository";
import { fixture, loadDump, writeLikeCrs, type Dump, type FixtureRequest } from "./crs.fixtures";
import { CrsFollower, type PollResult } from "./follower";
import { importCrs } from "./importer";
import { expected, ownCrsRedis, pickFigures, rollupFigures, type CrsFigs } from "./testing";

/**
 * The follower against a CRS-shaped Redis that our own writer fills with requests.json the way CRS
 * does, while the follower polls: a stretch where it is down and key K01 gets more than 200
 * requests (a gap only its aggregates can fill), a restart, a second instance, and a cut-over
 * with the importer. Every figure is compared with expected.json.
 */

const TZ = "Asia/Shanghai";
const K01 = "5685b082-c933-491c-88e4-a01a341935aa";
const requests = fixture<{ requests: FixtureRequest[] }>("requests.json").requests;
const fullDump = fixture<Dump>("dump-full.json");

/** What CRS holds before any request: accounts, keys, service rates. */
const isMetadata = (key: string) =>
  /^(apikey:|claude:account:|claude_console_account:|gemini_account:|openai:account:|system:service_rates$|shared_)/.test(key);

/**
 * Every figure of expected.json. `dailyFrom`: days before it are only in CRS's monthly buckets
 * for an import (its daily hashes live 32 days), so they are checked per month only; costs of
 * such residuals are CRS's micro-dollar counters (`monthCostToleranceNanos`).
 */
async function expectEveryFigure(db: Kysely<Database>, opts: { dailyFrom?: string; monthCostToleranceNanos?: number } = {}) {
  const dailyFrom = opts.dailyFrom ?? "";
  const tol = opts.monthCostToleranceNanos ?? 0;
  const near = (got: Record<string, unknown> | undefined, f: CrsFigs) => {
    if (!got || !tol) return got;
    const close = (a: unknown, b: string) => Math.abs(Number(a) * 1e9 - Number(b) * 1e9) <= tol;
    return { ...got, cost: close(got.cost, f.cost) ? f.cost : got.cost, ratedCost: close(got.ratedCost, f.ratedCost) ? f.ratedCost : got.ratedCost };
  };
  const keyTotals = await rollupFigures(db, "usage_key_totals", "api_key_id", "all");
  const keyDays = await rollupFigures(db, "usage_key_daily", "api_key_id", "day");
  const keyMonths = await rollupFigures(db, "usage_key_monthly", "api_key_id", "month");
  const accTotals = await rollupFigures(db, "usage_account_totals", "account_id", "all");
  const accDays = await rollupFigures(db, "usage_account_daily", "account_id", "day");
  for (const [id, e] of Object.entries(expected.apiKeys)) {
    expect([id, keyTotals.get(`${id}|all`)]).toEqual([id, pickFigures(e.allTime)]);
    for (const [d, f] of Object.entries(e.byDay)) if (d >= dailyFrom) expect([id, d, keyDays.get(`${id}|${d}`)]).toEqual([id, d, pickFigures(f)]);
    for (const [m, f] of Object.entries(e.byMonth)) expect([id, m, near(keyMonths.get(`${id}|${m}`), f)]).toEqual([id, m, pickFigures(f)]);
  }
  for (const [id, e] of Object.entries(expected.accounts)) {
    expect([id, accTotals.get(`${id}|all`)]).toEqual([id, pickFigures(e.allTime)]);
    for (const [d, f] of Object.entries(e.byDay)) if (d >= dailyFrom) expect([id, d, accDays.get(`${id}|${d}`)]).toEqual([id, d, pickFigures(f)]);
  }
  const rows = await sql<{ n: number }>`select sum(requests)::int as n from usage_records`.execute(db);
  expect(rows.rows[0]!.n).toBe(expected.global.allTime.requests);
}

const crs = ownCrsRedis();
const { cleanups } = crs;

async function setup() {
  const client = new Redis(crs.url());
  await client.flushall();
  await loadDump(client, fullDump, isMetadata);
  const ledger = await createTestRuntime({ USAGE_TIMEZONE: TZ });
  const runtime = ledger.runtime;
  const clock = { ms: requests[0]!.occurredAtMs - 60_000 };
  cleanups.push(async () => {
    await ledger.close();
    client.disconnect();
  });
  const follower = (owner: string) => {
    const c = new Redis(crs.url());
    cleanups.push(async () => c.disconnect());
    return new CrsFollower(runtime, c, { owner, now: () => clock.ms, offsetHours: 8 });
  };
  return { client, runtime, clock, follower };
}

/** Writes requests [from, to) like CRS while `polling` followers poll concurrently; returns their results. */
async function replay(env: Awaited<ReturnType<typeof setup>>, from: number, to: number, polling: CrsFollower[]): Promise<PollResult[]> {
  const results: PollResult[] = [];
  let done = false;
  const writer = (async () => {
    for (let i = from; i < to; i++) {
      env.clock.ms = requests[i]!.occurredAtMs + 1;
      await writeLikeCrs(env.client, requests[i]!);
    }
    done = true;
  })();
  const pollers = polling.map(async (f) => {
    while (!done) results.push(await f.pollOnce());
  });
  await Promise.all([writer, ...pollers]);
  return results;
}

/** Polls until a poll finds nothing to do (records all read, gaps filled). */
async function settle(f: CrsFollower): Promise<PollResult[]> {
  const out: PollResult[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await f.pollOnce();
    out.push(r);
    if (r.leader && r.keysChanged === 0) return out;
  }
  throw new Error(`follower did not settle: ${JSON.stringify(out)}`);
}

const k01Index = (n: number) => requests.filter((r) => r.apiKeyId === K01)[n]!.seq;

describe("the CRS follower", () => {
  it("records every request exactly, across a >200-request burst while it was down, a restart and a second instance", async () => {
    const env = await setup();
    const a = env.follower("node-a");
    const standby = env.follower("node-b");
    expect((await a.pollOnce()).leader).toBe(true); // first start: watermarks at CRS's present (empty)
    const downFrom = k01Index(25);
    const downTo = k01Index(231);
    const first = await replay(env, 0, downFrom, [a, standby]);
    expect(first.some((r) => r.leader && r.events > 0)).toBe(true);
    expect(first.filter((r) => !r.leader).length).toBeGreaterThan(0); // the standby never worked meanwhile
    await settle(a);
    // node-a dies (no lease release); CRS goes on: 206 requests on K01, the 6 oldest trimmed.
    await replay(env, downFrom, downTo, []);
    const restarted = env.follower("node-a");
    const firstAfter = await restarted.pollOnce(); // sees 206 new requests on K01: records hold 200
    const afterRestart = await replay(env, downTo, requests.length, [restarted, standby]);
    const end = [firstAfter, ...afterRestart, ...(await settle(restarted))];
    expect(end.reduce((s, r) => s + r.gapsDetected, 0)).toBe(1);
    expect(end.reduce((s, r) => s + r.gapsFilled, 0)).toBe(1);
    expect(end.reduce((s, r) => s + r.gapRequests, 0)).toBe(6);
    await expectEveryFigure(env.runtime.db!.db);

    // The standby takes over once the lease is released, and adds nothing.
    await restarted.stop();
    const takeover = await settle(standby);
    expect(takeover.at(-1)!.leader).toBe(true);
    expect(takeover.reduce((s, r) => s + r.events, 0)).toBe(0);
    await expectEveryFigure(env.runtime.db!.db);
    const [status] = await findStatuses(env.runtime.db!.db);
    expect(status).toMatchObject({ source: "crs", gaps_filled: 1, gap_requests: 6, errors: 0, lease_owner: "node-b" });
    const h = await health(env.runtime);
    expect(h.crsFollower.sources).toEqual([
      expect.objectContaining({ source: "crs", leader: "node-b", gapsFilled: 1, gapRequests: 6, gapsPending: 0, errors: 0, lastError: null }),
    ]);
    // 530 records, and the 6 trimmed requests as 3 aggregate events (key × model × day).
    expect(h.crsFollower.sources[0]!.eventsRecorded).toBe(533);
    // Every source's view has it too, with the records read (each of the 530 at least once).
    const crs = h.sources.find((s) => s.source === "crs")!;
    expect(crs).toMatchObject({ kind: "crs", leader: "node-b", eventsRecorded: 533, consecutiveErrors: 0 });
    expect(crs.rowsRead).toBeGreaterThanOrEqual(530);
  }, 180_000);

  it("costs one command per poll when nothing happened, whatever the number of keys", async () => {
    const env = await setup();
    const f = env.follower("node-a");
    await f.pollOnce();
    await replay(env, 0, 50, []);
    await settle(f);
    const idle = await f.pollOnce();
    expect(idle).toMatchObject({ leader: true, commands: 1, keysChanged: 0 });
    // One request, in a CRS without the last-used index (this fixture's): the global counter, CRS's
    // hourly key indexes, one HGET per key active in those hours, then the service rates and the
    // changed key's new records (its hash was read by the metadata sync) — never a read of every key.
    await replay(env, 50, 51, []);
    const one = await f.pollOnce();
    expect(one).toMatchObject({ leader: true, keysChanged: 1, events: 1 });
    expect(one.candidates).toBeGreaterThanOrEqual(1);
    expect(one.indexHours).toBeGreaterThanOrEqual(2);
    expect(one.via).toBe("hourlyIndex");
    expect(one.commands - one.metadataCommands - one.indexHours - one.candidates).toBe(3);
  }, 60_000);

  it("cut-over: follower from time T, import --until T — nothing lost, nothing counted twice", async () => {
    const env = await setup();
    const half = k01Index(120);
    await replay(env, 0, half, []);
    const cutover = new Date(env.clock.ms);
    const f = env.follower("node-a");
    await f.pollOnce(); // starts at CRS's present: T
    await replay(env, half, requests.length, [f]);
    await settle(f);
    const report = await importCrs(env.runtime, env.client, { offsetHours: 8, until: cutover, now: () => env.clock.ms });
    expect(report.records.afterUntil).toBeGreaterThan(0);
    // K01's 35 oldest records were trimmed; those of October are only in its monthly bucket now.
    const asImported = { dailyFrom: "2026-10-31", monthCostToleranceNanos: 1000 };
    await expectEveryFigure(env.runtime.db!.db, asImported);
    // And once more, both ways round: nothing changes.
    const again = await importCrs(env.runtime, env.client, { offsetHours: 8, now: () => env.clock.ms });
    expect([again.records.inserted, again.aggregates.events]).toEqual([0, 0]);
    expect((await settle(f)).reduce((s, r) => s + r.events, 0)).toBe(0);
    await expectEveryFigure(env.runtime.db!.db, asImported);
  }, 180_000);
});
