import { sql } from "kysely";
import { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AppError } from "../errors";
import { parseQuery } from "../http/route";
import { createRuntime, type Runtime } from "../runtime";
import { createTestDatabase, testConfig, type TestDatabase } from "../testing/stores";
import { createCallerFactory } from "../trpc/init";
import { appRouter } from "../trpc/routers/_app";
import { csvResponse, exportAccountUsage, exportBreakdown, zonedIso } from "./csv";
import {
  accountBreakdownQuery,
  accountSummaryQuery,
  accountUsageListInput,
  type AccountBreakdownInput,
  type AccountSummaryInput,
  type AccountUsageListInput,
  type AccountUsageRow,
  type BreakdownItem,
  type UsageTotals,
} from "./schemas";
import {
  TEST_TZ,
  costNanos,
  expectedTotals,
  groupBy,
  inDays,
  insertEvents,
  parseCsv,
  shDate,
  shInstant,
  spreadEvents,
  type TestEvent,
} from "./stats.fixtures";
import { getAccountBreakdown, getAccountSummary, listAccountUsage } from "./stats.service";

vi.mock("server-only", () => ({}));

/**
 * The read path against a real, migrated PostgreSQL: every figure is compared with a computation
 * from the events themselves. Days are those of Asia/Shanghai (UTC+8, no DST). One file over 400
 * lines on purpose: the three services share one seeded database and one independent computation.
 */

// A fixed instant (14:30 in Shanghai), passed to every call: the answers do not depend on when
// the suite runs, so a run across midnight or a month end cannot change them.
const now = new Date("2026-11-18T06:30:00.000Z");
const today = shDate(now.toISOString());
const thisMonth = today.slice(0, 7);
const todayStart = shInstant(`${today}T00:00:00.000`);

// sources: the relays that fed each account (the deleted acc-4's "old-relay" must not be offered).
const ACCOUNTS = [
  { id: "acc-1", name: "Claude 主账号", platform: "claude", type: "shared", status: "active", priority: 10, sources: ["crs"] },
  { id: "acc-2", name: "=cmd|' /C calc'!A0", platform: "openai", type: "group", status: "active", priority: 20, sources: ["crs", "sub2api"] },
  { id: "acc-3", name: 'Beta, "quoted"', platform: "claude", type: "dedicated", status: "paused", priority: 30, sources: [] },
  { id: "acc-4", name: "Deleted one", platform: "claude", type: "shared", status: "active", priority: 5, sources: ["old-relay", "sub2api"] },
  { id: "acc-5", name: "alpha", platform: "gemini", type: "shared", status: "active", priority: 10, sources: ["sub2api"] },
  { id: "acc-6", name: "Zed", platform: "claude", type: "shared", status: "active", priority: 10, sources: [] },
];
const LIVE = ACCOUNTS.filter((a) => a.id !== "acc-4");

const ACC1_KEYS = Array.from({ length: 25 }, (_, i) => `k-${String(i + 1).padStart(2, "0")}`);
const KEY_NAMES = new Map<string, string>([
  ...ACC1_KEYS.map((k) => [k, `Key ${k.slice(2)}`] as [string, string]),
  ["k-03", "=SUM(A1:A9)"],
  ["k-04", "名字,带逗号 \"引号\""],
  ["k-tie-a", "Tie A"],
  ["k-tie-b", "Tie B"],
]);
/** api_keys.source; every other key came through the REST API (null), or has no api_keys row (acc-2's). */
const KEY_SOURCES = new Map([
  ["k-01", "crs"],
  ["k-02", "sub2api"],
]);
const MODELS = ["claude-sonnet-4", "claude-opus-4", "claude-haiku-4", "gpt-5"];

function ev(requestId: string, local: string, accountId: string, apiKeyId: string, model: string, n = 1): TestEvent {
  return {
    requestId,
    occurredAt: shInstant(local),
    accountId,
    apiKeyId,
    model,
    inputTokens: 1000 * n + 7,
    outputTokens: 300 * n + 1,
    cacheCreateTokens: 50 * n,
    cacheReadTokens: 20 * n + 3,
    cost: `0.${String(12345678 + n).padStart(8, "0")}`,
  };
}

const yesterday = shDate(new Date(Date.parse(todayStart) - 1).toISOString());
const boundary = [
  ev("b1", "2026-03-31T23:59:59.999", "acc-1", "k-01", "claude-sonnet-4", 1),
  ev("b2", "2026-04-01T00:00:00.000", "acc-1", "k-01", "claude-opus-4", 2),
  ev("b3", "2026-05-10T23:59:59.999", "acc-1", "k-02", "gpt-5", 3),
  ev("b4", "2026-05-11T00:00:00.000", "acc-1", "k-02", "claude-sonnet-4", 4),
  ev("b5", `${yesterday}T23:59:59.999`, "acc-1", "k-05", "claude-sonnet-4", 5),
  ev("b6", `${today}T00:00:00.000`, "acc-1", "k-05", "claude-haiku-4", 6),
];
// Identical figures on two keys: ties must break on the key id.
const ties = [ev("t1", "2026-02-10T12:00:00.000", "acc-1", "k-tie-b", "gpt-5", 9), ev("t2", "2026-02-10T13:00:00.000", "acc-1", "k-tie-a", "gpt-5", 9)];
const todayEvents = (accountId: string, keys: string[], n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({
    ...ev(`${tag}-${i}`, "2000-01-01T00:00:00.000", accountId, keys[i % keys.length]!, MODELS[i % MODELS.length]!, i + 1),
    occurredAt: new Date(Date.parse(todayStart) + (i + 1) * 1000).toISOString(),
  }));

