import { NextRequest } from "next/server";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GET as trendRoute } from "@/app/admin/accounts/[id]/usage-trend/route";
import { createApiToken } from "../auth/token.service";
import { AppError } from "../errors";
import { createRuntime, setRuntime, type Runtime } from "../runtime";
import { createTestDatabase, dropRedisPrefix, testConfig, type TestDatabase } from "../testing/stores";
import { createCallerFactory } from "../trpc/init";
import { appRouter } from "../trpc/routers/_app";
import { setAccountIndex } from "../usage/hot-index";
import { isRangeTooLong, MAX_RANGE_YEARS } from "./range-limit";
import { accountSummaryQuery } from "./schemas";
import { TEST_TZ, expectedTotals, groupBy, insertEvents, shDate, shInstant, spreadEvents, type TestEvent } from "./stats.fixtures";
import { getAccountTrend } from "./trend.service";

vi.mock("server-only", () => ({}));

/**
 * The trend chart's series against a real, migrated PostgreSQL, every figure computed from the
 * events themselves: today per hour (from usage_records), 30 / 90 days per day and 12 months per
 * month (from the rollups), in Asia/Shanghai; a day the clocks go back in America/New_York.
 */

// 14:30 in Shanghai, passed to every call: the answers do not depend on when the suite runs.
const now = new Date("2026-11-18T06:30:00.000Z");
const today = "2026-11-18";

function ev(requestId: string, local: string, accountId = "acc-t", n = 1, extra: Partial<TestEvent> = {}): TestEvent {
  return {
    requestId,
    occurredAt: shInstant(local),
    accountId,
    apiKeyId: "k-t",
    model: "claude-sonnet-4",
    inputTokens: 1000 * n + 7,
    outputTokens: 300 * n + 1,
    cacheCreateTokens: 50 * n,
    cacheReadTokens: 20 * n + 3,
    cost: `0.${String(12345678 + n).padStart(8, "0")}`,
    ...extra,
  };
}

// Events on both sides of hour and day boundaries, in local (UTC+8) time.
const EDGES: TestEvent[] = [
  ev("e-prev", "2026-11-17T23:59:59.999", "acc-t", 1),
  ev("e-h0a", "2026-11-18T00:00:00.000", "acc-t", 2),
  ev("e-h0b", "2026-11-18T00:59:59.999", "acc-t", 3, { ratedCost: "1.25000001" }),
  ev("e-h1", "2026-11-18T01:00:00.000", "acc-t", 4, { requests: 3 }),
  ev("e-h13", "2026-11-18T13:59:59.999", "acc-t", 5),
  ev("e-h14", "2026-11-18T14:00:00.000", "acc-t", 6),
  ev("e-h14b", "2026-11-18T14:29:00.000", "acc-t", 7),
  ev("e-old30", "2026-10-20T00:00:00.000", "acc-t", 8),
  ev("e-out30", "2026-10-19T23:59:59.999", "acc-t", 9),
];
const EVENTS: TestEvent[] = [
  ...EDGES,
  ...spreadEvents({ seed: 31, accountId: "acc-t", keys: ["k-t", "k-u"], models: ["m-1", "m-2"], n: 300, fromIso: shInstant("2025-10-01T00:00:00.000"), toIso: shInstant("2026-11-17T00:00:00.000") }),
  ev("idle-old", "2026-01-05T10:00:00.000", "acc-idle", 1),
];
const acc = EVENTS.filter((e) => e.accountId === "acc-t");

/** The local (UTC+8) hour of an event. */
const shHour = (e: TestEvent) => new Date(Date.parse(e.occurredAt) + 8 * 3600_000).getUTCHours();

function daysBack(n: number): string[] {
  return Array.from({ length: n }, (_, i) => new Date(Date.parse(`${today}T00:00:00Z`) - (n - 1 - i) * 86_400_000).toISOString().slice(0, 10));
}

let tdb: TestDatabase;
let runtime: Runtime;
let nyRuntime: Runtime;
let hot: Runtime;
let token: string;

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  runtime = await createRuntime(testConfig({ DATABASE_URL: tdb.url, USAGE_TIMEZONE: TEST_TZ, REDIS_URL: "" }), { ownDatabase: true });
  nyRuntime = await createRuntime(testConfig({ DATABASE_URL: tdb.url, USAGE_TIMEZONE: "America/New_York", REDIS_URL: "" }), { ownDatabase: true });
  hot = await createRuntime(testConfig({ POSTGRES_ENABLED: "false", USAGE_TIMEZONE: TEST_TZ }), { ownDatabase: true });
  setRuntime(runtime);
  const db = tdb.handle.db;
  await sql`SELECT ensure_usage_partitions('2025-09-01', (now() + interval '2 months')::date)`.execute(db);
  await db
    .insertInto("accounts")
    .values(["acc-t", "acc-idle", "acc-ny"].map((id) => ({ id, name: id, platform: "claude", type: "shared", status: "active", priority: 1, metadata: "{}" })))
    .execute();
  await insertEvents(db, EVENTS);
  token = (await createApiToken(runtime, { name: "trend-test", scope: "usage:read" })).token;
  await setAccountIndex(hot.redis!, hot.config.redisKeyPrefix, "acc-t", { name: "acc-t", platform: "claude", type: "shared", status: "active", priority: 1 });
});

