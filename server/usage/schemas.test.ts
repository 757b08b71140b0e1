import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { costTextToNanos, normalizeEvent } from "./normalize";
import { isPlainValidEvent, NEGATIVE_IN_REQUEST, parseCostUsd, recordUsageInput, usageEventSchema, type UsageEvent } from "./schemas";
import { validateEvents } from "./usage.service";

const base: UsageEvent = {
  requestId: "r1",
  occurredAt: "2026-01-31T23:59:59.999+08:00",
  accountId: "a",
  apiKeyId: "k",
  model: "m",
  inputTokens: 1,
  outputTokens: 2,
  cacheCreateTokens: 3,
  cacheReadTokens: 4,
  cost: "0.1",
};
const problem = (patch: Record<string, unknown>) => {
  const r = usageEventSchema.safeParse({ ...base, ...patch });
  return r.success ? undefined : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
};

describe("cost", () => {
  it.each([
    ["0", "0"],
    ["0.10000000", "0.1"],
    ["12.34567891", "12.34567891"],
    [0.1, "0.1"],
    [5e-7, "0.0000005"],
    [1e-8, "0.00000001"],
    [1000000, "1000000"],
    [123.456, "123.456"],
    // JSON numbers are rounded to 8 decimals by their exact binary value (toFixed(8)).
    [0.05907780000000001, "0.0590778"],
    [0.1 + 0.2, "0.3"],
    [1e-9, "0"],
    [5e-9, "0.00000001"],
    [0.123456785, "0.12345678"],
    [0.021640125, "0.02164012"],
    [0.123456784999, "0.12345678"],
    [0.999999995, "1"],
    [999999.999999994, "999999.99999999"],
    [1.5e-7, "0.00000015"],
    [999999.999999995, "999999.99999999"],
  ])("%s is %s USD", (input, text) => {
    expect(parseCostUsd(input)).toEqual({ ok: true, text });
  });

  // An event's money (signed): negative amounts are well-formed; the event's check decides where they may be.
  it.each([
    ["-1", { ok: true, text: "-1" }],
    [-0.5, { ok: true, text: "-0.5" }],
    ["-0.00000001", { ok: true, text: "-0.00000001" }],
    ["-0.0", { ok: true, text: "0" }],
    [-0.000000001, { ok: true, text: "0" }],
    ["-", { ok: false, message: 'must be a decimal number of USD such as "0.0123" (at most 8 decimal places)' }],
    ["--1", { ok: false, message: 'must be a decimal number of USD such as "0.0123" (at most 8 decimal places)' }],
    ["-1000000.00000001", { ok: false, message: "must be at most 1000000 USD" }],
    [-1000000.0000001, { ok: false, message: "must be at most 1000000 USD" }],
  ])("signed: %s → %j", (input, expected) => {
    expect(parseCostUsd(input, { signed: true })).toEqual(expected);
  });

  it.each([
    ["0.123456789", "must have at most 8 decimal places"],
    ["0.05907780000000001", "must have at most 8 decimal places"],
    [1000000.0000001, "must be at most 1000000 USD"],
    ["-1", "must not be negative"],
    [-0.5, "must not be negative"],
    ["1e-5", 'must be a decimal number of USD such as "0.0123" (at most 8 decimal places)'],
    [" 1", 'must be a decimal number of USD such as "0.0123" (at most 8 decimal places)'],
    ["NaN", 'must be a decimal number of USD such as "0.0123" (at most 8 decimal places)'],
    ["", 'must be a decimal number of USD such as "0.0123" (at most 8 decimal places)'],
    ["1000000.00000001", "must be at most 1000000 USD"],
    [Number.POSITIVE_INFINITY, "must be a finite number"],
  ])("%s is refused: %s", (input, message) => {
    expect(parseCostUsd(input)).toEqual({ ok: false, message });
  });

  it("converts to nano-USD exactly", () => {
    expect(costTextToNanos("0.00000001")).toBe(10);
    expect(costTextToNanos("999999.99999999")).toBe(999_999_999_999_990);
    expect(costTextToNanos("3")).toBe(3_000_000_000);
    expect(costTextToNanos("-1.5")).toBe(-1_500_000_000);
    expect(costTextToNanos("-0.00000001")).toBe(-10);
  });
});

