import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertAccount } from "../../accounts/accounts.service";
import { createTestRuntime, type TestRuntime } from "../../testing/runtime";
import { startOwnRedis, type OwnRedis } from "../../testing/servers";
import { accountBreakdownInput, accountSummaryInput } from "../../usage-stats/schemas";
import { getAccountBreakdown, getAccountSummary } from "../../usage-stats/stats.service";
import { fixture, loadDump, type Dump } from "../crs/crs.fixtures";
import { importCrs } from "../crs/importer";
import { expected } from "../crs/testing";
import { importSub2api } from "./importer";
import { Sub2apiReader } from "./reader";
import { addAccount, addKey, addUser, createSub2apiDatabase, type Sub2apiDatabase } from "./sub2api.fixtures";
import { figuresBy, generateLogs, ledgerFigures, writeLogs, zero, type Figures, type GeneratedLog } from "./testing";

/**
 * One history across CRS → sub2api: the CRS fixture imported, then sub2api (its accounts synced
 * from CRS: `extra.crs_account_id`) — the account's figures run straight through the migration,
 * CRS's keys and sub2api's new keys side by side in its breakdown. And in the other order: a
 * sub2api import first, CRS's history joining the same account afterwards.
 */

const ANCHOR = Date.parse("2026-12-02T04:32:39.000Z");
const TZ = "Asia/Shanghai";
const dump = fixture<Dump>("dump-aged.json");
/** Claude OAuth (320 requests in CRS) and Gemini (61), both synced into sub2api. */
const CLAUDE = "036a8564-94b6-426d-b901-9c35cd204c42";
const GEMINI = "cf1f0e5e-305d-4aa7-bfc0-2a82e95fb811";

let crs: OwnRedis;
let crsClient: Redis;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  crs = await startOwnRedis();
  crsClient = new Redis(crs.url);
  await loadDump(crsClient, dump);
}, 60_000);

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
  crsClient?.disconnect();
  crs?.destroy();
});

/** CRS's all-time figures of an account (expected.json) plus sub2api's rows on it. */
function combined(crsId: string, logs: GeneratedLog[]): Figures {
  const c = expected.accounts[crsId]!.allTime;
  const nanos = (usd: string) => BigInt(Math.round(Number(usd) * 1e8)) * 10n;
  const f: Figures = { ...zero(), requests: c.requests, inputTokens: c.inputTokens, outputTokens: c.outputTokens, cacheCreateTokens: c.cacheCreateTokens, cacheReadTokens: c.cacheReadTokens, costNanos: nanos(c.cost), ratedCostNanos: nanos(c.ratedCost) };
  const s = figuresBy(logs, (l) => l.ledgerAccount).get(crsId) ?? zero();
  for (const k of Object.keys(f) as (keyof Figures)[]) (f[k] as number | bigint) = (f[k] as never) + (s[k] as never);
  return f;
}

async function sub2apiWithSyncedAccounts(): Promise<{ s2a: Sub2apiDatabase; reader: Sub2apiReader; logs: GeneratedLog[]; ids: Record<string, string> }> {
  const s2a = await createSub2apiDatabase();
  cleanups.push(() => s2a.drop());
  const reader = Sub2apiReader.connect(s2a.readUrl);
  cleanups.push(() => reader.close());
  const u = await addUser(s2a.pool, "dave@example.com");
  const ids = {
    claude: await addAccount(s2a.pool, { name: "Claude (from CRS)", platform: "anthropic", type: "oauth", extra: { crs_account_id: CLAUDE, crs_kind: "claude-account", crs_synced_at: "2026-12-03T00:00:00Z" } }),
    gemini: await addAccount(s2a.pool, { name: "Gemini (from CRS)", platform: "gemini", type: "oauth", extra: { crs_account_id: GEMINI, crs_kind: "gemini-account" } }),
    fresh: await addAccount(s2a.pool, { name: "New in sub2api", platform: "openai", type: "apikey" }),
    key: "",
  };
  ids.key = await addKey(s2a.pool, { userId: u, name: "dave new key" });
  const logs = generateLogs(
    120,
    7,
    Date.now() - 60_000,
    60,
    [{ id: ids.claude, ledger: CLAUDE }, { id: ids.gemini, ledger: GEMINI }, { id: ids.fresh, ledger: `sub2api-${ids.fresh}` }],
    [{ id: ids.key, userId: u, ledger: `sub2api-key-${ids.key}` }],
  );
  await writeLogs(s2a.pool, logs);
  return { s2a, reader, logs, ids };
}

