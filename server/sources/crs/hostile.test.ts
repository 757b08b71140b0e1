import { Redis } from "ioredis";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertAccount } from "../../accounts/accounts.service";
import { health } from "../../health/health.service";
import { redactUrl } from "../../logger";
import type { Runtime } from "../../runtime";
import { createTestRuntime, type TestRuntime } from "../../testing/runtime";
import { startOwnRedis, waitFor, type OwnRedis } from "../../testing/servers";
import { writeLikeCrs, type FixtureRequest } from "./crs.fixtures";
import { FAMILY_ANCHOR, familyFixture, writeFamilyMetadata, writeFamilyRequests, type FamilyFixture } from "./families.fixtures";
import { CrsFollower } from "./follower";
import { importCrs, type ImportReport } from "./importer";
import { UNATTRIBUTED_ACCOUNT_ID, recordRequestId } from "./mapping";

/**
 * CRS's Redis is written by another program and can hold anything. Each hostile thing planted
 * here is taken exactly or refused with a counted reason naming its key; nothing ends the run,
 * nothing poisons a total, nothing lands on an account this ledger has from elsewhere.
 */

const TZ = "Asia/Shanghai";
const KEY = "k-hostile";
const REST_ACCOUNT = "rest-account";
const at = (minutesBefore: number) => new Date(FAMILY_ANCHOR - minutesBefore * 60_000).toISOString();

let crs: OwnRedis;
let client: Redis;
let ledger: TestRuntime;
let runtime: Runtime;
const fx: FamilyFixture = familyFixture("v1.1.314");
let report: ImportReport;
const claude = () => fx.accounts.find((a) => a.platform === "claude")!;

/** A record as CRS writes it, with `over` replacing or adding fields. */
const record = (minutesBefore: number, over: Record<string, unknown> = {}) =>
  JSON.stringify({
    timestamp: at(minutesBefore),
    model: "claude-sonnet-4-20250514",
    accountId: claude().id,
    accountType: "claude-official",
    requestId: null,
    inputTokens: 100,
    outputTokens: 10,
    cacheCreateTokens: 0,
    cacheReadTokens: 0,
    ephemeral5mTokens: 0,
    ephemeral1hTokens: 0,
    cost: 0.00045,
    realCost: 0.00045,
    costBreakdown: { total: 0.00045 },
    ...over,
  });

/** Newest first, as CRS's list holds them: [json, what the import must do with it]. */
const planted: [string, string][] = [
  [record(1), "taken"],
  ["null", "a usage record that is not a JSON object"],
  ["{notjson", "a usage record that is not JSON"],
  [record(2).replace("{", '{"__proto__":{"inputTokens":999999},"constructor":{"prototype":{"x":1}},'), "taken"],
  [record(3, { inputTokens: -500 }), "a token count that is not a non-negative integer"],
  [record(4, { outputTokens: 1.9 }), "a token count that is not a non-negative integer"],
  [record(5, { cost: "NaN", realCost: "NaN", costBreakdown: { total: "NaN" } }), "a cost that is not a non-negative number"],
  [record(6, { costBreakdown: { total: 5_000_000 } }), "a cost beyond the ledger's bound per request"],
  [record(7).replace('"costBreakdown":{"total":0.00045}', '"costBreakdown":{"total":1e999}'), "a cost that is not a non-negative number"],
  [record(8).replace('"outputTokens":10', '"outputTokens":123456789012345678901234567890'), "a token count beyond the ledger's bound"],
  [record(9, { timestamp: "1970-01-01T00:00:00.000Z" }), "a usage record dated before what the ledger takes"],
  [record(10, { timestamp: "9999-12-31T23:59:59.000Z" }), "an event the ledger refused"],
  [record(11, { model: "claude\u0007\u001b[31m-red" }), "taken"],
  [record(12, { model: '=HYPERLINK("http://x","y")' }), "taken"],
  [record(13, { model: "x".repeat(10 * 1024 * 1024) }), "a usage record too big to be CRS's"],
  [record(14, { accountId: "a".repeat(200) }), "an account id that cannot be one here"],
  [record(15, { accountId: REST_ACCOUNT }), "an account id this ledger has from another source"],
  [record(16, { accountId: "never-declared" }), "an account that is not one of this CRS's"],
];
const takenCount = planted.filter(([, what]) => what === "taken").length;

