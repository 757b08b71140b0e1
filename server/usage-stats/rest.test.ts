import { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GET as breakdownRoute } from "@/app/admin/accounts/[id]/usage-breakdown/route";
import { GET as summaryRoute } from "@/app/admin/accounts/[id]/usage-stats/route";
import { GET as listRoute } from "@/app/admin/accounts/usage-stats/route";
import { createApiToken } from "../auth/token.service";
import { createRuntime, setRuntime, type Runtime } from "../runtime";
import { createTestDatabase, testConfig, type TestDatabase } from "../testing/stores";
import { createCallerFactory } from "../trpc/init";
import { appRouter } from "../trpc/routers/_app";
import { TEST_TZ, expectedTotals, insertEvents, parseCsv, shDate, shInstant, spreadEvents } from "./stats.fixtures";

vi.mock("server-only", () => ({}));

/**
 * The REST routes end to end (authentication, query parsing, envelope, CSV streaming, errors):
 * their bodies carry exactly what the tRPC procedures return.
 */

const EVENTS = [
  ...spreadEvents({ seed: 21, accountId: "acc-r", keys: ["kr-1", "kr-2", "kr-3"], models: ["m-1", "m-2"], n: 120, fromIso: shInstant("2026-01-01T00:00:00.000"), toIso: new Date(Date.now() - 60_000).toISOString() }),
];

let tdb: TestDatabase;
let runtime: Runtime;
let token: string;

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  runtime = await createRuntime(testConfig({ DATABASE_URL: tdb.url, USAGE_TIMEZONE: TEST_TZ, REDIS_URL: "" }), { ownDatabase: true });
  setRuntime(runtime);
  await tdb.handle.db.insertInto("accounts").values({ id: "acc-r", name: "REST 账号", platform: "claude", metadata: "{}", sources: ["crs"] }).execute();
  await insertEvents(tdb.handle.db, EVENTS);
  token = (await createApiToken(runtime, { name: "rest-test", scope: "usage:read" })).token;
});

afterAll(async () => {
  setRuntime(undefined);
  await runtime?.close();
  await tdb?.drop();
});

