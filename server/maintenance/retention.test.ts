import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseConfig, ConfigError } from "../config";
import { AppError } from "../errors";
import { createRuntime, type Runtime } from "../runtime";
import { writeEventsBulk } from "../sources/shared/bulk";
import { createTestDatabase, testConfig, type TestDatabase } from "../testing/stores";
import { recordUsage } from "../usage/usage.service";
import { Drainer } from "../usage/drainer";
import { outboxStats } from "../usage/hot-outbox";
import { createTestRuntime } from "../testing/runtime";
import { accountBreakdownInput, accountSummaryInput, accountUsageListInput } from "../usage-stats/schemas";
import { getAccountBreakdown, getAccountSummary, listAccountUsage } from "../usage-stats/stats.service";
import { insertEvents, spreadEvents, storeIndependent, TEST_TZ, type TestEvent } from "../usage-stats/stats.fixtures";
import { getAccountTrend } from "../usage-stats/trend.service";
import { ledgerCoverage } from "../sources/crs/crs.repository";
import { rawKeptFromMs, retentionHorizon } from "./raw-horizon";
import { applyRawRetention } from "./retention.service";
import { startRetentionBackground } from "./retention.background";
import { waitFor } from "../testing/servers";
import { rebuildRollups } from "./rollups.service";

vi.mock("server-only", () => ({}));

/**
 * Raw-record retention on a real PostgreSQL (issue 26): a year of events in two accounts, every
 * figure the product answers from the rollups taken before and after 6 months of raw records are
 * dropped (clock injected: 2026-12-07), and they must be equal to the last digit.
 */

const NOW = new Date("2026-12-07T06:00:00.000Z");
const KEPT_FROM = "2026-06-01T00:00:00.000Z";
const ACCOUNTS = ["acc-r1", "acc-r2"];
const EVENTS: TestEvent[] = ACCOUNTS.flatMap((accountId, i) =>
  spreadEvents({ seed: 7 + i, accountId, keys: [`${accountId}-k1`, `${accountId}-k2`], models: ["m-1", "m-2"], n: 400, fromIso: "2025-12-01T00:00:00.000Z", toIso: "2026-12-07T05:00:00.000Z" }),
);
const OLD = EVENTS.filter((e) => e.occurredAt < KEPT_FROM);
const KEPT = EVENTS.filter((e) => e.occurredAt >= KEPT_FROM);

let tdb: TestDatabase;
let runtime: Runtime;

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  runtime = await createRuntime(testConfig({ DATABASE_URL: tdb.url, REDIS_URL: "", USAGE_TIMEZONE: TEST_TZ, USAGE_RAW_RETENTION_MONTHS: "6" }), {
    ownDatabase: true,
    clock: { now: () => NOW.getTime() },
  });
  await sql`SELECT ensure_usage_partitions('2025-11-01', '2027-02-01')`.execute(tdb.handle.db);
  // History recorded before retention was configured.
  await insertEvents(tdb.handle.db, EVENTS);
});

afterAll(async () => {
  await runtime?.close();
  await tdb?.drop();
});

const db = () => tdb.handle.db;

