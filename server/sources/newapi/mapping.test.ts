import { describe, expect, it } from "vitest";
import { apiKeyIdOf, mapLog, moneyOf, NOT_USAGE, platformOf } from "./mapping";
import type { LogRow } from "./reader";

/** One row by hand: the money rules (exact, half away from zero, any QuotaPerUnit), tokens, corrections. */

const row = (over: Partial<LogRow>): LogRow => ({
  id: "7", created_at: 1_764_000_000, type: 2, user_id: "3", token_id: "9", token_name: "t", channel_id: "4", model_name: "m",
  quota: 0n, prompt_tokens: 0, completion_tokens: 0, is_stream: null, duration_ms: null, group: null, other: null, request_id: null, ...over,
});
const money = (e: ReturnType<typeof mapLog>) => (typeof e === "object" && "cost" in e ? [e.requests, e.cost, e.ratedCost] : e);

describe("new-api mapping", () => {
  it("prices quota exactly for any QuotaPerUnit, half away from zero, refunds and negative deltas as corrections", () => {
    const d = moneyOf(null);
    expect(money(mapLog("n", "new-api", d, row({ quota: 1_234_567n })))).toEqual([1, "2.469134", "2.469134"]);
    expect(money(mapLog("n", "new-api", d, row({ quota: 1_000n, other: '{"group_ratio":1.5}' })))).toEqual([1, "0.00133333", "0.002"]);
    expect(money(mapLog("n", "new-api", d, row({ type: 6, quota: 1_000n, other: '{"group_ratio":1.5}' })))).toEqual([0, "-0.00133333", "-0.002"]);
    expect(money(mapLog("n", "new-api", d, row({ quota: -500n })))).toEqual([0, "-0.001", "-0.001"]);
    // 300,000 does not divide 10^8: 1 / 300,000 = 0.0000033333… → 0.00000333; 5 / 300,000 = 0.0000166666… → 0.00001667.
    const odd = moneyOf("300000");
    expect(money(mapLog("n", "new-api", odd, row({ quota: 1n })))).toEqual([1, "0.00000333", "0.00000333"]);
    expect(money(mapLog("n", "new-api", odd, row({ quota: 5n })))).toEqual([1, "0.00001667", "0.00001667"]);
    expect(money(mapLog("n", "new-api", odd, row({ type: 6, quota: 5n })))).toEqual([0, "-0.00001667", "-0.00001667"]);
    // Past 2^53 units of 1e-8 USD the text is still exact.
    expect(money(mapLog("n", "new-api", d, row({ quota: 90_000_000_000_000n })))).toEqual([1, "180000000", "180000000"]);
    expect(() => moneyOf("0")).toThrow(/QuotaPerUnit/);
    expect(() => moneyOf("abc")).toThrow(/QuotaPerUnit/);
  });

  it("takes cache tokens from other, input without them unless on Anthropic's semantic; one-api reads no other", () => {
    const d = moneyOf(null);
    const other = JSON.stringify({ cache_tokens: 30, cache_creation_tokens_5m: 5, cache_creation_tokens_1h: 2 });
    const e = mapLog("n", "new-api", d, row({ prompt_tokens: 100, completion_tokens: 9, other }));
    expect(e).toMatchObject({ inputTokens: 63, outputTokens: 9, cacheReadTokens: 30, cacheCreateTokens: 7, ephemeral5mTokens: 5, ephemeral1hTokens: 2 });
    const claude = mapLog("n", "new-api", d, row({ prompt_tokens: 100, other: JSON.stringify({ cache_tokens: 30, cache_creation_tokens: 7, usage_semantic: "anthropic" }) }));
    expect(claude).toMatchObject({ inputTokens: 100, cacheReadTokens: 30, cacheCreateTokens: 7 });
    expect(mapLog("n", "one-api", d, row({ prompt_tokens: 100, other }))).toMatchObject({ inputTokens: 100, cacheReadTokens: 0 });
    expect(mapLog("n", "new-api", d, row({ type: 5 }))).toBe(NOT_USAGE);
    expect(mapLog("n", "one-api", d, row({ type: 6 }))).toBe(NOT_USAGE);
    expect(mapLog("n", "new-api", d, row({ channel_id: null }))).toEqual({ reason: "a usage row without a channel", detail: "logs#7" });
  });

  it("names keys and platforms per relay", () => {
    expect(apiKeyIdOf("n", "new-api", { token_id: "9", user_id: "3", token_name: "x" })).toBe("n-key-9");
    expect(apiKeyIdOf("n", "one-api", { token_id: null, user_id: "3", token_name: "x" })).toMatch(/^n-key-u3-[0-9a-f]{16}$/);
    expect([platformOf("new-api", 14), platformOf("new-api", 43), platformOf("one-api", 36), platformOf("one-api", 43), platformOf("new-api", 999)]).toEqual(["claude-console", "deepseek", "deepseek", "proxy", "type-999"]);
  });
});
