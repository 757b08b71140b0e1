import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../db/types";
import { createTestRuntime, type TestRuntime } from "../../testing/runtime";
import { ledgerFigures } from "../sub2api/testing";
import { NewapiFollower } from "./follower";
import { importNewapi, type NewapiImportReport } from "./importer";
import { apiKeyIdOf } from "./mapping";
import { createNewapiDatabase, startSqliteWriter, sqlitePathOf, type LogRow, type NewapiDatabase, type NewapiEngine, type NewapiVariant } from "./newapi.fixtures";
import { NewapiReader } from "./reader";
import { generateNewapiLogs, newapiTruth, type Figures } from "./testing";

/**
 * The new-api / one-api source on each engine the relay runs on — MariaDB, PostgreSQL, SQLite —,
 * each a real database of its own read through a SELECT-only login (SQLite: the file opened
 * read-only): the import and the follower give, per channel, token, model, channel × token, day
 * and month, exactly the figures the rows the test wrote give (testing.ts works them out on its
 * own), refunds and negative re-charges included; a second import adds nothing; ids that commit
 * out of order and a restart lose and double nothing.
 */

const TZ = "Asia/Shanghai";
const SOURCE = "newapi";
const END = Date.now() - 120_000;

interface Case {
  engine: NewapiEngine;
  variant: NewapiVariant;
  quotaPerUnit: string | null;
  separateLogs: boolean;
}

const CASES: Case[] = [
  { engine: "mysql", variant: "new-api", quotaPerUnit: null, separateLogs: false },
  { engine: "postgres", variant: "new-api", quotaPerUnit: "1000000", separateLogs: true },
  { engine: "sqlite", variant: "new-api", quotaPerUnit: "250000", separateLogs: false },
  { engine: "mysql", variant: "one-api", quotaPerUnit: "500000.0", separateLogs: false },
];

const strip = (m: Map<string, Figures>) => new Map([...m].map(([k, f]) => [k, { ...f }]));

async function expectLedgerEquals(db: Kysely<Database>, rows: LogRow[], c: Case): Promise<void> {
  const truth = newapiTruth(rows, {
    quotaPerUnit: c.quotaPerUnit ?? "500000",
    timeZone: TZ,
    variant: c.variant,
    source: SOURCE,
    tokenKey: (r) => apiKeyIdOf(SOURCE, c.variant, { token_id: r.token_id === undefined ? null : String(r.token_id), user_id: String(r.user_id), token_name: r.token_name }),
  });
  expect(strip(await ledgerFigures(db, "usage_account_totals", "account_id"))).toEqual(strip(truth.byChannel));
  expect(strip(await ledgerFigures(db, "usage_key_totals", "api_key_id"))).toEqual(strip(truth.byToken));
  expect(strip(await ledgerFigures(db, "usage_model_totals", "model"))).toEqual(strip(truth.byModel));
  expect(strip(await ledgerFigures(db, "usage_key_totals", "account_id || '|' || api_key_id"))).toEqual(strip(truth.byChannelToken));
  expect(strip(await ledgerFigures(db, "usage_account_daily", "account_id", "usage_date::text"))).toEqual(strip(truth.byChannelDay));
  expect(strip(await ledgerFigures(db, "usage_key_daily", "api_key_id", "usage_date::text"))).toEqual(strip(truth.byTokenDay));
  expect(strip(await ledgerFigures(db, "usage_account_monthly", "account_id", "to_char(usage_month, 'YYYY-MM')"))).toEqual(strip(truth.byChannelMonth));
  expect(strip(await ledgerFigures(db, "usage_key_monthly", "api_key_id", "to_char(usage_month, 'YYYY-MM')"))).toEqual(strip(truth.byTokenMonth));
}

/** Polls until the follower's horizon reaches `id` (a bounded number of polls, no sleeping: each poll reads what is there). */
async function pollUntil(f: NewapiFollower, id: number, max = 50): Promise<void> {
  for (let i = 0; i < max; i++) {
    const r = await f.pollOnce();
    if (BigInt(r.horizon) >= BigInt(id) && r.openGaps === 0) return;
  }
  throw new Error(`the follower did not reach id ${id} in ${max} polls (horizon ${f.horizon})`);
}

