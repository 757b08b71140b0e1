import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { NextRequest } from "next/server";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as budgetById from "@/app/admin/alerts/budgets/[id]/route";
import * as budgets from "@/app/admin/alerts/budgets/route";
import * as history from "@/app/admin/alerts/history/route";
import * as overview from "@/app/admin/alerts/overview/route";
import * as ruleById from "@/app/admin/alerts/rules/[id]/route";
import * as disableRule from "@/app/admin/alerts/rules/[id]/disable/route";
import * as enableRule from "@/app/admin/alerts/rules/[id]/enable/route";
import * as rules from "@/app/admin/alerts/rules/route";
import * as silenceById from "@/app/admin/alerts/silences/[id]/route";
import * as silences from "@/app/admin/alerts/silences/route";
import type { Db } from "../../db/types";
import { bearerHeader } from "../auth/testing";
import { setRuntime, type Runtime } from "../runtime";
import { createTestRuntime, type TestRuntime } from "../testing/runtime";
import { insertEvents, shInstant, type TestEvent } from "../usage-stats/stats.fixtures";
import { evaluateRules } from "./evaluator";

/**
 * The REST routes of the alerts (/admin/alerts/…) on a real, migrated PostgreSQL, called as Next.js
 * calls them: status and body of each, the 400s that name the field, 401 / 403 / 404, and the
 * history's keyset paging. The clock is the runtime's, set by hand (Asia/Shanghai, UTC+8).
 */

type Handler = (req: NextRequest, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;
type Body = { success: boolean; data?: unknown; error?: { code: string; message: string; issues?: { path: string; message: string }[] } };

const TZ = "Asia/Shanghai";
const NOW = Date.parse(shInstant("2026-12-07T12:00:00"));
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

let t: TestRuntime;
let runtime: Runtime;
let db: Db;
let admin: string;
let reader: string;
let now = NOW;
let channelId: string;
let seq = 0;

async function call(handler: Handler, opts: { path: string; method?: string; auth?: string | null; json?: unknown; params?: Record<string, string> }) {
  const headers: Record<string, string> = {};
  if (opts.auth !== null) headers.authorization = opts.auth ?? admin;
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(opts.json);
  }
  const res = await handler(new NextRequest(`http://localhost${opts.path}`, { method: opts.method ?? "GET", headers, body }), { params: Promise.resolve(opts.params ?? {}) });
  return { status: res.status, body: (await res.json()) as Body };
}

/** The 400's issues, for a body the route refuses. */
async function refused(handler: Handler, opts: Parameters<typeof call>[1]) {
  const r = await call(handler, opts);
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  expect(r.body.error!.code).toBe("BAD_REQUEST");
  return r.body.error!;
}

function ev(local: string, accountId: string, cost: string): TestEvent {
  return { requestId: `rest-${++seq}`, occurredAt: shInstant(local), accountId, apiKeyId: `key-${accountId}`, model: "claude-sonnet-4", inputTokens: 10, outputTokens: 1, cacheCreateTokens: 0, cacheReadTokens: 0, cost };
}

const aboveRule = {
  name: "acc-a over $50 in 5 h",
  subject: { kind: "account", id: "acc-a" },
  measure: "cost",
  window: { kind: "hours", size: 5 },
  condition: { type: "above", amount: "50.50" },
  forSeconds: 300,
};

beforeAll(async () => {
  t = await createTestRuntime({ USAGE_TIMEZONE: TZ });
  runtime = t.runtime;
  // Tests move the runtime's clock by hand (see Runtime.clock).
  runtime.clock = { now: () => now };
  db = runtime.db!.db;
  setRuntime(runtime);
  admin = await bearerHeader(runtime, "admin");
  reader = await bearerHeader(runtime, "usage:read");
});

afterAll(async () => {
  setRuntime(undefined);
  await t?.close();
});

