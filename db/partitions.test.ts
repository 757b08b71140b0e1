import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../server/testing/stores";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase({ migrated: true });
});
afterAll(async () => t?.drop());

function event(requestId: string, occurredAt: string) {
  return {
    request_id: requestId, occurred_at: occurredAt, account_id: "acc-p", api_key_id: "key-p", model: "m",
    input_tokens: 10, output_tokens: 5, total_cost: "0.5",
  };
}
async function partitionOf(requestId: string): Promise<string | undefined> {
  const r = await sql<{ p: string }>`select tableoid::regclass::text as p from usage_records where request_id = ${requestId}`.execute(t.handle.db);
  return r.rows[0]?.p;
}

describe("usage_records partitions", () => {
  it("a row for a past month lands in that month's partition, created on demand", async () => {
    await sql`select ensure_usage_partition('2023-02-01'::date)`.execute(t.handle.db);
    await sql`select * from insert_usage_batch(${JSON.stringify([event("past-1", "2023-02-14T10:00:00Z")])}::jsonb, 'UTC')`.execute(t.handle.db);
    expect(await partitionOf("past-1")).toBe("usage_records_p202302");
  });

  it("a row two months ahead already has a partition", async () => {
    const ahead = new Date();
    ahead.setUTCDate(15);
    ahead.setUTCMonth(ahead.getUTCMonth() + 2);
    const id = "ahead-1";
    await sql`select * from insert_usage_batch(${JSON.stringify([event(id, ahead.toISOString())])}::jsonb, 'UTC')`.execute(t.handle.db);
    const ym = `${ahead.getUTCFullYear()}${String(ahead.getUTCMonth() + 1).padStart(2, "0")}`;
    expect(await partitionOf(id)).toBe(`usage_records_p${ym}`);
  });

  it("a month is bounded by UTC midnight of its first day", async () => {
    await sql`select * from insert_usage_batch(${JSON.stringify([event("edge-a", "2026-10-31T23:59:59.999Z"), event("edge-b", "2026-11-01T00:00:00Z")])}::jsonb, 'UTC')`.execute(t.handle.db);
    expect(await partitionOf("edge-a")).toBe("usage_records_p202610");
    expect(await partitionOf("edge-b")).toBe("usage_records_p202611");
  });

  it("a statement over a one-month window only scans that month's partition", async () => {
    const plan = await sql<{ "QUERY PLAN": string }>`explain select count(*) from usage_records
      where occurred_at >= '2026-11-01T00:00:00Z' and occurred_at < '2026-12-01T00:00:00Z'`.execute(t.handle.db);
    const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
    expect(text).toContain("usage_records_p202611");
    expect(text).not.toContain("usage_records_p202610");
  });

  it("a duplicate request_id changes nothing, even in another month", async () => {
    const before = await sql<{ n: number; c: string }>`select count(*)::int as n, sum(cost_nanos)::text as c from usage_account_totals a join usage_records r using (account_id)`.execute(t.handle.db);
    const r = await sql<{ request_id: string }>`select * from insert_usage_batch(${JSON.stringify([event("past-1", "2026-11-02T00:00:00Z")])}::jsonb, 'UTC')`.execute(t.handle.db);
    expect(r.rows).toEqual([]);
    const after = await sql<{ n: number; c: string }>`select count(*)::int as n, sum(cost_nanos)::text as c from usage_account_totals a join usage_records r using (account_id)`.execute(t.handle.db);
    expect(after.rows).toEqual(before.rows);
  });
});