describe.each(CASES)("$variant on $engine (QuotaPerUnit $quotaPerUnit, logs apart: $separateLogs)", (c) => {
  let env: TestRuntime;
  let na: NewapiDatabase;
  let reader: NewapiReader;
  let rows: LogRow[];
  let first: NewapiImportReport;
  const keys: string[] = [];
  let channels: number[];
  let tokens: { id: number; userId: number; name: string }[];

  beforeAll(async () => {
    env = await createTestRuntime({ USAGE_TIMEZONE: TZ });
    na = await createNewapiDatabase({ engine: c.engine, variant: c.variant, separateLogs: c.separateLogs, quotaPerUnit: c.quotaPerUnit });
    const alice = await na.addUser({ username: "alice" });
    const bob = await na.addUser({ username: "bob" });
    channels = [
      await na.addChannel({ name: "Claude 官方", type: 14, priority: 5 }),
      await na.addChannel({ name: "OpenAI main", type: 1 }),
      await na.addChannel({ name: "Gemini", type: 24, status: 2 }),
      await na.addChannel({ name: "Mystery", type: 999 }),
    ];
    tokens = [];
    for (const [i, t] of [
      { userId: alice, name: "alice laptop" },
      { userId: alice, name: "alice ci" },
      { userId: bob, name: "bob 的令牌" },
    ].entries()) {
      const key = `k${c.engine}${i}${"x".repeat(40)}`.slice(0, 48);
      keys.push(key);
      tokens.push({ id: await na.addToken({ userId: t.userId, name: t.name, key }), ...t });
    }
    rows = generateNewapiLogs(700, 23, { endMs: END, spreadHours: 24 * 45, channels, tokens, variant: c.variant });
    for (let i = 0; i < rows.length; i += 200) {
      const chunk = rows.slice(i, i + 200);
      const ids = await na.insertLogs(chunk);
      chunk.forEach((r, j) => (r.id = ids[j]));
    }
    // Deleted in the relay after use: a channel (for good) and a token.
    await na.deleteChannel(channels[3]!);
    await na.deleteToken(tokens[1]!.id);
    reader = NewapiReader.connect(na.url, { logUrl: na.logUrl });
    first = await importNewapi(env.runtime, reader, { source: SOURCE, batch: 97 });
  }, 180_000);

  afterAll(async () => {
    await reader?.close();
    await env?.close();
    await na?.drop();
  });

  it("imports every usage row exactly: per channel, token, model, channel × token, day and month", async () => {
    expect(first.relay).toBe(c.variant);
    expect(first.quotaPerUnit).toBe(c.quotaPerUnit ?? "500000");
    const usage = rows.filter((r) => r.type === 2 || (c.variant === "new-api" && r.type === 6));
    expect([first.rowsRead, first.events, first.inserted, first.duplicates, first.rejections.total]).toEqual([usage.length, usage.length, usage.length, 0, 0]);
    expect(first.corrections).toBe(usage.filter((r) => r.type === 6 || r.quota < 0).length);
    if (c.variant === "new-api") expect(first.corrections).toBeGreaterThan(0);
    await expectLedgerEquals(env.runtime.db!.db, rows, c);
  });

  it("a second import adds nothing", async () => {
    const again = await importNewapi(env.runtime, reader, { source: SOURCE });
    expect([again.inserted, again.duplicates, again.events]).toEqual([0, first.events, first.events]);
    await expectLedgerEquals(env.runtime.db!.db, rows, c);
  });

  it("keeps a channel and a token deleted in the relay, marked deleted, and never a token's key", async () => {
    const db = env.runtime.db!.db;
    const acc = await sql<{ id: string; name: string; status: string; deleted: boolean; platform: string; sources: string[] }>`
      select id, name, status, deleted_at is not null as deleted, platform, sources from accounts order by id`.execute(db);
    const byId = new Map(acc.rows.map((a) => [a.id, a]));
    expect(byId.get(`${SOURCE}-${channels[0]}`)).toMatchObject({ name: "Claude 官方", platform: "claude-console", deleted: false, sources: [SOURCE] });
    expect(byId.get(`${SOURCE}-${channels[2]}`)).toMatchObject({ platform: "gemini", status: "disabled" });
    // Deleted before the ledger ever saw it: a placeholder named by its id, marked deleted, holding its usage.
    expect(byId.get(`${SOURCE}-${channels[3]}`)).toMatchObject({ name: `channel #${channels[3]}`, deleted: true });
    const deletedKey = apiKeyIdOf(SOURCE, c.variant, { token_id: String(tokens[1]!.id), user_id: String(tokens[1]!.userId), token_name: tokens[1]!.name });
    const k = await sql<{ id: string; deleted: boolean; name: string }>`select id, deleted_at is not null as deleted, name from api_keys where id = ${deletedKey}`.execute(db);
    if (c.variant === "new-api") expect(k.rows).toEqual([{ id: deletedKey, deleted: true, name: "alice ci" }]);
    else expect(k.rows.map((r) => r.id)).toEqual([deletedKey]); // one-api deletes for good: the usage keeps the id
    const dump = JSON.stringify((await sql`select * from api_keys`.execute(db)).rows) + JSON.stringify((await sql`select metadata from usage_records`.execute(db)).rows);
    for (const key of keys) expect(dump).not.toContain(key);
  });

  it("follows new rows: ids that commit out of order, a rolled-back insert, a restart mid-stream — nothing lost, nothing doubled", async () => {
    let clock = Date.now();
    const follower = new NewapiFollower(env.runtime, reader, { source: SOURCE, owner: "a", now: () => clock, gapWaitMs: 30_000 });
    await follower.pollOnce(); // starts at the relay's present (the history was imported)
    const more = (n: number, seed: number) => generateNewapiLogs(n, seed, { endMs: Date.now() - 1000, spreadHours: 1, channels: channels.slice(0, 3), tokens, variant: c.variant });
    const all = [...rows];
    if (c.engine === "sqlite") {
      // Another process writes the file (WAL) while the follower reads it.
      const writer = startSqliteWriter(sqlitePathOf(na.url), c.variant);
      try {
        let last = 0;
        for (let b = 0; b < 4; b++) {
          const batch = more(60, 100 + b);
          last = await writer.write(batch);
          all.push(...batch);
          await follower.pollOnce();
        }
        await pollUntil(follower, last);
      } finally {
        await writer.close();
      }
    } else {
      // Two writers: the first takes the lower ids and commits last.
      const slow = await na.openTransaction();
      const fast = await na.openTransaction();
      const a = more(40, 201);
      const b = more(40, 202);
      const aIds = await slow.insertLogs(a);
      const bIds = await fast.insertLogs(b);
      expect(Math.min(...bIds)).toBeGreaterThan(Math.max(...aIds));
      await fast.commit();
      const seenFast = await follower.pollOnce();
      expect([seenFast.rowsRead, seenFast.openGaps]).toEqual([40, 1]);
      await slow.commit();
      const seenSlow = await follower.pollOnce();
      expect([seenSlow.lateRows, seenSlow.openGaps]).toEqual([40, 0]);
      all.push(...a, ...b);
      // A rolled-back insert leaves a hole the follower gives up on after the wait, nothing else.
      const lost = await na.openTransaction();
      await lost.insertLogs(more(5, 203));
      await lost.rollback();
      const after = more(10, 204);
      const afterIds = await na.insertLogs(after);
      all.push(...after);
      expect((await follower.pollOnce()).openGaps).toBe(1);
      clock += 31_000;
      const gaveUp = await follower.pollOnce();
      expect([gaveUp.gapsExpired, gaveUp.openGaps, gaveUp.horizon]).toEqual([1, 0, String(Math.max(...afterIds))]);
    }
    // A restart mid-stream: another follower (another process) reads on from the stored horizon.
    await follower.stop({ release: true });
    const tail = more(30, 300);
    const tailIds = await na.insertLogs(tail);
    all.push(...tail);
    const next = new NewapiFollower(env.runtime, reader, { source: SOURCE, owner: "b", now: () => clock });
    await pollUntil(next, Math.max(...tailIds));
    await next.stop({ release: true });
    await expectLedgerEquals(env.runtime.db!.db, all, c);
    // And the import over all of it still adds nothing.
    expect((await importNewapi(env.runtime, reader, { source: SOURCE })).inserted).toBe(0);
  });
});
