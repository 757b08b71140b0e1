import { Redis } from "ioredis";
import { sql, type Kysely } from "kysely";
import { describe, expect, it } from "vitest";
import type { Database } from "../../../db/types";
import { createTestRuntime } from "../../testing/runtime";
import type { CrsLayoutVersion } from "./crs.fixtures";
import { FAMILY_ANCHOR, familyFixture, writeFamilyMetadata, writeFamilyRequests, type FamilyFixture, type Truth } from "./families.fixtures";
import { CrsFollower, type PollResult } from "./follower";
import { importCrs } from "./importer";
import { ownCrsRedis } from "./testing";
import { UNATTRIBUTED_ACCOUNT_ID } from "./mapping";

/**
 * A CRS with one account of every family in its native storage (Bedrock and Vertex as JSON
 * strings), keys bound to each, usage on each — in v1.1.314's layout and in the newer stores' —
 * imports and is followed exactly: every account with its name and platform, every key and
 * account total equal to the ground truth summed from the requests alone.
 */

const TZ = "Asia/Shanghai";
const crs = ownCrsRedis();
const { cleanups } = crs;

const figures = (t: Truth) => ({
  requests: t.requests,
  inputTokens: t.inputTokens,
  outputTokens: t.outputTokens,
  cacheCreateTokens: t.cacheCreateTokens,
  cacheReadTokens: t.cacheReadTokens,
  costNanos: String(t.costNanos),
  ratedCostNanos: String(t.ratedCostNanos),
});

async function totals(db: Kysely<Database>, table: "usage_key_totals" | "usage_account_totals", column: "api_key_id" | "account_id") {
  const r = await sql<Record<string, string | number>>`
    select ${sql.ref(column)} as id, sum(requests)::int as requests, sum(input_tokens)::int as "inputTokens", sum(output_tokens)::int as "outputTokens",
           sum(cache_create_tokens)::int as "cacheCreateTokens", sum(cache_read_tokens)::int as "cacheReadTokens",
           sum(cost_nanos)::text as "costNanos", sum(rated_cost_nanos)::text as "ratedCostNanos"
      from ${sql.table(table)} group by 1`.execute(db);
  return new Map(r.rows.map(({ id, ...rest }) => [String(id), rest]));
}

/** Every key and account total, and each account's name and platform, against the fixture. */
async function expectExact(db: Kysely<Database>, fx: FamilyFixture) {
  const keys = await totals(db, "usage_key_totals", "api_key_id");
  for (const [id, t] of fx.truth.keys) expect([id, keys.get(id)]).toEqual([id, figures(t)]);
  const accounts = await totals(db, "usage_account_totals", "account_id");
  for (const [id, t] of fx.truth.accounts) expect([id, accounts.get(id)]).toEqual([id, figures(t)]);
  expect(accounts.get(UNATTRIBUTED_ACCOUNT_ID)).toBeUndefined();
  const rows = await db.selectFrom("accounts").select(["id", "name", "platform"]).execute();
  const got = new Map(rows.map((r) => [r.id, r]));
  for (const a of fx.accounts) {
    // Vertex is a family this product does not read: its name is not known, its platform is its records' accountType.
    const name = a.platform === "vertex" ? a.id : a.name;
    expect(got.get(a.id)).toEqual({ id: a.id, name, platform: a.platform });
  }
  const bound = await db.selectFrom("api_keys").select(["id", "account_id"]).execute();
  const boundOf = new Map(bound.map((k) => [k.id, k.account_id]));
  for (const k of fx.keys) {
    const a = fx.accounts.find((x) => x.id === k.accounts[0]);
    // A key is bound here when CRS binds it to exactly one account (not CCR, not a pool, not a family unknown here).
    const want = k.accounts.length === 1 && a?.binding && a.platform !== "vertex" ? a.id : null;
    expect([k.name, boundOf.get(k.id)]).toEqual([k.name, want]);
  }
}

async function setup(layout: CrsLayoutVersion) {
  const fx = familyFixture(layout);
  const client = new Redis(crs.url());
  await client.flushall();
  await writeFamilyMetadata(client, fx);
  const ledger = await createTestRuntime({ USAGE_TIMEZONE: TZ });
  cleanups.push(async () => {
    await ledger.close();
    client.disconnect();
  });
  return { fx, client, runtime: ledger.runtime };
}

describe.each(["v1.1.314", "newer"] as const)("a CRS with every account family (%s)", (layout) => {
  it("imports exactly: every account with its name and platform, every key and account total", async () => {
    const { fx, client, runtime } = await setup(layout);
    await writeFamilyRequests(client, fx);
    const report = await importCrs(runtime, client, { offsetHours: 8, now: () => FAMILY_ANCHOR });
    expect(report.rejections).toEqual({ total: 0, byReason: {}, named: [] });
    const vertex = fx.accounts.find((a) => a.platform === "vertex")!;
    expect(report.accountsFromRecords).toEqual([{ id: vertex.id, platform: "vertex", crsAccountType: "vertex" }]);
    expect(report.accounts).toBe(fx.accounts.length);
    expect(report.accountsByPlatform).toEqual(Object.fromEntries(fx.accounts.map((a) => [a.platform, 1])));
    // The Claude key had 230 requests: CRS kept its newest 200 records, its aggregates hold the rest.
    expect(report.records.events).toBe(fx.requests.length - 30);
    expect(report.aggregates.requests).toBe(30);
    expect(report.unattributed.requests).toBe(0);
    await expectExact(runtime.db!.db, fx);
    // Once more: nothing changes.
    const again = await importCrs(runtime, client, { offsetHours: 8, now: () => FAMILY_ANCHOR });
    expect([again.records.inserted, again.aggregates.events, again.rejections.total]).toEqual([0, 0, 0]);
    await expectExact(runtime.db!.db, fx);
  }, 120_000);

  it("is followed exactly, finding changed keys through CRS's last-used index", async () => {
    const { fx, client, runtime } = await setup(layout);
    const clock = { ms: fx.requests[0]!.occurredAtMs - 60_000 };
    const c = new Redis(crs.url());
    cleanups.push(async () => c.disconnect());
    const follower = new CrsFollower(runtime, c, { owner: "node-a", now: () => clock.ms, offsetHours: 8 });
    await follower.pollOnce(); // first start: watermarks at CRS's present (no usage yet)
    const polls: PollResult[] = [];
    let written = 0;
    const writer = (async () => {
      for (let i = 0; i < fx.requests.length; i++) {
        clock.ms = fx.requests[i]!.occurredAtMs + 1;
        await writeFamilyRequests(client, fx, i, i + 1);
        written = i + 1;
      }
    })();
    while (written < fx.requests.length) polls.push(await follower.pollOnce());
    await writer;
    for (let i = 0; i < 10; i++) {
      const r = await follower.pollOnce();
      polls.push(r);
      if (r.keysChanged === 0 && r.via === "none") break;
    }
    expect(polls.some((p) => p.via === "lastUsedIndex" && p.events > 0)).toBe(true);
    expect(polls.reduce((s, p) => s + p.rejected, 0)).toBe(0);
    await expectExact(runtime.db!.db, fx);
  }, 180_000);
});