type Handler = (req: NextRequest, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;

function call(handler: Handler, url: string, params: Record<string, string> = {}, auth = true): Promise<Response> {
  const headers = auth ? { authorization: `Bearer ${token}` } : undefined;
  return handler(new NextRequest(`http://localhost${url}`, { headers }), { params: Promise.resolve(params) });
}

const caller = () =>
  createCallerFactory(appRouter)({
    runtime,
    req: new Request("http://localhost/api/trpc"),
    requestId: "rest-test",
    principal: { kind: "token", name: "t", scopes: ["admin"], id: "t" },
  });

const noStamp = (r: Record<string, unknown>) => ({ ...r, timestamp: "" });

describe("REST routes", () => {
  it("answer with the envelope and the same figures as tRPC", async () => {
    const list = await call(listRoute, "/admin/accounts/usage-stats?sort=total.cost");
    expect(list.status).toBe(200);
    const listBody = (await list.json()) as Record<string, unknown>;
    expect(listBody.success).toBe(true);
    const { success: _s1, ...listRest } = listBody;
    expect(noStamp(listRest)).toEqual(noStamp(await caller().accounts.usageStats({ sort: "total.cost" })));
    expect(listRest).toMatchObject({ data: [{ id: "acc-r", sources: ["crs"] }], availableSources: ["crs"] });
    const none = (await (await call(listRoute, "/admin/accounts/usage-stats?source=none")).json()) as Record<string, unknown>;
    expect(none).toMatchObject({ data: [], summary: { totalAccounts: 0 }, availableSources: ["crs"] });

    const summary = await call(summaryRoute, "/admin/accounts/acc-r/usage-stats?range=custom&start=2026-01-15&end=2026-03-20", { id: "acc-r" });
    const { success: _s2, ...summaryRest } = (await summary.json()) as Record<string, unknown>;
    expect(noStamp(summaryRest)).toEqual(noStamp(await caller().accounts.summary({ id: "acc-r", range: "custom", start: "2026-01-15", end: "2026-03-20" })));
    expect((summaryRest.data as { usage: unknown }).usage).toEqual(
      expectedTotals(EVENTS.filter((e) => shDate(e.occurredAt) >= "2026-01-15" && shDate(e.occurredAt) <= "2026-03-20")),
    );

    const breakdown = await call(breakdownRoute, "/admin/accounts/acc-r/usage-breakdown?range=total&limit=2&offset=1&sort=requests", { id: "acc-r" });
    const { success: _s3, ...breakdownRest } = (await breakdown.json()) as Record<string, unknown>;
    expect(noStamp(breakdownRest)).toEqual(noStamp(await caller().accounts.breakdown({ id: "acc-r", range: "total", limit: 2, cursor: 1, sort: "requests" })));
    expect(breakdownRest).toMatchObject({ source: "postgres", timezone: TEST_TZ, data: { total: 3, nextOffset: null, hasMore: false } });
  });

  it("stream CSV with the JSON figures", async () => {
    const res = await call(breakdownRoute, "/admin/accounts/acc-r/usage-breakdown?range=monthly&month=2026-02&format=csv", { id: "acc-r" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toContain('filename="breakdown-acc-r-monthly-2026-02.csv"');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = parseCsv(new TextDecoder().decode(bytes));
    const json = await caller().accounts.breakdown({ id: "acc-r", range: "monthly", month: "2026-02", limit: 100 });
    expect(rows.slice(1).map((r) => [r[0], Number(r[2]), Number(r[7]), Number(r[8])])).toEqual(json.data.items.map((i) => [i.apiKeyId, i.requests, i.allTokens, i.cost]));

    const accounts = await call(listRoute, "/admin/accounts/usage-stats?format=csv&search=rest");
    expect(accounts.headers.get("content-disposition")).toMatch(/filename="accounts-usage-\d{4}-\d{2}-\d{2}\.csv"/);
    expect(parseCsv((await accounts.text()).trim())).toHaveLength(2);
  });

  it("answer 400 naming the parameter, 404 for unknown ids and 401 without credentials", async () => {
    const cases: [Handler, string, string][] = [
      [breakdownRoute, "/admin/accounts/acc-r/usage-breakdown?limit=0", "limit"],
      [breakdownRoute, "/admin/accounts/acc-r/usage-breakdown?limit=5&limit=6", "limit"],
      [summaryRoute, "/admin/accounts/acc-r/usage-stats?range=custom&start=2026-03-01&end=2026-02-01", "start"],
      [summaryRoute, "/admin/accounts/acc-r/usage-stats?range=daily&date=2026-02-30", "date"],
      [summaryRoute, "/admin/accounts/acc-r/usage-stats?range=daily&tz=UTC", "tz"],
      [listRoute, "/admin/accounts/usage-stats?bogus=1", "bogus"],
      [listRoute, `/admin/accounts/usage-stats?source=${"s".repeat(40)}`, "source"],
      [listRoute, "/admin/accounts/usage-stats?source=CRS%20relay", "source"],
    ];
    for (const [handler, url, param] of cases) {
      const res = await call(handler, url, { id: "acc-r" });
      expect(res.status, url).toBe(400);
      const body = (await res.json()) as { success: boolean; error: { code: string; message: string; issues?: { path: string }[] } };
      expect(body.success).toBe(false);
      expect(body.error.code).toBe("BAD_REQUEST");
      expect(body.error.issues?.some((i) => i.path === param) || body.error.message.includes(param), url).toBe(true);
    }
    const missing = await call(summaryRoute, "/admin/accounts/nope/usage-stats", { id: "nope" });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ success: false, error: { code: "NOT_FOUND" } });
    const source = await call(listRoute, "/admin/accounts/usage-stats?source=CRS");
    expect(((await source.json()) as { error: { issues: { path: string; message: string }[] } }).error.issues).toEqual([
      { path: "source", message: "must be a source name (a lower-case letter, then up to 31 letters, digits or '-') or none" },
    ]);
    const anonymous = await call(listRoute, "/admin/accounts/usage-stats", {}, false);
    expect(anonymous.status).toBe(401);
  });
});
