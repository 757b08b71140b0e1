import pg from "pg";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRuntime, type TestRuntime } from "../../testing/runtime";
import { formatSub2apiReport, importSub2api, type Sub2apiImportReport } from "./importer";
import { Sub2apiReader } from "./reader";
import { addAccount, addGroup, addKey, addUser, createSub2apiDatabase, type Sub2apiDatabase } from "./sub2api.fixtures";
import { figuresBy, generateLogs, ledgerFigures, writeLogs, type GeneratedLog } from "./testing";

/**
 * sub2api:import on a sub2api-shaped database (real PostgreSQL, read through a SELECT-only login):
 * every figure exact against what the test wrote, a second import adding nothing, and the ledger
 * keeping what it took after sub2api deleted a user with its logs.
 */

const TZ = "Asia/Shanghai";
const END = Date.now() - 60_000;

let env: TestRuntime;
let s2a: Sub2apiDatabase;
let reader: Sub2apiReader;
let logs: GeneratedLog[];
let first: Sub2apiImportReport;
const ids: Record<string, string> = {};

beforeAll(async () => {
  env = await createTestRuntime({ USAGE_TIMEZONE: TZ });
  s2a = await createSub2apiDatabase();
  const g = await addGroup(s2a.pool, "vip", "1.5");
  ids.alice = await addUser(s2a.pool, "alice@example.com", "alice");
  ids.bob = await addUser(s2a.pool, "bob@example.com");
  ids.a1 = await addAccount(s2a.pool, { name: "Claude Max 1", platform: "anthropic", type: "oauth", priority: 10 });
  ids.a2 = await addAccount(s2a.pool, { name: "OpenAI key", platform: "openai", type: "apikey" });
  ids.k1 = await addKey(s2a.pool, { userId: ids.alice, name: "alice laptop", groupId: g });
  ids.k2 = await addKey(s2a.pool, { userId: ids.bob, name: "bob ci" });
  ids.k3 = await addKey(s2a.pool, { userId: ids.alice, name: "alice old" });
  logs = generateLogs(
    400,
    22,
    END,
    72,
    [ids.a1, ids.a2].map((id) => ({ id, ledger: `sub2api-${id}` })),
    [ids.k1, ids.k2, ids.k3].map((id) => ({ id, userId: id === ids.k2 ? ids.bob! : ids.alice!, ledger: `sub2api-key-${id}` })),
  );
  logs.push({
    userId: ids.alice, apiKeyId: ids.k1, accountId: ids.a1, model: "claude-sonnet-4-5", createdAt: new Date(END - 1000).toISOString(),
    input: 10, output: 20, totalCost: "2.0000000001", actualCost: "0.1234567895", rateMultiplier: "0.0617",
    accountStatsCost: "1.2345678901", accountRateMultiplier: "1.5000", requestId: "hand",
    ledgerAccount: `sub2api-${ids.a1}`, ledgerKey: `sub2api-key-${ids.k1}`, realNanos: 1_851_851_840n, ratedNanos: 123_456_790n,
  });
  await writeLogs(s2a.pool, logs);
  // Deleted in sub2api (soft, as sub2api does): an account and a key.
  await s2a.pool.query(`update accounts set deleted_at = now() where id = $1`, [ids.a2]);
  await s2a.pool.query(`update api_keys set deleted_at = now(), key = '__deleted__' || id where id = $1`, [ids.k3]);
  reader = Sub2apiReader.connect(s2a.readUrl);
  first = await importSub2api(env.runtime, reader, { source: "sub2api", batch: 150 });
}, 120_000);

afterAll(async () => {
  await reader?.close();
  await s2a?.drop();
  await env?.close();
});

const db = () => env.runtime.db!.db;

