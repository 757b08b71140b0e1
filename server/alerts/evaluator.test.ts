import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../db/types";
import type { Runtime } from "../runtime";
import { insertEvents, shInstant, type TestEvent } from "../usage-stats/stats.fixtures";
import { createTestRuntime, type TestRuntime } from "../testing/runtime";
import { scrapeMetrics } from "../health/scrape";
import { recordUsage } from "../usage/usage.service";
import { createBudget, createRule, createSilence, alertHistory, listAlertBudgets, alertOverview } from "./alerts.service";
import { AlertEvaluator, decide, evaluateRules, HISTORY_DAYS, median, percentOf } from "./evaluator";
import { createRuleInput, createBudgetInput } from "./schemas";

/**
 * The evaluator on a real, migrated PostgreSQL with the clock passed in: each condition fires,
 * resolves and notifies again exactly when it should, in Asia/Shanghai (UTC+8, no DST) — across
 * midnight and a month's end, a rolling 5 h window, a spike against a 7-day median, a budget at
 * 80 %, `for`, repeat intervals, silences, "each" subjects grouped into one notification — and
 * two evaluators at once notify once.
 */

const TZ = "Asia/Shanghai";
let t: TestRuntime;
let runtime: Runtime;
let db: Db;
let channelId: string;
let seq = 0;

const at = (local: string) => new Date(shInstant(local));

function ev(local: string, cost: string, o: Partial<TestEvent> = {}): TestEvent {
  return {
    requestId: `r-${++seq}`,
    occurredAt: shInstant(local),
    accountId: "acc-a",
    apiKeyId: "key-a",
    model: "claude-sonnet-4",
    inputTokens: 100,
    outputTokens: 10,
    cacheCreateTokens: 0,
    cacheReadTokens: 0,
    cost,
    ...o,
  };
}

async function record(...events: TestEvent[]) {
  await insertEvents(db, events, TZ);
}

async function evaluate(local: string) {
  return evaluateRules(runtime, { now: at(local) });
}

async function notifications() {
  const rows = await db.selectFrom("alert_notifications").selectAll().where("kind", "!=", "test").orderBy("id").execute();
  return rows.map((r) => {
    const p = r.payload as unknown as { alerts: { subjectId: string; value: string; threshold: string; budget?: { usedPercent: string }; spike?: { median: string } }[] };
    return { kind: r.kind, alerts: p.alerts.map((a) => ({ subject: a.subjectId, value: a.value, threshold: a.threshold, ...(a.budget ? { used: a.budget.usedPercent } : {}), ...(a.spike ? { median: a.spike.median } : {}) })) };
  });
}

const rule = (body: unknown) => createRule(runtime, createRuleInput.parse(body));

beforeAll(async () => {
  t = await createTestRuntime({ USAGE_TIMEZONE: TZ, PUBLIC_URL: "https://usage.example.com" });
  runtime = t.runtime;
  db = runtime.db!.db;
});
afterAll(async () => {
  await t?.close();
});

beforeEach(async () => {
  await sql`TRUNCATE alert_rules, alert_budgets, alert_silences, alert_notifications, alert_events, alert_states, alert_deliveries, alert_channels, usage_records CASCADE`.execute(db);
  for (const table of ["usage_account_daily", "usage_account_monthly", "usage_account_totals", "usage_key_daily", "usage_key_monthly", "usage_key_totals", "usage_model_daily", "usage_model_monthly", "usage_model_totals", "usage_request_ids"]) {
    await sql`TRUNCATE ${sql.table(table)}`.execute(db);
  }
  await db.deleteFrom("accounts").execute();
  await db.insertInto("accounts").values([{ id: "acc-a", name: "Claude A" }, { id: "acc-b", name: "Claude B" }]).execute();
  const ch = await db
    .insertInto("alert_channels")
    .values({ name: "ops", kind: "webhook", secret_ciphertext: "test", target_hint: "https://hooks.example.com/…" })
    .returning("id")
    .executeTakeFirstOrThrow();
  channelId = ch.id;
});