// 近1小时 is (now − 60 min, now]: an event exactly 60 minutes old is out, one at `now` in, one a
// millisecond later (a clock ahead) out; acc-1 has the edges, acc-5 one event mid-hour.
const at = (ms: number) => new Date(now.getTime() + ms).toISOString();
const lastHourEdges = [
  { ...ev("h-out-old", "2000-01-01T00:00:00.000", "acc-1", "k-07", "gpt-5", 11), occurredAt: at(-3_600_000) },
  { ...ev("h-in-first", "2000-01-01T00:00:00.000", "acc-1", "k-07", "gpt-5", 12), occurredAt: at(-3_599_999) },
  { ...ev("h-in-now", "2000-01-01T00:00:00.000", "acc-1", "k-08", "claude-opus-4", 13), occurredAt: at(0) },
  { ...ev("h-out-ahead", "2000-01-01T00:00:00.000", "acc-1", "k-08", "claude-opus-4", 14), occurredAt: at(1) },
  { ...ev("h-acc5", "2000-01-01T00:00:00.000", "acc-5", "k5-2", "gpt-5", 15), occurredAt: at(-1_800_000) },
];
const inLastHour = (evs: TestEvent[]) => evs.filter((e) => Date.parse(e.occurredAt) > now.getTime() - 3_600_000 && Date.parse(e.occurredAt) <= now.getTime());

const EVENTS: TestEvent[] = [
  ...lastHourEdges,
  ...spreadEvents({ seed: 1, accountId: "acc-1", keys: ACC1_KEYS, models: MODELS, n: 500, fromIso: shInstant("2025-12-01T00:00:00.000"), toIso: todayStart }),
  ...boundary,
  ...ties,
  ...todayEvents("acc-1", ACC1_KEYS.slice(5, 12), 10, "t-acc1"),
  ...spreadEvents({ seed: 2, accountId: "acc-2", keys: ["k2-a", "k2-b"], models: MODELS, n: 30, fromIso: shInstant("2026-10-01T00:00:00.000"), toIso: todayStart }),
  ...spreadEvents({ seed: 4, accountId: "acc-4", keys: ["k4-a"], models: MODELS, n: 20, fromIso: shInstant("2026-06-01T00:00:00.000"), toIso: todayStart }),
  ...todayEvents("acc-4", ["k4-a"], 2, "t-acc4"),
  ...spreadEvents({ seed: 5, accountId: "acc-5", keys: ["k5-1", "k5-2", "k5-3"], models: MODELS, n: 60, fromIso: shInstant("2026-06-01T00:00:00.000"), toIso: todayStart }),
  ...todayEvents("acc-5", ["k5-1"], 2, "t-acc5"),
  ...todayEvents("acc-6", ["k6-1"], 3, "t-acc6"),
];
const byAccount = groupBy(EVENTS, (e) => e.accountId);
const acc1 = byAccount.get("acc-1")!;

let tdb: TestDatabase;
let runtime: Runtime;

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  runtime = await createRuntime(testConfig({ DATABASE_URL: tdb.url, USAGE_TIMEZONE: TEST_TZ, REDIS_URL: "" }), { ownDatabase: true });
  const db = tdb.handle.db;
  await sql`SELECT ensure_usage_partitions('2025-11-01', (now() + interval '2 months')::date)`.execute(db);
  await db.insertInto("accounts").values(ACCOUNTS.map((a) => ({ ...a, metadata: "{}" }))).execute();
  await db.updateTable("accounts").set({ deleted_at: new Date() }).where("id", "=", "acc-4").execute();
  await db
    .insertInto("api_keys")
    .values([...KEY_NAMES].map(([id, name]) => ({ id, name, account_id: "acc-1", hashed_key: null, metadata: "{}", source: KEY_SOURCES.get(id) ?? null })))
    .execute();
  await insertEvents(db, EVENTS);
});

afterAll(async () => {
  await runtime?.close();
  await tdb?.drop();
});

const noStamp = <T extends { timestamp: string }>(r: T) => ({ ...r, timestamp: "" });

function expectedByModel(evs: TestEvent[]) {
  return [...groupBy(evs, (e) => e.model)]
    .map(([model, list]) => ({ model, ...expectedTotals(list) }))
    .sort((a, b) => b.allTokens - a.allTokens || (a.model < b.model ? -1 : 1));
}

function monthsFrom(from: string, to: string): string[] {
  const out: string[] = [];
  for (let y = Number(from.slice(0, 4)), m = Number(from.slice(5, 7)); `${y}-${String(m).padStart(2, "0")}` <= to; m === 12 ? ((m = 1), y++) : m++) {
    out.push(`${y}-${String(m).padStart(2, "0")}`);
  }
  return out;
}

function daysFrom(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); ; t += 86_400_000) {
    const d = new Date(t).toISOString().slice(0, 10);
    if (d > to) return out;
    out.push(d);
  }
}

const maxIso = (evs: TestEvent[]) => (evs.length ? new Date(Math.max(...evs.map((e) => Date.parse(e.occurredAt)))).toISOString() : null);