beforeEach(async () => {
  now = NOW;
  await sql`TRUNCATE alert_rules, alert_budgets, alert_silences, alert_notifications, alert_events, alert_states, alert_deliveries, alert_channels, usage_records CASCADE`.execute(db);
  for (const table of ["usage_account_daily", "usage_account_monthly", "usage_account_totals", "usage_key_daily", "usage_key_monthly", "usage_key_totals", "usage_model_daily", "usage_model_monthly", "usage_model_totals", "usage_request_ids"]) {
    await sql`TRUNCATE ${sql.table(table)}`.execute(db);
  }
  await db.deleteFrom("accounts").execute();
  await db.insertInto("accounts").values([{ id: "acc-a", name: "Claude A" }, { id: "acc-b", name: "Claude B" }]).execute();
  const ch = await db.insertInto("alert_channels").values({ name: "ops", kind: "webhook", secret_ciphertext: "test", target_hint: "https://hooks.example.com/…" }).returning("id").executeTakeFirstOrThrow();
  channelId = ch.id;
});

describe("rules", () => {
  it("are created (201), listed, read, replaced, disabled, enabled and deleted, each answering the rule", async () => {
    const created = await call(rules.POST, { path: "/admin/alerts/rules", method: "POST", json: { ...aboveRule, channelIds: [channelId] } });
    expect(created.status).toBe(201);
    const expected = {
      id: UUID,
      name: "acc-a over $50 in 5 h",
      enabled: true,
      budgetId: null,
      subject: { kind: "account", id: "acc-a", name: "Claude A" },
      measure: "cost",
      window: { kind: "hours", size: 5 },
      condition: { type: "above", amount: "50.5" },
      forSeconds: 300,
      repeatSeconds: 14400,
      channelIds: [channelId],
      states: [],
      createdAt: ISO,
      updatedAt: ISO,
    };
    expect(created.body).toEqual({ success: true, data: expected });
    const rule = created.body.data as typeof expected & { id: string };
    const id = rule.id;

    expect((await call(rules.GET, { path: "/admin/alerts/rules", auth: reader })).body).toEqual({ success: true, data: [rule] });
    expect(await call(ruleById.GET, { path: `/admin/alerts/rules/${id}`, auth: reader, params: { id } })).toEqual({ status: 200, body: { success: true, data: rule } });

    const spike = { name: "Any key spiking today", subject: { kind: "each_api_key" }, measure: "requests", window: { kind: "today" }, condition: { type: "spike", factor: "3" }, repeatSeconds: 0 };
    const replaced = await call(ruleById.PUT, { path: `/admin/alerts/rules/${id}`, method: "PUT", json: spike, params: { id } });
    expect(replaced.status).toBe(200);
    expect(replaced.body.data).toEqual({
      ...rule,
      name: "Any key spiking today",
      subject: { kind: "each_api_key", id: null, name: null },
      measure: "requests",
      window: { kind: "today", size: null },
      condition: { type: "spike", factor: "3", days: 7, minimum: "0" },
      forSeconds: 0,
      repeatSeconds: 0,
      channelIds: [],
      updatedAt: ISO,
    });

    const disabled = await call(disableRule.POST, { path: `/admin/alerts/rules/${id}/disable`, method: "POST", params: { id } });
    expect(disabled.status).toBe(200);
    expect(disabled.body.data).toMatchObject({ id, enabled: false });
    // Disabling twice is harmless; enabling answers the rule enabled again.
    expect((await call(disableRule.POST, { path: `/admin/alerts/rules/${id}/disable`, method: "POST", params: { id } })).body.data).toMatchObject({ enabled: false });
    expect((await call(enableRule.POST, { path: `/admin/alerts/rules/${id}/enable`, method: "POST", params: { id } })).body.data).toMatchObject({ id, enabled: true });

    expect(await call(ruleById.DELETE, { path: `/admin/alerts/rules/${id}`, method: "DELETE", params: { id } })).toEqual({ status: 200, body: { success: true, data: { id, deleted: true } } });
    expect((await call(rules.GET, { path: "/admin/alerts/rules" })).body.data).toEqual([]);
  });

  it("answer 404 for an id that is not a rule, on every route that takes one", async () => {
    const id = randomUUID();
    const cases: [Handler, string, unknown?][] = [
      [ruleById.GET, "GET"],
      [ruleById.PUT, "PUT", aboveRule],
      [ruleById.DELETE, "DELETE"],
      [enableRule.POST, "POST"],
      [disableRule.POST, "POST"],
    ];
    for (const [handler, method, json] of cases) {
      const r = await call(handler, { path: `/admin/alerts/rules/${id}`, method, json, params: { id } });
      expect(r.status, method).toBe(404);
      expect(r.body.error).toMatchObject({ code: "NOT_FOUND", message: `No rule ${id}` });
    }
    const notUuid = await refused(ruleById.GET, { path: "/admin/alerts/rules/42", params: { id: "42" } });
    expect(notUuid.issues).toEqual([{ path: "id", message: "must be a rule id (a UUID)" }]);
  });

  it("refuse a bad rule with 400, naming the field", async () => {
    const post = (json: unknown) => refused(rules.POST, { path: "/admin/alerts/rules", method: "POST", json });
    const { measure: _measure, ...noMeasure } = aboveRule;
    expect((await post(noMeasure)).issues).toEqual([{ path: "measure", message: "is required for a condition of type above" }]);
    expect((await post({ ...aboveRule, window: { kind: "hours", size: 745 } })).issues).toEqual([{ path: "window.size", message: "must be at most 744 hours" }]);
    expect((await post({ ...aboveRule, window: { kind: "month" }, condition: { type: "spike", factor: "2" } })).issues).toEqual([
      { path: "window.kind", message: "a spike compares the window with the same window on previous days: use today, hours or days" },
    ]);
    expect((await post({ ...aboveRule, condition: { type: "above", amount: "abc" } })).issues).toEqual([
      { path: "condition.amount", message: 'must be an amount in the measure\'s unit (USD for money): a decimal such as "12.5" (at most 15 digits and 9 decimals)' },
    ]);
    const budgetId = randomUUID();
    const unknownBudget = await post({ name: "over budget", condition: { type: "budget", budgetId, percent: "80" } });
    expect(unknownBudget).toMatchObject({ message: `condition.budgetId: no budget ${budgetId}`, issues: [{ path: "condition.budgetId", message: "no such budget" }] });
    const unknownChannel = randomUUID();
    expect(await post({ ...aboveRule, channelIds: [unknownChannel] })).toMatchObject({ message: `channelIds: no channel ${unknownChannel}` });
    // The id is the path's: a body naming one is refused, not silently ignored.
    const id = randomUUID();
    expect((await refused(ruleById.PUT, { path: `/admin/alerts/rules/${id}`, method: "PUT", json: { ...aboveRule, id }, params: { id } })).issues).toEqual([
      { path: "(root)", message: 'Unrecognized key: "id"' },
    ]);
    expect((await call(rules.GET, { path: "/admin/alerts/rules" })).body.data).toEqual([]);
  });
});

