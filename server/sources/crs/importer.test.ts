import { Redis } from "ioredis";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../runtime";
import { createTestRuntime, type TestRuntime } from "../../testing/runtime";
import { startOwnRedis, type OwnRedis } from "../../testing/servers";
import { fixture, loadDump, type Dump } from "./crs.fixtures";
import { CrsImportError, checkTimeZone, formatReport, importCrs, type ImportReport } from "./importer";
import { crsCalendar } from "./layout";
import { UNATTRIBUTED_ACCOUNT_ID } from "./mapping";
import { expected, pickFigures, rollupFigures } from "./testing";

/**
 * The import of the fixture's aged CRS Redis (what a real one holds at the anchor) gives the
 * fixture's figures, computed from the ground truth alone.
 */

const ANCHOR = Date.parse("2026-12-02T04:32:39.000Z");
const TZ = "Asia/Shanghai";
const dump = fixture<Dump>("dump-aged.json");

const nanos = (usd: string) => Math.round(Number(usd) * 1e9);

let crs: OwnRedis;
let crsClient: Redis;
let ledger: TestRuntime;
let runtime: Runtime;
let first: ImportReport;

beforeAll(async () => {
  crs = await startOwnRedis();
  crsClient = new Redis(crs.url);
  await loadDump(crsClient, dump);
  ledger = await createTestRuntime({ USAGE_TIMEZONE: TZ });
  runtime = ledger.runtime;
  first = await importCrs(runtime, crsClient, { offsetHours: 8, now: () => ANCHOR });
}, 120_000);

afterAll(async () => {
  await ledger?.close();
  crsClient?.disconnect();
  crs?.destroy();
});

