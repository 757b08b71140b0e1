import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations, migrate } from "../../db/migrator";
import { ROLLUP_TABLES, type Database } from "../../db/types";
import { createTestDatabase, type TestDatabase } from "../testing/stores";
import { insertUsageRows, type UsageBatchRow } from "./usage.repository";

const TZ = "Asia/Shanghai";

/** The insertUsageRows batch of some rows: their JSON and UTC months. */
const batchOf = (rows: Partial<UsageBatchRow>[]) => ({
  rowsJson: JSON.stringify(rows),
  months: [...new Set(rows.map((r) => `${new Date(r.occurred_at!).toISOString().slice(0, 7)}-01`))],
});

/**
 * Batches that exercise every rule of insert_usage_batch and the rollup trigger: local days and a
 * month boundary within one batch, last_model ties (same instant, several models), batches out of
 * time order, duplicates within a batch and of earlier batches, unknown accounts and keys, a key
 * seen under two accounts, optional fields left out.
 */
function batches(): Partial<UsageBatchRow>[][] {
  const out: Partial<UsageBatchRow>[][] = [];
  // 2026-10-31 15:30Z is 23:30 in Shanghai. Each batch spans 40 minutes across a local midnight:
  // the first six the one that ends October, the others the next one, within November.
  const base = Date.UTC(2026, 9, 31, 15, 30);
  let n = 0;
  for (let b = 0; b < 12; b++) {
    const start = base + (b < 6 ? 0 : 24 * 60) * 60_000 - (b % 6) * 5 * 60_000;
    const rows: Partial<UsageBatchRow>[] = [];
    for (let i = 0; i < 150; i++) {
      const g = Math.floor(i / 3);
      // key-20 … key-22 (unknown ids) appear only in batches that span two months.
      const k = (g * 7 + b) % (b < 6 ? 23 : 20);
      const row: Partial<UsageBatchRow> = {
        request_id: `eq-${n++}`,
        // Every other group of three events of one key shares an instant: last_model then falls
        // back to the smallest name.
        occurred_at: new Date(start + g * 48_000 + (g % 2) * (i % 3) * 16_000).toISOString(),
        account_id: k < 20 ? `acc-${k % 4}` : `acc-new-${k}`,
        api_key_id: `key-${k}`,
        model: ["m-c", "m-a", "m-b"][(i + b + g) % 3]!,
        input_tokens: 100 + i,
        output_tokens: 3 * (i % 11),
        cache_create_tokens: i % 5 === 0 ? 40 : 0,
        cache_read_tokens: i % 4 === 0 ? 700 : 0,
        total_cost: (0.00000317 * (i + 1) + b / 1000).toFixed(8),
      };
      if (i % 6 === 0) Object.assign(row, { requests: 2, ephemeral_5m_tokens: 5, ephemeral_1h_tokens: 1, metadata: { i } });
      if (i % 9 === 0) row.cost_breakdown = { input: "0.1" };
      rows.push(row);
    }
    // key-5 under a second account in the same batch.
    rows.push({ ...rows[0]!, request_id: `eq-${n++}`, account_id: "acc-3", api_key_id: "key-5" });
    if (b % 3 === 1) rows.push({ ...rows[10]! }); // a duplicate within the batch
    if (b % 4 === 2) rows.push(...out[b - 1]!.slice(0, 40)); // redelivered events
    out.push(rows);
  }
  // Out of time order, so that no batch's figures are simply the latest ones.
  const shuffled = [5, 0, 11, 3, 8, 1, 10, 6, 2, 9, 4, 7].map((b) => out[b]!);
  return [...shuffled, out[3]!]; // and a batch recorded already
}

/**
 * A row without 0006's rated cost, when that says nothing (these batches carry no ratedCost):
 * rated_cost null, rated_cost_nanos equal to cost_nanos. Anything else stays in the row, so the
 * comparison with the version before 0006 fails.
 */
function withoutRatedCost(row: Record<string, unknown>): Record<string, unknown> {
  const { rated_cost, rated_cost_nanos, ...rest } = row;
  if (rated_cost !== undefined && rated_cost !== null) return row;
  if (rated_cost_nanos !== undefined && String(rated_cost_nanos) !== String(row.cost_nanos)) return row;
  return rest;
}

async function snapshot(db: Kysely<Database>): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  const tables = [...ROLLUP_TABLES, "usage_records"];
  for (const table of tables) {
    const r = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db);
    out[table] = r.rows.map((row) => JSON.stringify(withoutRatedCost(row))).sort();
  }
  // 0005 added account_id to the claims; none of these batches reuses an id across accounts.
  out.usage_request_ids = (await sql`select request_id, occurred_at from usage_request_ids`.execute(db)).rows.map((row) => JSON.stringify(row)).sort();
  out.api_keys = (await sql`select id, name, account_id, status, total_cost_accumulated, last_used_at from api_keys order by id`.execute(db)).rows;
  out.accounts = (await sql`select id, name, status from accounts order by id`.execute(db)).rows;
  return out;
}