describe("who may call", () => {
  it("no credentials: 401; a usage:read token reads but cannot change anything (403)", async () => {
    const none = await call(rules.GET, { path: "/admin/alerts/rules", auth: null });
    expect(none.status).toBe(401);
    expect(none.body.error!.code).toBe("UNAUTHORIZED");
    expect((await call(rules.POST, { path: "/admin/alerts/rules", method: "POST", auth: null, json: aboveRule })).status).toBe(401);

    const id = randomUUID();
    const writes: [Handler, string, string, unknown?][] = [
      [rules.POST, "POST", "/admin/alerts/rules", aboveRule],
      [ruleById.PUT, "PUT", `/admin/alerts/rules/${id}`, aboveRule],
      [ruleById.DELETE, "DELETE", `/admin/alerts/rules/${id}`],
      [enableRule.POST, "POST", `/admin/alerts/rules/${id}/enable`],
      [budgets.POST, "POST", "/admin/alerts/budgets", { name: "b", subject: { kind: "all" }, period: "day", amount: "1" }],
      [budgetById.DELETE, "DELETE", `/admin/alerts/budgets/${id}`],
      [silences.POST, "POST", "/admin/alerts/silences", { endsAt: "2026-12-08T00:00:00+08:00" }],
      [silenceById.DELETE, "DELETE", `/admin/alerts/silences/${id}`],
    ];
    for (const [handler, method, path, json] of writes) {
      const r = await call(handler, { path, method, json, auth: reader, params: { id } });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.error!.code).toBe("FORBIDDEN");
    }
    expect(await db.selectFrom("alert_rules").select("id").execute()).toEqual([]);
    const reads: [Handler, string][] = [
      [rules.GET, "rules"],
      [budgets.GET, "budgets"],
      [silences.GET, "silences"],
      [history.GET, "history"],
      [overview.GET, "overview"],
    ];
    for (const [handler, what] of reads) expect((await call(handler, { path: `/admin/alerts/${what}`, auth: reader })).status, what).toBe(200);
  });
});

