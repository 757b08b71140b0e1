import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RedisClient } from "../../redis";
import { createTestRuntime, type TestRuntime } from "../../testing/runtime";
import type { UsageEvent } from "../../usage/schemas";
import { BulkWriter, finishBulk, writeEventsBulk } from "./bulk";
import { writeEvents } from "./sink";

/**
 * writeEventsBulk against the real PostgreSQL and Redis, beside the ledger's per-event path
 * (writeEvents → recordUsage, ledger first) given the same events on a database and Redis prefix
 * of its own: every rollup, api_keys total, usage_records row and Redis counter (with its expiry)
 * the same; idempotent like insert_usage_batch; refusals by index; month partitions created; and
 * a bulk write racing a ledger-first write of overlapping ids counts each once.
 */

const TZ = "Asia/Shanghai";
const DAY = 86_400_000;
const NOW = Date.now();
const MODELS = ["claude-sonnet-4-5", "claude-opus-4-1", "gpt-5"];

let bulk: TestRuntime;
let perEvent: TestRuntime;

function event(i: number, o: Partial<UsageEvent> = {}): UsageEvent {
  // Ages from minutes to ~16 months (today, this month, days Redis keeps, days it does not, old months).
  const ageMs = [60_000, 3 * 3_600_000, 2 * DAY, 20 * DAY, 36 * DAY, 50 * DAY, 200 * DAY, 480 * DAY][i % 8]! + (i % 97) * 1_000;
  return {
    requestId: `req-${i}`,
    occurredAt: new Date(NOW - ageMs).toISOString(),
    accountId: `acct-${i % 3}`,
    apiKeyId: `key-${i % 7}`,
    model: MODELS[i % 3]!,
    requests: 1,
    inputTokens: 100 + i,
    outputTokens: 2 * i,
    cacheCreateTokens: i % 5,
    cacheReadTokens: i % 11,
    cost: `0.${String(12_345_678 + i * 7).padStart(8, "0")}`,
    ...(i % 4 === 0 ? { ratedCost: `1.${String(i).padStart(8, "0")}` } : {}),
    ...(i % 6 === 0 ? { metadata: { source: "test", note: "tab\there, back\\slash\nnewline", n: i } } : {}),
    ...o,
  } as UsageEvent;
}

const ROLLUPS = [
  "usage_account_daily", "usage_account_monthly", "usage_account_totals",
  "usage_key_daily", "usage_key_monthly", "usage_key_totals",
  "usage_model_daily", "usage_model_monthly", "usage_model_totals",
];

/** Every rollup row, api_keys' totals and usage_records' rows, as text. */
async function ledger(env: TestRuntime): Promise<Record<string, unknown[]>> {
  const db = env.runtime.db!.db;
  const out: Record<string, unknown[]> = {};
  for (const t of ROLLUPS) out[t] = (await sql.raw(`select * from ${t}`).execute(db)).rows.map((r) => JSON.stringify(r)).sort();
  out.api_keys = (await sql`select id, account_id, status, total_cost_accumulated::text, last_used_at from api_keys order by id`.execute(db)).rows;
  out.accounts = (await sql`select id, name, status from accounts order by id`.execute(db)).rows;
  out.records = (await sql`select * from usage_records order by account_id, request_id`.execute(db)).rows.map((r) => JSON.stringify({ ...(r as object), id: undefined }));
  return out;
}

/** Every counter hash under the runtime's prefix: its fields and whether it expires. */
async function counters(env: TestRuntime): Promise<Map<string, { fields: Record<string, string>; expires: boolean }>> {
  const redis = env.runtime.redis as RedisClient;
  const prefix = env.runtime.config.redisKeyPrefix;
  const out = new Map<string, { fields: Record<string, string>; expires: boolean }>();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}{a:*}:[ck]:*`, "COUNT", 1000);
    cursor = next;
    for (const key of keys) out.set(key.slice(prefix.length), { fields: await redis.hgetall(key), expires: (await redis.ttl(key)) > 0 });
  } while (cursor !== "0");
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

async function dedupeKeys(env: TestRuntime): Promise<string[]> {
  const redis = env.runtime.redis as RedisClient;
  const prefix = env.runtime.config.redisKeyPrefix;
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}{a:*}:rid:*`, "COUNT", 1000);
    cursor = next;
    out.push(...keys.map((k) => k.slice(prefix.length)));
  } while (cursor !== "0");
  return out.sort();
}