describe("usage event", () => {
  it("accepts a well-formed event and normalizes it for both stores", () => {
    const parsed = usageEventSchema.parse({ ...base, ephemeral5mTokens: 5, requests: 0, costBreakdown: { input: "0.05" }, metadata: null });
    const n = normalizeEvent(parsed, "Asia/Shanghai");
    expect(n).toMatchObject({ date: "2026-01-31", month: "2026-01", partitionMonth: "2026-01-01" });
    expect(n.counters).toEqual({ requests: 0, inputTokens: 1, outputTokens: 2, cacheCreateTokens: 3, cacheReadTokens: 4, ephemeral5mTokens: 5, ephemeral1hTokens: 0, allTokens: 10, costNanos: 100_000_000, ratedCostNanos: 100_000_000 });
    // Without ratedCost the rated cost is the real one; the ledger stores null for "the same".
    expect(n.row).toMatchObject({ occurred_at: "2026-01-31T15:59:59.999Z", total_cost: "0.1", rated_cost: null, cost_breakdown: { input: "0.05" }, metadata: null });
    expect(normalizeEvent({ ...parsed, occurredAt: "2026-02-01T00:00:00+08:00" }, "Asia/Shanghai")).toMatchObject({ date: "2026-02-01", month: "2026-02", partitionMonth: "2026-01-01" });
    expect(normalizeEvent(parsed, "UTC")).toMatchObject({ date: "2026-01-31" });
  });

  it("takes a negative amount only in a correction (requests: 0), in both money measures, exactly", () => {
    const bad = (e: Record<string, unknown>) => usageEventSchema.safeParse({ ...base, ...e }).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(bad({ cost: "-0.5" })).toEqual([`cost: ${NEGATIVE_IN_REQUEST}`]);
    expect(bad({ cost: "-0.5", requests: 2 })).toEqual([`cost: ${NEGATIVE_IN_REQUEST}`]);
    expect(bad({ cost: "-0.5", ratedCost: -0.25, requests: 1 })).toEqual([
      `cost: ${NEGATIVE_IN_REQUEST}`,
      `ratedCost: ${NEGATIVE_IN_REQUEST}`,
    ]);
    // Never the fast path (which cannot see the rule): the schema decides.
    expect(isPlainValidEvent({ ...base, cost: "-0.5", requests: 0 })).toBe(false);
    const refund = normalizeEvent(usageEventSchema.parse({ ...base, requests: 0, inputTokens: 0, outputTokens: 0, cost: "-0.5", ratedCost: -0.25 }), "UTC");
    expect([refund.counters.requests, refund.counters.costNanos, refund.counters.ratedCostNanos, refund.row.total_cost, refund.row.rated_cost]).toEqual([0, -500_000_000, -250_000_000, "-0.5", "-0.25"]);
    // Token counts are never negative, in a correction either.
    expect(bad({ requests: 0, cost: "-1", inputTokens: -1 })).toEqual(["inputTokens: must be a non-negative integer"]);
  });

  it("carries ratedCost as a measure of its own, with the cost's rules (a number rounded to 8 decimals, a string strict)", () => {
    const asNumber = normalizeEvent(usageEventSchema.parse({ ...base, ratedCost: 0.07089336000000001 }), "UTC");
    expect([asNumber.counters.costNanos, asNumber.counters.ratedCostNanos, asNumber.row.total_cost, asNumber.row.rated_cost]).toEqual([100_000_000, 70_893_360, "0.1", "0.07089336"]);
    const asText = normalizeEvent(usageEventSchema.parse({ ...base, ratedCost: "12.5" }), "UTC");
    expect([asText.counters.ratedCostNanos, asText.row.rated_cost]).toEqual([12_500_000_000, "12.5"]);
    // Equal to the real cost however spelled: stored as null (rated = real).
    expect(normalizeEvent(usageEventSchema.parse({ ...base, ratedCost: "0.10000000" }), "UTC").row.rated_cost).toBeNull();
    const bad = (ratedCost: unknown) => usageEventSchema.safeParse({ ...base, ratedCost }).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(bad("0.123456789")).toEqual(["ratedCost: must have at most 8 decimal places"]);
    expect(bad(-1)).toEqual([`ratedCost: ${NEGATIVE_IN_REQUEST}`]);
    expect(bad("1e3")).toEqual(['ratedCost: must be a decimal number of USD such as "0.0123" (at most 8 decimal places)']);
    expect(bad(null)).toEqual(["ratedCost: must be a decimal string or a number of USD"]);
  });

  it.each([
    [{ requestId: "" }, "requestId: must not be empty"],
    [{ requestId: "a\u0000b" }, "requestId: must not contain NUL bytes or unpaired surrogates"],
    [{ model: "bad\ud800" }, "model: must not contain NUL bytes or unpaired surrogates"],
    [{ accountId: "x".repeat(129) }, "accountId: must be at most 128 characters"],
    [{ inputTokens: 1.5 }, "inputTokens: must be a non-negative integer"],
    [{ inputTokens: "5" }, "inputTokens: must be a non-negative integer"],
    [{ cacheReadTokens: -1 }, "cacheReadTokens: must be a non-negative integer"],
    [{ outputTokens: 2 ** 53 }, "outputTokens: must be a non-negative integer; outputTokens: must be at most 1000000000000"],
    [{ requests: 2_000_000 }, "requests: must be at most 1000000"],
    [{ occurredAt: "2026-01-31 10:00:00Z" }, "occurredAt: must be an ISO-8601 date-time with an offset, e.g. 2026-01-31T23:59:59.999+08:00 or …Z"],
    [{ occurredAt: "1999-12-31T23:59:59Z" }, "occurredAt: must not be before 2000-01-01T00:00:00Z"],
    [{ cost: true }, "cost: must be a decimal string or a number of USD"],
    [{ metadata: [1, 2] }, "metadata: must be a JSON object"],
    [{ metadata: { a: "x\u0000" } }, "metadata: contains NUL bytes or unpaired surrogates"],
    [{ costBreakdown: { "k\u0000": 1 } }, "costBreakdown: has a key with NUL bytes or unpaired surrogates"],
    [{ extra: 1 }, ': Unrecognized key: "extra"'],
  ])("refuses %o", (patch, message) => {
    expect(problem(patch)).toBe(message);
  });

  it("bounds the size and depth of JSON objects", () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 30; i++) deep = { d: deep };
    expect(problem({ metadata: deep })).toBe("metadata: is nested too deeply (more than 16 levels)");
    expect(problem({ metadata: { blob: "é".repeat(2100) } })).toBe("metadata: must be at most 4096 bytes as JSON, got 4211");
  });

  it("validates a batch event by event", () => {
    const { events, rejected } = validateEvents([base, { ...base, requestId: "r2", cost: "x" }, null, { ...base, requestId: "r3" }], "UTC");
    expect(events.map((e) => e.requestId)).toEqual(["r1", "r3"]);
    expect(rejected).toEqual([
      { index: 1, code: "INVALID_FIELD", message: 'cost: must be a decimal number of USD such as "0.0123" (at most 8 decimal places)' },
      { index: 2, code: "INVALID_EVENT", message: "event: must be a JSON object with the usage fields (Invalid input: expected object, received null)" },
    ]);
    expect(recordUsageInput.safeParse({ events: [] }).success).toBe(false);
    expect(recordUsageInput.safeParse({ events: new Array(1000).fill(null) }).success).toBe(true);
    expect(recordUsageInput.safeParse({ events: new Array(1001).fill(null) }).success).toBe(false);
  });
});