describe("pure parts", () => {
  it("median of an even count is the mean of the middle two, exactly", () => {
    expect(median([5n, 1n, 3n, 100n])).toEqual({ num: 8n, den: 2n });
    expect(median([7n, 1n, 3n])).toEqual({ num: 3n, den: 1n });
  });
  it("percent used rounds half up to one decimal", () => {
    expect(percentOf(8_325n, 10_000n)).toBe("83.3");
    expect(percentOf(8_324n, 10_000n)).toBe("83.2");
    expect(percentOf(0n, 10n)).toBe("0.0");
  });
  it("a pending alert that stops holding goes inactive, silently", () => {
    const prior = { state: "pending", since: at("2026-11-18T10:00:00"), notified_at: null } as never;
    expect(decide(prior, false, { for_seconds: 300, repeat_seconds: 0 }, at("2026-11-18T10:01:00"), false)).toEqual({ kind: "inactive", next: "ok" });
  });
});

describe("above an amount, today, across midnight", () => {
  it("fires once, resolves at midnight, fires again the next day", async () => {
    await rule({ name: "A over $1 today", subject: { kind: "account", id: "acc-a" }, measure: "cost", window: { kind: "today" }, condition: { type: "above", amount: "1" }, channelIds: [channelId] });
    await record(ev("2026-11-30T23:40:00", "0.99999999"));
    expect((await evaluate("2026-11-30T23:45:00")).transitions).toBe(0);
    await record(ev("2026-11-30T23:50:00", "0.00000001"));
    await evaluate("2026-11-30T23:55:00");
    await evaluate("2026-11-30T23:56:00");
    expect(await notifications()).toEqual([{ kind: "firing", alerts: [{ subject: "acc-a", value: "1", threshold: "1" }] }]);
    // Midnight: a new day (and a new month) in Shanghai; today is 0 again.
    await evaluate("2026-12-01T00:00:30");
    await evaluate("2026-12-01T00:01:00");
    expect((await notifications()).map((n) => n.kind)).toEqual(["firing", "resolved"]);
    await record(ev("2026-12-01T00:10:00", "1.5"));
    await evaluate("2026-12-01T00:11:00");
    expect(await notifications()).toEqual([
      { kind: "firing", alerts: [{ subject: "acc-a", value: "1", threshold: "1" }] },
      { kind: "resolved", alerts: [{ subject: "acc-a", value: "0", threshold: "1" }] },
      { kind: "firing", alerts: [{ subject: "acc-a", value: "1.5", threshold: "1" }] },
    ]);
    const deliveries = await db.selectFrom("alert_deliveries").select(["channel_id", "status"]).execute();
    expect(deliveries).toEqual(Array(3).fill({ channel_id: channelId, status: "pending" }));
    const history = await alertHistory(runtime, { limit: 50 });
    expect(history.items.map((i) => [i.kind, i.value, i.subjectName])).toEqual([
      ["firing", "1.5", "Claude A"],
      ["resolved", "0", "Claude A"],
      ["firing", "1", "Claude A"],
    ]);
  });

  it("this month resolves when the month ends in USAGE_TIMEZONE, not in UTC", async () => {
    await rule({ name: "all over 100k tokens this month", subject: { kind: "all" }, measure: "inputTokens", window: { kind: "month" }, condition: { type: "above", amount: "150" } });
    await record(ev("2026-11-30T10:00:00", "1", { accountId: "acc-a" }), ev("2026-11-30T20:00:00", "1", { accountId: "acc-b" }));
    await evaluate("2026-11-30T23:59:59");
    // 2026-12-01T00:00 Shanghai is still November 30 in UTC (16:00).
    await evaluate("2026-12-01T00:00:00");
    expect(await notifications()).toEqual([
      { kind: "firing", alerts: [{ subject: "", value: "200", threshold: "150" }] },
      { kind: "resolved", alerts: [{ subject: "", value: "0", threshold: "150" }] },
    ]);
  });
});