beforeAll(async () => {
  [bulk, perEvent] = await Promise.all([createTestRuntime({ USAGE_TIMEZONE: TZ }), createTestRuntime({ USAGE_TIMEZONE: TZ })]);
}, 60_000);

afterAll(async () => {
  await Promise.all([bulk?.close(), perEvent?.close()]);
});

describe("writeEventsBulk", () => {
  const events = Array.from({ length: 600 }, (_, i) => event(i));
  // A repeat inside the batch (the first copy counts), and a refused event.
  events.push({ ...event(5), inputTokens: 999_999 });
  events.push(event(9_999, { cost: "1.234567891" } as Partial<UsageEvent>));
  const refusedIndex = events.length - 1;

  it("gives exactly the per-event path's result: counts, refusals by index, rollups, rows and Redis counters", async () => {
    const a = await writeEventsBulk(bulk.runtime, events);
    await finishBulk(bulk.runtime, events.map((e) => e.accountId));
    const b = await writeEvents(perEvent.runtime, events);
    expect(a).toEqual({ inserted: 600, duplicates: 1, rejected: [expect.objectContaining({ index: refusedIndex, requestId: "req-9999" })] });
    expect(b).toEqual(a);
    const [la, lb] = [await ledger(bulk), await ledger(perEvent)];
    expect(la.records).toHaveLength(600);
    expect(la).toEqual(lb);
    // The first copy of req-5 is the one in the ledger.
    const kept = await sql<{ input_tokens: string }>`select input_tokens::text from usage_records where request_id = 'req-5'`.execute(bulk.runtime.db!.db);
    expect(kept.rows).toEqual([{ input_tokens: String(105) }]);
    const [ca, cb] = [await counters(bulk), await counters(perEvent)];
    expect(ca.size).toBeGreaterThan(10);
    expect(ca).toEqual(cb);
    expect(await dedupeKeys(bulk)).toEqual(await dedupeKeys(perEvent));
  });

  it("a second run inserts nothing and changes nothing", async () => {
    const before = [await ledger(bulk), await counters(bulk)];
    const again = await writeEventsBulk(bulk.runtime, events);
    await finishBulk(bulk.runtime, events.map((e) => e.accountId));
    expect(again).toEqual({ inserted: 0, duplicates: 601, rejected: [expect.objectContaining({ index: refusedIndex })] });
    expect([await ledger(bulk), await counters(bulk)]).toEqual(before);
  });

  it("creates the month partitions its rows need", async () => {
    const db = bulk.runtime.db!.db;
    const partition = async () => (await sql<{ t: string | null }>`select to_regclass('usage_records_p202103')::text as t`.execute(db)).rows[0]!.t;
    expect(await partition()).toBeNull();
    const r = await writeEventsBulk(bulk.runtime, [event(20_000, { occurredAt: "2021-03-15T10:00:00.000Z" })]);
    expect(r.inserted).toBe(1);
    expect(await partition()).toBe("usage_records_p202103");
  });

  it("racing a ledger-first write of overlapping ids, counts each id once; Redis ends exact", async () => {
    const fresh = Array.from({ length: 400 }, (_, i) => event(30_000 + i));
    const viaBulk = fresh.slice(0, 300);
    const viaLedgerFirst = fresh.slice(100);
    const [x, y] = await Promise.all([writeEventsBulk(bulk.runtime, viaBulk), writeEvents(bulk.runtime, viaLedgerFirst)]);
    expect(x.inserted + y.inserted).toBe(400);
    expect(x.duplicates + y.duplicates).toBe(200);
    await finishBulk(bulk.runtime, viaBulk.map((e) => e.accountId));
    await writeEvents(perEvent.runtime, [event(20_000, { occurredAt: "2021-03-15T10:00:00.000Z" }), ...fresh]);
    expect(await ledger(bulk)).toEqual(await ledger(perEvent));
    expect(await counters(bulk)).toEqual(await counters(perEvent));
  });

  it("works without Redis", async () => {
    const noRedis = await createTestRuntime({ USAGE_TIMEZONE: TZ, REDIS_URL: undefined });
    try {
      expect(noRedis.runtime.redis).toBeUndefined();
      const r = await writeEventsBulk(noRedis.runtime, events.slice(0, 50));
      expect(await finishBulk(noRedis.runtime, ["acct-0"])).toEqual({ rebuilt: 0, skipped: [] });
      expect(r).toEqual({ inserted: 50, duplicates: 0, rejected: [] });
      const n = await sql<{ n: number }>`select sum(requests)::int as n from usage_account_totals`.execute(noRedis.runtime.db!.db);
      expect(n.rows[0]!.n).toBe(50);
    } finally {
      await noRedis.close();
    }
  });
});