beforeAll(async () => {
  crs = await startOwnRedis();
  client = new Redis(crs.url);
  await writeFamilyMetadata(client, fx);
  await writeFamilyRequests(client, fx);
  ledger = await createTestRuntime({ USAGE_TIMEZONE: TZ });
  runtime = ledger.runtime;
  // An account of this ledger that came from elsewhere (the REST API): CRS must not touch it.
  await upsertAccount(runtime, { id: REST_ACCOUNT, name: "from the REST API", platform: "openai", metadata: { owner: "another relay" } });

  const p = client.pipeline();
  p.set("apikey:str-key", "not a hash"); // a string where a hash is expected
  p.hset("apikey:k-records-string", { id: "k-records-string", name: "records as a string", isActive: "true" });
  p.set("usage:records:k-records-string", "not a list");
  p.hset("usage:k-records-string", "totalRequests", "1");
  p.hset(`apikey:${KEY}`, { id: KEY, name: "hostile <script>alert(1)</script>", isActive: "true", claudeAccountId: claude().id });
  p.rpush(`usage:records:${KEY}`, ...planted.map(([json]) => json));
  p.hset(`usage:${KEY}`, "totalRequests", String(planted.length));
  p.hset("apikey:k-unsafe-json", {
    id: "k-unsafe-json",
    name: "unsafe JSON fields",
    isActive: "true",
    permissions: '{"constructor":{"prototype":{"polluted":true}}}',
    tags: JSON.stringify(Array.from({ length: 400 }, (_, i) => `tag-${i}`)),
  });
  p.hset("apikey:../../etc/passwd", { id: "../../etc/passwd", name: "path-like id", isActive: "true" });
  p.rpush("usage:records:../../etc/passwd", record(20));
  p.hset("usage:../../etc/passwd", "totalRequests", "1");
  // Accounts: an id too long, a family key of the wrong type, a Bedrock string that is not JSON, markup in a name, a REST account's id.
  p.sadd("claude:account:index", "b".repeat(200), REST_ACCOUNT);
  p.hset(`claude:account:${"b".repeat(200)}`, { name: "too long an id", status: "active" });
  p.hset(`claude:account:${REST_ACCOUNT}`, { name: "CRS's twin of a REST account", status: "active" });
  p.sadd("claude_console_account:index", "console-as-list");
  p.rpush("claude_console_account:console-as-list", "a", "b");
  p.sadd("bedrock_account:index", "bedrock-bad-json");
  p.set("bedrock_account:bedrock-bad-json", "{notjson");
  p.hset(claude().redisKey, "name", '<img src=x onerror="alert(1)">Claude & co');
  await p.exec();
  report = await importCrs(runtime, client, { offsetHours: 8, now: () => FAMILY_ANCHOR });
}, 180_000);

afterAll(async () => {
  await ledger?.close();
  client?.disconnect();
  crs?.destroy();
});