describe("a rolling 5 h window", () => {
  it("holds exactly the events of the last 5 hours", async () => {
    await rule({ name: "5h", subject: { kind: "api_key", id: "key-a" }, measure: "cost", window: { kind: "hours", size: 5 }, condition: { type: "above", amount: "2" } });
    // Across midnight: 21:30 and 23:00 on the 17th, 01:00 on the 18th.
    await record(ev("2026-11-17T21:30:00", "1"), ev("2026-11-17T23:00:00", "0.5", { accountId: "acc-b" }), ev("2026-11-18T01:00:00", "0.5"));
    await evaluate("2026-11-18T02:29:59");
    await evaluate("2026-11-18T02:30:00");
    // At 02:30:00 the window is (21:30:00, 02:30:00]: the 21:30:00 event has left.
    await evaluate("2026-11-18T02:30:01");
    expect(await notifications()).toEqual([
      { kind: "firing", alerts: [{ subject: "key-a", value: "2", threshold: "2" }] },
      { kind: "resolved", alerts: [{ subject: "key-a", value: "1", threshold: "2" }] },
    ]);
  });
});

describe("a spike against the 7-day median", () => {
  it("fires above k × the median of the same window on the previous 7 days, over the minimum", async () => {
    // The 1 h window ending at 15:00 on each of the 7 previous days: 1, 1, 2, 2, 3, 3, 9 → median 2.
    const daily = ["1", "1", "2", "2", "3", "3", "9"];
    await record(...daily.map((c, i) => ev(`2026-11-${String(11 + i).padStart(2, "0")}T14:30:00`, c)));
    // Noise outside the windows does not count.
    await record(ev("2026-11-15T13:59:59", "50"), ev("2026-11-16T15:00:01", "50"));
    await rule({ name: "spike", subject: { kind: "each_account" }, measure: "cost", window: { kind: "hours", size: 1 }, condition: { type: "spike", factor: "3", days: 7, minimum: "5" } });
    await record(ev("2026-11-18T14:10:00", "6"));
    await evaluate("2026-11-18T15:00:00");
    expect(await notifications()).toEqual([]);
    await record(ev("2026-11-18T14:20:00", "0.00000001"));
    await evaluate("2026-11-18T15:00:00");
    expect(await notifications()).toEqual([{ kind: "firing", alerts: [{ subject: "acc-a", value: "6.00000001", threshold: "6", median: "2" }] }]);
  });

  it("a quiet account stays quiet under the minimum even against a zero median", async () => {
    await rule({ name: "spike", subject: { kind: "account", id: "acc-b" }, measure: "cost", window: { kind: "today" }, condition: { type: "spike", factor: "2", days: 7, minimum: "1" } });
    await record(ev("2026-11-18T09:00:00", "0.99", { accountId: "acc-b" }));
    await evaluate("2026-11-18T10:00:00");
    expect(await notifications()).toEqual([]);
    await record(ev("2026-11-18T09:30:00", "0.01", { accountId: "acc-b" }));
    await evaluate("2026-11-18T10:00:00");
    expect(await notifications()).toEqual([{ kind: "firing", alerts: [{ subject: "acc-b", value: "1", threshold: "0", median: "0" }] }]);
  });
});

describe("budgets", () => {
  it("an account's daily budget fires at 80 % and at 100 %, each once, and shows its use", async () => {
    const budget = await createBudget(runtime, createBudgetInput.parse({ name: "A daily", subject: { kind: "account", id: "acc-a" }, period: "day", amount: "10", channelIds: [channelId] }));
    expect(budget.rules.map((r) => r.percent)).toEqual(["80", "100"]);
    await record(ev("2026-11-18T08:00:00", "7.99999999"));
    await evaluate("2026-11-18T08:01:00");
    expect(await notifications()).toEqual([]);
    await record(ev("2026-11-18T08:02:00", "0.00000001"));
    await evaluate("2026-11-18T08:03:00");
    await evaluate("2026-11-18T08:04:00");
    expect(await notifications()).toEqual([{ kind: "firing", alerts: [{ subject: "acc-a", value: "8", threshold: "8", used: "80.0" }] }]);
    await record(ev("2026-11-18T09:00:00", "2.5"));
    await evaluate("2026-11-18T09:01:00");
    expect((await notifications()).at(-1)).toEqual({ kind: "firing", alerts: [{ subject: "acc-a", value: "10.5", threshold: "10", used: "105.0" }] });
    runtime.clock = { now: () => at("2026-11-18T09:02:00").getTime() };
    const [view] = await listAlertBudgets(runtime);
    expect(view).toMatchObject({ used: "10.5", usedPercent: "105.0", amount: "10", rules: [{ percent: "80", state: "firing" }, { percent: "100", state: "firing" }] });
    const overview = await alertOverview(runtime, { accountIds: ["acc-a", "acc-b"] });
    expect(overview.accounts).toMatchObject([{ accountId: "acc-a", firing: 2 }]);
    expect(overview.firing).toBe(2);
    const { body } = await scrapeMetrics(runtime);
    const firing = body.split("\n").filter((l) => l.startsWith("ub_alerts_firing{"));
    expect(firing.map((l) => l.replace(/rule_id="[^"]+",/, "").replace(/,?app="usage-breakdown"/, "")).sort()).toEqual([
      'ub_alerts_firing{rule="A daily ≥ 100%"} 1',
      'ub_alerts_firing{rule="A daily ≥ 80%"} 1',
    ]);
    expect(body).toContain('ub_alert_deliveries{status="pending",app="usage-breakdown"} 2');
  });
});

