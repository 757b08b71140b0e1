import fs from "node:fs";
import path from "node:path";
import mysql from "mysql2/promise";
import { afterEach, describe, expect, it } from "vitest";
import { getTestStores } from "../../config";
import pg from "pg";
import {
  connectReader, createNewapiDatabase, openSqlite, sqlitePathOf, startSqliteWriter, tokenKey,
  type LogRow, type NewapiDatabase, type NewapiEngine, type NewapiReader, type NewapiVariant, type SqliteWriter,
} from "./newapi.fixtures";
import { addNewapiLogs, generateNewapiLogs, newapiRowFigures, newapiTruth } from "./testing";

const END = Date.UTC(2026, 4, 31, 12);
const row = (over: Partial<LogRow> = {}): LogRow => ({
  user_id: 7, username: "alice", created_at: 1_780_000_000, type: 2, content: "", token_name: "ci", token_id: 3, channel_id: 5,
  model_name: "claude-sonnet-4-5", quota: 1234, prompt_tokens: 100, completion_tokens: 50, use_time: 4, elapsed_time: 4000,
  is_stream: true, group: "vip", other: '{"usage_semantic":"anthropic","cache_tokens":10,"group_ratio":0.8}', request_id: "req-1", ...over,
});

/** What each engine's driver returns for a permission error on the read-only login. */
const denied: Record<NewapiEngine, (e: unknown) => boolean> = {
  postgres: (e) => (e as { code?: string }).code === "42501",
  mysql: (e) => [1142, 1044].includes((e as { errno?: number }).errno ?? 0),
  sqlite: (e) => (e as { code?: string }).code === "SQLITE_READONLY",
};

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

async function columnsOf(r: NewapiReader, table: string): Promise<string[]> {
  const rows =
    r.engine === "sqlite"
      ? await r.query(`SELECT name FROM pragma_table_info('${table}')`)
      : await r.query(
          `SELECT column_name AS name FROM information_schema.columns WHERE table_name = ? AND table_schema = ${r.engine === "mysql" ? "DATABASE()" : "'public'"}`,
          [table],
        );
  return rows.map((x) => String(x.name ?? x.NAME)).sort();
}

/** Whether anything of a dropped fixture is left, asked of the servers themselves. */
async function leftovers(engine: NewapiEngine, urls: string[]): Promise<string[]> {
  if (engine === "sqlite") return urls.map((u) => path.dirname(sqlitePathOf(u))).filter((d) => fs.existsSync(d));
  const names = urls.map((u) => new URL(u).pathname.slice(1));
  const user = new URL(urls[0]!).username;
  if (engine === "postgres") {
    const c = new pg.Client({ connectionString: getTestStores().databaseUrl });
    await c.connect();
    try {
      const r = await c.query<{ n: string }>(
        `SELECT datname AS n FROM pg_database WHERE datname = ANY($1) UNION ALL SELECT rolname FROM pg_roles WHERE rolname = $2`,
        [names, user],
      );
      return r.rows.map((x) => x.n);
    } finally {
      await c.end();
    }
  }
  const c = await mysql.createConnection("mysql://root@127.0.0.1:3306/");
  try {
    const [r] = await c.query<mysql.RowDataPacket[]>(
      `SELECT schema_name AS n FROM information_schema.schemata WHERE schema_name IN (?) UNION ALL SELECT user FROM mysql.user WHERE user = ?`,
      [names, user],
    );
    return r.map((x) => String(x.n));
  } finally {
    await c.end();
  }
}