describe("sub2api:import", () => {
  it("reports what it did", () => {
    expect(first).toMatchObject({ source: "sub2api", dryRun: false, accounts: 2, linkedAccounts: 0, apiKeys: 3, rowsRead: 401, events: 401, inserted: 401, duplicates: 0, requests: 401 });
    expect(first.rejections).toEqual({ total: 0, byReason: {}, named: [] });
    const real = logs.reduce((s, l) => s + l.realNanos, 0n);
    const rated = logs.reduce((s, l) => s + l.ratedNanos, 0n);
    expect(first.cost).toBe(`${real / 1_000_000_000n}.${(real % 1_000_000_000n).toString().padStart(9, "0")}`);
    expect(first.ratedCost).toBe(`${rated / 1_000_000_000n}.${(rated % 1_000_000_000n).toString().padStart(9, "0")}`);
    expect(formatSub2apiReport(first)).toContain("401 new, 0 duplicates skipped");
  });

  it("gives every account's, key's and day's figures exactly: real = account cost, rated = what the user was charged", async () => {
    expect(await ledgerFigures(db(), "usage_account_totals", "account_id")).toEqual(figuresBy(logs, (l) => l.ledgerAccount));
    expect(await ledgerFigures(db(), "usage_key_totals", "api_key_id")).toEqual(figuresBy(logs, (l) => l.ledgerKey));
    const day = (l: GeneratedLog) => new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(new Date(l.createdAt));
    expect(await ledgerFigures(db(), "usage_account_daily", "account_id", "to_char(usage_date, 'YYYY-MM-DD')")).toEqual(figuresBy(logs, (l) => `${l.ledgerAccount}|${day(l)}`));
    const byModel = await sql<{ model: string; n: string }>`select model, sum(requests)::text as n from usage_model_totals group by 1`.execute(db());
    expect(Object.fromEntries(byModel.rows.map((r) => [r.model, Number(r.n)]))).toEqual(
      Object.fromEntries([...figuresBy(logs, (l) => l.model)].map(([m, f]) => [m, f.requests])),
    );
  });

  it("keeps a hand-computed row exact: an account cost of 10 decimals times the account's rate, rounded to 8", async () => {
    const id = (await s2a.pool.query<{ id: string }>("select id::text from usage_logs where request_id = 'hand'")).rows[0]!.id;
    const row = await sql<{ total_cost: string; rated_cost: string | null; metadata: Record<string, unknown> }>`
      select total_cost::text, rated_cost::text, metadata from usage_records where request_id = ${`sub2api-${id}`}`.execute(db());
    // 1.2345678901 × 1.5 = 1.85185183515 → 1.85185184 real; 0.1234567895 → 0.12345679 charged.
    expect(row.rows).toEqual([
      {
        total_cost: "1.85185184",
        rated_cost: "0.12345679",
        metadata: expect.objectContaining({ source: "sub2api", sub2apiId: id, sub2apiRequestId: "hand", listCost: "2.0000000001", accountRateMultiplier: "1.5000" }),
      },
    ]);
  });

  it("writes accounts and keys with their source, deletions and owners, and never a key", async () => {
    const accounts = await db().selectFrom("accounts").select(["id", "name", "platform", "type", "priority", "sources", "deleted_at"]).orderBy("id").execute();
    expect(accounts.map(({ deleted_at, ...a }) => ({ ...a, deleted: deleted_at !== null }))).toEqual([
      { id: `sub2api-${ids.a1}`, name: "Claude Max 1", platform: "anthropic", type: "oauth", priority: 10, sources: ["sub2api"], deleted: false },
      { id: `sub2api-${ids.a2}`, name: "OpenAI key", platform: "openai", type: "apikey", priority: 50, sources: ["sub2api"], deleted: true },
    ]);
    const keys = await db().selectFrom("api_keys").selectAll().orderBy("id").execute();
    expect(keys.map((k) => [k.id, k.name, k.source, k.status, k.deleted_at !== null, k.hashed_key])).toEqual([
      [`sub2api-key-${ids.k1}`, "alice laptop", "sub2api", "active", false, null],
      [`sub2api-key-${ids.k2}`, "bob ci", "sub2api", "active", false, null],
      [`sub2api-key-${ids.k3}`, "alice old", "sub2api", "deleted", true, null],
    ]);
    expect(keys[0]!.metadata).toMatchObject({ source: "sub2api", user: "alice", userEmail: "alice@example.com", group: "vip" });
    expect(keys[1]!.metadata).toMatchObject({ user: "bob@example.com" });
    const plain = (await s2a.pool.query<{ key: string }>("select key from api_keys")).rows.map((r) => r.key);
    const stored = JSON.stringify(await sql`select * from api_keys`.execute(db())) + JSON.stringify(await sql`select * from accounts`.execute(db()));
    for (const k of plain) expect(stored).not.toContain(k);
    expect(stored).not.toContain("secret-token");
  });

  it("reads through a login that cannot write, and the ledger's source refuses nothing it could", async () => {
    const c = new pg.Client({ connectionString: s2a.readUrl });
    await c.connect();
    await expect(c.query("update usage_logs set model = 'x'")).rejects.toThrow(/permission denied/);
    await c.end();
  });

  it("a second import adds nothing; after sub2api deleted a user with its logs, the ledger keeps what it had", async () => {
    const before = await ledgerFigures(db(), "usage_account_totals", "account_id");
    const again = await importSub2api(env.runtime, reader, { source: "sub2api" });
    expect(again).toMatchObject({ rowsRead: 401, inserted: 0, duplicates: 401 });
    const bobRows = logs.filter((l) => l.userId === ids.bob).length;
    expect(bobRows).toBeGreaterThan(0);
    await s2a.pool.query("delete from users where id = $1", [ids.bob]);
    const third = await importSub2api(env.runtime, reader, { source: "sub2api", dryRun: true });
    expect(third).toMatchObject({ dryRun: true, rowsRead: 401 - bobRows, duplicates: 401 - bobRows, apiKeys: 2 });
    const fourth = await importSub2api(env.runtime, reader, { source: "sub2api" });
    expect(fourth).toMatchObject({ inserted: 0, duplicates: 401 - bobRows });
    expect(await ledgerFigures(db(), "usage_account_totals", "account_id")).toEqual(before);
    // bob's key stays in the ledger, as it was.
    expect(await db().selectFrom("api_keys").select("id").where("id", "=", `sub2api-key-${ids.k2}`).executeTakeFirst()).toBeDefined();
  });

  it("refuses a database that is not sub2api's, naming the problem", async () => {
    const other = Sub2apiReader.connect(env.database.url.replace(/\/[^/]*$/, "/postgres"));
    await expect(importSub2api(env.runtime, other, { source: "sub2api" })).rejects.toThrow(/no usage_logs table/);
    await other.close();
  });
});