async function checkSummary(input: Omit<AccountSummaryInput, "id" | "range"> & { range: AccountSummaryInput["range"] }, evs: TestEvent[], series: { unit: "day" | "month"; keys: string[] }) {
  const res = await getAccountSummary(runtime, { id: "acc-1", ...input }, now);
  expect(res.source).toBe("postgres");
  expect(res.data.usage).toEqual(expectedTotals(evs));
  expect(res.data.byModel).toEqual(expectedByModel(evs));
  const bucket = (e: TestEvent) => (series.unit === "day" ? shDate(e.occurredAt) : shDate(e.occurredAt).slice(0, 7));
  const groups = groupBy(evs, bucket);
  expect(res.data.series).toEqual(series.keys.map((date) => ({ date, ...expectedTotals(groups.get(date) ?? []) })));
  expect(res.data.windows).toEqual({
    daily: expectedTotals(inDays(acc1, today, today)),
    monthly: expectedTotals(acc1.filter((e) => shDate(e.occurredAt).startsWith(thisMonth))),
    total: expectedTotals(acc1),
  });
  expect(inLastHour(acc1).map((e) => e.requestId).sort()).toEqual(["h-in-first", "h-in-now"]);
  expect(res.data.lastHour).toEqual(expectedTotals(inLastHour(acc1)));
  expect(res.data.account).toEqual({ id: "acc-1", name: "Claude 主账号", platform: "claude", type: "shared", status: "active", priority: 10, lastUsedAt: maxIso(acc1), sources: ["crs"] });
  return res;
}