describe("every condition kind", () => {
  // Each fires at 10:00 on $4 spent at 09:30, is notified again exactly one repeat interval (1 h)
  // later, and resolves when its condition stops holding: when the $4 leaves the rolling 2 h
  // window at 11:30, or at midnight for a daily budget.
  const kinds = [
    { kind: "above", before: "2026-11-18T11:29:59", resolvesAt: "2026-11-18T11:30:00", rule: { condition: { type: "above", amount: "2" } } },
    { kind: "budget", before: "2026-11-18T11:59:59", resolvesAt: "2026-11-19T00:00:00" },
    // The same 2 h on the 7 days before have $1 each: median 1, threshold 3 × 1 = 3.
    { kind: "spike", before: "2026-11-18T11:29:59", resolvesAt: "2026-11-18T11:30:00", rule: { condition: { type: "spike", factor: "3", days: 7, minimum: "1" } } },
  ] as const;
  for (const k of kinds) {
    it(`${k.kind}: fires, repeats after the interval, resolves`, async () => {
      if ("rule" in k) {
        await rule({ name: k.kind, subject: { kind: "account", id: "acc-a" }, measure: "cost", window: { kind: "hours", size: 2 }, repeatSeconds: 3600, channelIds: [channelId], ...k.rule });
      } else {
        const b = await createBudget(runtime, createBudgetInput.parse({ name: "b", subject: { kind: "account", id: "acc-a" }, period: "day", amount: "4", alertPercents: ["50"], channelIds: [channelId] }));
        await db.updateTable("alert_rules").set({ repeat_seconds: 3600 }).where("budget_id", "=", b.id).execute();
      }
      for (let d = 1; d <= 7; d++) await record(ev(`2026-11-${String(18 - d).padStart(2, "0")}T09:30:00`, "1"));
      await record(ev("2026-11-18T09:30:00", "4"));
      const kindsAfter = async (local: string) => {
        await evaluate(local);
        return (await notifications()).map((n) => n.kind);
      };
      expect(await kindsAfter("2026-11-18T10:00:00")).toEqual(["firing"]);
      expect(await kindsAfter("2026-11-18T10:59:59")).toEqual(["firing"]);
      expect(await kindsAfter("2026-11-18T11:00:00")).toEqual(["firing", "repeat"]);
      expect(await kindsAfter(k.before)).toEqual(["firing", "repeat"]);
      expect(await kindsAfter(k.resolvesAt)).toEqual(["firing", "repeat", "resolved"]);
    });
  }
});

describe("budgets of keys", () => {
  it("a key's budget is shown with its account, asked for by account or not", async () => {
    await db.deleteFrom("api_keys").execute();
    await db.insertInto("api_keys").values({ id: "key-a", name: "Key A", account_id: "acc-a" }).execute();
    await createBudget(runtime, createBudgetInput.parse({ name: "key month", subject: { kind: "api_key", id: "key-a" }, period: "month", amount: "100" }));
    runtime.clock = { now: () => at("2026-11-18T09:02:00").getTime() };
    for (const accountIds of [["acc-a"], undefined]) {
      const o = await alertOverview(runtime, { accountIds });
      expect(o.accounts.map((a) => [a.accountId, a.budgets.map((b) => [b.name, b.subject.name])])).toEqual([["acc-a", [["key month", "Key A"]]]]);
    }
    expect((await alertOverview(runtime, { accountIds: ["acc-b"] })).accounts).toEqual([]);
  });
});