describe("budgets, the overview and the history", () => {
  it("a budget is created with its rules, shows its use, fires at 80 %, and the overview and history say so", async () => {
    await insertEvents(db, [ev("2026-12-07T09:00:00", "acc-a", "3.25"), ev("2026-12-07T11:00:00", "acc-a", "5.25"), ev("2026-12-06T11:00:00", "acc-a", "100"), ev("2026-12-07T10:00:00", "acc-b", "7")], TZ);
    const created = await call(budgets.POST, { path: "/admin/alerts/budgets", method: "POST", json: { name: "acc-a daily", subject: { kind: "account", id: "acc-a" }, period: "day", amount: "10" } });
    expect(created.status).toBe(201);
    const budget = created.body.data as { id: string; rules: { id: string }[] };
    expect(budget).toEqual({
      id: UUID,
      name: "acc-a daily",
      subject: { kind: "account", id: "acc-a", name: "Claude A" },
      measure: "cost",
      period: "day",
      amount: "10",
      used: "8.5",
      usedPercent: "85.0",
      rules: [
        { id: UUID, percent: "80", state: "ok", enabled: true },
        { id: UUID, percent: "100", state: "ok", enabled: true },
      ],
      accountId: "acc-a",
      createdAt: ISO,
      updatedAt: ISO,
    });
    const [at80, at100] = budget.rules;
    const listed = (await call(rules.GET, { path: "/admin/alerts/rules" })).body.data as { id: string; name: string; budgetId: string; window: unknown; condition: unknown }[];
    // A budget's rules share one created_at (one transaction): the list breaks that tie by id, so sort here.
    const byName = [...listed].sort((x, y) => x.name.length - y.name.length || x.name.localeCompare(y.name));
    expect(byName.map((r) => ({ id: r.id, name: r.name, budgetId: r.budgetId, window: r.window, condition: r.condition }))).toEqual([
      { id: at80!.id, name: "acc-a daily ≥ 80%", budgetId: budget.id, window: { kind: "today", size: null }, condition: { type: "budget", budgetId: budget.id, percent: "80" } },
      { id: at100!.id, name: "acc-a daily ≥ 100%", budgetId: budget.id, window: { kind: "today", size: null }, condition: { type: "budget", budgetId: budget.id, percent: "100" } },
    ]);

    await evaluateRules(runtime, { now: new Date(NOW) });
    const firingBudget = { ...budget, rules: [{ ...budget.rules[0], state: "firing" }, budget.rules[1]] };
    expect((await call(budgets.GET, { path: "/admin/alerts/budgets", auth: reader })).body).toEqual({ success: true, data: [firingBudget] });

    const ov = await call(overview.GET, { path: "/admin/alerts/overview?accountIds=acc-a,acc-b", auth: reader });
    expect(ov).toEqual({ status: 200, body: { success: true, data: { firing: 1, pending: 0, failedDeliveries: 0, accounts: [{ accountId: "acc-a", firing: 1, budgets: [firingBudget] }] } } });
    expect((await call(overview.GET, { path: "/admin/alerts/overview?accountIds=acc-b" })).body.data).toEqual({ firing: 1, pending: 0, failedDeliveries: 0, accounts: [] });
    expect((await call(overview.GET, { path: "/admin/alerts/overview" })).body.data).toMatchObject({ accounts: [{ accountId: "acc-a", firing: 1 }] });

    const h = await call(history.GET, { path: `/admin/alerts/history?ruleId=${at80!.id}`, auth: reader });
    expect(h.body).toEqual({
      success: true,
      data: {
        items: [
          {
            id: expect.any(Number),
            ruleId: at80!.id,
            ruleName: "acc-a daily ≥ 80%",
            subjectKind: "account",
            subjectKey: "",
            subjectName: "Claude A",
            kind: "firing",
            value: "8.5",
            threshold: "8",
            silenced: false,
            notificationId: expect.any(Number),
            deliveries: [],
            at: new Date(NOW).toISOString(),
          },
        ],
        nextCursor: null,
      },
    });

    const replaced = await call(budgetById.PUT, {
      path: `/admin/alerts/budgets/${budget.id}`,
      method: "PUT",
      json: { name: "acc-a daily", subject: { kind: "account", id: "acc-a" }, period: "day", amount: "20" },
      params: { id: budget.id },
    });
    expect(replaced.status).toBe(200);
    // A new amount: the rules' alerts start over.
    expect(replaced.body.data).toEqual({ ...budget, amount: "20", usedPercent: "42.5", updatedAt: ISO });

    expect(await call(budgetById.DELETE, { path: `/admin/alerts/budgets/${budget.id}`, method: "DELETE", params: { id: budget.id } })).toEqual({
      status: 200,
      body: { success: true, data: { id: budget.id, deleted: true } },
    });
    expect((await call(budgets.GET, { path: "/admin/alerts/budgets" })).body.data).toEqual([]);
    expect((await call(rules.GET, { path: "/admin/alerts/rules" })).body.data).toEqual([]);
    // The history outlives the rule, under its name.
    expect((await call(history.GET, { path: "/admin/alerts/history" })).body.data).toMatchObject({ items: [{ ruleId: null, ruleName: "acc-a daily ≥ 80%", kind: "firing" }], nextCursor: null });
  });

  it("refuses a bad budget or overview query with 400, and answers 404 for an unknown budget", async () => {
    const post = (json: unknown) => refused(budgets.POST, { path: "/admin/alerts/budgets", method: "POST", json });
    const body = { name: "b", subject: { kind: "account", id: "acc-a" }, period: "month", amount: "10" };
    expect((await post({ ...body, amount: "abc" })).issues).toEqual([
      { path: "amount", message: 'must be an amount in the measure\'s unit (USD for money): a decimal such as "12.5" (at most 15 digits and 9 decimals)' },
    ]);
    expect((await post({ ...body, subject: { kind: "each_account" } })).issues).toEqual([{ path: "subject.kind", message: "must be one of all, account, api_key, model, platform" }]);
    expect((await post({ ...body, subject: { kind: "account" } })).issues).toEqual([{ path: "subject.id", message: "is required for a subject of kind account" }]);
    expect((await post({ ...body, period: "week" })).issues).toEqual([{ path: "period", message: "must be day or month" }]);

    const id = randomUUID();
    for (const [handler, method] of [[budgetById.PUT, "PUT"], [budgetById.DELETE, "DELETE"]] as const) {
      const r = await call(handler, { path: `/admin/alerts/budgets/${id}`, method, json: method === "PUT" ? body : undefined, params: { id } });
      expect(r.status, method).toBe(404);
      expect(r.body.error).toMatchObject({ code: "NOT_FOUND", message: `No budget ${id}` });
    }

    const ov = (q: string) => refused(overview.GET, { path: `/admin/alerts/overview?${q}` });
    expect((await ov("accountIds=acc-a,,acc-b")).issues).toEqual([{ path: "accountIds.1", message: "must not be empty" }]);
    expect((await ov(`accountIds=${Array.from({ length: 501 }, (_, i) => `a${i}`).join(",")}`)).issues).toEqual([{ path: "accountIds", message: "must list at most 500 accounts" }]);
    expect((await ov("accountIds=acc-a&accountIds=acc-b")).message).toBe('Query parameter "accountIds" is given more than once');
  });

  it("pages the history by cursor, newest first, without overlap or gap, ties broken by id", async () => {
    const rule = (await call(rules.POST, { path: "/admin/alerts/rules", method: "POST", json: aboveRule })).body.data as { id: string };
    const base = { rule_id: rule.id, rule_name: "acc-a over $50 in 5 h", subject_kind: "account", subject_key: "", subject_name: "Claude A", value: "51", threshold: "50.5" };
    const times = ["10:00:00", "10:05:00", "10:05:00", "10:05:00", "10:10:00", "10:20:00", "10:30:00"];
    const kinds = ["pending", "firing", "repeat", "resolved", "pending", "firing", "resolved"] as const;
    const inserted = await db
      .insertInto("alert_events")
      .values(times.map((time, i) => ({ ...base, kind: kinds[i]!, at: new Date(shInstant(`2026-12-07T${time}`)) })))
      .returning("id")
      .execute();
    const ids = inserted.map((r) => Number(r.id));
    const newestFirst = [ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]];

    const pages: number[][] = [];
    let cursor: string | null = null;
    do {
      const q: string = `limit=3${cursor ? `&cursor=${cursor}` : ""}`;
      const r = await call(history.GET, { path: `/admin/alerts/history?${q}`, auth: reader });
      expect(r.status).toBe(200);
      const data = r.body.data as { items: { id: number }[]; nextCursor: string | null };
      pages.push(data.items.map((x) => x.id));
      cursor = data.nextCursor;
    } while (cursor && pages.length < 10);
    expect(pages).toEqual([newestFirst.slice(0, 3), newestFirst.slice(3, 6), newestFirst.slice(6)]);

    const onlyFiring = (await call(history.GET, { path: `/admin/alerts/history?kind=firing&ruleId=${rule.id}` })).body.data as { items: { id: number; kind: string }[] };
    expect(onlyFiring.items.map((x) => [x.id, x.kind])).toEqual([
      [ids[5], "firing"],
      [ids[1], "firing"],
    ]);
    // A page exactly as long as what is left ends with nextCursor null.
    const all = (await call(history.GET, { path: "/admin/alerts/history?limit=7" })).body.data as { items: unknown[]; nextCursor: string | null };
    expect([all.items.length, all.nextCursor]).toEqual([7, null]);

    const bad = (q: string) => refused(history.GET, { path: `/admin/alerts/history?${q}` });
    expect((await bad("limit=201")).issues).toEqual([{ path: "limit", message: "must be at most 200" }]);
    expect((await bad("limit=abc")).issues).toEqual([{ path: "limit", message: "must be a number" }]);
    expect((await bad("kind=exploded")).issues).toEqual([{ path: "kind", message: "must be one of pending, firing, repeat, resolved, inactive" }]);
    expect((await bad("cursor=bm9wZQ")).issues).toEqual([{ path: "cursor", message: "invalid cursor" }]);
    expect((await bad("ruleId=r1")).issues).toEqual([{ path: "ruleId", message: "must be a rule id (a UUID)" }]);
    expect((await bad("subjectKey=")).issues).toEqual([{ path: "subjectKey", message: "must not be empty" }]);
  });
});

