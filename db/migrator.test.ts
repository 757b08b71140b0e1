import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../server/testing/stores";
import { loadMigrations, migrate, migrationStatus, seed } from "./migrator";

const run = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
async function freshDb(migrated = false): Promise<TestDatabase> {
  const t = await createTestDatabase({ migrated });
  cleanups.push(() => t.drop());
  return t;
}
function cli(args: string[], env: Record<string, string>) {
  return run("node_modules/.bin/tsx", ["scripts/db-migrate.ts", ...args], { env: { ...process.env, ...env }, cwd: process.cwd() });
}

async function tables(t: TestDatabase): Promise<string[]> {
  const r = await sql<{ n: string }>`select tablename as n from pg_tables where schemaname = 'public' order by 1`.execute(t.handle.db);
  return r.rows.map((x) => x.n);
}

describe("migrations", () => {
  it("apply to an empty database and are a no-op the second time", async () => {
    const t = await freshDb();
    const files = loadMigrations();
    expect(files.length).toBeGreaterThan(0);
    expect(await migrate(t.handle)).toEqual(files.map((f) => f.name));
    const before = await tables(t);
    expect(before).toEqual(expect.arrayContaining(["accounts", "api_keys", "usage_request_ids", "usage_key_daily", "schema_migrations"]));
    expect(await migrate(t.handle)).toEqual([]);
    expect(await tables(t)).toEqual(before);
    const st = await migrationStatus(t.handle);
    expect(st.pending).toEqual([]);
    expect(st.applied.map((a) => [a.name, a.checksum])).toEqual(files.map((f) => [f.name, f.checksum]));
  });

  it("refuse an applied migration whose file was edited", async () => {
    const t = await freshDb(true);
    const files = loadMigrations().map((f, i) => (i === 0 ? { ...f, sql: f.sql + "\n-- edited", checksum: "0".repeat(64) } : f));
    await expect(migrate(t.handle, { files })).rejects.toThrow(/0001_init\.sql was edited after it was applied/);
  });

  it("roll back a failing migration as a whole", async () => {
    const t = await freshDb(true);
    const bad = { name: "9999_bad.sql", checksum: "x", sql: "CREATE TABLE half_done (id int); SELECT 1/0;" };
    await expect(migrate(t.handle, { files: [...loadMigrations(), bad] })).rejects.toThrow(/9999_bad\.sql failed and was rolled back/);
    expect(await tables(t)).not.toContain("half_done");
    expect((await migrationStatus(t.handle)).pending.map((p) => p.name)).toEqual([]);
  });

  it("serialise two concurrent db:migrate processes; both succeed", async () => {
    const t = await freshDb();
    const env = { DATABASE_URL: t.url };
    const [a, b] = await Promise.all([cli([], env), cli([], env)]);
    const outputs = [a.stdout, b.stdout].sort();
    expect(outputs.some((o) => /applied \d+ migration/.test(o))).toBe(true);
    expect(outputs.some((o) => o.includes("up to date"))).toBe(true);
    const st = await migrationStatus(t.handle);
    expect(st.applied).toHaveLength(loadMigrations().length);
  }, 90_000);

  it("--dry-run prints the pending SQL and changes nothing; --list shows the state", async () => {
    const t = await freshDb();
    const env = { DATABASE_URL: t.url };
    const dry = await cli(["--dry-run"], env);
    expect(dry.stdout).toContain("0001_init.sql (would be applied; nothing was changed)");
    expect(dry.stdout).toContain("CREATE TABLE accounts");
    expect(await tables(t)).toEqual([]);
    expect((await cli(["--list"], env)).stdout).toMatch(/pending {2}0001_init\.sql/);
    await cli([], env);
    expect((await cli(["--list"], env)).stdout).toMatch(/applied {2}0001_init\.sql/);
    expect((await cli(["--dry-run"], env)).stdout).toContain("nothing pending");
  }, 90_000);
});

describe("seed", () => {
  it("loads demo data that covers today and this month, and seeding twice gives identical totals", async () => {
    const t = await freshDb(true);
    const tz = "Asia/Shanghai";
    await seed(t.handle, tz);
    const totals = async () =>
      (
        await sql<{ n: string; tokens: string; cost: string; nanos: string; accounts: number; keys: number; platforms: number; days: number; models: number }>`
          select (select count(*) from usage_records)::text as n,
                 (select sum(total_tokens) from usage_records)::text as tokens,
                 (select sum(total_cost) from usage_records)::text as cost,
                 (select sum(cost_nanos) from usage_account_totals)::text as nanos,
                 (select count(*)::int from accounts) as accounts,
                 (select count(*)::int from api_keys) as keys,
                 (select count(distinct platform)::int from accounts) as platforms,
                 (select count(distinct usage_date)::int from usage_records) as days,
                 (select count(distinct model)::int from usage_records) as models`.execute(t.handle.db)
      ).rows[0]!;
    const first = await totals();
    expect(first.accounts).toBeGreaterThanOrEqual(6);
    expect(first.platforms).toBeGreaterThanOrEqual(4);
    expect(first.keys).toBeGreaterThanOrEqual(20);
    expect(first.days).toBeGreaterThanOrEqual(30);
    expect(first.models).toBeGreaterThanOrEqual(3);
    // Rollups agree with raw records to the nano-dollar.
    expect(BigInt(first.nanos)).toBe(BigInt(first.cost.replace(".", "").replace(/^0+/, "")) * 10n);
    const today = await sql<{ n: number }>`
      select count(*)::int as n from usage_account_daily
       where usage_date = (now() at time zone ${tz})::date`.execute(t.handle.db);
    expect(today.rows[0]!.n).toBeGreaterThan(0);
    // Keys are charged at different rates, so the console's 计费 and 毛利 differ from the cost.
    const rated = await sql<{ differ: number; keys: number }>`
      select count(*) filter (where rated_cost_nanos <> cost_nanos)::int as differ, count(*)::int as keys from usage_key_totals`.execute(t.handle.db);
    expect(rated.rows[0]!.differ).toBeGreaterThan(rated.rows[0]!.keys / 2);
    await seed(t.handle, tz);
    expect(await totals()).toEqual(first);
  }, 60_000);
});