describe("for, repeat and silences", () => {
  it("waits `for` before firing and notifies again after the repeat interval, not before", async () => {
    await rule({ name: "for", subject: { kind: "all" }, measure: "requests", window: { kind: "today" }, condition: { type: "above", amount: "2" }, forSeconds: 300, repeatSeconds: 3600, channelIds: [channelId] });
    await record(ev("2026-11-18T10:00:00", "0.1"), ev("2026-11-18T10:00:01", "0.1"));
    await evaluate("2026-11-18T10:01:00");
    await evaluate("2026-11-18T10:05:59");
    expect(await notifications()).toEqual([]);
    await evaluate("2026-11-18T10:06:00");
    await evaluate("2026-11-18T11:05:59");
    expect((await notifications()).map((n) => n.kind)).toEqual(["firing"]);
    await evaluate("2026-11-18T11:06:00");
    await evaluate("2026-11-18T11:07:00");
    expect((await notifications()).map((n) => n.kind)).toEqual(["firing", "repeat"]);
    const kinds = (await alertHistory(runtime, { limit: 50 })).items.map((i) => i.kind);
    expect(kinds).toEqual(["repeat", "firing", "pending"]);
  });

  it("a silenced subject changes state without a notification and is notified when the silence ends", async () => {
    await rule({ name: "each key", subject: { kind: "each_api_key" }, measure: "cost", window: { kind: "today" }, condition: { type: "above", amount: "1" }, repeatSeconds: 0, channelIds: [channelId] });
    runtime.clock = { now: () => at("2026-11-18T09:00:00").getTime() };
    await createSilence(runtime, { subjectKey: "key-b", endsAt: at("2026-11-18T12:00:00").toISOString() }, "admin");
    await record(ev("2026-11-18T10:00:00", "2", { apiKeyId: "key-a" }), ev("2026-11-18T10:00:00", "3", { apiKeyId: "key-b" }), ev("2026-11-18T10:00:00", "0.5", { apiKeyId: "key-c" }));
    await evaluate("2026-11-18T10:30:00");
    expect(await notifications()).toEqual([{ kind: "firing", alerts: [{ subject: "key-a", value: "2", threshold: "1" }] }]);
    await evaluate("2026-11-18T11:59:59");
    expect(await notifications()).toHaveLength(1);
    await evaluate("2026-11-18T12:00:00");
    expect((await notifications()).at(-1)).toEqual({ kind: "firing", alerts: [{ subject: "key-b", value: "3", threshold: "1" }] });
    const events = (await alertHistory(runtime, { limit: 50 })).items.map((i) => [i.kind, i.subjectKey, i.silenced]);
    expect(events).toEqual([
      ["repeat", "key-b", false],
      ["firing", "key-b", true],
      ["firing", "key-a", false],
    ]);
  });

  it("subjects of an each rule that fire together are one notification", async () => {
    await rule({ name: "each account", subject: { kind: "each_account" }, measure: "cost", window: { kind: "today" }, condition: { type: "above", amount: "1" }, channelIds: [channelId] });
    await record(ev("2026-11-18T10:00:00", "1", { accountId: "acc-a" }), ev("2026-11-18T10:00:00", "4", { accountId: "acc-b" }));
    await evaluate("2026-11-18T10:30:00");
    const n = await notifications();
    expect(n).toHaveLength(1);
    expect(n[0]!.alerts.sort((x, y) => x.subject.localeCompare(y.subject))).toEqual([
      { subject: "acc-a", value: "1", threshold: "1" },
      { subject: "acc-b", value: "4", threshold: "1" },
    ]);
    expect(await db.selectFrom("alert_deliveries").select("id").execute()).toHaveLength(1);
    // The next day neither has usage: one resolve notice for both, against the rule's threshold.
    await evaluate("2026-11-19T00:00:30");
    const resolved = (await notifications()).at(-1)!;
    expect(resolved.kind).toBe("resolved");
    expect(resolved.alerts.sort((x, y) => x.subject.localeCompare(y.subject))).toEqual([
      { subject: "acc-a", value: "0", threshold: "1" },
      { subject: "acc-b", value: "0", threshold: "1" },
    ]);
  });
});

