import { sql } from "kysely";
import { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GET as keyUsageRoute } from "@/app/admin/api-keys/usage-stats/route";
import { createApiToken } from "../auth/token.service";
import { AppError } from "../errors";
import { createRuntime, setRuntime, type Runtime } from "../runtime";
import { createTestDatabase, dropRedisPrefix, testConfig, type TestDatabase } from "../testing/stores";
import { createCallerFactory } from "../trpc/init";
import { appRouter } from "../trpc/routers/_app";
import { defaultKeyOrder, KEY_USAGE_SORTS, type KeyUsageSort } from "./key-sorts";
import { listKeyUsage } from "./keys.service";
import { encodeKeyCursor, keyUsageQuery, type KeyUsageInput, type KeyUsageItem, type KeyUsageResult } from "./schemas";
import { marginCells, zonedIso } from "./csv";
import { TEST_TZ, costNanos, expectedTotals, groupBy, inDays, insertEvents, parseCsv, shDate, shInstant, spreadEvents, type TestEvent } from "./stats.fixtures";

vi.mock("server-only", () => ({}));

/**
 * API keys across accounts against a real, migrated PostgreSQL: every figure, every order and
 * every page is compared with what this file computes from the events it wrote.
 */

const now = new Date("2026-11-18T06:30:00.000Z");
const today = shDate(now.toISOString());
const todayStart = shInstant(`${today}T00:00:00.000`);

const ACCOUNTS = [
  { id: "acc-a", name: "Alpha 账号" },
  { id: "acc-b", name: "Beta" },
  { id: "acc-c", name: "Gone" },
];
/** k-none has no api_keys row (its name is its id); k-del is soft-deleted. */
const KEYS: { id: string; name: string; source?: string; status?: string }[] = [
  { id: "k-shared", name: "Shared key", source: "crs" },
  { id: "k-a1", name: "alpha one" },
  { id: "k-a2", name: "Alpha two", status: "disabled" },
  { id: "k-b1", name: "生产 key" },
  { id: "k-b2", name: "=cmd,\"quoted\"" },
  { id: "k-del", name: "Deleted key" },
  { id: "k-tie-b", name: "Tie" },
  { id: "k-tie-a", name: "Tie" },
];

function ev(requestId: string, occurredAt: string, accountId: string, apiKeyId: string, n: number, model = "m-1"): TestEvent {
  return {
    requestId,
    occurredAt,
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

const EVENTS: TestEvent[] = [
  ...spreadEvents({ seed: 31, accountId: "acc-a", keys: ["k-shared", "k-a1", "k-a2", "k-none"], models: ["m-1", "m-2"], n: 240, fromIso: shInstant("2025-10-01T00:00:00.000"), toIso: todayStart }),
  ...spreadEvents({ seed: 32, accountId: "acc-b", keys: ["k-shared", "k-b1", "k-b2", "k-del"], models: ["m-2", "m-3"], n: 160, fromIso: shInstant("2026-03-01T00:00:00.000"), toIso: todayStart }),
  ...spreadEvents({ seed: 33, accountId: "acc-c", keys: ["k-shared", "k-b1"], models: ["m-1"], n: 30, fromIso: shInstant("2026-06-01T00:00:00.000"), toIso: todayStart }),
  // Today: the shared key on both live accounts, and two keys with identical figures (a tie on every measure).
  ...Array.from({ length: 6 }, (_, i) => ev(`today-${i}`, new Date(Date.parse(todayStart) + (i + 1) * 60_000).toISOString(), i % 2 ? "acc-a" : "acc-b", i < 4 ? "k-shared" : "k-a1", i + 1, i % 3 ? "m-2" : "m-1")),
  ev("tie-1", shInstant("2026-07-04T10:00:00.000"), "acc-a", "k-tie-b", 9),
  ev("tie-2", shInstant("2026-07-04T10:00:00.000"), "acc-a", "k-tie-a", 9),
];

let tdb: TestDatabase;
let runtime: Runtime;
let token: string;

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  runtime = await createRuntime(testConfig({ DATABASE_URL: tdb.url, USAGE_TIMEZONE: TEST_TZ, REDIS_URL: "" }), { ownDatabase: true });
  setRuntime(runtime);
  const db = tdb.handle.db;
  await sql`SELECT ensure_usage_partitions('2025-10-01', (now() + interval '2 months')::date)`.execute(db);
  await db.insertInto("accounts").values(ACCOUNTS.map((a) => ({ ...a, metadata: "{}" }))).execute();
  await db.updateTable("accounts").set({ deleted_at: new Date() }).where("id", "=", "acc-c").execute();
  await db
    .insertInto("api_keys")
    .values(KEYS.map((k) => ({ id: k.id, name: k.name, account_id: "acc-a", status: k.status ?? "active", hashed_key: null, metadata: "{}", source: k.source ?? null })))
    .execute();
  await db.updateTable("api_keys").set({ deleted_at: new Date() }).where("id", "=", "k-del").execute();
  await insertEvents(db, EVENTS);
  // The ledger files a key it does not know (status unknown); this one's row is gone again.
  await db.deleteFrom("api_keys").where("id", "=", "k-none").execute();
  token = (await createApiToken(runtime, { name: "keys-test", scope: "usage:read" })).token;
});