describe("crs:import of the aged fixture", () => {
  it("reports what it did: 4 accounts, 12 keys, 501 events from records, the residual aggregates, nothing unattributed", () => {
    expect(first.crsOffsetHours).toBe(8);
    expect(first.accounts).toBe(4);
    expect(first.apiKeys).toBe(12);
    expect(first.apiKeysDeleted).toBe(1);
    expect(first.records.events).toBe(501);
    expect(first.records.inserted).toBe(501);
    expect(first.aggregates.requests).toBe(35);
    expect(first.aggregates.inserted).toBe(first.aggregates.events);
    expect(first.unattributed.requests).toBe(0);
    expect(first.rejections).toEqual({ total: 0, byReason: {}, named: [] });
    // Aggregates are read only for keys whose records do not hold all their requests (K01 here),
    // so CRS's inflated output tokens on key K10's counters never enter the ledger.
    expect(first.notReconstructed).toEqual([]);
    expect(formatReport(first)).toContain("aggregate events:");
  });

  it("gives every API key exactly its all-time figures, real and rated cost included", async () => {
    const got = await rollupFigures(runtime.db!.db, "usage_key_totals", "api_key_id", "all");
    for (const [keyId, e] of Object.entries(expected.apiKeys)) {
      expect([keyId, got.get(`${keyId}|all`)]).toEqual([keyId, pickFigures(e.allTime)]);
    }
  });

  it("gives per key × day exactly what the daily buckets still cover, and per key × month", async () => {
    const days = await rollupFigures(runtime.db!.db, "usage_key_daily", "api_key_id", "day");
    const months = await rollupFigures(runtime.db!.db, "usage_key_monthly", "api_key_id", "month");
    const oldestDaily = "2026-10-31"; // CRS keeps daily hashes 32 days
    const oldestCostString = "2026-11-02"; // and full-precision daily cost strings 30 days
    for (const [keyId, e] of Object.entries(expected.apiKeys)) {
      for (const [day, f] of Object.entries(e.byDay)) {
        if (day < oldestDaily) continue;
        const g = days.get(`${keyId}|${day}`) as Record<string, unknown>;
        const { cost, ratedCost, ...tokens } = pickFigures(f);
        const { cost: gotCost, ratedCost: gotRated, ...gotTokens } = g;
        expect([keyId, day, gotTokens]).toEqual([keyId, day, tokens]);
        if (day >= oldestCostString) expect([keyId, day, gotCost, gotRated]).toEqual([keyId, day, cost, ratedCost]);
        else {
          // Older days: CRS's micro-USD counters, within a micro-dollar per request.
          expect(Math.abs(nanos(String(gotCost)) - nanos(cost))).toBeLessThanOrEqual(1000 * f.requests);
          expect(Math.abs(nanos(String(gotRated)) - nanos(ratedCost))).toBeLessThanOrEqual(1000 * f.requests);
        }
      }
      for (const [month, f] of Object.entries(e.byMonth)) {
        const g = months.get(`${keyId}|${month}`) as Record<string, unknown>;
        const { cost, ratedCost, ...tokens } = pickFigures(f);
        const { cost: gotCost, ratedCost: gotRated, ...gotTokens } = g;
        expect([keyId, month, gotTokens]).toEqual([keyId, month, tokens]);
        expect(Math.abs(nanos(String(gotCost)) - nanos(cost))).toBeLessThanOrEqual(1000);
        expect(Math.abs(nanos(String(gotRated)) - nanos(ratedCost))).toBeLessThanOrEqual(1000);
      }
    }
  });

  it("counts a month's residual in its month only: no day of the series shows it, in particular not the 1st", async () => {
    const residuals = await sql<{ key: string; month: string; requests: number }>`
      select api_key_id as key, to_char(usage_date, 'YYYY-MM') as month, sum(requests)::int as requests
        from usage_records where metadata->>'crsAggregate' = 'month' group by 1, 2 order by 1, 2`.execute(runtime.db!.db);
    expect(residuals.rows.length).toBeGreaterThan(0);
    const days = await rollupFigures(runtime.db!.db, "usage_key_daily", "api_key_id", "day");
    for (const r of residuals.rows) {
      const inDays = [...days].filter(([k]) => k.startsWith(`${r.key}|${r.month}-`)).reduce((n, [, f]) => n + Number(f.requests), 0);
      const truth = expected.apiKeys[r.key]!.byMonth[r.month]!.requests;
      // The days hold what is dated (records, daily buckets); the residual is the rest of the month.
      expect([r.key, r.month, inDays + r.requests]).toEqual([r.key, r.month, truth]);
      const first = expected.apiKeys[r.key]!.byDay[`${r.month}-01`]?.requests ?? 0;
      expect(Number(days.get(`${r.key}|${r.month}-01`)?.requests ?? 0)).toBeLessThanOrEqual(first);
    }
  });

  it("gives each account exactly its figures where attribution is unambiguous; the unattributed account holds the rest (here none)", async () => {
    const got = await rollupFigures(runtime.db!.db, "usage_account_totals", "account_id", "all");
    for (const [accountId, e] of Object.entries(expected.accounts)) expect([accountId, got.get(`${accountId}|all`)]).toEqual([accountId, pickFigures(e.allTime)]);
    expect(got.get(`${UNATTRIBUTED_ACCOUNT_ID}|all`)).toBeUndefined();
    const accounts = await runtime.db!.db.selectFrom("accounts").select(["id", "name", "platform", "priority"]).orderBy("priority").execute();
    expect(accounts.map((a) => [a.platform, a.priority])).toEqual([["claude", 10], ["claude-console", 20], ["gemini", 30], ["openai", 40]]);
    const keys = await runtime.db!.db.selectFrom("api_keys").select(["id", "account_id", "deleted_at", "hashed_key"]).execute();
    expect(keys).toHaveLength(12);
    expect(keys.filter((k) => k.deleted_at).map((k) => k.id)).toEqual(["263450ad-14c9-4dae-8ad4-cdc4a498a465"]);
  });

  it("changes nothing the second time", async () => {
    const before = await rollupFigures(runtime.db!.db, "usage_key_daily", "api_key_id", "day");
    const again = await importCrs(runtime, crsClient, { offsetHours: 8, now: () => ANCHOR });
    expect(again.records.inserted).toBe(0);
    expect(again.records.duplicates).toBe(501);
    expect(again.aggregates.events).toBe(0);
    expect(await rollupFigures(runtime.db!.db, "usage_key_daily", "api_key_id", "day")).toEqual(before);
  });

  it("--dry-run reports the same and writes nothing", async () => {
    const other = await createTestRuntime({ USAGE_TIMEZONE: TZ });
    const rt = other.runtime;
    try {
      const dry = await importCrs(rt, crsClient, { offsetHours: 8, dryRun: true, now: () => ANCHOR });
      expect(dry.records.events).toBe(501);
      expect(dry.aggregates.requests).toBe(35);
      expect(formatReport(dry)).toMatch(/^DRY RUN/);
      const n = await sql<{ n: number }>`select (select count(*) from usage_records)::int + (select count(*) from accounts)::int as n`.execute(rt.db!.db);
      expect(n.rows[0]!.n).toBe(0);
    } finally {
      await other.close();
    }
  });

  it("refuses a USAGE_TIMEZONE whose day boundaries differ from CRS's, saying why", async () => {
    expect(() => checkTimeZone(crsCalendar(8), "Asia/Hong_Kong", ANCHOR - 400 * 86_400_000, ANCHOR)).not.toThrow();
    expect(() => checkTimeZone(crsCalendar(8), "UTC", ANCHOR - 86_400_000, ANCHOR)).toThrow(CrsImportError);
    const other = await createTestRuntime({ USAGE_TIMEZONE: "Europe/Berlin" });
    const rt = other.runtime;
    try {
      await expect(importCrs(rt, crsClient, { offsetHours: 8, now: () => ANCHOR })).rejects.toThrow(/USAGE_TIMEZONE=Europe\/Berlin does not share CRS's day boundaries \(UTC\+8\)/);
      const n = await sql<{ n: number }>`select count(*)::int as n from accounts`.execute(rt.db!.db);
      expect(n.rows[0]!.n).toBe(0);
    } finally {
      await other.close();
    }
  });

  it("never writes to CRS's Redis", async () => {
    const info = await crsClient.info("stats");
    const before = await crsClient.dbsize();
    await importCrs(runtime, crsClient, { offsetHours: 8, now: () => ANCHOR });
    expect(await crsClient.dbsize()).toBe(before);
    expect(info).toBeTruthy();
  });
});