afterAll(async () => {
  setRuntime(undefined);
  for (const rt of [runtime, nyRuntime, hot]) await rt?.close();
  if (hot) await dropRedisPrefix(hot.config.redisKeyPrefix);
  await tdb?.drop();
});

const strip = ({ bucket, start: _start, ...figures }: { bucket: string; start: string } & Record<string, unknown>) => ({ bucket, ...figures });

describe("accounts.trend", () => {
  it("today: 24 zero-filled hours, events at :59:59.999 and :00:00 in their own hours", async () => {
    const r = await getAccountTrend(runtime, { id: "acc-t", span: "today" }, now);
    expect(r).toMatchObject({ source: "postgres", timezone: TEST_TZ, data: { span: "today", unit: "hour", start: today, end: today } });
    expect(r.data.points).toHaveLength(24);
    // The account's facts, for the drawer to keep when the summary fails.
    const last = new Date(Math.max(...acc.map((e) => Date.parse(e.occurredAt)))).toISOString();
    expect(r.data.account).toEqual({ id: "acc-t", name: "acc-t", platform: "claude", type: "shared", status: "active", priority: 1, lastUsedAt: last, sources: [] });
    const todays = groupBy(
      acc.filter((e) => shDate(e.occurredAt) === today),
      (e) => String(shHour(e)),
    );
    expect([...todays.keys()].sort()).toEqual(["0", "1", "13", "14"]);
    expect(r.data.points.map(strip)).toEqual(
      Array.from({ length: 24 }, (_, h) => ({ bucket: `${today}T${String(h).padStart(2, "0")}:00+08:00`, ...expectedTotals(todays.get(String(h)) ?? []) })),
    );
    expect(r.data.points[0]!.start).toBe("2026-11-17T16:00:00.000Z");
    expect(r.data.points[23]!.start).toBe("2026-11-18T15:00:00.000Z");
    // Exact figures of the boundary hours, by hand.
    expect(r.data.points[0]).toMatchObject({ requests: 2, inputTokens: 5014, allTokens: 2007 + 601 + 100 + 43 + 3007 + 901 + 150 + 63, cost: 0.246914, ratedCost: 1.373457 });
    expect(r.data.points[1]).toMatchObject({ requests: 3, allTokens: 4007 + 1201 + 200 + 83, cost: 0.123457 });
    expect(r.data.points[2]).toMatchObject({ requests: 0, allTokens: 0, cost: 0, ratedCost: 0 });
    // The hours' counts add up to today's (money is rounded per hour, so it may differ by a micro-USD).
    const day = expectedTotals(acc.filter((e) => shDate(e.occurredAt) === today));
    expect(r.data.points.reduce((s, p) => s + p.allTokens, 0)).toBe(day.allTokens);
    expect(r.data.points.reduce((s, p) => s + p.requests, 0)).toBe(day.requests);
  });

  it("30d and 90d: one zero-filled point per day up to today; 12m: one per month", async () => {
    const byDay = groupBy(acc, (e) => shDate(e.occurredAt));
    for (const [span, n] of [["30d", 30], ["90d", 90]] as const) {
      const r = await getAccountTrend(runtime, { id: "acc-t", span }, now);
      const days = daysBack(n);
      expect(r.data).toMatchObject({ span, unit: "day", start: days[0], end: today });
      expect(r.data.points.map(strip)).toEqual(days.map((d) => ({ bucket: d, ...expectedTotals(byDay.get(d) ?? []) })));
      expect(r.data.points[0]!.start).toBe(shInstant(`${days[0]}T00:00:00.000`));
    }
    const r30 = await getAccountTrend(runtime, { id: "acc-t", span: "30d" }, now);
    expect(r30.data.points[0]).toMatchObject({ bucket: "2026-10-20", ...expectedTotals(byDay.get("2026-10-20")!) });
    expect(byDay.get("2026-10-20")!.map((e) => e.requestId)).toContain("e-old30");

    const r12 = await getAccountTrend(runtime, { id: "acc-t", span: "12m" }, now);
    const byMonth = groupBy(acc, (e) => shDate(e.occurredAt).slice(0, 7));
    const months = ["2025-12", ...Array.from({ length: 11 }, (_, i) => `2026-${String(i + 1).padStart(2, "0")}`)];
    expect(r12.data).toMatchObject({ span: "12m", unit: "month", start: "2025-12-01", end: today });
    expect(r12.data.points.map(strip)).toEqual(months.map((m) => ({ bucket: m, ...expectedTotals(byMonth.get(m) ?? []) })));
  });

  it("an idle account answers zeros; an unknown one NOT_FOUND", async () => {
    const r = await getAccountTrend(runtime, { id: "acc-idle", span: "today" }, now);
    expect(r.data.points.every((p) => p.requests === 0 && p.cost === 0)).toBe(true);
    await expect(getAccountTrend(runtime, { id: "nope", span: "30d" }, now)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("a day the clocks go back has 25 hours, the repeated 01:00 as two buckets", async () => {
    // 2026-11-01 in New York: 01:00-01:59 EDT (UTC-4), then again EST (UTC-5).
    const nyEvents: TestEvent[] = [
      { ...ev("ny-edt", "2000-01-01T00:00:00.000", "acc-ny", 1), occurredAt: "2026-11-01T05:30:00.000Z" },
      { ...ev("ny-est", "2000-01-01T00:00:00.000", "acc-ny", 2), occurredAt: "2026-11-01T06:30:00.000Z" },
      { ...ev("ny-late", "2000-01-01T00:00:00.000", "acc-ny", 3), occurredAt: "2026-11-02T04:59:59.999Z" },
    ];
    await insertEvents(tdb.handle.db, nyEvents, "America/New_York");
    const r = await getAccountTrend(nyRuntime, { id: "acc-ny", span: "today" }, new Date("2026-11-01T18:00:00.000Z"));
    expect(r.timezone).toBe("America/New_York");
    expect(r.data.points).toHaveLength(25);
    expect(r.data.points.slice(0, 4).map((p) => p.bucket)).toEqual(["2026-11-01T00:00-04:00", "2026-11-01T01:00-04:00", "2026-11-01T01:00-05:00", "2026-11-01T02:00-05:00"]);
    expect(r.data.points.map((p) => p.requests)).toEqual(Array.from({ length: 25 }, (_, i) => (i === 1 || i === 2 || i === 24 ? 1 : 0)));
    expect(r.data.points[24]!.bucket).toBe("2026-11-01T23:00-05:00");
  });

  it("from the Redis fallback: 503 naming why, NOT_FOUND for an unknown account", async () => {
    const err = await getAccountTrend(hot, { id: "acc-t", span: "30d" }, now).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: "UNAVAILABLE" });
    expect((err as AppError).message).toMatch(/^PostgreSQL is disabled.*a usage trend \(they keep no history\)/);
    await expect(getAccountTrend(hot, { id: "nope", span: "today" }, now)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("GET /admin/accounts/:id/usage-trend and the range limit", () => {
  type Handler = (req: NextRequest, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;
  const call = (url: string, id: string) =>
    (trendRoute as Handler)(new NextRequest(`http://localhost${url}`, { headers: { authorization: `Bearer ${token}` } }), { params: Promise.resolve({ id }) });
  const caller = () =>
    createCallerFactory(appRouter)({ runtime, req: new Request("http://localhost/api/trpc"), requestId: "trend-test", principal: { kind: "token", name: "t", scopes: ["admin"], id: "t" } });

  it("answers the envelope with what tRPC answers; 30d by default", async () => {
    const res = await call("/admin/accounts/acc-t/usage-trend", "acc-t");
    expect(res.status).toBe(200);
    const { success, ...body } = (await res.json()) as { success: boolean; data: { span: string; points: unknown[] }; timestamp: string };
    expect(success).toBe(true);
    expect(body.data.span).toBe("30d");
    expect(body.data.points).toHaveLength(30);
    const viaTrpc = await caller().accounts.trend({ id: "acc-t" });
    expect({ ...body, timestamp: "" }).toEqual({ ...viaTrpc, timestamp: "" });
  });

  it("400 naming span for a bad span, 404 for an unknown id", async () => {
    for (const url of ["/admin/accounts/acc-t/usage-trend?span=7y", "/admin/accounts/acc-t/usage-trend?span=today&range=daily"]) {
      const res = await call(url, "acc-t");
      expect(res.status, url).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string; issues?: { path: string }[] } };
      expect(body.error.code).toBe("BAD_REQUEST");
      expect(body.error.issues?.some((i) => i.path === "span") || body.error.message.includes("range")).toBe(true);
    }
    await expect(caller().accounts.trend({ id: "acc-t", span: "1y" as "12m" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    const missing = await call("/admin/accounts/nope/usage-trend?span=today", "nope");
    expect(missing.status).toBe(404);
  });

  it("the browser's range limit is the schema's", () => {
    expect(MAX_RANGE_YEARS).toBe(3);
    expect(isRangeTooLong("2023-01-01", "2025-12-31")).toBe(false);
    expect(isRangeTooLong("2023-01-01", "2026-01-01")).toBe(true);
    expect(accountSummaryQuery.safeParse({ range: "custom", start: "2023-01-01", end: "2025-12-31" }).success).toBe(true);
    expect(accountSummaryQuery.safeParse({ range: "custom", start: "2023-01-01", end: "2026-01-01" }).success).toBe(false);
    // 29 February: three years later is 28 February.
    expect(isRangeTooLong("2024-02-29", "2027-02-27")).toBe(false);
    expect(isRangeTooLong("2024-02-29", "2027-02-28")).toBe(true);
  });
});