describe.each<NewapiEngine>(["postgres", "mysql", "sqlite"])("newapi fixtures on %s", (engine) => {
  const open: NewapiDatabase[] = [];
  const readers: NewapiReader[] = [];
  const writers: SqliteWriter[] = [];
  const create = async (opts: { variant?: NewapiVariant; separateLogs?: boolean; quotaPerUnit?: string | null } = {}) => {
    const db = await createNewapiDatabase({ engine, ...opts });
    open.push(db);
    return db;
  };
  const reader = async (url: string) => {
    const r = await connectReader(url);
    readers.push(r);
    return r;
  };
  afterEach(async () => {
    for (const w of writers.splice(0)) await w.close();
    for (const r of readers.splice(0)) await r.close().catch(() => {});
    for (const d of open.splice(0)) await d.drop();
  });

  it("gives the ledger a login that can SELECT and nothing else", async () => {
    const db = await create();
    await db.insertLogs([row()]);
    const r = await reader(db.url);
    expect(await r.query("SELECT count(*) AS n FROM logs")).toEqual([{ n: engine === "postgres" ? "1" : 1 }]);
    const attempts = [
      "INSERT INTO logs (user_id, created_at, type) VALUES (1, 1, 2)",
      "UPDATE logs SET quota = 0",
      "DELETE FROM logs",
      "CREATE TABLE ledger_was_here (id integer)",
      "INSERT INTO options VALUES ('QuotaPerUnit', '1')",
    ];
    for (const a of attempts) expect(denied[engine](await rejection(r.query(a))), a).toBe(true);
    expect(await r.query("SELECT count(*) AS n FROM logs")).toEqual([{ n: engine === "postgres" ? "1" : 1 }]);
  });

  it.each<NewapiVariant>(["new-api", "one-api"])("creates %s's tables and reads rows back with the relay's types", async (variant) => {
    const db = await create({ variant, quotaPerUnit: "1000000" });
    const userId = await db.addUser({ username: "alice" });
    const channel = await db.addChannel({ name: "anthropic-1", type: 14 });
    const token = await db.addToken({ userId, name: "ci", key: tokenKey() });
    const [id] = await db.insertLogs([row({ user_id: userId, channel_id: channel, token_id: token })]);
    const r = await reader(db.url);

    const logCols = await columnsOf(r, "logs");
    if (variant === "new-api") {
      expect(logCols).toEqual(expect.arrayContaining(["token_id", "group", "other", "use_time", "request_id", "upstream_request_id", "channel_name", "ip"]));
      expect(logCols).not.toContain("elapsed_time");
    } else {
      expect(logCols).toEqual(expect.arrayContaining(["elapsed_time", "request_id", "system_prompt_reset"]));
      for (const c of ["token_id", "group", "other", "use_time"]) expect(logCols).not.toContain(c);
    }
    expect((await columnsOf(r, "tokens")).includes("deleted_at")).toBe(variant === "new-api");

    const [got] = await r.query("SELECT * FROM logs WHERE id = ?", [id]);
    // node-postgres gives int8 as text; mysql2 gives bigint as number and boolean as tinyint(1); SQLite 0/1.
    const int = (n: number) => (engine === "postgres" ? String(n) : n);
    const bool = engine === "postgres" ? true : 1;
    expect(got).toMatchObject({ id: int(id!), user_id: int(userId), created_at: int(1_780_000_000), type: int(2), quota: int(1234), prompt_tokens: int(100), channel_id: int(channel), is_stream: bool, model_name: "claude-sonnet-4-5", username: "alice" });
    if (variant === "new-api") {
      expect(got).toMatchObject({ token_id: int(token), group: "vip", use_time: int(4), channel_name: null, other: row().other });
    } else {
      expect(got).toMatchObject({ elapsed_time: int(4000) });
    }
    expect(await r.query(`SELECT value FROM options WHERE ${engine === "mysql" ? "`key`" : `"key"`} = 'QuotaPerUnit'`)).toEqual([{ value: "1000000" }]);

    // Explicit ids (as an import would write) and auto ids mix on every engine.
    const [given] = await db.insertLogs([row({ id: id! + 100 })]);
    expect(await db.insertLogs([row()])).toEqual([given! + 1]);
    expect(await db.addChannel({ id: channel + 50, name: "c2", type: 1 })).toBe(channel + 50);
    expect(await db.addChannel({ name: "c3", type: 1 })).toBe(channel + 51);

    await db.deleteToken(token);
    await db.deleteChannel(channel);
    const tokens = await r.query("SELECT * FROM tokens");
    if (variant === "new-api") {
      expect(tokens).toHaveLength(1);
      expect(tokens[0]!.deleted_at).not.toBeNull();
    } else {
      expect(tokens).toEqual([]);
    }
    expect((await r.query("SELECT id FROM channels ORDER BY id")).map((x) => Number(x.id))).toEqual([channel + 50, channel + 51]);
  });

  it("leaves the QuotaPerUnit row out unless given", async () => {
    const db = await create({ quotaPerUnit: null });
    const r = await reader(db.url);
    expect(await r.query(`SELECT * FROM options WHERE ${engine === "mysql" ? "`key`" : `"key"`} = 'QuotaPerUnit'`)).toEqual([]);
  });

  it("keeps logs in a database of their own with separateLogs, and an empty logs table in the main one", async () => {
    const db = await create({ separateLogs: true });
    const ids = await db.insertLogs([row(), row({ quota: 5 })]);
    expect(ids[1]).toBe(ids[0]! + 1);
    const main = await reader(db.url);
    const logs = await reader(db.logUrl!);
    expect(await main.query("SELECT * FROM logs")).toEqual([]);
    expect((await logs.query("SELECT id FROM logs ORDER BY id")).map((x) => Number(x.id))).toEqual(ids);
    expect(denied[engine](await rejection(logs.query("DELETE FROM logs")))).toBe(true);
  });

  it.skipIf(engine === "sqlite")("commits two writers' transactions out of id order", async () => {
    const db = await create();
    const a = await db.openTransaction();
    const b = await db.openTransaction();
    const [low] = await a.insertLogs([row({ quota: 1 })]);
    const [high] = await b.insertLogs([row({ quota: 2 })]);
    expect(high).toBeGreaterThan(low!);
    const r = await reader(db.url);
    expect(await r.query("SELECT id FROM logs")).toEqual([]);
    await b.commit();
    expect((await r.query("SELECT id FROM logs")).map((x) => Number(x.id))).toEqual([high]);
    await a.commit();
    expect((await r.query("SELECT id FROM logs ORDER BY id")).map((x) => Number(x.id))).toEqual([low, high]);
    const c = await db.openTransaction();
    await c.insertLogs([row()]);
    await c.rollback();
    expect(await r.query("SELECT count(*) AS n FROM logs")).toEqual([{ n: engine === "postgres" ? "2" : 2 }]);
  });

  it.skipIf(engine !== "sqlite")("has a writer process that writes while a read-only connection reads (WAL)", async () => {
    const db = await create();
    const file = sqlitePathOf(db.url);
    const w = startSqliteWriter(file);
    writers.push(w);
    const ro = openSqlite(file, { readonly: true });
    try {
      expect(ro.pragma("journal_mode", { simple: true })).toBe("wal");
      const max = () => Number(ro.prepare("SELECT coalesce(max(id), 0) AS m FROM logs").all()[0]!.m);
      const first = await w.write([row(), row()]);
      expect(max()).toBe(first);
      // A reader's snapshot open across a write: the writer is not blocked, the reader sees its snapshot.
      ro.exec("BEGIN");
      expect(max()).toBe(first);
      const second = await w.write([row({ quota: 9 })]);
      expect(second).toBe(first + 1);
      expect(max()).toBe(first);
      ro.exec("COMMIT");
      expect(max()).toBe(second);
      // Batches stream in while the reader polls; what it sees only grows, and ends at the last id.
      const rows = generateNewapiLogs(600, 11, { endMs: END, spreadHours: 24, channels: [1, 2], tokens: [{ id: 1, userId: 1, name: "a" }] });
      const seen: number[] = [];
      let last = second;
      const writing = (async () => {
        for (let i = 0; i < rows.length; i += 50) last = await w.write(rows.slice(i, i + 50));
      })();
      let done = false;
      void writing.finally(() => (done = true));
      while (!done) {
        seen.push(max());
        await new Promise((r) => setImmediate(r));
      }
      await writing;
      expect(seen).toEqual([...seen].sort((x, y) => x - y));
      expect(last).toBe(second + rows.length);
      expect(max()).toBe(last);
      expect(await w.write([{ ...row(), id: first }]).catch((e: Error) => e.message)).toMatch(/UNIQUE|constraint/i);
    } finally {
      ro.close();
    }
  });

  it.each<[NewapiVariant, string]>([["new-api", "500000"], ["new-api", "250000"], ["one-api", "1000000"]])(
    "newapiTruth agrees with SQL sums over the %s source (QuotaPerUnit %s)",
    async (variant, quotaPerUnit) => {
      const db = await create({ variant, quotaPerUnit });
      const tokens = [{ id: 1, userId: 10, name: "ci" }, { id: 2, userId: 10, name: "prod" }, { id: 3, userId: 11, name: "ci" }];
      for (const u of [10, 11]) await db.addUser({ id: u, username: `user${u}` });
      for (const t of tokens) await db.addToken({ id: t.id, userId: t.userId, name: t.name, key: tokenKey() });
      for (const c of [1, 2, 3]) await db.addChannel({ id: c, name: `ch${c}`, type: 1 });
      const rows = await addNewapiLogs(db, 3000, { seed: 42, endMs: END, spreadHours: 24 * 40, channels: [1, 2, 3], tokens, batch: 700 });
      expect(new Set(rows.map((x) => x.id)).size).toBe(rows.length);

      const truth = newapiTruth(rows, { quotaPerUnit, timeZone: "Asia/Shanghai", variant, source: "na" });
      const r = await reader(db.url);
      const refund = variant === "new-api" ? "WHEN type = 6 THEN -quota" : "";
      const sums = await r.query(
        `SELECT channel_id AS ch, SUM(CASE WHEN type = 2 THEN quota ${refund} ELSE 0 END) AS q,
                SUM(CASE WHEN type = 2 AND quota >= 0 THEN 1 ELSE 0 END) AS n,
                SUM(CASE WHEN type = 2 THEN completion_tokens ELSE 0 END) AS output_tokens
           FROM logs WHERE type IN (2, 6) GROUP BY channel_id ORDER BY channel_id`,
      );
      const qpu = BigInt(quotaPerUnit);
      const fromSql = Object.fromEntries(
        sums.map((s) => [`na-${s.ch}`, { requests: Number(s.n), outputTokens: Number(s.output_tokens), ratedCostNanos: (BigInt(String(s.q)) * 1_000_000_000n) / qpu }]),
      );
      const fromTruth = Object.fromEntries([...truth.byChannel].map(([k, f]) => [k, { requests: f.requests, outputTokens: f.outputTokens, ratedCostNanos: f.ratedCostNanos }]));
      expect(fromTruth).toEqual(fromSql);
      // The mix the follower tests rely on is there.
      const types = new Set(rows.map((x) => x.type));
      expect(types).toEqual(new Set(variant === "new-api" ? [1, 2, 3, 4, 5, 6] : [1, 2, 3, 4, 5]));
      const sum = (m: Map<string, { ratedCostNanos: bigint }>) => [...m.values()].reduce((a, f) => a + f.ratedCostNanos, 0n);
      expect(sum(truth.byDay)).toBe(truth.total.ratedCostNanos);
      expect(sum(truth.byTokenMonth)).toBe(truth.total.ratedCostNanos);
      expect(truth.byMonth.size).toBeGreaterThan(1);
    },
  );

  it("drop() leaves nothing behind, even with connections and a transaction open", async () => {
    const db = await createNewapiDatabase({ engine, separateLogs: true });
    await db.insertLogs([row()]);
    const r = await connectReader(db.url);
    await r.query("SELECT * FROM logs");
    const tx = engine === "sqlite" ? undefined : await db.openTransaction();
    await tx?.insertLogs([row()]);
    await db.drop();
    await r.close().catch(() => {});
    expect(await leftovers(engine, [db.url, db.logUrl!])).toEqual([]);
  });
});