afterAll(async () => {
  setRuntime(undefined);
  await runtime?.close();
  await tdb?.drop();
});

// ---- the expected answer, from the events alone

interface Expected {
  item: KeyUsageItem;
  /** Exact sort values. */
  by: Record<KeyUsageSort, bigint | string>;
}

const keyMeta = new Map(KEYS.map((k) => [k.id, k]));
const accountName = new Map(ACCOUNTS.map((a) => [a.id, a.name]));

function expectedKeys(evs: TestEvent[]): Expected[] {
  return [...groupBy(evs, (e) => e.apiKeyId)].map(([id, list]) => {
    const t = expectedTotals(list);
    const meta = keyMeta.get(id);
    const lastMs = Math.max(...list.map((e) => Date.parse(e.occurredAt)));
    const lastModel = list.filter((e) => Date.parse(e.occurredAt) === lastMs).map((e) => e.model).sort()[0]!;
    const perAccount = [...groupBy(list, (e) => e.accountId)].map(([acc, l]) => ({ acc, tokens: expectedTotals(l).allTokens }));
    perAccount.sort((a, b) => b.tokens - a.tokens || (a.acc < b.acc ? -1 : 1));
    const name = meta?.name ?? id;
    const item: KeyUsageItem = {
      apiKeyId: id,
      apiKeyName: name,
      ...t,
      status: meta ? (meta.status ?? "active") : null,
      source: meta?.source ?? null,
      deleted: id === "k-del",
      lastModel,
      lastUsedAt: new Date(lastMs).toISOString(),
      accounts: perAccount.slice(0, 5).map((a) => ({ id: a.acc, name: accountName.get(a.acc)!, deleted: a.acc === "acc-c" })),
      accountCount: perAccount.length,
    };
    const sum = (f: (e: TestEvent) => number) => BigInt(list.reduce((s, e) => s + f(e), 0));
    const by: Record<KeyUsageSort, bigint | string> = {
      requests: sum((e) => e.requests ?? 1),
      inputTokens: sum((e) => e.inputTokens),
      outputTokens: sum((e) => e.outputTokens),
      cacheCreateTokens: sum((e) => e.cacheCreateTokens),
      cacheReadTokens: sum((e) => e.cacheReadTokens),
      allTokens: sum((e) => e.inputTokens + e.outputTokens + e.cacheCreateTokens + e.cacheReadTokens),
      cost: list.reduce((s, e) => s + costNanos(e.cost), 0n),
      ratedCost: list.reduce((s, e) => s + costNanos(e.ratedCost ?? e.cost), 0n),
      name: name.toLowerCase(),
      lastUsedAt: BigInt(lastMs),
    };
    return { item, by };
  });
}

function expectedOrder(keys: Expected[], sort: KeyUsageSort, order: "asc" | "desc"): KeyUsageItem[] {
  const cmp = (a: bigint | string, b: bigint | string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...keys]
    .sort((a, b) => (order === "asc" ? cmp(a.by[sort], b.by[sort]) : cmp(b.by[sort], a.by[sort])) || cmp(a.item.apiKeyId, b.item.apiKeyId))
    .map((k) => k.item);
}

type Query = Partial<Omit<KeyUsageInput, "format">> & Pick<KeyUsageInput, "range" | "sort">;