describe("silences", () => {
  it("are created (201) by the caller, listed, and ended now by DELETE, staying listed as ended", async () => {
    const rule = (await call(rules.POST, { path: "/admin/alerts/rules", method: "POST", json: aboveRule })).body.data as { id: string };
    const created = await call(silences.POST, { path: "/admin/alerts/silences", method: "POST", json: { ruleId: rule.id, endsAt: "2026-12-07T14:00:00+08:00", comment: "maintenance" } });
    expect(created.status).toBe(201);
    const silence = {
      id: UUID,
      ruleId: rule.id,
      ruleName: "acc-a over $50 in 5 h",
      subjectKey: null,
      startsAt: new Date(NOW).toISOString(),
      endsAt: "2026-12-07T06:00:00.000Z",
      active: true,
      comment: "maintenance",
      createdBy: "test admin",
      createdAt: ISO,
    };
    expect(created.body).toEqual({ success: true, data: silence });
    const id = (created.body.data as { id: string }).id;
    const later = await call(silences.POST, {
      path: "/admin/alerts/silences",
      method: "POST",
      json: { subjectKey: "acc-b", startsAt: "2026-12-08T00:00:00+08:00", endsAt: "2026-12-09T00:00:00+08:00" },
    });
    expect(later.body.data).toMatchObject({ ruleId: null, ruleName: null, subjectKey: "acc-b", startsAt: "2026-12-07T16:00:00.000Z", active: false, comment: "" });

    now = NOW + 10 * 60_000;
    const ended = await call(silenceById.DELETE, { path: `/admin/alerts/silences/${id}`, method: "DELETE", params: { id } });
    expect(ended).toEqual({ status: 200, body: { success: true, data: { ...silence, id, endsAt: new Date(now).toISOString(), active: false, createdAt: (created.body.data as { createdAt: string }).createdAt } } });
    const listed = (await call(silences.GET, { path: "/admin/alerts/silences", auth: reader })).body.data as { id: string; active: boolean }[];
    // Not ended first (the one to come), then the ended one.
    expect(listed.map((s) => [s.id, s.active])).toEqual([
      [(later.body.data as { id: string }).id, false],
      [id, false],
    ]);

    const missing = randomUUID();
    const gone = await call(silenceById.DELETE, { path: `/admin/alerts/silences/${missing}`, method: "DELETE", params: { id: missing } });
    expect([gone.status, gone.body.error!.message]).toEqual([404, `No silence ${missing}`]);
  });

  it("refuses a silence that ends more than 366 days ahead, before it starts, or for an unknown rule", async () => {
    const post = (json: unknown) => refused(silences.POST, { path: "/admin/alerts/silences", method: "POST", json });
    expect(await post({ endsAt: "9999-12-31T00:00:00Z" })).toMatchObject({
      message: "endsAt: a silence lasts at most 366 days from now",
      issues: [{ path: "endsAt", message: "at most 366 days from now" }],
    });
    expect((await post({ endsAt: "2026-12-07T11:00:00+08:00" })).issues).toEqual([{ path: "endsAt", message: "must be after startsAt" }]);
    expect((await post({ endsAt: "tomorrow" })).issues).toEqual([{ path: "endsAt", message: "must be an ISO 8601 time with an offset" }]);
    const ruleId = randomUUID();
    expect((await post({ ruleId, endsAt: "2026-12-07T14:00:00+08:00" })).issues).toEqual([{ path: "ruleId", message: "no such rule" }]);
    expect((await call(silences.GET, { path: "/admin/alerts/silences" })).body.data).toEqual([]);
  });
});