describe("CRS → sub2api", () => {
  let env: TestRuntime;

  it("keeps an account's history whole: CRS first, then sub2api on the synced accounts", async () => {
    env = await createTestRuntime({ USAGE_TIMEZONE: TZ });
    cleanups.push(() => env.close());
    const runtime = env.runtime;
    await importCrs(runtime, crsClient, { offsetHours: 8, now: () => ANCHOR });
    const { reader, logs, ids } = await sub2apiWithSyncedAccounts();
    const report = await importSub2api(runtime, reader, { source: "sub2api" });
    expect(report).toMatchObject({ accounts: 3, linkedAccounts: 2, inserted: 120 });

    const totals = await ledgerFigures(runtime.db!.db, "usage_account_totals", "account_id");
    expect(totals.get(CLAUDE)).toEqual(combined(CLAUDE, logs));
    expect(totals.get(GEMINI)).toEqual(combined(GEMINI, logs));
    expect(totals.get(`sub2api-${ids.fresh}`)).toEqual(figuresBy(logs, (l) => l.ledgerAccount).get(`sub2api-${ids.fresh}`));
    // The accounts CRS had are the same accounts: both sources, CRS's platform kept, sub2api's name.
    const rows = await runtime.db!.db.selectFrom("accounts").select(["id", "name", "platform", "sources"]).where("id", "in", [CLAUDE, GEMINI]).orderBy("id").execute();
    expect(rows).toEqual([
      { id: CLAUDE, name: "Claude (from CRS)", platform: "claude", sources: ["crs", "sub2api"] },
      { id: GEMINI, name: "Gemini (from CRS)", platform: "gemini", sources: ["crs", "sub2api"] },
    ]);

    // The read API: 总用量 runs through the migration, CRS's keys and sub2api's new key side by side.
    const summary = await getAccountSummary(runtime, accountSummaryInput.parse({ id: CLAUDE }));
    const want = combined(CLAUDE, logs);
    expect(summary.data.usage).toMatchObject({ requests: want.requests, inputTokens: want.inputTokens, outputTokens: want.outputTokens });
    expect(Math.round(summary.data.usage.cost * 1e6)).toBe(Number((want.costNanos + 500n) / 1000n));
    const breakdown = await getAccountBreakdown(runtime, accountBreakdownInput.parse({ id: CLAUDE, limit: 100 }));
    const keyIds = breakdown.data.items.map((k) => k.apiKeyId);
    expect(keyIds).toContain(`sub2api-key-${ids.key}`);
    expect(keyIds.filter((k) => !k.startsWith("sub2api-")).length).toBeGreaterThan(0);
    expect(breakdown.data.totals.requests).toBe(want.requests);

    // A CRS follower or re-import after the migration still writes the account (its origin is CRS).
    const again = await importCrs(runtime, crsClient, { offsetHours: 8, now: () => ANCHOR });
    expect(again.records.inserted).toBe(0);
    expect(again.rejections.total).toBe(0);
    expect((await ledgerFigures(runtime.db!.db, "usage_account_totals", "account_id")).get(CLAUDE)).toEqual(want);
  }, 120_000);

  it("and the other way round: sub2api imported first, CRS's history joins the same account", async () => {
    const other = await createTestRuntime({ USAGE_TIMEZONE: TZ });
    cleanups.push(() => other.close());
    const { reader, logs } = await sub2apiWithSyncedAccounts();
    expect(await importSub2api(other.runtime, reader, { source: "sub2api" })).toMatchObject({ linkedAccounts: 2, inserted: 120 });
    const crsReport = await importCrs(other.runtime, crsClient, { offsetHours: 8, now: () => ANCHOR });
    expect(crsReport.rejections).toEqual({ total: 0, byReason: {}, named: [] });
    expect(crsReport.unattributed.requests).toBe(0);
    const totals = await ledgerFigures(other.runtime.db!.db, "usage_account_totals", "account_id");
    expect(totals.get(CLAUDE)).toEqual(combined(CLAUDE, logs));
    expect(totals.get(GEMINI)).toEqual(combined(GEMINI, logs));
  }, 120_000);

  it("never takes over an account the ledger holds from the REST API: a sub2api account synced from that id keeps its own", async () => {
    const rest = await createTestRuntime({ USAGE_TIMEZONE: TZ });
    cleanups.push(() => rest.close());
    await upsertAccount(rest.runtime, { id: CLAUDE, name: "entered by hand", platform: "claude" });
    const { reader, logs, ids } = await sub2apiWithSyncedAccounts();
    expect(await importSub2api(rest.runtime, reader, { source: "sub2api" })).toMatchObject({ linkedAccounts: 1, inserted: 120 });
    const totals = await ledgerFigures(rest.runtime.db!.db, "usage_account_totals", "account_id");
    expect(totals.has(CLAUDE)).toBe(false);
    expect(totals.get(`sub2api-${ids.claude}`)).toEqual(figuresBy(logs, (l) => l.ledgerAccount).get(CLAUDE));
    const hand = await rest.runtime.db!.db.selectFrom("accounts").select(["name", "sources"]).where("id", "=", CLAUDE).executeTakeFirstOrThrow();
    expect(hand).toEqual({ name: "entered by hand", sources: [] });
  }, 120_000);
});
