import { describe, expect, it } from "vitest";
import { fixture, type Dump, type FixtureRequest } from "./crs.fixtures";
import { ACCOUNT_FAMILIES, crsCalendar, parseServiceRates } from "./layout";
import { isUnmapped, keyServiceRates, mapAccount, mapApiKey, mapRecord, type RateContext } from "./mapping";

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
