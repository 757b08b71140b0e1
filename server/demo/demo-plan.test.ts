import { describe, expect, it } from "vitest";
import { usageEventSchema } from "../usage/schemas";
import { buildDemoPlan, DEFAULT_DEMO_OPTIONS, DEMO_PREFIX, FIRST_ACCOUNT_MIN_KEYS } from "./demo-plan";

const TZ = "Asia/Shanghai";
const NOW = new Date("2025-03-14T09:30:00.000Z");

describe("buildDemoPlan", () => {
  it("is a function of the seed and the clock", () => {
    const a = buildDemoPlan(DEFAULT_DEMO_OPTIONS, TZ, NOW);
    const b = buildDemoPlan(DEFAULT_DEMO_OPTIONS, TZ, NOW);
    expect(b.events).toEqual(a.events);
    expect(b.figures).toEqual(a.figures);
    const c = buildDemoPlan({ ...DEFAULT_DEMO_OPTIONS, seed: "other" }, TZ, NOW);
    expect(c.events.map((e) => e.inputTokens)).not.toEqual(a.events.map((e) => e.inputTokens));
  });

  it("creates only demo- ids and events the recording API accepts, within the last --days days", () => {
    const opts = { ...DEFAULT_DEMO_OPTIONS, days: 10, events: 800 };
    const plan = buildDemoPlan(opts, TZ, new Date());
    const now = Date.now();
    for (const id of [...plan.accounts.map((a) => a.id), ...plan.keys.map((k) => k.id)]) expect(id.startsWith(DEMO_PREFIX)).toBe(true);
    expect(plan.events).toHaveLength(800);
    for (const e of plan.events) {
      expect(e.requestId.startsWith(DEMO_PREFIX)).toBe(true);
      expect(usageEventSchema.safeParse(e).success).toBe(true);
      const ms = Date.parse(e.occurredAt);
      expect(ms).toBeGreaterThanOrEqual(now - 10 * 86_400_000 - 5_000);
      expect(ms).toBeLessThanOrEqual(now + 60_000);
    }
  });

  it("gives the first account enough keys for a second breakdown page, all used, a dozen today", () => {
    const { figures } = buildDemoPlan({ ...DEFAULT_DEMO_OPTIONS, keysPerAccount: 3 }, TZ, NOW);
    expect(figures.firstAccount.keys.length).toBe(FIRST_ACCOUNT_MIN_KEYS);
    expect(figures.firstAccount.keys.every((k) => k.usage.total.requests > 0)).toBe(true);
    expect(figures.firstAccount.keys.filter((k) => k.usage.daily.requests > 0).length).toBeGreaterThanOrEqual(12);
    expect(figures.accounts[0]!.usage.daily.requests).toBeGreaterThan(0);
  });

  it("reports figures that are the sums of its events, per window in the usage time zone", () => {
    const plan = buildDemoPlan(DEFAULT_DEMO_OPTIONS, TZ, NOW);
    const day = (iso: string) => new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
    const micros = (cost: string | number) => Math.round(Number(cost) * 1e6);
    for (const [i, account] of plan.figures.accounts.entries()) {
      const own = plan.events.filter((e) => e.accountId === account.id);
      const today = own.filter((e) => day(e.occurredAt) === plan.figures.today);
      const month = own.filter((e) => day(e.occurredAt).startsWith(plan.figures.month));
      const sum = (es: typeof own) => ({
        requests: es.length,
        allTokens: es.reduce((s, e) => s + e.inputTokens + e.outputTokens + e.cacheCreateTokens + e.cacheReadTokens, 0),
        costMicros: es.reduce((s, e) => s + micros(e.cost), 0),
        ratedCostMicros: es.reduce((s, e) => s + micros(e.ratedCost ?? e.cost), 0),
      });
      const t = account.usage.total;
      // Keys rated apart from cost exist in every account but the smallest ones.
      if (own.some((e) => e.ratedCost !== undefined)) expect(t.ratedCostMicros).not.toBe(t.costMicros);
      expect({ requests: t.requests, allTokens: t.allTokens, costMicros: t.costMicros, ratedCostMicros: t.ratedCostMicros }, `account ${i}`).toEqual(sum(own));
      expect(account.usage.daily.costMicros).toBe(sum(today).costMicros);
      expect(account.usage.monthly.allTokens).toBe(sum(month).allTokens);
      expect(account.usage.total.cost).toBe(account.usage.total.costMicros / 1e6);
    }
    const first = plan.figures.firstAccount.keys[0]!;
    const keyEvents = plan.events.filter((e) => e.apiKeyId === first.apiKeyId).sort((a, b) => Date.parse(b.occurredAt) - Date.parse(a.occurredAt));
    expect(first.lastModel.total).toBe(keyEvents[0]!.model);
    expect(first.lastUsedAt).toBe(keyEvents[0]!.occurredAt);
  });
});
