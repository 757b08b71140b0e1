import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../testing/stores";
import { rebuildRollups } from "./rollups.service";

const ROLLUPS = [
  "usage_account_daily", "usage_account_monthly", "usage_account_totals",
  "usage_key_daily", "usage_key_monthly", "usage_key_totals",
  "usage_model_daily", "usage_model_monthly", "usage_model_totals",
];

/** Deterministic events over three months, around local midnights in both zones used below. */
function events(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const base = Date.UTC(2026, 8, 29, 15, 30); // 2026-09-29 15:30Z
  for (let i = 0; i < 240; i++) {
    out.push({
      request_id: `rb-${i}`,
      occurred_at: new Date(base + i * 7 * 3600_000 + (i % 3) * 1800_000).toISOString(),
      account_id: `acc-${i % 3}`,
      api_key_id: `key-${i % 7}`,
      model: ["m-a", "m-b"][i % 2],
      input_tokens: 100 + i,
      output_tokens: 10 * (i % 5),
      cache_create_tokens: i % 4 === 0 ? 50 : 0,
      cache_read_tokens: i % 3 === 0 ? 20 : 0,
      total_cost: (0.00012345 * (i + 1)).toFixed(8),
    });
  }
  return out;
}

async function snapshot(t: TestDatabase): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of ROLLUPS) {
    const r = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(t.handle.db);
    out[table] = r.rows.map((row) => JSON.stringify(row)).sort();
  }
  out.api_keys = (await sql`select id, total_cost_accumulated, last_used_at from api_keys order by id`.execute(t.handle.db)).rows;
  return out;
}

async function load(t: TestDatabase, tz: string) {
  await sql`select ensure_usage_partitions('2026-09-01', '2026-12-01')`.execute(t.handle.db);
  await sql`select count(*) from insert_usage_batch(${JSON.stringify(events())}::jsonb, ${tz})`.execute(t.handle.db);
}

let utc: TestDatabase;
let shanghai: TestDatabase;
beforeAll(async () => {
  [utc, shanghai] = await Promise.all([createTestDatabase({ migrated: true }), createTestDatabase({ migrated: true })]);
  await load(utc, "UTC");
  await load(shanghai, "Asia/Shanghai");
});
afterAll(async () => {
  await utc?.drop();
  await shanghai?.drop();
});

describe("db:rebuild-rollups", () => {
  it("restores damaged rollups exactly and is safe to re-run", async () => {
    const before = await snapshot(utc);
    await sql`delete from usage_key_daily where api_key_id = 'key-3'`.execute(utc.handle.db);
    await sql`update usage_account_totals set requests = requests + 999`.execute(utc.handle.db);
    await sql`update api_keys set total_cost_accumulated = 0`.execute(utc.handle.db);
    const progress: number[] = [];
    const r = await rebuildRollups(utc.handle, "UTC", (p) => progress.push(p.done));
    expect(r.relocalized).toBe(0);
    expect(progress.length).toBe(r.partitions);
    expect(await snapshot(utc)).toEqual(before);
    await rebuildRollups(utc.handle, "UTC");
    expect(await snapshot(utc)).toEqual(before);
  });

  it("leaves the rebuilt rollups compact: no dead row versions from adding partition after partition", async () => {
    await rebuildRollups(shanghai.handle, "Asia/Shanghai");
    for (const table of ["usage_key_totals", "usage_account_totals", "usage_model_totals", "usage_key_monthly"]) {
      // A table rewritten in one pass holds its rows in pages 0… at line pointers 1…n. Updated once
      // per partition (4 here) without the rewrite, the live versions sit behind the dead ones.
      const r = await sql<{ rows: number; behind: number }>`
        SELECT sum(n)::int AS rows, sum(last - n)::int AS behind
          FROM (SELECT (ctid::text::point)[0] AS page, count(*) AS n, max((ctid::text::point)[1]) AS last
                  FROM ${sql.table(table)} GROUP BY 1) p`.execute(shanghai.handle.db);
      const { rows, behind } = r.rows[0]!;
      expect(rows).toBeGreaterThan(0);
      // Line pointers on each page not taken by a live row: dead versions.
      expect(behind, table).toBe(0);
    }
  });

  it("after a change of time zone, recomputes days exactly as if the data had been written in the new zone", async () => {
    const r = await rebuildRollups(utc.handle, "Asia/Shanghai");
    expect(r.relocalized).toBeGreaterThan(0);
    expect(await snapshot(utc)).toEqual(await snapshot(shanghai));
    const tz = await sql<{ value: string }>`select value from usage_settings where key = 'timezone'`.execute(utc.handle.db);
    expect(tz.rows[0]?.value).toBe("Asia/Shanghai");
  });

  it("rollups equal independent sums of the events", async () => {
    const ev = events();
    const tokens = ev.reduce((s, e) => s + (e.input_tokens as number) + (e.output_tokens as number) + (e.cache_create_tokens as number) + (e.cache_read_tokens as number), 0);
    const nanos = ev.reduce((s, e) => s + BigInt((e.total_cost as string).replace(".", "")) * 10n, 0n);
    const r = await sql<{ tokens: number; nanos: string; requests: number }>`
      select sum(total_tokens)::int8 as tokens, sum(cost_nanos)::text as nanos, sum(requests)::int8 as requests from usage_account_totals`.execute(utc.handle.db);
    expect(r.rows[0]).toEqual({ tokens, nanos: nanos.toString(), requests: ev.length });
  });
});
