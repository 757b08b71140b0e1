import { sql } from "kysely";
import { afterEach, describe, expect, it, vi } from "vitest";
import { nanosToUsd } from "../usage-stats/figures";
import { accountSummaryInput } from "../usage-stats/schemas";
import { getAccountSummary } from "../usage-stats/stats.service";
import { createTestRuntime, type TestRuntime } from "../testing/runtime";
import { createRedis } from "../redis";
import { testConfig } from "../testing/stores";
import { Drainer } from "./drainer";
import { ACCOUNT_FIELD, hotKeys, unpackCounters } from "./hot-keys";
import type { UsageEvent } from "./schemas";
import { expectPgFigures, expectRedisFigures } from "./testing";
import { expectedFigures, makeEvents } from "./usage.fixtures";
import { recordUsage } from "./usage.service";

// tRPC's init module is marked server-only; outside Next.js that import would throw.
vi.mock("server-only", () => ({}));

/**
 * Corrections (migration 0013): an event of requests = 0 may carry negative money — a relay's
 * refund, a negative re-charge. Both stores sum it like any event, exactly, in both write orders,
 * including past 2^53 nano-USD (where the Redis script adds decimal strings).
 */

const TZ = "Asia/Shanghai";
const open: TestRuntime[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

async function env() {
  const t = await createTestRuntime({ USAGE_TIMEZONE: TZ });
  open.push(t);
  return t;
}

const HOUR = 3_600_000;
const at = (ms: number) => new Date(ms).toISOString();

/** Requests with their corrections: some refunded in part on the same day, one the next day, one past 2^53 nano-USD. */
function withCorrections(now: number): UsageEvent[] {
  const requests = makeEvents({ count: 60, seed: 7, idPrefix: "charge", accounts: ["acc-a", "acc-b"], now: now - 30 * HOUR, spanMs: 2 * HOUR });
  const corrections: UsageEvent[] = requests.slice(0, 12).map((e, i) => ({
    requestId: `refund-${i}`,
    occurredAt: at(Date.parse(e.occurredAt) + (i % 2 ? 60_000 : 26 * HOUR)),
    accountId: e.accountId,
    apiKeyId: e.apiKeyId,
    model: e.model,
    requests: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheCreateTokens: 0,
    cacheReadTokens: 0,
    cost: i % 3 ? `-${(i + 1) * 0.01}` : -0.00000001,
    ...(i % 4 === 0 ? { ratedCost: "-0.125" } : {}),
  }));
  // Ten requests of $999,999 and a refund of one: the account's sums pass 2^53 nano-USD and come back.
  const big: UsageEvent[] = Array.from({ length: 10 }, (_, i) => ({ ...requests[0]!, requestId: `big-${i}`, accountId: "acc-big", requests: 1, cost: "999999.99999999", ratedCost: "999999.99999999" }));
  big.push({ ...corrections[1]!, requestId: "big-refund", accountId: "acc-big", apiKeyId: requests[0]!.apiKeyId, model: requests[0]!.model, occurredAt: requests[0]!.occurredAt, cost: "-999999.99999999", ratedCost: "-999999.99999999" });
  return [...requests, ...corrections, ...big];
}

describe("corrections: negative money in events of requests = 0", () => {
  it.each(["hot-first", "ledger-first"] as const)("are summed exactly in PostgreSQL and Redis (%s)", async (order) => {
    const t = await env();
    const events = withCorrections(Date.now());
    const r = await recordUsage(t.runtime, { events }, { order });
    expect(r).toEqual({ accepted: events.length, duplicates: 0, rejected: [] });
    if (order === "hot-first") {
      const drainer = new Drainer(t.runtime.config, t.runtime.db!);
      try {
        expect((await drainer.drainAll()).inserted).toBe(events.length);
      } finally {
        await drainer.stop({ forget: true });
      }
    }
    const expected = expectedFigures(events, TZ);
    const redis = createRedis(testConfig().redisUrl!);
    await redis.connect();
    try {
      await expectPgFigures(t.runtime.db!.db, expected);
      await expectRedisFigures(redis, t.runtime.config.redisKeyPrefix, expected);
      // By hand: acc-big all time is 10 requests less one refunded ($8,999,999.9999999), past 2^53 nano-USD in between.
      const all = unpackCounters(await redis.hget(hotKeys(t.runtime.config.redisKeyPrefix).counters("acc-big", { kind: "t" }), ACCOUNT_FIELD));
      expect([all.requests, all.costNanos]).toEqual([10n, 8_999_999_999_999_910n]);
      const row = await sql<{ c: string; n: number }>`select cost_nanos::text as c, requests as n from usage_account_totals where account_id = 'acc-big'`.execute(t.runtime.db!.db);
      expect([row.rows[0]!.n, BigInt(row.rows[0]!.c)]).toEqual([10, 8_999_999_999_999_910n]);
    } finally {
      redis.disconnect();
    }
    // A re-send is a duplicate, the correction included.
    expect(await recordUsage(t.runtime, { events }, { order })).toEqual({ accepted: 0, duplicates: events.length, rejected: [] });
  });

  it("a day can sum below zero when the refund lands after the charge's day, as the relay's own sum over that day does", async () => {
    const t = await env();
    const day1 = Date.parse("2026-11-02T04:00:00Z");
    const charge: UsageEvent = { requestId: "c1", occurredAt: at(day1), accountId: "acc", apiKeyId: "k", model: "m", inputTokens: 10, outputTokens: 5, cacheCreateTokens: 0, cacheReadTokens: 0, cost: "0.3", ratedCost: "0.6" };
    const refund: UsageEvent = { ...charge, requestId: "r1", occurredAt: at(day1 + 24 * HOUR), requests: 0, inputTokens: 0, outputTokens: 0, cost: "-0.1", ratedCost: "-0.2" };
    expect(await recordUsage(t.runtime, { events: [charge, refund] }, { order: "ledger-first" })).toMatchObject({ accepted: 2 });
    const days = await sql<{ d: string; n: number; c: string; rc: string }>`
      select usage_date::text as d, requests as n, cost_nanos::text as c, rated_cost_nanos::text as rc from usage_account_daily where account_id = 'acc' order by 1`.execute(t.runtime.db!.db);
    expect(days.rows).toEqual([
      { d: "2026-11-02", n: 1, c: "300000000", rc: "600000000" },
      { d: "2026-11-03", n: 0, c: "-100000000", rc: "-200000000" },
    ]);
    const month = await sql<{ n: number; c: string }>`select requests as n, cost_nanos::text as c from usage_account_monthly where account_id = 'acc'`.execute(t.runtime.db!.db);
    expect(month.rows).toEqual([{ n: 1, c: "200000000" }]);
    // The read API answers the same: the refund's day below zero, the month net.
    const now = new Date(day1 + 3 * 24 * HOUR);
    const refundDay = await getAccountSummary(t.runtime, accountSummaryInput.parse({ id: "acc", range: "daily", date: "2026-11-03" }), now);
    expect(refundDay.data.usage).toMatchObject({ requests: 0, allTokens: 0, cost: -0.1, ratedCost: -0.2 });
    const monthly = await getAccountSummary(t.runtime, accountSummaryInput.parse({ id: "acc", range: "monthly", month: "2026-11" }), now);
    expect(monthly.data.usage).toMatchObject({ requests: 1, allTokens: 15, cost: 0.2, ratedCost: 0.4 });
  });

  it("PostgreSQL refuses negative money on a request, whoever writes it", async () => {
    const t = await env();
    await expect(
      sql`insert into usage_records (request_id, occurred_at, usage_date, usage_hour, account_id, api_key_id, model, requests, total_cost)
          values ('x', now(), current_date, 0, 'a', 'k', 'm', 1, -1)`.execute(t.runtime.db!.db),
    ).rejects.toThrow(/usage_records_total_cost_check/);
    await expect(
      sql`insert into usage_records (request_id, occurred_at, usage_date, usage_hour, account_id, api_key_id, model, requests, total_cost, rated_cost)
          values ('y', now(), current_date, 0, 'a', 'k', 'm', 1, 1, -1)`.execute(t.runtime.db!.db),
    ).rejects.toThrow(/usage_records_rated_cost_check/);
  });

  it("rounds negative sums to micro-USD half up, exactly", () => {
    expect([nanosToUsd(-1_700n), nanosToUsd(-1_500n), nanosToUsd(-1_499n), nanosToUsd(-500n), nanosToUsd(-501n), nanosToUsd(1_500n)]).toEqual([-0.000002, -0.000001, -0.000001, 0, -0.000001, 0.000002]);
  });
});
