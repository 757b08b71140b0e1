import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteAccount, upsertAccount, upsertApiKey } from "../accounts/accounts.service";
import { createRuntime, type Runtime } from "../runtime";
import { createTestRuntime, type TestRuntime } from "../testing/runtime";
import { testConfig } from "../testing/stores";
import { Drainer } from "../usage/drainer";
import { recordUsage } from "../usage/usage.service";
import type { AccountBreakdownInput, AccountUsageListInput } from "./schemas";
import { storeIndependent as figures } from "./stats.fixtures";
import { getAccountBreakdown, getAccountSummary, listAccountUsage } from "./stats.service";

/**
 * A soft-deleted account with usage, then the Redis fallback: PostgreSQL no longer lists it and
 * answers 404 for it, and the fallback must too, not answer from the index entry that marks it
 * deleted. The index and counters are those PostgreSQL's runtime keeps beside its rows.
 */

const now = new Date();
const event = (requestId: string, accountId: string, apiKeyId: string) => ({
  requestId,
  occurredAt: new Date(now.getTime() - 60_000).toISOString(),
  accountId,
  apiKeyId,
  model: "claude-sonnet-4",
  inputTokens: 10,
  outputTokens: 5,
  cacheCreateTokens: 0,
  cacheReadTokens: 0,
  cost: "0.25",
});

let ledger: TestRuntime;
let pg: Runtime;
let redisOnly: Runtime;

beforeAll(async () => {
  ledger = await createTestRuntime();
  pg = ledger.runtime;
  for (const id of ["kept", "gone"]) {
    await upsertAccount(pg, { id, name: `Account ${id}`, platform: "claude", status: "active" });
    await upsertApiKey(pg, { id: `key-${id}`, accountId: id, name: `Key ${id}` });
  }
  const r = await recordUsage(pg, { events: [event("d-1", "kept", "key-kept"), event("d-2", "gone", "key-gone"), event("d-3", "gone", "key-gone")] });
  expect(r).toMatchObject({ accepted: 3, rejected: [] });
  const drainer = new Drainer(pg.config, pg.db!);
  await drainer.drainAll();
  await drainer.stop({ forget: true });
  await deleteAccount(pg, { id: "gone" });
  redisOnly = await createRuntime(testConfig({ POSTGRES_ENABLED: "false", REDIS_KEY_PREFIX: pg.config.redisKeyPrefix }), { ownDatabase: true });
});

afterAll(async () => {
  await redisOnly?.close();
  await ledger?.close();
});

describe("the Redis fallback and soft-deleted accounts", () => {
  it("lists what PostgreSQL lists: no deleted account, whatever the filter", async () => {
    for (const over of [{}, { status: "deleted" }, { search: "gone" }, { sort: "total.requests" as const }]) {
      const input: AccountUsageListInput = { sort: "name", format: "json", ...over };
      const fromPg = await listAccountUsage(pg, input, now);
      const fromRedis = await listAccountUsage(redisOnly, input, now);
      expect([fromPg.source, fromRedis.source]).toEqual(["postgres", "redis"]);
      expect(figures(fromRedis), JSON.stringify(over)).toEqual(figures(fromPg));
    }
    expect((await listAccountUsage(redisOnly, { sort: "name", format: "json" }, now)).data.map((a) => a.id)).toEqual(["kept"]);
  });

  it("answers 404 for a deleted account's summary and breakdown, as PostgreSQL does", async () => {
    const breakdown = { id: "gone", range: "total", sort: "allTokens", order: "desc", format: "json" } as AccountBreakdownInput;
    for (const rt of [pg, redisOnly]) {
      await expect(getAccountSummary(rt, { id: "gone", range: "daily" }, now)).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(getAccountBreakdown(rt, breakdown, now)).rejects.toMatchObject({ code: "NOT_FOUND" });
    }
    const kept = { ...breakdown, id: "kept" };
    expect(figures(await getAccountBreakdown(redisOnly, kept, now))).toEqual(figures(await getAccountBreakdown(pg, kept, now)));
  });
});
