import { describe, expect, it } from "vitest";
import { fixture, type Dump, type FixtureRequest } from "./crs.fixtures";
import { ACCOUNT_FAMILIES, crsCalendar, parseServiceRates } from "./layout";
import { UNATTRIBUTED_ACCOUNT_ID, isUnmapped, keyServiceRates, mapAccount, mapApiKey, mapRecord, parseCounters, platformOfRecordType, type RateContext } from "./mapping";
import { fieldsOfJson } from "./reader";

/** The mapping of CRS data against the fixture's ground truth, request by request. */

const dump = fixture<Dump>("dump-aged.json");
const requests = fixture<{ requests: FixtureRequest[] }>("requests.json").requests;
const hash = (key: string) => (dump.keys[key] as { value: Record<string, string> } | undefined)?.value;
const rates: RateContext = {
  globalRates: parseServiceRates((dump.keys["system:service_rates"] as { value: string }).value),
  keyRates: (keyId) => keyServiceRates(hash(`apikey:${keyId}`)),
};

describe("mapRecord", () => {
  it("gives each of the 536 requests its content-derived id, real cost and rated cost (8 decimals), and CRS day", () => {
    const cal = crsCalendar(8);
    const mismatches = requests.flatMap((r): unknown[] => {
      const m = mapRecord(r.apiKeyId, r.crsRecordJson, cal, rates);
      if (isUnmapped(m)) return [[r.seq, m.reason]];
      const got = [m.event.requestId, m.event.cost, m.event.ratedCost, m.crsDay, m.event.occurredAt, m.event.inputTokens, m.event.cacheCreateTokens, m.event.ephemeral1hTokens];
      const want = [r.eventRequestId, r.realCostUsd8, r.ratedCostUsd8, r.crsDate, r.occurredAt, r.inputTokens, r.cacheCreateTokens, r.ephemeral1hTokens];
      return JSON.stringify(got) === JSON.stringify(want) ? [] : [[r.seq, got, want]];
    });
    expect(mismatches).toEqual([]);
  });

  it("names the model as CRS's aggregates do (':latest' stripped) and keeps the raw one in metadata", () => {
    const r = requests.find((x) => x.model.endsWith(":latest"))!;
    const m = mapRecord(r.apiKeyId, r.crsRecordJson, crsCalendar(8), rates);
    expect(isUnmapped(m) ? null : [m.event.model, m.event.metadata?.crsModel]).toEqual(["gemini-2.5-pro", r.model]);
  });
});

describe("accounts and keys", () => {
  it("map to the fixture's upsert bodies", () => {
    const accounts = fixture<{ upserts: { path: string; body: Record<string, unknown> }[] }>("accounts.json").upserts;
    for (const u of accounts) {
      const id = u.path.split("/").pop()!;
      const family = ACCOUNT_FAMILIES.find((f) => hash(`${f.prefix}${id}`))!;
      expect(mapAccount(family, id, hash(`${family.prefix}${id}`)!)).toEqual({ id, ...u.body });
    }
    const keys = fixture<{ upserts: { path: string; thenDelete: boolean; body: Record<string, unknown> }[] }>("api-keys.json").upserts;
    expect(keys).toHaveLength(12);
    for (const u of keys) {
      const id = u.path.split("/").pop()!;
      const m = mapApiKey(id, hash(`apikey:${id}`)!);
      expect([id, m.input, m.deleted]).toEqual([id, { id, ...u.body }, u.thenDelete]);
    }
  });
});

describe("the charge CRS made, and the account a record names", () => {
  const cal = crsCalendar(8);
  const none: RateContext = { globalRates: { claude: 1.2, codex: 1, gemini: 1 }, keyRates: () => ({}) };
  const rec = (over: Record<string, unknown>) =>
    JSON.stringify({ timestamp: "2026-11-20T01:00:00.000Z", model: "claude-sonnet-4", accountId: "a1", accountType: "claude-official", inputTokens: 1, outputTokens: 1, realCost: 0.0123457, costBreakdown: { total: 0.01234567 }, ...over });
  const mapped = (json: string) => {
    const m = mapRecord("k1", json, cal, none);
    if (isUnmapped(m)) throw new Error(m.reason);
    return m;
  };

  it("recomputes the rated cost with all its decimals when that is what CRS recorded, else takes CRS's figure", () => {
    // 0.01234567 × 1.2 = 0.014814804, recorded by CRS as 0.014815
    expect(mapped(rec({ cost: 0.014815 })).event.ratedCost).toBe("0.0148148");
    // CRS charged otherwise (a per-model rate of 1.5 on top): its 6-decimal charge is taken
    expect(mapped(rec({ cost: 0.022222 })).event.ratedCost).toBe("0.022222");
    // A record of a CRS before rated costs (no realCost): the real cost under today's rates
    expect(mapped(rec({ realCost: undefined, cost: 0.0123457 })).event.ratedCost).toBe("0.0148148");
  });

  it("strips the family prefix a binding carries from the record's account id, and keeps it otherwise", () => {
    expect(mapped(rec({ accountId: "responses:r1", accountType: "openai-responses" })).event.accountId).toBe("r1");
    expect(mapped(rec({ accountId: "api:g1", accountType: "gemini" })).event.accountId).toBe("g1");
    expect(mapped(rec({ accountId: "responses:r1", accountType: "openai" })).event.accountId).toBe("responses:r1");
    expect(mapped(rec({ accountId: null })).event.accountId).toBe(UNATTRIBUTED_ACCOUNT_ID);
  });

  it("names the platform of an account known only from records after its accountType", () => {
    expect(platformOfRecordType("bedrock")).toBe("bedrock");
    expect(platformOfRecordType("claude-official")).toBe("claude");
    expect(platformOfRecordType("Vertex AI")).toBe("vertex-ai");
    expect(platformOfRecordType(undefined)).toBe("crs-unknown");
  });

  it("reads a JSON account's fields as text, a field named __proto__ staying a field", () => {
    const f = fieldsOfJson('{"name":"B","isActive":false,"priority":7,"subscriptionExpiresAt":null,"__proto__":{"polluted":1}}')!;
    expect(Object.entries(f)).toEqual([["name", "B"], ["isActive", "false"], ["priority", "7"], ["__proto__", '{"polluted":1}']]);
    expect(Object.getPrototypeOf(f)).toBe(Object.prototype);
    expect(fieldsOfJson("[1,2]")).toBeUndefined();
    expect(fieldsOfJson("null")).toBeUndefined();
    expect(mapAccount({ prefix: "bedrock_account:", platform: "bedrock" }, "b1", f)).toMatchObject({ name: "B", status: "inactive", priority: 7 });
  });

  it("refuses counters that are not non-negative integers instead of reading them as 0", () => {
    expect(parseCounters({ requests: "3", inputTokens: "10" })).toMatchObject({ requests: 3, inputTokens: 10, outputTokens: 0 });
    expect(parseCounters({ requests: "-1" })).toEqual({ bad: 'requests "-1"' });
    expect(parseCounters({ inputTokens: "1.5" })).toEqual({ bad: 'inputTokens "1.5"' });
    expect(parseCounters({ outputTokens: "1".repeat(30) })).toHaveProperty("bad");
  });
});