async function seedKnownIds(db: Kysely<Database>): Promise<void> {
  await sql`insert into accounts (id, name) select 'acc-' || a, 'Account ' || a from generate_series(0, 3) a`.execute(db);
  await sql`insert into api_keys (id, name, account_id) select 'key-' || k, 'Key ' || k, 'acc-' || (k % 4) from generate_series(0, 19) k`.execute(db);
  await sql`select ensure_usage_partitions('2026-10-01', '2026-11-01')`.execute(db);
}

let before: TestDatabase;
let after: TestDatabase;
beforeAll(async () => {
  [before, after] = await Promise.all([createTestDatabase(), createTestDatabase({ migrated: true })]);
  await migrate(before.handle, { files: loadMigrations().filter((f) => f.name < "0003") });
  await Promise.all([seedKnownIds(before.handle.db), seedKnownIds(after.handle.db)]);
});
afterAll(async () => {
  await before?.drop();
  await after?.drop();
});

describe("insert_usage_batch", () => {
  it("records, rolls up and dedupes exactly as the 0001 version did", async () => {
    let jsonb = false;
    for (const rows of batches()) {
      const json = JSON.stringify(rows);
      const old = await sql<{ request_id: string }>`select * from insert_usage_batch(${json}::jsonb, ${TZ})`.execute(before.handle.db);
      // Both entry points of the new version: json (the app) and jsonb (seed, scripts).
      const now = jsonb
        ? await sql<{ request_id: string }>`select * from insert_usage_batch(${json}::jsonb, ${TZ})`.execute(after.handle.db)
        : await sql<{ request_id: string }>`select * from insert_usage_batch(${json}::json, ${TZ})`.execute(after.handle.db);
      jsonb = !jsonb;
      expect(now.rows.map((r) => r.request_id).sort()).toEqual(old.rows.map((r) => r.request_id).sort());
    }
    expect(await snapshot(after.handle.db)).toEqual(await snapshot(before.handle.db));
    const unclaimed = await sql`select * from usage_request_ids i where not exists (select 1 from usage_records r where r.account_id = i.account_id and r.request_id = i.request_id)`.execute(after.handle.db);
    expect(unclaimed.rows).toEqual([]);
  });

  it("sums the rated cost into every rollup, the real cost where an event has none (0006)", async () => {
    const row = (id: string, accountId: string, cost: string, rated?: string): Partial<UsageBatchRow> => ({
      request_id: id, occurred_at: "2026-11-02T04:00:00.000Z", account_id: accountId, api_key_id: `key-${accountId}`, model: "m-r",
      input_tokens: 1, output_tokens: 0, cache_create_tokens: 0, cache_read_tokens: 0, total_cost: cost, ...(rated ? { rated_cost: rated } : {}),
    });
    const rows = [row("rc-1", "acc-rated", "0.1", "0.15"), row("rc-2", "acc-rated", "0.2"), row("rc-3", "acc-rated", "0.00000001", "0.00000003")];
    expect(await insertUsageRows(after.handle.db, batchOf(rows), TZ)).toBe(3);
    const stored = await sql<{ request_id: string; rated_cost: string | null }>`
      select request_id, rated_cost from usage_records where account_id = 'acc-rated' order by request_id`.execute(after.handle.db);
    expect(stored.rows).toEqual([{ request_id: "rc-1", rated_cost: "0.15000000" }, { request_id: "rc-2", rated_cost: null }, { request_id: "rc-3", rated_cost: "0.00000003" }]);
    for (const table of ROLLUP_TABLES) {
      const r = await sql<{ cost_nanos: number; rated_cost_nanos: number }>`
        select sum(cost_nanos)::int8 as cost_nanos, sum(rated_cost_nanos)::int8 as rated_cost_nanos from ${sql.table(table)} where account_id = 'acc-rated'`.execute(after.handle.db);
      expect([table, r.rows[0]]).toEqual([table, { cost_nanos: 300_000_010, rated_cost_nanos: 350_000_030 }]);
    }
  });

  it("keeps aggregates known only for their month, or only for all time, out of the days (and months) they are dated in", async () => {
    const row = (id: string, day: string, requests: number, kind?: "day" | "month" | "alltime"): Partial<UsageBatchRow> => ({
      request_id: id, occurred_at: `${day}T00:00:00.000+08:00`, account_id: "acc-undated", api_key_id: "key-undated", model: "m-u", requests,
      input_tokens: 10 * requests, output_tokens: 0, cache_create_tokens: 0, cache_read_tokens: 0, total_cost: String(requests),
      ...(kind ? { metadata: { source: "crs", crsAggregate: kind, bucket: day } } : {}),
    });
    await sql`select ensure_usage_partitions('2026-08-01', '2026-10-01')`.execute(after.handle.db);
    const rows = [row("u-1", "2026-10-01", 1), row("u-2", "2026-10-01", 2, "day"), row("u-3", "2026-10-01", 4, "month"), row("u-4", "2026-09-01", 8, "month"), row("u-5", "2026-08-31", 16, "alltime")];
    expect(await insertUsageRows(after.handle.db, batchOf(rows), TZ)).toBe(5);
    const q = async (table: string, bucket: string) =>
      (await sql<{ b: string; requests: number; cost_nanos: number }>`
        select ${sql.raw(bucket)}::text as b, requests, cost_nanos from ${sql.table(table)} where account_id = 'acc-undated' order by 1`.execute(after.handle.db)).rows;
    for (const level of ["account", "key", "model"]) {
      // Days: the dated events only (a day's residual is dated: it is that day's).
      expect([level, await q(`usage_${level}_daily`, "usage_date")]).toEqual([level, [{ b: "2026-10-01", requests: 3, cost_nanos: 3e9 }]]);
      // Months: a month's residual in its month; the all-time residual in none.
      expect([level, await q(`usage_${level}_monthly`, "usage_month")]).toEqual([level, [{ b: "2026-09-01", requests: 8, cost_nanos: 8e9 }, { b: "2026-10-01", requests: 7, cost_nanos: 7e9 }]]);
      expect([level, await q(`usage_${level}_totals`, "'all'")]).toEqual([level, [{ b: "all", requests: 31, cost_nanos: 31e9 }]]);
    }
    const key = await sql<{ last_model: string }>`select last_model from usage_key_totals where api_key_id = 'key-undated'`.execute(after.handle.db);
    expect(key.rows).toEqual([{ last_model: "m-u" }]);
  });

  it("keys claims on account + request id: another account's reuse is recorded, the same account's is not", async () => {
    const row = (accountId: string, cost: string): Partial<UsageBatchRow> => ({
      request_id: "shared-id", occurred_at: "2026-11-01T04:00:00.000Z", account_id: accountId, api_key_id: `key-${accountId}`, model: "m",
      input_tokens: 1, output_tokens: 0, cache_create_tokens: 0, cache_read_tokens: 0, total_cost: cost,
    });
    expect(await insertUsageRows(after.handle.db, batchOf([row("acc-x", "0.1"), row("acc-y", "0.2"), row("acc-x", "0.3")]), TZ)).toBe(2);
    expect(await insertUsageRows(after.handle.db, batchOf([row("acc-y", "0.4")]), TZ)).toBe(0);
    const totals = await sql<{ account_id: string; requests: number }>`
      select account_id, requests from usage_account_totals where account_id in ('acc-x', 'acc-y') order by account_id`.execute(after.handle.db);
    expect(totals.rows).toEqual([{ account_id: "acc-x", requests: 1 }, { account_id: "acc-y", requests: 1 }]);
  });

  it("records each event once when two writers insert overlapping batches at the same time", async () => {
    const at = "2026-11-01T03:00:00.000Z";
    const row = (i: number): Partial<UsageBatchRow> => ({
      request_id: `race-${i}`, occurred_at: at, account_id: "acc-race", api_key_id: "key-race", model: "m",
      input_tokens: 1, output_tokens: 0, cache_create_tokens: 0, cache_read_tokens: 0, total_cost: "0.00000001",
    });
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => row(from + i));
    let inserted = 0;
    for (let round = 0; round < 5; round++) {
      const lo = round * 1000;
      const [a, b] = await Promise.all([
        insertUsageRows(after.handle.db, batchOf(range(lo, lo + 600)), TZ),
        insertUsageRows(after.handle.db, batchOf(range(lo + 300, lo + 1000)), TZ),
      ]);
      inserted += a + b;
    }
    expect(inserted).toBe(5000);
    const totals = await sql<{ requests: number; cost_nanos: number }>`
      select requests, cost_nanos from usage_account_totals where account_id = 'acc-race'`.execute(after.handle.db);
    expect(totals.rows).toEqual([{ requests: 5000, cost_nanos: 50_000 }]);
    const key = await sql<{ total_cost_accumulated: string }>`select total_cost_accumulated from api_keys where id = 'key-race'`.execute(after.handle.db);
    expect(key.rows).toEqual([{ total_cost_accumulated: "0.00005000" }]);
  });
});