/** Every page of a query, following nextCursor. */
async function allPages(input: Query): Promise<{ items: KeyUsageItem[]; pages: KeyUsageResult[] }> {
  const pages: KeyUsageResult[] = [];
  let cursor: string | null = null;
  do {
    const page: KeyUsageResult = await listKeyUsage(runtime, { format: "json", ...input, cursor }, now);
    pages.push(page);
    cursor = page.data.nextCursor;
    expect(pages.length).toBeLessThan(100);
  } while (cursor);
  return { items: pages.flatMap((p) => p.data.items), pages };
}

const totalKeys = expectedKeys(EVENTS);

describe("apiKeys.usageStats", () => {
  it("sums a key over every account that used it, with its accounts most tokens first", async () => {
    const res = await listKeyUsage(runtime, { format: "json", range: "total", sort: "cost", search: "k-shared" }, now);
    const shared = EVENTS.filter((e) => e.apiKeyId === "k-shared");
    expect(new Set(shared.map((e) => e.accountId))).toEqual(new Set(["acc-a", "acc-b", "acc-c"]));
    expect(res.data.items).toEqual([totalKeys.find((k) => k.item.apiKeyId === "k-shared")!.item]);
    expect(res.data.items[0]).toMatchObject({ ...expectedTotals(shared), accountCount: 3, source: "crs", status: "active", deleted: false });
    expect(res.data.totals).toEqual(expectedTotals(shared));
    expect(res.data.total).toBe(1);
    expect(res).toMatchObject({ source: "postgres", timezone: TEST_TZ, range: { name: "total", start: null, end: null, timezone: TEST_TZ } });
  });

  it("answers every key of all time exactly, a soft-deleted key and one without an api_keys row among them", async () => {
    const { items, pages } = await allPages({ range: "total", sort: "cost" });
    expect(items).toEqual(expectedOrder(totalKeys, "cost", "desc"));
    expect(items.find((k) => k.apiKeyId === "k-none")).toMatchObject({ apiKeyName: "k-none", status: null, deleted: false });
    expect(items.find((k) => k.apiKeyId === "k-del")).toMatchObject({ deleted: true });
    expect(pages[0]!.data.totals).toEqual(expectedTotals(EVENTS));
    expect(pages[0]!.data.total).toBe(totalKeys.length);
  });

  it("pages through every key exactly once, by every sort in both directions", async () => {
    for (const sort of KEY_USAGE_SORTS) {
      for (const order of ["asc", "desc"] as const) {
        const { items, pages } = await allPages({ range: "total", sort, order, limit: 3 });
        expect(items.map((k) => k.apiKeyId), `${sort} ${order}`).toEqual(expectedOrder(totalKeys, sort, order).map((k) => k.apiKeyId));
        expect(pages).toHaveLength(Math.ceil(totalKeys.length / 3));
        expect(pages.at(-1)!.data.hasMore).toBe(false);
        for (const p of pages) expect(p.data.total).toBe(totalKeys.length);
      }
    }
  });

  it("breaks exact ties on the key id in byte order, in both directions and across pages", async () => {
    for (const order of ["asc", "desc"] as const) {
      const { items } = await allPages({ range: "custom", start: "2026-07-04", end: "2026-07-04", sort: "cost", order, limit: 1 });
      const ties = items.filter((k) => k.apiKeyId.startsWith("k-tie"));
      expect(ties.map((k) => k.apiKeyId)).toEqual(["k-tie-a", "k-tie-b"]);
      expect(ties[0]!.cost).toBe(ties[1]!.cost);
    }
    const byName = await allPages({ range: "total", sort: "name", limit: 1, search: "tie" });
    expect(byName.items.map((k) => k.apiKeyId)).toEqual(["k-tie-a", "k-tie-b"]);
  });

  it("answers today, a month and a custom range from the events of those days only", async () => {
    const cases: [Query, TestEvent[]][] = [
      [{ range: "daily", sort: "allTokens" }, inDays(EVENTS, today, today)],
      [{ range: "monthly", month: "2026-06", sort: "requests" }, inDays(EVENTS, "2026-06-01", "2026-06-30")],
      [{ range: "custom", start: "2026-02-14", end: "2026-08-03", sort: "ratedCost", order: "asc" }, inDays(EVENTS, "2026-02-14", "2026-08-03")],
    ];
    for (const [q, evs] of cases) {
      const { items, pages } = await allPages({ ...q, limit: 2 });
      expect(evs.length).toBeGreaterThan(0);
      expect(items, JSON.stringify(q)).toEqual(expectedOrder(expectedKeys(evs), q.sort, q.order ?? defaultKeyOrder(q.sort)));
      expect(pages[0]!.data.totals).toEqual(expectedTotals(evs));
    }
    const todayKeys = await listKeyUsage(runtime, { format: "json", range: "daily", sort: "cost" }, now);
    expect(todayKeys.data.items.map((k) => k.apiKeyId).sort()).toEqual(["k-a1", "k-shared"]);
    expect(todayKeys.data.items.find((k) => k.apiKeyId === "k-shared")!.accounts.map((a) => a.id).sort()).toEqual(["acc-a", "acc-b"]);
    expect(todayKeys.range).toEqual({ name: "daily", start: today, end: today, timezone: TEST_TZ });
  });

  it("searches names and ids case-insensitively; totals cover the matches", async () => {
    const res = await listKeyUsage(runtime, { format: "json", range: "total", sort: "name", search: "ALPHA" }, now);
    expect(res.data.items.map((k) => k.apiKeyId)).toEqual(["k-a1", "k-a2"]);
    expect(res.data.totals).toEqual(expectedTotals(EVENTS.filter((e) => e.apiKeyId === "k-a1" || e.apiKeyId === "k-a2")));
    const byId = await listKeyUsage(runtime, { format: "json", range: "total", sort: "cost", search: "K-B" }, now);
    expect(byId.data.items.map((k) => k.apiKeyId).sort()).toEqual(["k-b1", "k-b2"]);
    const chinese = await listKeyUsage(runtime, { format: "json", range: "total", sort: "cost", search: "生产" }, now);
    expect(chinese.data.items.map((k) => k.apiKeyId)).toEqual(["k-b1"]);
    const none = await listKeyUsage(runtime, { format: "json", range: "total", sort: "cost", search: "no such key" }, now);
    expect(none.data).toEqual({ items: [], totals: expectedTotals([]), total: 0, nextCursor: null, hasMore: false });
  });
});

