import pg from "pg";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminQuery, createTestDatabase, uniqueName, type TestDatabase } from "../server/testing/stores";
import { grantReporting, reportingRoleSql, ReportingRoleError } from "./reporting";

/**
 * The BI role on a real PostgreSQL: it reads every view of the `reporting` schema, with the
 * product's figures, and cannot read or change anything else — not even after turning off its
 * own read-only default (issue 19).
 */

const CONNECTION_LIMIT = 3;

let tdb: TestDatabase;
let role: string;
let client: pg.Client;

function asRole(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = "reporting-password-0123";
  return u.toString();
}

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  const db = tdb.handle.db;
  await sql`insert into accounts (id, name, platform) values ('acc-r', 'Reporting account', 'claude')`.execute(db);
  await sql`insert into api_keys (id, name, account_id, hashed_key) values ('key-r', 'Team key', 'acc-r', 'secret-sha256-hex')`.execute(db);
  const rows = [
    { request_id: "r-1", occurred_at: "2026-11-30T16:30:00.000Z", account_id: "acc-r", api_key_id: "key-r", model: "m", input_tokens: 10, output_tokens: 5, cache_create_tokens: 0, cache_read_tokens: 0, total_cost: "0.12345678", rated_cost: "0.2" },
    { request_id: "r-2", occurred_at: "2026-12-01T01:00:00.000Z", account_id: "acc-r", api_key_id: "key-r", model: "m", input_tokens: 1, output_tokens: 1, cache_create_tokens: 0, cache_read_tokens: 0, total_cost: "0.00000001" },
  ];
  await sql`select ensure_usage_partitions('2026-11-01', '2026-12-01')`.execute(db);
  await sql`select count(*) from insert_usage_batch(${JSON.stringify(rows)}::json, 'Asia/Shanghai')`.execute(db);
  role = uniqueName("rep").replace(/[^a-z0-9_]/g, "_").slice(0, 40);
  const r = await grantReporting(tdb.url, { role, password: "reporting-password-0123", statementTimeout: "15s", connectionLimit: CONNECTION_LIMIT, tempFileLimit: "64MB" });
  expect(r.views.length).toBe(12);
  client = new pg.Client({ connectionString: asRole(tdb.url, role) });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await tdb?.drop();
  if (role) await adminQuery(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
});