describe("crs:import of a CRS holding hostile data", () => {
  it("goes on past every bad key and record, counting each under its reason with its key named", () => {
    const want: Record<string, number> = {};
    for (const [, what] of planted) if (what !== "taken") want[what] = (want[what] ?? 0) + 1;
    want["a key of the wrong type"] = 3; // apikey:str-key, usage:records:k-records-string, claude_console_account:console-as-list
    want["a string that is not a JSON object"] = 1;
    want["an account the ledger cannot take"] = 1;
    want["API key fields left out (unsafe or too big)"] = 1;
    // CRS's account twin of the REST account is refused once as an account, once per record naming it.
    want["an account id this ledger has from another source"] = 2;
    expect(report.rejections.byReason).toEqual(want);
    const named = report.rejections.named.map((n) => `${n.key} ${n.reason}`);
    expect(named).toContain("apikey:str-key a key of the wrong type");
    expect(named).toContain("usage:records:k-records-string a key of the wrong type");
    expect(named).toContain("claude_console_account:console-as-list a key of the wrong type");
    expect(named).toContain("bedrock_account:bedrock-bad-json a string that is not a JSON object");
    expect(named).toContain(`usage:records:${KEY}[1] a usage record that is not a JSON object`);
    expect(named).toContain(`usage:records:${KEY}[4] a token count that is not a non-negative integer`);
    expect(report.rejections.named.find((n) => n.key === `usage:records:${KEY}[4]`)!.detail).toBe("inputTokens -500");
    expect(report.rejections.named.find((n) => n.key === `usage:records:${KEY}[5]`)!.detail).toBe("outputTokens 1.9");
  });

  it("leaves every clean figure exact and takes the odd-but-valid records exactly", async () => {
    const db = runtime.db!.db;
    const keys = await sql<{ id: string; requests: number; cost: string }>`
      select api_key_id as id, sum(requests)::int as requests, sum(cost_nanos)::text as cost from usage_key_totals group by 1`.execute(db);
    const byKey = new Map(keys.rows.map((r) => [r.id, r]));
    for (const [id, t] of fx.truth.keys) expect([id, byKey.get(id)?.requests, byKey.get(id)?.cost]).toEqual([id, t.requests, String(t.costNanos)]);
    // The hostile key: the records taken, the one naming a REST account and the undeclared one (unattributed).
    expect(byKey.get(KEY)?.requests).toBe(takenCount + 2);
    expect(byKey.get("../../etc/passwd")?.requests).toBe(1);
    const rows = await sql<{ model: string; input_tokens: number; account_id: string; crs: string | null }>`
      select model, input_tokens::int, account_id, metadata->>'crsAccountId' as crs from usage_records where api_key_id = ${KEY} order by occurred_at desc`.execute(db);
    expect(rows.rows.map((r) => [r.model, r.input_tokens])).toEqual([
      ["claude-sonnet-4-20250514", 100],
      ["claude-sonnet-4-20250514", 100], // __proto__ and constructor keys did not change a figure
      ["claude\u0007\u001b[31m-red", 100],
      ['=HYPERLINK("http://x","y")', 100],
      ["claude-sonnet-4-20250514", 100],
      ["claude-sonnet-4-20250514", 100],
    ]);
    expect(rows.rows.slice(-2).map((r) => [r.account_id, r.crs])).toEqual([
      [UNATTRIBUTED_ACCOUNT_ID, REST_ACCOUNT],
      [UNATTRIBUTED_ACCOUNT_ID, "never-declared"],
    ]);
  });

  it("never writes onto an account of this ledger from elsewhere, and never creates one for an undeclared id", async () => {
    const db = runtime.db!.db;
    const rest = await db.selectFrom("accounts").select(["name", "platform", "metadata"]).where("id", "=", REST_ACCOUNT).executeTakeFirstOrThrow();
    expect(rest).toEqual({ name: "from the REST API", platform: "openai", metadata: { owner: "another relay" } });
    const usage = await db.selectFrom("usage_account_totals").select("requests").where("account_id", "=", REST_ACCOUNT).execute();
    expect(usage).toEqual([]);
    const undeclared = await db.selectFrom("accounts").select("id").where("id", "in", ["never-declared", "a".repeat(128)]).execute();
    expect(undeclared).toEqual([]);
  });

  it("keeps names as they are (markup and all) and drops unsafe key metadata", async () => {
    const db = runtime.db!.db;
    const a = await db.selectFrom("accounts").select("name").where("id", "=", claude().id).executeTakeFirstOrThrow();
    expect(a.name).toBe('<img src=x onerror="alert(1)">Claude & co');
    const k = await db.selectFrom("api_keys").select(["name", "metadata"]).where("id", "=", "k-unsafe-json").executeTakeFirstOrThrow();
    expect(k.metadata).toMatchObject({ source: "crs", permissions: [], tags: [] });
    expect(JSON.stringify(k.metadata)).not.toContain("polluted");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a second import adds nothing and counts the same", async () => {
    const again = await importCrs(runtime, client, { offsetHours: 8, now: () => FAMILY_ANCHOR });
    expect([again.records.inserted, again.aggregates.events]).toEqual([0, 0]);
    expect(again.rejections.byReason).toEqual(report.rejections.byReason);
  });
});

describe("redactUrl", () => {
  it("masks the password of user:pass@ and of ?password=, and keeps the rest", () => {
    expect(redactUrl("redis://crs:s3cret@crs-host:6379/0")).toBe("redis://crs:***@crs-host:6379/0");
    expect(redactUrl("redis://crs-host:6379/0?password=s3cret&db=0")).toBe("redis://crs-host:6379/0?password=***&db=0");
    expect(redactUrl("redis://:s3cret@crs-host:6379")).not.toContain("s3cret");
  });
});