describe("the fast path of validation", () => {
  const recent = Date.parse("2024-06-01T00:00:00Z");
  const field = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -5, max: 5 }),
    fc.constantFrom(0, 1.5, -0, 2 ** 53, 1e12, 1e12 + 1, 1e6, 1e6 + 1, Number.NaN, 1e-9, 0.1, 12.345678901),
    fc.string({ maxLength: 4 }),
    fc.constantFrom("", "0.1", "0.123456789", "-1", "1e3", "a\u0000b", "x".repeat(129), "\ud800", "é", "2026-02-30T00:00:00Z", "2024-06-01T00:00:00+08:00", "2024-06-01T00:00:00"),
    fc.constant({ a: 1 }),
    fc.constant([1]),
    fc.constant(Object.assign(Object.create(null) as object, { a: 1 })),
    fc.dictionary(
      fc.oneof(fc.constantFrom("source", "sub2apiId", "a.b-c_d", "", "__proto__", "constructor", "prototype", "é", "k\u0000", "x".repeat(65)), fc.string({ maxLength: 6 })),
      fc.oneof(
        fc.constantFrom(null, true, false, 0, -1.5, 1e308, -Number.MAX_VALUE, Number.NaN, Infinity, "", "a\u0000b", "\ud800", "é", '"\\', "y".repeat(513), "z".repeat(512), { a: 1 }, [1]),
        fc.string({ maxLength: 8 }),
      ),
      { maxKeys: 12 },
    ),
  );
  /** Flat metadata of the common kind (a relay's row: short ASCII strings, numbers, booleans). */
  const plainMetadata = fc.dictionary(
    fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/).filter((k) => !["__proto__", "constructor", "prototype"].includes(k)),
    fc.oneof(fc.stringMatching(/^[\x20-\x7e]{0,40}$/), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null)),
    { maxKeys: 12, noNullPrototype: true },
  );
  const valid = fc.record({
    requestId: fc.stringMatching(/^[ -~]{1,130}$/),
    occurredAt: fc.integer({ min: recent, max: recent + 86400_000 }).map((ms) => new Date(ms).toISOString()),
    accountId: fc.stringMatching(/^[a-z0-9-]{1,10}$/),
    apiKeyId: fc.stringMatching(/^[a-z0-9-]{1,10}$/),
    model: fc.constantFrom("m", "claude-sonnet-4"),
    inputTokens: fc.nat(),
    outputTokens: fc.nat(),
    cacheCreateTokens: fc.nat(),
    cacheReadTokens: fc.nat(),
    cost: fc.oneof(fc.integer({ min: 0, max: 10 ** 9 }).map((n) => n / 1e8), fc.integer({ min: 0, max: 10 ** 9 }).map((n) => (n / 1e8).toFixed(8))),
  });
  const keys = ["requestId", "occurredAt", "accountId", "apiKeyId", "model", "inputTokens", "outputTokens", "cacheCreateTokens", "cacheReadTokens", "ephemeral5mTokens", "ephemeral1hTokens", "requests", "cost", "ratedCost", "costBreakdown", "metadata", "other"];

  it("accepts only what the schema accepts, and takes the common valid case", () => {
    fc.assert(
      fc.property(valid, fc.array(fc.tuple(fc.constantFrom(...keys), field), { maxLength: 3 }), (event, mutations) => {
        const e: Record<string, unknown> = { ...event };
        for (const [k, v] of mutations) e[k] = v;
        const fast = isPlainValidEvent(e);
        const schema = usageEventSchema.safeParse(e).success;
        if (fast) expect(schema).toBe(true);
        if (!mutations.length && event.requestId.length <= 128) expect(fast).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("takes small flat metadata, and only what the schema accepts", () => {
    fc.assert(
      fc.property(valid, plainMetadata, (event, metadata) => {
        const e = { ...event, metadata };
        expect(usageEventSchema.safeParse(e).success).toBe(true);
        if (event.requestId.length <= 128) expect(isPlainValidEvent(e)).toBe(true);
      }),
      { numRuns: 1000 },
    );
    // Near the 4096-byte bound: escaped characters count twice, so the fast path declines before the schema would refuse.
    const big = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, '"'.repeat(500)]));
    const e = { requestId: "r", occurredAt: new Date(recent).toISOString(), accountId: "a", apiKeyId: "k", model: "m", inputTokens: 1, outputTokens: 1, cacheCreateTokens: 0, cacheReadTokens: 0, cost: "0.1", metadata: big };
    expect(isPlainValidEvent(e)).toBe(false);
    expect(usageEventSchema.safeParse(e).success).toBe(false);
  });
});