describe("accounts.summary", () => {
  it("puts 23:59:59.999 and 00:00:00 local on their own days and months", async () => {
    const d31 = inDays(acc1, "2026-03-31", "2026-03-31");
    expect(d31.map((e) => e.requestId)).toContain("b1");
    expect(d31.map((e) => e.requestId)).not.toContain("b2");
    const r = await checkSummary({ range: "daily", date: "2026-03-31" }, d31, { unit: "day", keys: ["2026-03-31"] });
    expect(r.data.range).toEqual({ name: "daily", start: "2026-03-31", end: "2026-03-31", timezone: TEST_TZ });
    await checkSummary({ range: "daily", date: "2026-04-01" }, inDays(acc1, "2026-04-01", "2026-04-01"), { unit: "day", keys: ["2026-04-01"] });
    await checkSummary({ range: "daily", date: "2026-05-10" }, inDays(acc1, "2026-05-10", "2026-05-10"), { unit: "day", keys: ["2026-05-10"] });
    await checkSummary({ range: "daily", date: "2026-05-11" }, inDays(acc1, "2026-05-11", "2026-05-11"), { unit: "day", keys: ["2026-05-11"] });
    await checkSummary({ range: "monthly", month: "2026-03" }, inDays(acc1, "2026-03-01", "2026-03-31"), { unit: "day", keys: daysFrom("2026-03-01", "2026-03-31") });
    const april = await checkSummary({ range: "monthly", month: "2026-04" }, inDays(acc1, "2026-04-01", "2026-04-30"), { unit: "day", keys: daysFrom("2026-04-01", "2026-04-30") });
    expect(april.data.range).toEqual({ name: "monthly", start: "2026-04-01", end: "2026-04-30", timezone: TEST_TZ });
  });

  it("defaults daily to today and monthly to this month", async () => {
    const d = await checkSummary({ range: "daily" }, inDays(acc1, today, today), { unit: "day", keys: [today] });
    expect(d.data.usage.requests).toBeGreaterThan(0);
    const monthEnd = daysFrom(`${thisMonth}-01`, `${thisMonth}-31`).filter((x) => x.startsWith(thisMonth)).at(-1)!;
    await checkSummary({ range: "monthly" }, inDays(acc1, `${thisMonth}-01`, monthEnd), { unit: "day", keys: daysFrom(`${thisMonth}-01`, monthEnd) });
  });

  it("answers custom ranges: daily series up to 92 days, monthly beyond, both zero-filled", async () => {
    const short = await checkSummary({ range: "custom", start: "2026-03-15", end: "2026-05-11" }, inDays(acc1, "2026-03-15", "2026-05-11"), {
      unit: "day",
      keys: daysFrom("2026-03-15", "2026-05-11"),
    });
    expect(short.data.series).toHaveLength(58);
    const long = await checkSummary({ range: "custom", start: "2025-12-10", end: "2026-05-10" }, inDays(acc1, "2025-12-10", "2026-05-10"), {
      unit: "month",
      keys: monthsFrom("2025-12", "2026-05"),
    });
    expect(long.data.range).toEqual({ name: "custom", start: "2025-12-10", end: "2026-05-10", timezone: TEST_TZ });
    // Exactly 92 days is still daily.
    await checkSummary({ range: "custom", start: "2026-02-01", end: "2026-05-03" }, inDays(acc1, "2026-02-01", "2026-05-03"), {
      unit: "day",
      keys: daysFrom("2026-02-01", "2026-05-03"),
    });
  });

  it("answers a 3-year range and all time", async () => {
    const start = new Date(Date.parse(`${Number(today.slice(0, 4)) - 3}${today.slice(4)}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    await checkSummary({ range: "custom", start, end: today }, inDays(acc1, start, today), { unit: "month", keys: monthsFrom(start.slice(0, 7), thisMonth) });
    const total = await checkSummary({ range: "total" }, acc1, { unit: "month", keys: monthsFrom("2025-12", thisMonth) });
    expect(total.data.range).toEqual({ name: "total", start: null, end: null, timezone: TEST_TZ });
  });

  it("answers in an equal-offset zone and refuses one that is not", async () => {
    const base = await getAccountSummary(runtime, { id: "acc-1", range: "daily", date: "2026-03-31" }, now);
    for (const tz of ["Asia/Hong_Kong", "Etc/GMT-8", "asia/shanghai"]) {
      const r = await getAccountSummary(runtime, { id: "acc-1", range: "daily", date: "2026-03-31", tz }, now);
      expect(r.data.usage).toEqual(base.data.usage);
      expect(r.data.windows).toEqual(base.data.windows);
    }
    const hk = await getAccountSummary(runtime, { id: "acc-1", range: "total", tz: "Asia/Hong_Kong" }, now);
    expect(hk.timezone).toBe("Asia/Hong_Kong");
    expect(hk.data.range.timezone).toBe("Asia/Hong_Kong");
    expect(hk.data.usage).toEqual(expectedTotals(acc1));
    for (const tz of ["UTC", "Asia/Tokyo"]) {
      const err = await getAccountSummary(runtime, { id: "acc-1", range: "monthly", month: "2026-04", tz }, now).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("BAD_REQUEST");
      expect((err as AppError).extra.issues?.[0]?.path).toBe("tz");
      expect((err as AppError).message).toMatch(/cannot be answered exactly/);
    }
  });

  it("404s unknown and deleted accounts", async () => {
    for (const id of ["nope", "acc-4"]) {
      await expect(getAccountSummary(runtime, { id, range: "total" }, now)).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(getAccountBreakdown(runtime, { id, range: "total", sort: "allTokens", order: "desc", format: "json" }, now)).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
    }
  });
});

// ---- breakdown

function round6(x: number) {
  return Math.round(x * 1e6) / 1e6;
}

function expectedBreakdown(evs: TestEvent[], sort: AccountBreakdownInput["sort"], order: "asc" | "desc"): BreakdownItem[] {
  const whole = expectedTotals(evs);
  const wholeNanos = evs.reduce((s, e) => s + costNanos(e.cost), 0n);
  const rows = [...groupBy(evs, (e) => e.apiKeyId)].map(([id, list]) => {
    const t = expectedTotals(list);
    const nanos = list.reduce((s, e) => s + costNanos(e.cost), 0n);
    const ratedNanos = list.reduce((s, e) => s + costNanos(e.ratedCost ?? e.cost), 0n);
    const last = [...list].sort((a, b) => Date.parse(b.occurredAt) - Date.parse(a.occurredAt) || (a.model < b.model ? -1 : 1))[0]!;
    return {
      nanos,
      ratedNanos,
      item: {
        apiKeyId: id,
        apiKeyName: KEY_NAMES.get(id) ?? id,
        ...t,
        share: { tokens: round6(t.allTokens / whole.allTokens), cost: round6(Number(nanos) / Number(wholeNanos)) },
        lastModel: last.model,
        lastUsedAt: new Date(Date.parse(last.occurredAt)).toISOString(),
        source: KEY_SOURCES.get(id) ?? null,
      },
    };
  });
  const key = (r: (typeof rows)[number]) =>
    sort === "cost" ? r.nanos : sort === "ratedCost" ? r.ratedNanos : sort === "lastUsedAt" ? r.item.lastUsedAt : sort === "requests" ? r.item.requests : r.item.allTokens;
  const dir = order === "asc" ? 1 : -1;
  rows.sort((a, b) => (key(a) < key(b) ? -dir : key(a) > key(b) ? dir : a.item.apiKeyId < b.item.apiKeyId ? -1 : 1));
  return rows.map((r) => r.item);
}

describe("accounts.breakdown", () => {
  const cases: { label: string; range: Partial<AccountBreakdownInput>; evs: TestEvent[] }[] = [
    { label: "daily across the month boundary", range: { range: "daily", date: "2026-04-01" }, evs: inDays(acc1, "2026-04-01", "2026-04-01") },
    { label: "monthly with tied keys", range: { range: "monthly", month: "2026-02" }, evs: inDays(acc1, "2026-02-01", "2026-02-28") },
    { label: "custom", range: { range: "custom", start: "2026-01-20", end: "2026-05-10" }, evs: inDays(acc1, "2026-01-20", "2026-05-10") },
    { label: "total", range: { range: "total" }, evs: acc1 },
  ];
  for (const c of cases) {
    it(`${c.label}: pages concatenate to the full list, totals are their sum, shares sum to 1`, async () => {
      for (const [sort, order] of [["allTokens", "desc"], ["cost", "asc"], ["ratedCost", "desc"], ["requests", "desc"], ["lastUsedAt", "desc"]] as const) {
        const base = { id: "acc-1", ...c.range, sort, order, format: "json" } as AccountBreakdownInput;
        const full = await getAccountBreakdown(runtime, { ...base, limit: 100 }, now);
        expect(full.source).toBe("postgres");
        expect(full.data.items).toEqual(expectedBreakdown(c.evs, sort, order));
        expect(full.data.totals).toEqual(expectedTotals(c.evs));
        expect(full.data.total).toBe(new Set(c.evs.map((e) => e.apiKeyId)).size);
        expect(full.data.hasMore).toBe(false);
        expect(full.data.nextOffset).toBeNull();
        const shares = full.data.items.reduce((s, i) => ({ t: s.t + i.share.tokens, c: s.c + i.share.cost }), { t: 0, c: 0 });
        expect(Math.abs(shares.t - 1)).toBeLessThan(1e-4);
        expect(Math.abs(shares.c - 1)).toBeLessThan(1e-4);

        const paged: BreakdownItem[] = [];
        let offset: number | null = 0;
        while (offset !== null) {
          const page = await getAccountBreakdown(runtime, { ...base, limit: 7, offset }, now);
          expect(page.data.totals).toEqual(full.data.totals);
          expect(page.data.total).toBe(full.data.total);
          paged.push(...page.data.items);
          expect(page.data.hasMore).toBe(page.data.nextOffset !== null);
          offset = page.data.nextOffset;
        }
        expect(paged).toEqual(full.data.items);
      }
    });
  }

  it("breaks ties by key id and answers past the end with no items", async () => {
    const r = await getAccountBreakdown(runtime, { id: "acc-1", range: "daily", date: "2026-02-10", sort: "allTokens", order: "desc", format: "json" }, now);
    const ids = r.data.items.map((i) => i.apiKeyId);
    expect(ids.indexOf("k-tie-a")).toBe(ids.indexOf("k-tie-b") - 1);
    const past = await getAccountBreakdown(runtime, { id: "acc-1", range: "total", sort: "allTokens", order: "desc", format: "json", offset: 1000 }, now);
    expect(past.data).toMatchObject({ items: [], hasMore: false, nextOffset: null, totals: expectedTotals(acc1) });
  });

  // The page and the totals come from one statement: an empty page must not lose the totals.
  it("keeps the totals past the end of a custom range, and answers zeros for a range without usage", async () => {
    const evs = inDays(acc1, "2026-01-20", "2026-05-10");
    const custom = { range: "custom", start: "2026-01-20", end: "2026-05-10", sort: "cost", order: "asc", format: "json" } as const;
    const past = await getAccountBreakdown(runtime, { id: "acc-1", ...custom, offset: 500 }, now);
    expect(past.data).toEqual({ items: [], totals: expectedTotals(evs), total: new Set(evs.map((e) => e.apiKeyId)).size, nextOffset: null, hasMore: false });
    const unused = await getAccountBreakdown(runtime, { id: "acc-6", ...custom }, now);
    expect(unused.data).toEqual({ items: [], totals: expectedTotals([]), total: 0, nextOffset: null, hasMore: false });
  });

  it("accepts any valid tz for all time and refuses a different offset for a day", async () => {
    const r = await getAccountBreakdown(runtime, { id: "acc-1", range: "total", tz: "America/New_York", sort: "allTokens", order: "desc", format: "json" }, now);
    expect(r.data.totals).toEqual(expectedTotals(acc1));
    expect(r.timezone).toBe("America/New_York");
    await expect(
      getAccountBreakdown(runtime, { id: "acc-1", range: "daily", date: "2026-04-01", tz: "America/New_York", sort: "allTokens", order: "desc", format: "json" }, now),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", extra: { issues: [{ path: "tz" }] } });
    const hk = await getAccountBreakdown(runtime, { id: "acc-1", range: "daily", date: "2026-04-01", tz: "Asia/Hong_Kong", sort: "allTokens", order: "desc", format: "json" }, now);
    expect(hk.data.items).toEqual(expectedBreakdown(inDays(acc1, "2026-04-01", "2026-04-01"), "allTokens", "desc"));
  });
});

// ---- the account list

function expectedRow(a: (typeof ACCOUNTS)[number]): AccountUsageRow {
  const evs = byAccount.get(a.id) ?? [];
  return {
    ...a,
    lastUsedAt: maxIso(evs),
    usage: {
      daily: expectedTotals(inDays(evs, today, today)),
      monthly: expectedTotals(evs.filter((e) => shDate(e.occurredAt).startsWith(thisMonth))),
      total: expectedTotals(evs),
    },
    lastHour: expectedTotals(inLastHour(evs)),
  };
}

function sortRows(rows: AccountUsageRow[], key: (r: AccountUsageRow) => string | number | null, order: "asc" | "desc") {
  const dir = order === "asc" ? 1 : -1;
  return [...rows].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka !== kb) {
      if (ka === null) return 1;
      if (kb === null) return -1;
      return ka < kb ? -dir : dir;
    }
    return a.id < b.id ? -1 : 1;
  });
}

const listInput = (over: Partial<AccountUsageListInput> = {}): AccountUsageListInput => ({ sort: "name", format: "json", ...over });

describe("accounts.usageStats", () => {
  const all = LIVE.map(expectedRow);

  it("lists every live account with today, this month and all time, and a summary of the filter", async () => {
    const r = await listAccountUsage(runtime, listInput(), now);
    expect(r.source).toBe("postgres");
    expect(r.timezone).toBe(TEST_TZ);
    expect(r.data).toEqual(sortRows(all, (x) => x.name.toLowerCase(), "asc"));
    expect(r.data.find((x) => x.id === "acc-3")!.usage.total).toEqual(expectedTotals([]));
    const live = EVENTS.filter((e) => e.accountId !== "acc-4");
    expect(r.summary).toEqual({
      totalAccounts: 5,
      activeToday: 3,
      daily: expectedTotals(inDays(live, today, today)),
      monthly: expectedTotals(live.filter((e) => shDate(e.occurredAt).startsWith(thisMonth))),
      total: expectedTotals(live),
      lastHour: expectedTotals(inLastHour(live)),
    });
    expect(inLastHour(live).length).toBe(3);
    expect(r.pagination).toEqual({ total: 5, limit: 100, offset: 0, hasMore: false });
    expect(r.availableSources).toEqual(["crs", "sub2api"]);
  });

  it("filters by source: accounts whose sources contain it, or none for accounts no relay fed", async () => {
    const cases: [string, string[]][] = [
      ["crs", ["acc-2", "acc-1"]],
      ["sub2api", ["acc-2", "acc-5"]],
      ["none", ["acc-3", "acc-6"]],
      ["old-relay", []],
      ["new-api", []],
    ];
    for (const [source, ids] of cases) {
      const r = await listAccountUsage(runtime, listInput({ source, sort: "priority", order: "desc" }), now);
      expect(r.data.map((x) => x.id), source).toEqual(ids);
      expect(r.data, source).toEqual(ids.map((id) => expectedRow(ACCOUNTS.find((a) => a.id === id)!)));
      expect(r.summary.totalAccounts, source).toBe(ids.length);
      expect(r.summary.total, source).toEqual(expectedTotals(EVENTS.filter((e) => ids.includes(e.accountId))));
      // The choices do not narrow with the filter.
      expect(r.availableSources, source).toEqual(["crs", "sub2api"]);
    }
    const both = await listAccountUsage(runtime, listInput({ source: "crs", platform: "openai" }), now);
    expect(both.data.map((x) => x.id)).toEqual(["acc-2"]);
    expect(both.data[0]!.sources).toEqual(["crs", "sub2api"]);
  });

  it("filters by platform, status and a case-insensitive search of name or id", async () => {
    const claude = await listAccountUsage(runtime, listInput({ platform: "claude" }), now);
    expect(claude.data.map((x) => x.id)).toEqual(["acc-3", "acc-1", "acc-6"]);
    expect(claude.summary.total).toEqual(expectedTotals(EVENTS.filter((e) => ["acc-1", "acc-6"].includes(e.accountId))));
    expect(claude.summary.totalAccounts).toBe(3);
    const paused = await listAccountUsage(runtime, listInput({ status: "paused" }), now);
    expect(paused.data.map((x) => x.id)).toEqual(["acc-3"]);
    expect(paused.summary.activeToday).toBe(0);
    for (const [search, ids] of [["ALPHA", ["acc-5"]], ["ACC-2", ["acc-2"]], ["主账号", ["acc-1"]], ["%", []], ["_", []]] as const) {
      const r = await listAccountUsage(runtime, listInput({ search }), now);
      expect(r.data.map((x) => x.id)).toEqual(ids);
    }
  });

  it("sorts in SQL by any figure of any window, with ties broken by id, and pages without gaps", async () => {
    const cases: [AccountUsageListInput["sort"], "asc" | "desc" | undefined, (r: AccountUsageRow) => string | number | null, "asc" | "desc"][] = [
      ["total.cost", "desc", (r) => r.usage.total.cost, "desc"],
      ["daily.requests", undefined, (r) => r.usage.daily.requests, "desc"],
      ["monthly.allTokens", "asc", (r) => r.usage.monthly.allTokens, "asc"],
      ["priority", undefined, (r) => r.priority, "asc"],
      ["lastUsedAt", "desc", (r) => r.lastUsedAt, "desc"],
      ["lastUsedAt", "asc", (r) => r.lastUsedAt, "asc"],
      ["name", "desc", (r) => r.name.toLowerCase(), "desc"],
    ];
    for (const [sort, order, key, effective] of cases) {
      const r = await listAccountUsage(runtime, listInput({ sort, order }), now);
      expect(r.data.map((x) => x.id), `${sort} ${order}`).toEqual(sortRows(all, key, effective).map((x) => x.id));
      const pages: AccountUsageRow[] = [];
      for (let offset = 0; ; offset += 2) {
        const p = await listAccountUsage(runtime, listInput({ sort, order, limit: 2, offset }), now);
        expect(p.pagination).toEqual({ total: 5, limit: 2, offset, hasMore: offset + p.data.length < 5 });
        pages.push(...p.data);
        if (!p.pagination.hasMore) break;
      }
      expect(pages).toEqual(r.data);
    }
  });

  it("accepts an equal-offset tz and refuses another", async () => {
    const r = await listAccountUsage(runtime, listInput({ tz: "Asia/Hong_Kong" }), now);
    expect(r.data).toEqual(sortRows(all, (x) => x.name.toLowerCase(), "asc"));
    expect(r.timezone).toBe("Asia/Hong_Kong");
    await expect(listAccountUsage(runtime, listInput({ tz: "Europe/Paris" }), now)).rejects.toMatchObject({ code: "BAD_REQUEST", extra: { issues: [{ path: "tz" }] } });
  });
});

// ---- input validation (the same schemas parse REST query strings and tRPC input)

function queryError(schema: Parameters<typeof parseQuery>[1], qs: string): AppError {
  try {
    parseQuery(new NextRequest(`http://localhost/admin/x?${qs}`), schema);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error(`expected ${qs} to be refused`);
}

describe("bad parameters", () => {
  const schemas = { summary: accountSummaryQuery, breakdown: accountBreakdownQuery, list: accountUsageListInput };
  const cases: [keyof typeof schemas, string, string][] = [
    ["summary", "foo=1", "foo"],
    ["summary", "range=daily&date=2026-13-01", "date"],
    ["summary", "range=daily&date=2026-02-30", "date"],
    ["summary", "range=daily&date=yesterday", "date"],
    ["summary", "range=weekly", "range"],
    ["summary", "range=monthly&month=2026-13", "month"],
    ["summary", "date=2026-01-01", "date"],
    ["summary", "range=total&start=2026-01-01", "start"],
    ["summary", "range=custom&start=2026-05-02&end=2026-05-01", "start"],
    ["summary", "range=custom&start=2023-01-01&end=2026-01-01", "end"],
    ["summary", "range=custom&start=2023-01-01", "end"],
    ["summary", "range=custom&end=2023-01-01", "start"],
    ["summary", "tz=Mars/Olympus", "tz"],
    ["summary", "range=daily&range=monthly", "range"],
    ["breakdown", "limit=0", "limit"],
    ["breakdown", "limit=101", "limit"],
    ["breakdown", "limit=abc", "limit"],
    ["breakdown", "limit=1.5", "limit"],
    ["breakdown", "offset=-1", "offset"],
    ["breakdown", "sort=name", "sort"],
    ["breakdown", "order=up", "order"],
    ["breakdown", "format=xml", "format"],
    ["breakdown", "format=csv&limit=5", "limit"],
    ["list", "limit=501", "limit"],
    ["list", "sort=daily.foo", "sort"],
    ["list", "order=sideways", "order"],
    ["list", "search=", "search"],
    ["list", "format=csv&offset=10", "offset"],
    ["list", "range=daily", "range"],
    ["list", "source=", "source"],
    ["list", "source=CRS", "source"],
    ["list", "source=crs,sub2api", "source"],
    ["list", "source=1relay", "source"],
    ["list", `source=${"a".repeat(33)}`, "source"],
    ["list", "source=crs&source=sub2api", "source"],
  ];
  it.each(cases)("%s ?%s → 400 naming %s", (schema, qs, param) => {
    const err = queryError(schemas[schema], qs);
    expect(err.code).toBe("BAD_REQUEST");
    const named = err.extra.issues?.some((i) => i.path === param) || err.message.includes(param);
    expect(named, `${err.message} ${JSON.stringify(err.extra.issues)}`).toBe(true);
  });

  it("accepts exactly 3 years and no more", () => {
    expect(parseQuery(new NextRequest("http://localhost/x?range=custom&start=2023-01-01&end=2025-12-31"), accountSummaryQuery)).toMatchObject({ end: "2025-12-31" });
    expect(queryError(accountSummaryQuery, "range=custom&start=2024-02-29&end=2027-02-28").extra.issues?.[0]?.path).toBe("end");
  });
});

// ---- tRPC gives the same answers

describe("tRPC procedures", () => {
  const caller = () =>
    createCallerFactory(appRouter)({
      runtime,
      req: new Request("http://localhost/api/trpc"),
      requestId: "test",
      principal: { kind: "token", name: "t", scopes: ["admin"], id: "t" },
    });

  it("returns the service's figures for all three procedures", async () => {
    const c = caller();
    expect(noStamp(await c.accounts.usageStats({ sort: "total.cost" }))).toEqual(noStamp(await listAccountUsage(runtime, listInput({ sort: "total.cost" }))));
    expect(noStamp(await c.accounts.summary({ id: "acc-1", range: "custom", start: "2026-01-01", end: "2026-04-30" }))).toEqual(
      noStamp(await getAccountSummary(runtime, { id: "acc-1", range: "custom", start: "2026-01-01", end: "2026-04-30" })),
    );
    expect(noStamp(await c.accounts.breakdown({ id: "acc-1", range: "monthly", month: "2026-03", limit: 5, cursor: 5 }))).toEqual(
      noStamp(await getAccountBreakdown(runtime, { id: "acc-1", range: "monthly", month: "2026-03", limit: 5, offset: 5, sort: "allTokens", order: "desc", format: "json" })),
    );
  });

  it("refuses bad input with BAD_REQUEST and unknown ids with NOT_FOUND", async () => {
    const c = caller();
    await expect(c.accounts.breakdown({ id: "acc-1", limit: 1000 })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(c.accounts.summary({ id: "acc-1", range: "custom", start: "2026-02-01", end: "2026-01-01" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(c.accounts.summary({ id: "acc-1", tz: "UTC", range: "daily" })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/tz=UTC/) });
    await expect(c.accounts.usageStats({ format: "csv" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(c.accounts.summary({ id: "nope" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

// ---- CSV

async function readCsv(res: Response): Promise<{ text: string; rows: string[][] }> {
  // Response.text() drops a BOM; decode keeping it, to check it is there.
  const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(await res.arrayBuffer());
  return { text, rows: parseCsv(text.replace(/^\uFEFF/, "")) };
}

const figureCols = (t: UsageTotals) => [t.requests, t.inputTokens, t.outputTokens, t.cacheCreateTokens, t.cacheReadTokens, t.allTokens, t.cost, t.ratedCost];
const textOut = (s: string) => (/^[=+\-@]/.test(s) ? `'${s}` : s);
/** 毛利 and its rate, computed here in integer micro-USD. */
const marginCols = (t: UsageTotals) => {
  const rated = Math.round(t.ratedCost * 1e6);
  const margin = rated - Math.round(t.cost * 1e6);
  return [margin / 1e6, rated === 0 ? "" : Math.round((margin / rated) * 1e6) / 1e6];
};

describe("CSV exports", () => {
  it("exports every account with the JSON figures, BOM, safe text and a dated filename", async () => {
    const res = csvResponse(await exportAccountUsage(runtime, listInput({ sort: "total.cost" }), { now }));
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toContain(`filename="accounts-usage-${today}.csv"`);
    const { text, rows } = await readCsv(res);
    expect(text.startsWith("\uFEFFid,name,platform,type,status,priority,lastUsedAt,daily.requests,")).toBe(true);
    expect(text).toContain(",'=cmd|' /C calc'!A0,");
    expect(text).toContain(`"Beta, ""quoted"""`);
    const json = await listAccountUsage(runtime, listInput({ sort: "total.cost" }), now);
    expect(rows.slice(1)).toEqual(
      json.data.map((a) =>
        [
          a.id,
          textOut(a.name),
          a.platform,
          a.type,
          a.status,
          a.priority,
          zonedIso(a.lastUsedAt, TEST_TZ) ?? "",
          ...figureCols(a.usage.daily),
          ...figureCols(a.usage.monthly),
          ...figureCols(a.usage.total),
          a.sources.join(" "),
          ...marginCols(a.usage.daily),
          ...marginCols(a.usage.monthly),
          ...marginCols(a.usage.total),
        ].map(String),
      ),
    );
    for (const row of rows.slice(1)) for (const cell of row.slice(7, 7 + 24)) expect(cell).toMatch(/^\d+(\.\d{1,6})?$/);
    for (const row of rows.slice(1)) if (row[6]) expect(row[6]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?\+08:00$/);
    const sources = rows[0]!.indexOf("sources");
    expect(rows[0]!.slice(sources)).toEqual(["sources", "daily.margin", "daily.marginRate", "monthly.margin", "monthly.marginRate", "total.margin", "total.marginRate"]);
    expect(Object.fromEntries(rows.slice(1).map((r) => [r[0], r[sources]]))).toEqual({ "acc-1": "crs", "acc-2": "crs sub2api", "acc-3": "", "acc-5": "sub2api", "acc-6": "" });
    const none = await readCsv(csvResponse(await exportAccountUsage(runtime, listInput({ source: "none" }), { now })));
    expect(none.rows.slice(1).map((r) => r[0])).toEqual(["acc-3", "acc-6"]);
  });

  it("exports a whole breakdown across pages (more keys than one page)", async () => {
    const input = { id: "acc-1", range: "total", sort: "cost", order: "desc", format: "csv" } as const;
    const res = csvResponse(await exportBreakdown(runtime, input, { now }));
    expect(res.headers.get("content-disposition")).toContain('filename="breakdown-acc-1-total.csv"');
    const { rows } = await readCsv(res);
    expect(rows[0]).toEqual(["apiKeyId", "apiKeyName", "requests", "inputTokens", "outputTokens", "cacheCreateTokens", "cacheReadTokens", "allTokens", "cost", "ratedCost", "share.tokens", "share.cost", "lastModel", "lastUsedAt", "source", "margin", "marginRate"]);
    const json = await getAccountBreakdown(runtime, { ...input, format: "json", limit: 100 }, now);
    expect(json.data.items.length).toBe(27);
    expect(rows.slice(1)).toEqual(
      json.data.items.map((k) => [k.apiKeyId, textOut(k.apiKeyName), ...figureCols(k), k.share.tokens, k.share.cost, k.lastModel ?? "", zonedIso(k.lastUsedAt, TEST_TZ) ?? "", k.source ?? "", ...marginCols(k)].map(String)),
    );
    expect(rows.slice(1).filter((r) => r[14] !== "").map((r) => [r[0], r[14]]).sort()).toEqual([["k-01", "crs"], ["k-02", "sub2api"]]);
    // Localized headers: the same columns, labelled.
    const zh = await readCsv(csvResponse(await exportBreakdown(runtime, { ...input, headers: "zh-CN" }, { now })));
    expect(zh.rows[0]!.slice(8, 10)).toEqual(["实际成本 (USD)", "计费成本 (USD)"]);
    expect(zh.rows[0]!.slice(-2)).toEqual(["毛利 (USD)", "毛利率"]);
    expect(zh.rows.slice(1)).toEqual(rows.slice(1));
    const daily = csvResponse(await exportBreakdown(runtime, { ...input, range: "daily", date: "2026-03-31" } as AccountBreakdownInput, { now }));
    expect(daily.headers.get("content-disposition")).toContain('filename="breakdown-acc-1-daily-2026-03-31.csv"');
  });

  it("refuses bad input before streaming starts", async () => {
    await expect(exportBreakdown(runtime, { id: "nope", range: "total", sort: "cost", order: "desc", format: "csv" }, { now })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