describe("the follower and a poison record", () => {
  it("counts it, goes on to the records after it, and health turns degraded only while polls keep failing", async () => {
    const own = await startOwnRedis();
    const c = new Redis(own.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    c.on("error", () => {}); // refused connections while it is stopped, on purpose
    const other = await createTestRuntime({ USAGE_TIMEZONE: TZ, CRS_REDIS_URL: own.url });
    try {
      const f = familyFixture("newer");
      await writeFamilyMetadata(c, f);
      const clock = { ms: f.requests[0]!.occurredAtMs - 60_000 };
      const follower = new CrsFollower(other.runtime, c, { owner: "node-a", now: () => clock.ms, offsetHours: 8 });
      await follower.pollOnce();
      await writeFamilyRequests(c, f, 0, 5);
      clock.ms = f.requests[4]!.occurredAtMs + 1;
      await follower.pollOnce();
      // CRS bumps the counters, then pushes a `null` onto the list, then serves two more requests.
      const r = f.requests[5]!;
      await c.hincrby(`usage:${r.apiKeyId}`, "totalRequests", 1);
      await c.hincrby("usage:global:total", "requests", 1);
      await c.zadd("apikey:idx:lastUsedAt", r.occurredAtMs, r.apiKeyId);
      await c.lpush(`usage:records:${r.apiKeyId}`, "null");
      const next: FixtureRequest = { ...r, occurredAtMs: r.occurredAtMs + 1000, occurredAt: new Date(r.occurredAtMs + 1000).toISOString() };
      next.crsRecordJson = r.crsRecordJson.replace(r.occurredAt, next.occurredAt);
      await writeLikeCrs(c, next, { layout: "newer" });
      clock.ms = next.occurredAtMs + 1;
      const poll = await follower.pollOnce();
      expect(poll).toMatchObject({ leader: true, rejected: 1, events: 1 });
      const db = other.runtime.db!.db;
      expect(await db.selectFrom("usage_records").select("request_id").where("request_id", "=", recordRequestId(r.apiKeyId, next.crsRecordJson)).execute()).toHaveLength(1);
      let h = await health(other.runtime, clock.ms);
      expect(h.crsFollower.sources[0]).toMatchObject({
        rejected: 1,
        rejectionsByReason: { "a usage record that is not a JSON object": 1 },
        lastRejection: `usage:records:${r.apiKeyId}[1]: a usage record that is not a JSON object ("null")`,
        errors: 0,
        consecutiveErrors: 0,
      });
      expect(h.status).toBe("ok");
      // Nothing is pending behind it: the next poll is the single command of a quiet CRS.
      expect((await follower.pollOnce()).commands).toBe(1);

      // A key whose record list is a string: counted once, its requests passed, the CRS quiet again.
      const bump = async (ms: number) => {
        await c.hincrby("usage:k-list-string", "totalRequests", 1);
        await c.hincrby("usage:global:total", "requests", 1);
        await c.zadd("apikey:idx:lastUsedAt", ms, "k-list-string");
        clock.ms = ms + 1;
      };
      await c.hset("apikey:k-list-string", { id: "k-list-string", name: "records as a string", isActive: "true" });
      await c.set("usage:records:k-list-string", "not a list");
      await bump(next.occurredAtMs + 5000);
      expect(await follower.pollOnce()).toMatchObject({ keysChanged: 1, rejected: 1, events: 0 });
      expect((await follower.pollOnce()).commands).toBe(1);
      await bump(next.occurredAtMs + 9000);
      expect(await follower.pollOnce()).toMatchObject({ keysChanged: 1, rejected: 0, events: 0 });
      expect((await follower.pollOnce()).commands).toBe(1);
      expect((await health(other.runtime, clock.ms)).crsFollower.sources[0]!.rejectionsByReason).toEqual({
        "a usage record that is not a JSON object": 1,
        "a key of the wrong type": 1,
      });

      // CRS's Redis goes away: each poll fails; from the third in a row the source is failing.
      own.stop();
      for (let i = 1; i <= 3; i++) {
        await expect(follower.pollOnce()).rejects.toThrow();
        h = await health(other.runtime, clock.ms);
        expect([i, h.crsFollower.sources[0]!.consecutiveErrors]).toEqual([i, i]);
        expect([i, h.status]).toEqual([i, i < 3 ? "ok" : "degraded"]);
      }
      expect(h.crsFollower.sources[0]!.lastError).toBeTruthy();
      own.start();
      await waitFor(async () => (await c.ping().catch(() => "")) === "PONG", "CRS's Redis back");
      await follower.pollOnce();
      h = await health(other.runtime, clock.ms);
      expect([h.crsFollower.sources[0]!.consecutiveErrors, h.status]).toEqual([0, "ok"]);
      await follower.stop();
    } finally {
      c.disconnect();
      await other.close();
      own.destroy();
    }
  }, 120_000);
});