async function partitions(): Promise<string[]> {
  const r = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'usage_records'::regclass ORDER BY 1`.execute(db());
  return r.rows.map((x) => x.name);
}

async function claims(): Promise<{ old: number; kept: number }> {
  const r = await sql<{ old: number; kept: number }>`
    SELECT count(*) FILTER (WHERE occurred_at < ${KEPT_FROM}::timestamptz)::int AS old,
           count(*) FILTER (WHERE occurred_at >= ${KEPT_FROM}::timestamptz)::int AS kept FROM usage_request_ids`.execute(db());
  return r.rows[0]!;
}

/** Every rollup-answered figure: account list, summaries, breakdowns and trends over ranges that reach into the dropped months. */
async function figures(): Promise<unknown[]> {
  const ranges = [
    { range: "total" },
    { range: "daily" },
    { range: "monthly" },
    { range: "daily", date: "2026-03-15" },
    { range: "monthly", month: "2026-02" },
    { range: "custom", start: "2025-12-01", end: "2026-12-07" },
    { range: "custom", start: "2026-02-10", end: "2026-04-20" },
    { range: "custom", start: "2026-05-20", end: "2026-06-10" },
  ];
  const out: unknown[] = [storeIndependent(await listAccountUsage(runtime, accountUsageListInput.parse({}), NOW))];
  for (const id of ACCOUNTS) {
    for (const r of ranges) {
      out.push(storeIndependent(await getAccountSummary(runtime, accountSummaryInput.parse({ id, ...r }), NOW)));
      out.push(storeIndependent(await getAccountBreakdown(runtime, accountBreakdownInput.parse({ id, ...r }), NOW)));
    }
    for (const span of ["30d", "90d", "12m"] as const) out.push(await getAccountTrend(runtime, { id, span }, NOW));
  }
  return out;
}

/** CRS's view of the ledger per key (model × day × kind), merged: what its gap filling compares with. */
async function coverage(): Promise<Record<string, unknown>> {
  const out: Record<string, Record<string, number>> = {};
  for (const key of ACCOUNTS.flatMap((a) => [`${a}-k1`, `${a}-k2`])) {
    for (const c of await ledgerCoverage(db(), key)) {
      const { model, day, kind, ...figures } = c;
      const slot = (out[`${key} ${model} ${day} ${kind}`] ??= {});
      for (const [k, v] of Object.entries(figures)) slot[k] = (slot[k] ?? 0) + (v as number);
    }
  }
  return out;
}

const monthOf = (e: TestEvent) => e.occurredAt.slice(0, 7).replace("-", "");

describe("raw-record retention (USAGE_RAW_RETENTION_MONTHS)", () => {
  let before: unknown[];
  let coveredBefore: Record<string, unknown>;

  it("the horizon is the first UTC month kept: the current one − N", () => {
    expect(retentionHorizon(NOW.getTime(), 6).toISOString()).toBe(KEPT_FROM);
    expect(retentionHorizon(Date.parse("2026-01-01T00:00:00Z"), 6).toISOString()).toBe("2025-07-01T00:00:00.000Z");
    expect(retentionHorizon(Date.parse("2026-12-31T23:59:59.999Z"), 12).toISOString()).toBe("2025-12-01T00:00:00.000Z");
  });

  it("a dry run lists the partitions and claims that would go, and changes nothing", async () => {
    before = await figures();
    coveredBefore = await coverage();
    const parts = await partitions();
    const r = await applyRawRetention(tdb.handle, { months: 6, now: NOW, dryRun: true });
    expect(r.keptFrom.toISOString()).toBe(KEPT_FROM);
    expect(r.partitions.map((p) => [p.name, p.month, p.rows])).toEqual(
      ["202511", "202512", "202601", "202602", "202603", "202604", "202605"].map((m) => [`usage_records_p${m}`, `${m.slice(0, 4)}-${m.slice(4)}-01`, OLD.filter((e) => monthOf(e) === m).length]),
    );
    expect(r.partitions.every((p) => p.bytes > 0)).toBe(true);
    expect(r.claims).toBe(OLD.length);
    expect(await partitions()).toEqual(parts);
    expect(await claims()).toEqual({ old: OLD.length, kept: KEPT.length });
    const setting = await db().selectFrom("usage_settings").select("value").where("key", "=", "raw_kept_from").executeTakeFirst();
    expect(setting).toBeUndefined();
  });

  it("while another process holds the run's lock, a run does nothing", async () => {
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = db().transaction().execute(async (tx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext('usage_raw_retention'))`.execute(tx);
      locked();
      await new Promise<void>((r) => (release = r));
    });
    await isLocked;
    const r = await applyRawRetention(tdb.handle, { months: 6, now: NOW });
    release();
    await holder;
    expect(r).toMatchObject({ ran: false, partitions: [], claims: 0 });
    expect(await claims()).toEqual({ old: OLD.length, kept: KEPT.length });
  });

  it("drops whole old partitions and old claims (in bounded batches); every rollup figure stays exactly the same", async () => {
    const r = await applyRawRetention(tdb.handle, { months: 6, now: NOW, claimBatch: 100, maxClaimBatches: 2 });
    expect(r.ran).toBe(true);
    expect(r.partitions.map((p) => p.name)).toEqual(["202511", "202512", "202601", "202602", "202603", "202604", "202605"].map((m) => `usage_records_p${m}`));
    // The run's bound: 2 batches of 100; the next run takes the rest.
    expect(r).toMatchObject({ claims: 200, claimsLeft: true });
    const rest = await applyRawRetention(tdb.handle, { months: 6, now: NOW });
    expect(rest).toMatchObject({ partitions: [], claims: OLD.length - 200, claimsLeft: false });

    expect((await partitions())[0]).toBe("usage_records_p202606");
    expect(await claims()).toEqual({ old: 0, kept: KEPT.length });
    const raw = await sql<{ n: number }>`SELECT count(*)::int AS n FROM usage_records`.execute(db());
    expect(raw.rows[0]!.n).toBe(KEPT.length);
    const setting = await db().selectFrom("usage_settings").select("value").where("key", "=", "raw_kept_from").executeTakeFirstOrThrow();
    expect(new Date(setting.value).toISOString()).toBe(KEPT_FROM);
    expect(await figures()).toEqual(before);
    // CRS's gap filling still sees what the dropped months held, so it fills no gap twice.
    expect(await coverage()).toEqual(coveredBefore);
  });

  it("a second run is a no-op, and a larger N later does not move the horizon back", async () => {
    expect(await applyRawRetention(tdb.handle, { months: 6, now: NOW })).toMatchObject({ ran: true, partitions: [], claims: 0 });
    const r = await applyRawRetention(tdb.handle, { months: 12, now: NOW });
    expect(r).toMatchObject({ partitions: [], claims: 0 });
    expect(r.keptFrom.toISOString()).toBe(KEPT_FROM);
    expect(await figures()).toEqual(before);
  });

  it("refuses an event older than the horizon (its claim is gone), through the API path and a source's bulk import; nothing doubles", async () => {
    const old = OLD[5]!;
    const repeat = { requestId: old.requestId, occurredAt: old.occurredAt, accountId: old.accountId, apiKeyId: old.apiKeyId, model: old.model, inputTokens: 5, outputTokens: 1, cacheCreateTokens: 0, cacheReadTokens: 0, cost: "0.5" };
    const fresh = { ...repeat, requestId: "late-new-id" };
    const keptRepeat = { ...repeat, requestId: KEPT[3]!.requestId, accountId: KEPT[3]!.accountId, occurredAt: KEPT[3]!.occurredAt };
    const r = await recordUsage(runtime, { events: [repeat, fresh, keptRepeat] });
    expect(r.accepted).toBe(0);
    expect(r.duplicates).toBe(1);
    expect(r.rejected.map((x) => [x.index, x.code])).toEqual([
      [0, "RAW_RECORDS_EXPIRED"],
      [1, "RAW_RECORDS_EXPIRED"],
    ]);
    expect(r.rejected[0]!.message).toContain(KEPT_FROM);
    const bulk = await writeEventsBulk(runtime, [repeat, fresh]);
    expect(bulk).toMatchObject({ inserted: 0, duplicates: 0 });
    expect(bulk.rejected.map((x) => [x.index, x.code, x.requestId])).toEqual([
      [0, "RAW_RECORDS_EXPIRED", old.requestId],
      [1, "RAW_RECORDS_EXPIRED", "late-new-id"],
    ]);
    expect(await claims()).toEqual({ old: 0, kept: KEPT.length });
    expect(await figures()).toEqual(before);
  });

  it("a dropped month never gets a partition again (the guard for a writer that read the horizon just before it moved)", async () => {
    await expect(sql`SELECT ensure_usage_partition('2026-03-01')`.execute(db())).rejects.toThrow(/raw usage records before 2026-06-01 have expired/);
    await expect(sql`SELECT ensure_usage_partitions('2026-01-01', '2026-07-01')`.execute(db())).resolves.toBeDefined();
    expect((await partitions())[0]).toBe("usage_records_p202606");
    expect(await rawKeptFromMs(runtime, NOW.getTime())).toBe(Date.parse(KEPT_FROM));
  });

  it("a read of raw records over a dropped range answers 410 RAW_RECORDS_EXPIRED naming where they begin", async () => {
    const err = await getAccountTrend(runtime, { id: "acc-r1", span: "today" }, new Date("2026-03-10T06:00:00.000Z")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: "RAW_RECORDS_EXPIRED" });
    expect((err as Error).message).toContain(KEPT_FROM);
    // Today's hours are kept.
    expect((await getAccountTrend(runtime, { id: "acc-r1", span: "today" }, NOW)).data.points).toHaveLength(24);
  });

  it("rebuilding the rollups is refused once raw months are gone (it would erase their figures)", async () => {
    await expect(rebuildRollups(tdb.handle, TEST_TZ)).rejects.toThrow(/Rollups not rebuilt: raw usage records before 2026-06-01T00:00:00.000Z were dropped/);
    expect(await figures()).toEqual(before);
  });

  it("refuses bad values of USAGE_RAW_RETENTION_MONTHS and of months, naming them", async () => {
    expect(parseConfig({}).usageRawRetentionMonths).toBeUndefined();
    expect(parseConfig({ USAGE_RAW_RETENTION_MONTHS: "" }).usageRawRetentionMonths).toBeUndefined();
    expect(parseConfig({ USAGE_RAW_RETENTION_MONTHS: "6" }).usageRawRetentionMonths).toBe(6);
    for (const bad of ["5", "0", "-6", "6.5", "six", "1201", "1e1"]) {
      const err = (() => {
        try {
          parseConfig({ USAGE_RAW_RETENTION_MONTHS: bad });
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual([
        { variable: "USAGE_RAW_RETENTION_MONTHS", message: `USAGE_RAW_RETENTION_MONTHS must be a whole number of months from 6 to 1200 (unset keeps every raw record), got "${bad}"` },
      ]);
    }
    await expect(applyRawRetention(tdb.handle, { months: 3, now: NOW })).rejects.toMatchObject({ code: "BAD_REQUEST", message: "months must be a whole number from 6 to 1200, got 3" });
  });
});

describe("an outbox written before the horizon moved", () => {
  it("the drainer leaves out its events before the horizon and records the rest, each once", async () => {
    const t = await createTestRuntime({ USAGE_TIMEZONE: TEST_TZ });
    try {
      const rt = t.runtime;
      const event = (requestId: string, occurredAt: string) => ({ requestId, occurredAt, accountId: "acc-o", apiKeyId: "k-o", model: "m-1", inputTokens: 10, outputTokens: 2, cacheCreateTokens: 0, cacheReadTokens: 0, cost: "0.25" });
      const old = event("outbox-old", "2026-03-10T00:00:00.000Z");
      const kept = event("outbox-kept", "2026-11-10T00:00:00.000Z");
      // Accepted into the outbox while every raw record was kept.
      expect(await recordUsage(rt, { events: [old, kept] })).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
      await applyRawRetention(rt.db!, { months: 6, now: NOW });
      const drainer = new Drainer(rt.config, rt.db!);
      try {
        expect(await drainer.drainAll()).toMatchObject({ inserted: 1 });
      } finally {
        await drainer.stop({ forget: true });
      }
      const rows = await sql<{ request_id: string }>`SELECT request_id FROM usage_records`.execute(rt.db!.db);
      expect(rows.rows).toEqual([{ request_id: "outbox-kept" }]);
      const claimed = await sql<{ request_id: string }>`SELECT request_id FROM usage_request_ids`.execute(rt.db!.db);
      expect(claimed.rows).toEqual([{ request_id: "outbox-kept" }]);
      expect((await outboxStats(rt.redis!, rt.config.redisKeyPrefix)).deadLetters).toBe(0);
    } finally {
      await t.close();
    }
  });
});

describe("the background run (worker and app)", () => {
  it("drops what USAGE_RAW_RETENTION_MONTHS says, on the runtime's clock", async () => {
    const t = await createTestRuntime({ REDIS_URL: "", USAGE_RAW_RETENTION_MONTHS: "6" });
    try {
      const rt = await createRuntime(t.runtime.config, { ownDatabase: true, clock: { now: () => NOW.getTime() } });
      const parts = () => sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'usage_records'::regclass AND inhrelid::regclass::text < 'usage_records_p202606'`.execute(rt.db!.db);
      await sql`SELECT ensure_usage_partitions('2026-01-01', '2026-12-01')`.execute(rt.db!.db);
      expect((await parts()).rows[0]!.n).toBeGreaterThan(0);
      const bg = startRetentionBackground(rt, { firstRunMs: 0, everyMs: 3600_000 });
      try {
        await waitFor(async () => (await parts()).rows[0]!.n === 0, "the background run to drop the months before 2026-06");
        const setting = await rt.db!.db.selectFrom("usage_settings").select("value").where("key", "=", "raw_kept_from").executeTakeFirstOrThrow();
        expect(new Date(setting.value).toISOString()).toBe(KEPT_FROM);
      } finally {
        await bg.stop();
        await rt.close();
      }
    } finally {
      await t.close();
    }
  });
});

describe("a writer that read the horizon just before it moved", () => {
  it("gets 410 for the batch and writes nothing; the next attempt refuses the old events one by one", async () => {
    const t = await createTestRuntime({ REDIS_URL: "", USAGE_TIMEZONE: TEST_TZ });
    try {
      const rt = t.runtime;
      const event = (requestId: string, occurredAt: string) => ({ requestId, occurredAt, accountId: "acc-s", apiKeyId: "k-s", model: "m-1", inputTokens: 1, outputTokens: 1, cacheCreateTokens: 0, cacheReadTokens: 0, cost: "0.1" });
      // The process reads the horizon (none yet) and keeps it a while.
      expect(await rawKeptFromMs(rt)).toBeUndefined();
      // Another process runs retention.
      await applyRawRetention(t.database.handle, { months: 6, now: NOW });
      const batch = { events: [event("stale-old", "2026-02-02T00:00:00.000Z"), event("stale-kept", "2026-11-02T00:00:00.000Z")] };
      await expect(recordUsage(rt, batch)).rejects.toMatchObject({ code: "RAW_RECORDS_EXPIRED", message: expect.stringContaining("raw usage records before 2026-06-01 have expired") });
      const count = async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM usage_request_ids`.execute(rt.db!.db)).rows[0]!.n;
      expect(await count()).toBe(0);
      expect(await recordUsage(rt, batch)).toMatchObject({ accepted: 1, duplicates: 0, rejected: [{ index: 0, code: "RAW_RECORDS_EXPIRED" }] });
      expect(await count()).toBe(1);
    } finally {
      await t.close();
    }
  });
});