describe("BulkWriter", () => {
  let grouped: TestRuntime;
  let oneByOne: TestRuntime;
  beforeAll(async () => {
    [grouped, oneByOne] = await Promise.all([createTestRuntime({ USAGE_TIMEZONE: TZ }), createTestRuntime({ USAGE_TIMEZONE: TZ })]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([grouped?.close(), oneByOne?.close()]);
  });

  const records = async (env: TestRuntime) => Number((await sql<{ n: string }>`select count(*)::text as n from usage_records`.execute(env.runtime.db!.db)).rows[0]!.n);

  it("writes several batches per transaction, answers each batch its own counts and refusals, and leaves both stores as the per-event path", async () => {
    // Eight batches of 120 events (+ extras), written 250 rows at a time: transactions of three batches.
    const batches = Array.from({ length: 8 }, (_, b) => Array.from({ length: 120 }, (_, i) => event(b * 120 + i)));
    batches[1]!.push({ ...event(5), inputTokens: 777 }); // a repeat of batch 0's, in the same transaction
    batches[6]!.push({ ...event(10), inputTokens: 888 }); // a repeat of a row committed two transactions before
    batches[3]!.splice(7, 0, event(50_000, { cost: "-1" } as Partial<UsageEvent>)); // refused: negative cost with requests 1
    const writer = new BulkWriter(grouped.runtime, { rowsPerWrite: 250 });
    const added = [];
    for (const [b, batch] of batches.entries()) {
      added.push(await writer.add(batch));
      // Nothing is written before a transaction's worth is staged.
      if (b === 1) expect(await records(grouped)).toBe(0);
      if (b === 2) {
        await added[0]!.written;
        // The first batch committed with the next two: 360 rows, one transaction.
        expect(await records(grouped)).toBe(360);
      }
    }
    await writer.close();
    await finishBulk(grouped.runtime, batches.flat().map((e) => e.accountId));
    const results = await Promise.all(added.map(async (a) => ({ ...(await a.written), rejected: a.rejected.map((x) => ({ index: x.index, requestId: x.requestId })) })));
    const expected = [];
    for (const batch of batches) {
      const r = await writeEvents(oneByOne.runtime, batch);
      expected.push({ inserted: r.inserted, duplicates: r.duplicates, rejected: r.rejected.map((x) => ({ index: x.index, requestId: x.requestId })) });
    }
    expect(results).toEqual(expected);
    expect(results[1]).toEqual({ inserted: 120, duplicates: 1, rejected: [] });
    expect(results[3]).toEqual({ inserted: 120, duplicates: 0, rejected: [{ index: 7, requestId: "req-50000" }] });
    expect(results[6]).toEqual({ inserted: 120, duplicates: 1, rejected: [] });
    const [la, lb] = [await ledger(grouped), await ledger(oneByOne)];
    expect(la.records).toHaveLength(960);
    expect(la).toEqual(lb);
    expect(await counters(grouped)).toEqual(await counters(oneByOne));
    expect(await dedupeKeys(grouped)).toEqual(await dedupeKeys(oneByOne));
  });

  it("a failed write fails its batches, every add after it and close; nothing of it is written", async () => {
    const db = grouped.runtime.db!.db;
    const before = await records(grouped);
    await sql`alter table usage_request_ids add constraint bulk_test_poison check (request_id <> 'poison')`.execute(db);
    try {
      const writer = new BulkWriter(grouped.runtime, { rowsPerWrite: 3 });
      const first = await writer.add([event(60_000), event(60_001), event(60_002, { requestId: "poison" })]);
      await expect(first.written).rejects.toThrow(/bulk_test_poison/);
      await expect(writer.add([event(60_003), event(60_004), event(60_005)])).rejects.toThrow(/bulk_test_poison/);
      await expect(writer.close()).rejects.toThrow(/bulk_test_poison/);
      expect(await records(grouped)).toBe(before);
    } finally {
      await sql`alter table usage_request_ids drop constraint bulk_test_poison`.execute(db);
    }
  });
});