describe("the freshest figures", () => {
  it("today comes from the live Redis counters while PostgreSQL has not caught up", async () => {
    await rule({ name: "live", subject: { kind: "each_account" }, measure: "cost", window: { kind: "today" }, condition: { type: "above", amount: "1" } });
    const now = new Date();
    const event = { requestId: `live-${now.getTime()}`, occurredAt: now.toISOString(), accountId: "acc-a", apiKeyId: "key-a", model: "m", inputTokens: 1, outputTokens: 1, cacheCreateTokens: 0, cacheReadTokens: 0, cost: "2.5" };
    expect(await recordUsage(runtime, { events: [event] })).toMatchObject({ accepted: 1 });
    // No drainer runs here: the event waits in the outbox, PostgreSQL has none of it.
    expect(await db.selectFrom("usage_records").select("request_id").execute()).toEqual([]);
    await evaluateRules(runtime, { now });
    expect(await notifications()).toEqual([{ kind: "firing", alerts: [{ subject: "acc-a", value: "2.5", threshold: "1" }] }]);
  });
});

describe("several evaluators", () => {
  it("two evaluating at the same moment notify once", async () => {
    await rule({ name: "twice?", subject: { kind: "account", id: "acc-a" }, measure: "cost", window: { kind: "today" }, condition: { type: "above", amount: "1" }, channelIds: [channelId] });
    await record(ev("2026-11-18T10:00:00", "5"));
    const runs = await Promise.all(Array.from({ length: 4 }, () => evaluate("2026-11-18T10:05:00")));
    expect(runs.reduce((s, r) => s + r.notifications, 0)).toBe(1);
    expect(await notifications()).toHaveLength(1);
    expect(await db.selectFrom("alert_deliveries").select("id").execute()).toHaveLength(1);
  });

  it("only the lease holder evaluates; another takes over when it lapses", async () => {
    let now = at("2026-11-18T10:00:00").getTime();
    const clockRuntime = { ...runtime, clock: { now: () => now } };
    const a = new AlertEvaluator(clockRuntime);
    const b = new AlertEvaluator(clockRuntime);
    expect((await a.tick()).leader).toBe(true);
    expect((await b.tick()).leader).toBe(false);
    now += 60_000;
    expect((await a.tick()).leader).toBe(true);
    expect((await b.tick()).leader).toBe(false);
    // a stops renewing (a crashed node): past its lease b takes over.
    now += 10 * 60_000;
    expect((await b.tick()).leader).toBe(true);
    expect((await a.tick()).leader).toBe(false);
    await b.stop();
    expect((await a.tick()).leader).toBe(true);
    await a.stop();
  });

  it("the lease holder keeps HISTORY_DAYS of history", async () => {
    const now = at("2026-11-18T10:00:00");
    const old = new Date(now.getTime() - HISTORY_DAYS * 86_400_000 - 1);
    const kept = new Date(now.getTime() - HISTORY_DAYS * 86_400_000 + 1);
    for (const when of [old, kept]) {
      const n = await db.insertInto("alert_notifications").values({ rule_id: null, kind: "firing", payload: "{}", created_at: when }).returning("id").executeTakeFirstOrThrow();
      await db.insertInto("alert_events").values({ rule_id: null, rule_name: "r", subject_kind: "all", subject_key: "", subject_name: "", kind: "firing", value: "1", threshold: "1", notification_id: n.id, at: when }).execute();
    }
    const e = new AlertEvaluator({ ...runtime, clock: { now: () => now.getTime() } });
    expect((await e.tick()).leader).toBe(true);
    await e.stop();
    expect((await db.selectFrom("alert_events").select("at").execute()).map((r) => r.at)).toEqual([kept]);
    expect(await db.selectFrom("alert_notifications").select("created_at").execute()).toEqual([{ created_at: kept }]);
  });
});