async function errorCode(text: string, on: pg.Client = client): Promise<string | undefined> {
  try {
    await on.query(text);
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe("npm run db:grant-reporting", () => {
  it("reads every view of the reporting schema, with the product's figures in USD", async () => {
    const views = (await client.query<{ v: string }>("SELECT table_name AS v FROM information_schema.views WHERE table_schema = 'reporting' ORDER BY 1")).rows.map((x) => x.v);
    expect(views).toEqual([
      "accounts", "api_keys", "usage_account_daily", "usage_account_monthly", "usage_account_totals", "usage_key_daily", "usage_key_monthly",
      "usage_key_totals", "usage_model_daily", "usage_model_monthly", "usage_model_totals", "usage_records",
    ]);
    // Every view answers, and has the seeded rows (accounts and keys: 1; the usage views: 1 or 2).
    for (const v of views) expect([v, ((await client.query(`SELECT * FROM reporting.${v}`)).rowCount ?? 0) > 0]).toEqual([v, true]);
    const totals = await client.query("SELECT requests, input_tokens, cost::text, rated_cost::text, last_model FROM usage_key_totals WHERE api_key_id = 'key-r'");
    expect(totals.rows).toEqual([{ requests: "2", input_tokens: "11", cost: "0.123456790", rated_cost: "0.200000010", last_model: "m" }]);
    // Local days (Asia/Shanghai): 16:30Z on Nov 30 is Dec 1 00:30.
    const days = await client.query("SELECT usage_date::text AS d, requests FROM usage_account_daily ORDER BY 1");
    expect(days.rows).toEqual([{ d: "2026-12-01", requests: "2" }]);
    const ledger = await client.query("SELECT request_id, cost::text, rated_cost::text FROM usage_records ORDER BY 1");
    expect(ledger.rows).toEqual([{ request_id: "r-1", cost: "0.12345678", rated_cost: "0.20000000" }, { request_id: "r-2", cost: "0.00000001", rated_cost: "0.00000001" }]);
  });

  it("shows no secret: no key hash in the views, no product table, no admin, session or token", async () => {
    const cols = (await client.query<{ c: string }>("SELECT column_name AS c FROM information_schema.columns WHERE table_schema = 'reporting'")).rows.map((x) => x.c);
    expect(cols).not.toContain("hashed_key");
    expect(cols.some((c) => /password|token_hash|secret/.test(c))).toBe(false);
    for (const t of ["api_keys", "accounts", "admin_users", "admin_sessions", "api_tokens", "usage_records", "usage_key_totals", "usage_request_ids", "schema_migrations", "source_status"]) {
      expect([t, await errorCode(`SELECT * FROM public.${t} LIMIT 1`)]).toEqual([t, "42501"]);
    }
  });

  it("cannot write anything, anywhere", async () => {
    const denied = ["42501", "25006"]; // insufficient privilege; read-only transaction
    expect(denied).toContain(await errorCode("INSERT INTO reporting.accounts (account_id, name) VALUES ('x', 'x')"));
    expect(denied).toContain(await errorCode("UPDATE reporting.api_keys SET name = 'x'"));
    expect(denied).toContain(await errorCode("DELETE FROM reporting.usage_records"));
    expect(denied).toContain(await errorCode("CREATE TABLE reporting.t (x int)"));
    expect(denied).toContain(await errorCode("CREATE TABLE public.t (x int)"));
    expect(denied).toContain(await errorCode("SET TRANSACTION READ WRITE; INSERT INTO public.accounts (id, name) VALUES ('x', 'x')"));
    expect(denied).toContain(await errorCode("SET search_path = public; SELECT count(*) FROM public.insert_usage_batch('[{\"request_id\":\"x\",\"occurred_at\":\"2026-12-01T00:00:00Z\",\"account_id\":\"a\",\"api_key_id\":\"k\",\"model\":\"m\"}]'::json, 'UTC')"));
    const n = await tdb.handle.db.selectFrom("accounts").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(1);
  });

  it("cannot write after lifting its read-only default: no temporary table, table, schema, function or large object", async () => {
    const session = new pg.Client({ connectionString: asRole(tdb.url, role) });
    await session.connect();
    try {
      // Any role may change its own defaults; read-only must hold without them.
      await session.query("SET default_transaction_read_only = off");
      expect((await session.query("SHOW transaction_read_only")).rows[0].transaction_read_only).toBe("off");
      const attempts: [string, string][] = [
        ["a temporary table", "CREATE TEMP TABLE scratch (x int)"],
        ["a temporary table (other spelling)", "CREATE TEMPORARY TABLE pg_temp.scratch AS SELECT 1 AS x"],
        ["a table in public", "CREATE TABLE public.scratch (x int)"],
        ["a table in reporting", "CREATE TABLE reporting.scratch (x int)"],
        ["a schema", "CREATE SCHEMA scratch"],
        ["a function", "CREATE FUNCTION public.scratch() RETURNS int LANGUAGE sql AS 'SELECT 1'"],
        ["a row through a view", "INSERT INTO reporting.accounts (account_id, name, platform) VALUES ('x', 'x', 'x')"],
        ["a row in a product table", "INSERT INTO public.accounts (id, name, platform) VALUES ('x', 'x', 'x')"],
        ["the ledger through our function", `SET search_path = public; SELECT count(*) FROM public.insert_usage_batch('[{"request_id":"x","occurred_at":"2026-12-01T00:00:00Z","account_id":"acc-r","api_key_id":"key-r","model":"m"}]'::json, 'UTC')`],
        ["a large object", "SELECT lo_create(0)"],
        ["a large object (lo_creat)", "SELECT lo_creat(-1)"],
        ["a large object from bytes", "SELECT lo_from_bytea(0, '\\x00'::bytea)"],
        ["a higher temp_file_limit", "SET temp_file_limit = -1"],
        ["a higher connection limit", `ALTER ROLE ${pg.escapeIdentifier(role)} CONNECTION LIMIT -1`],
      ];
      for (const [what, text] of attempts) expect([what, await errorCode(text, session)]).toEqual([what, "42501"]);
      expect((await session.query("SHOW temp_file_limit")).rows[0].temp_file_limit).toBe("64MB");
    } finally {
      await session.end();
    }
    const n = await tdb.handle.db.selectFrom("accounts").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(1);
  });

  it("holds at most its connection limit", async () => {
    const extra: pg.Client[] = [];
    try {
      // `client` is one; the rest up to the limit connect, the next is refused.
      for (let i = 1; i < CONNECTION_LIMIT; i++) {
        const c = new pg.Client({ connectionString: asRole(tdb.url, role) });
        extra.push(c);
        await c.connect();
      }
      const over = new pg.Client({ connectionString: asRole(tdb.url, role) });
      over.on("error", () => {});
      await expect(over.connect()).rejects.toMatchObject({ code: "53300" });
      await over.end().catch(() => {});
    } finally {
      for (const c of extra) await c.end().catch(() => {});
    }
  });

  it("leaves no privilege that writes, through PUBLIC included", async () => {
    const db = tdb.handle.db;
    const rows = await sql<{ temp: boolean; lo: boolean; public_temp: boolean }>`SELECT has_database_privilege(${role}, current_database(), 'TEMP') AS temp,
        has_function_privilege(${role}, 'lo_create(oid)', 'EXECUTE') AS lo,
        has_database_privilege('public', current_database(), 'TEMP') AS public_temp`.execute(db);
    expect(rows.rows).toEqual([{ temp: false, lo: false, public_temp: false }]);
  });

  it("runs with its statement timeout, read-only, and can be updated in place", async () => {
    expect((await client.query("SHOW statement_timeout")).rows[0].statement_timeout).toBe("15s");
    expect((await client.query("SHOW default_transaction_read_only")).rows[0].default_transaction_read_only).toBe("on");
    await grantReporting(tdb.url, { role, statementTimeout: "45s", connectionLimit: CONNECTION_LIMIT });
    const again = new pg.Client({ connectionString: asRole(tdb.url, role) });
    await again.connect();
    try {
      expect((await again.query("SHOW statement_timeout")).rows[0].statement_timeout).toBe("45s");
    } finally {
      await again.end();
    }
  });

  it("refuses a bad role name, a reserved one, a short password and a bad timeout, naming the problem", () => {
    expect(() => reportingRoleSql("db", { role: "Robert'); DROP TABLE x;--" })).toThrow(ReportingRoleError);
    expect(() => reportingRoleSql("db", { role: "postgres" })).toThrow(/reserved/);
    expect(() => reportingRoleSql("db", { role: "bi", password: "short" })).toThrow(/at least 12/);
    expect(() => reportingRoleSql("db", { role: "bi", statementTimeout: "1; DROP" })).toThrow(/statement-timeout/);
    expect(() => reportingRoleSql("db", { role: "bi", connectionLimit: 0 })).toThrow(/connection-limit/);
    expect(() => reportingRoleSql("db", { role: "bi", tempFileLimit: "-1" })).toThrow(/temp-file-limit/);
    expect(reportingRoleSql("db", { role: "bi" }).join("\n")).not.toMatch(/PASSWORD/);
  });
});