describe("generateNewapiLogs / newapiTruth", () => {
  const tokens = [{ id: 1, userId: 1, name: "a" }, { id: 2, userId: 2, name: "b" }];
  const gen = (seed: number) => generateNewapiLogs(4000, seed, { endMs: END, spreadHours: 48, channels: [1, 2], tokens });

  it("is deterministic and has the mix the product's rules are about", () => {
    const rows = gen(7);
    expect(gen(7)).toEqual(rows);
    expect(gen(8)).not.toEqual(rows);
    const consume = rows.filter((x) => x.type === 2);
    expect(consume.length / rows.length).toBeGreaterThan(0.75);
    expect(consume.length / rows.length).toBeLessThan(0.85);
    const others = consume.map((x) => x.other);
    expect(others).toEqual(expect.arrayContaining([null, "", "{bad"]));
    expect(others.some((o) => o?.includes('"usage_semantic":"anthropic"'))).toBe(true);
    expect(others.some((o) => o?.includes('"claude":true'))).toBe(true);
    expect(others.some((o) => o?.includes("cache_creation_tokens_1h") && !o.includes('"cache_creation_tokens":'))).toBe(true);
    expect(consume.some((x) => x.quota < 0)).toBe(true);
    expect(consume.some((x) => x.token_id === 0 && x.token_name === "模型测试")).toBe(true);
    const refunds = rows.filter((x) => x.type === 6);
    expect(refunds.every((x) => x.quota > 0 && x.prompt_tokens === 0 && x.completion_tokens === 0)).toBe(true);
    expect(refunds.some((x) => x.token_id === 0)).toBe(true);
    expect(rows.map((x) => x.created_at)).toEqual(rows.map((x) => x.created_at).sort((a, b) => a - b));
  });

  it("applies the product's rules to single rows exactly", () => {
    const f = (over: Partial<LogRow>, quotaPerUnit = "500000") => newapiRowFigures(row(over), { quotaPerUnit });
    // Anthropic semantic: prompt excludes cache; $0.002468 rated, ÷ 0.8 = $0.003085.
    expect(f({})).toEqual({ requests: 1, inputTokens: 100, outputTokens: 50, cacheCreateTokens: 0, cacheReadTokens: 10, ratedCostNanos: 2_468_000n, costNanos: 3_085_000n });
    // OpenAI semantic: prompt includes cache read and creation (5m + 1h when the total is absent).
    expect(f({ other: '{"cache_tokens":30,"cache_creation_tokens_5m":20,"cache_creation_tokens_1h":5}' })).toMatchObject({ inputTokens: 45, cacheCreateTokens: 25, cacheReadTokens: 30 });
    expect(f({ other: '{"cache_tokens":300}' })).toMatchObject({ inputTokens: 0 });
    // Untrusted values count as 0 / 1.
    expect(f({ other: '{"cache_tokens":"30","group_ratio":"2"}' })).toMatchObject({ inputTokens: 100, cacheReadTokens: 0, costNanos: 2_468_000n });
    expect(f({ other: "{bad" })).toMatchObject({ inputTokens: 100, costNanos: 2_468_000n });
    // 1 quota / 3 group ratio → 0.00000666… → 8 decimals half away from zero, both signs.
    expect(f({ quota: 1, other: '{"group_ratio":0.3}' })).toMatchObject({ ratedCostNanos: 2_000n, costNanos: 6_670n });
    expect(f({ quota: -1, other: '{"group_ratio":0.3}' })).toMatchObject({ requests: 0, ratedCostNanos: -2_000n, costNanos: -6_670n });
    // A refund: negative money, no tokens, no request.
    expect(f({ type: 6, quota: 1000, other: '{"group_ratio":2.5}' })).toEqual({ requests: 0, inputTokens: 0, outputTokens: 0, cacheCreateTokens: 0, cacheReadTokens: 0, ratedCostNanos: -2_000_000n, costNanos: -800_000n });
    expect(f({ type: 5 })).toBeUndefined();
    expect(newapiRowFigures(row({ type: 6 }), { variant: "one-api" })).toBeUndefined();
    expect(newapiRowFigures(row({}), { variant: "one-api" })).toMatchObject({ inputTokens: 100, cacheReadTokens: 0, costNanos: 2_468_000n });
    expect(() => f({}, "300000")).toThrow(/divide/);
    expect(f({}, "500000.000000")).toMatchObject({ ratedCostNanos: 2_468_000n });
  });

  it("keys days and months in the time zone", () => {
    // 2026-05-31 16:30 UTC is June 1st in Shanghai.
    const t = newapiTruth([row({ created_at: Date.UTC(2026, 4, 31, 16, 30) / 1000 })], { timeZone: "Asia/Shanghai", source: "na" });
    expect([...t.byDay.keys()]).toEqual(["2026-06-01"]);
    expect([...t.byChannelMonth.keys()]).toEqual(["na-5|2026-06"]);
    expect([...t.byChannelToken.keys()]).toEqual(["na-5|na-key-3"]);
  });
});