// ---- transports

function get(url: string): Promise<Response> {
  return keyUsageRoute(new NextRequest(`http://localhost${url}`, { headers: { authorization: `Bearer ${token}` } }), { params: Promise.resolve({}) });
}

const caller = () =>
  createCallerFactory(appRouter)({
    runtime,
    req: new Request("http://localhost/api/trpc"),
    requestId: "keys-test",
    principal: { kind: "token", name: "t", scopes: ["admin"], id: "t" },
  });

const noStamp = (r: Record<string, unknown>) => ({ ...r, timestamp: "" });

describe("GET /admin/api-keys/usage-stats and the tRPC procedure", () => {
  it("answer the same pages, the cursor carried over", async () => {
    const first = await get("/admin/api-keys/usage-stats?range=total&sort=allTokens&limit=4");
    expect(first.status).toBe(200);
    const { success, ...body } = (await first.json()) as Record<string, unknown> & { data: KeyUsageResult["data"] };
    expect(success).toBe(true);
    expect(noStamp(body)).toEqual(noStamp(await caller().apiKeys.usageStats({ range: "total", sort: "allTokens", limit: 4 })));
    const cursor = body.data.nextCursor!;
    const second = (await (await get(`/admin/api-keys/usage-stats?range=total&sort=allTokens&limit=4&cursor=${cursor}`)).json()) as { data: KeyUsageResult["data"] };
    const viaTrpc = await caller().apiKeys.usageStats({ range: "total", sort: "allTokens", limit: 4, cursor, direction: "forward" });
    expect(second.data).toEqual(viaTrpc.data);
    expect([...body.data.items, ...second.data.items].map((k) => k.apiKeyId)).toEqual(expectedOrder(totalKeys, "allTokens", "desc").slice(0, 8).map((k) => k.apiKeyId));
  });

  it("exports every matching key as CSV, equal to the JSON pages", async () => {
    const res = await get("/admin/api-keys/usage-stats?range=custom&start=2026-01-01&end=2026-11-18&sort=cost&order=asc&format=csv");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toContain("api-keys-usage-custom-2026-01-01-to-2026-11-18.csv");
    const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(await res.arrayBuffer());
    expect(text.startsWith("\uFEFF")).toBe(true);
    const [header, ...rows] = parseCsv(text.slice(1));
    expect(header).toEqual([
      "apiKeyId",
      "apiKeyName",
      "status",
      "source",
      "deleted",
      "requests",
      "inputTokens",
      "outputTokens",
      "cacheCreateTokens",
      "cacheReadTokens",
      "allTokens",
      "cost",
      "ratedCost",
      "lastModel",
      "lastUsedAt",
      "accountCount",
      "accounts",
      "margin",
      "marginRate",
    ]);
    const { items } = await allPages({ range: "custom", start: "2026-01-01", end: "2026-11-18", sort: "cost", order: "asc", limit: 500 });
    const quoted = (s: string) => (/^[\s=+\-@]/.test(s) ? `'${s}` : s);
    expect(rows).toEqual(
      items.map((k) => [
        k.apiKeyId,
        quoted(k.apiKeyName),
        k.status ?? "",
        k.source ?? "",
        String(k.deleted),
        ...[k.requests, k.inputTokens, k.outputTokens, k.cacheCreateTokens, k.cacheReadTokens, k.allTokens, k.cost, k.ratedCost].map(String),
        k.lastModel ?? "",
        zonedIso(k.lastUsedAt, TEST_TZ) ?? "",
        String(k.accountCount),
        k.accounts.map((a) => a.id).join(" "),
        ...marginCells(k).map((c) => (c === null ? "" : String(c))),
      ]),
    );
    expect(rows.find((r) => r[0] === "k-b2")![1]).toBe("'=cmd,\"quoted\"");
  });

  it("refuses bad input with a 400 naming the field", async () => {
    const cursor = encodeKeyCursor({ sort: "cost", order: "desc", value: "123", id: "k-a1" });
    const cases: [string, string][] = [
      ["cursor=not-a-cursor!", "cursor"],
      [`cursor=${Buffer.from('{"a":1}').toString("base64url")}`, "cursor"],
      [`cursor=${encodeKeyCursor({ sort: "cost", order: "desc", value: "1.5", id: "k" }).slice(0, -2)}xx`, "cursor"],
      [`sort=requests&cursor=${cursor}`, "cursor"],
      [`order=asc&cursor=${cursor}`, "cursor"],
      ["limit=0", "limit"],
      ["limit=10001", "limit"],
      ["limit=501", "limit"],
      ["range=custom&start=2020-01-01&end=2024-01-01", "end"],
      ["range=custom&start=2026-02-01&end=2026-01-01", "start"],
      ["range=custom&start=9999-01-01&end=9999-01-02", "start"],
      ["range=daily&date=9999-12-31", "date"],
      ["range=custom", "start"],
      ["sort=bogus", "sort"],
      ["search=" + "x".repeat(201), "search"],
      ["format=csv&limit=5", "limit"],
      ["format=csv&cursor=" + cursor, "cursor"],
      ["tz=Mars/Base", "tz"],
      ["offset=10", "(root)"],
    ];
    for (const [q, field] of cases) {
      const res = await get(`/admin/api-keys/usage-stats?${q}`);
      expect(res.status, q).toBe(400);
      const body = (await res.json()) as { error: { code: string; issues?: { path: string }[] } };
      expect(body.error.code, q).toBe("BAD_REQUEST");
      expect(body.error.issues?.map((i) => i.path), q).toContain(field);
    }
    // The same schema through tRPC.
    await expect(caller().apiKeys.usageStats({ range: "total", sort: "cost", cursor: "nope" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(keyUsageQuery.safeParse({ cursor }).success).toBe(true);
  });

  it("is a 503 naming why while PostgreSQL is down (the live counters are per account)", async () => {
    const hot = await createRuntime(testConfig({ POSTGRES_ENABLED: "false", USAGE_TIMEZONE: TEST_TZ }), { ownDatabase: true });
    try {
      const err = await listKeyUsage(hot, { format: "json", range: "daily", sort: "cost" }, now).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: "UNAVAILABLE", message: expect.stringContaining("PostgreSQL is disabled") });
      expect((err as AppError).message).toContain("API keys across accounts");
    } finally {
      await hot.close();
      await dropRedisPrefix(hot.config.redisKeyPrefix);
    }
  });
});
