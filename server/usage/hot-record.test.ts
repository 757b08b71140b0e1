import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRedis } from "../redis";
import { getTestStores } from "../config";
import { dropRedisPrefix, uniqueName } from "../testing/stores";
import { ACCOUNT_FIELD, DEDUPE_TTL_SECONDS, hotKeys, modelField, unpackCounters } from "./hot-keys";
import { countHotEvents, recordLayout, recordScriptCall, recordScriptSha } from "./hot-record";
import { unlockAccounts } from "./hot-reconcile";
import { dayExpireAt, monthExpireAt } from "./local-time";
import { normalizeEvent, type NormalizedEvent } from "./normalize";
import { startOwnRedis, type OwnRedis } from "../testing/servers";

/**
 * The KEYS/ARGV layout recordScriptCall() builds is the one lua/record-usage.lua reads: run on a
 * real Redis, every key the layout names is written as hot-keys.ts describes, and no other.
 */

const TZ = "Asia/Shanghai";
// A fixed clock: today is 2026-11-18 in Shanghai, the old event is too old for day/month keys.
const NOW_MS = Date.parse("2026-11-18T06:00:00Z");

/** n tokens' worth; `rated`: a rated cost of 3× the real one (else none: rated = real). */
function event(requestId: string, occurredAt: string, apiKeyId: string, model: string, n: number, rated = false): NormalizedEvent {
  const usd = (x: number) => `0.${String(x).padStart(8, "0")}`;
  return normalizeEvent(
    {
      requestId, occurredAt, accountId: "acc:{1}", apiKeyId, model, inputTokens: 100 * n, outputTokens: 10 * n, cacheCreateTokens: n, cacheReadTokens: 2 * n,
      cost: usd(n), ...(rated ? { ratedCost: usd(3 * n) } : {}),
    },
    TZ,
  );
}

const EVENTS = [
  event("r1", "2026-11-18T01:00:00Z", "key-a", "m-1", 1, true),
  event("r2", "2026-11-18T02:00:00Z", "key-b", "m-2", 2),
  event("r3", "2026-11-02T02:00:00Z", "key-a", "m-2", 3),
  event("r-old", "2024-01-05T02:00:00Z", "key-a", "m-1", 4, true),
];

const prefixes: string[] = [];
const redis = createRedis(getTestStores().redisUrl);
afterEach(async () => {
  while (prefixes.length) await dropRedisPrefix(prefixes.pop()!);
});
beforeAll(() => redis.connect());
afterAll(() => redis.disconnect());

function newPrefix(): string {
  const p = `${uniqueName("hr").slice(0, 24)}:`;
  prefixes.push(p);
  return p;
}

async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== "0");
  return out.sort();
}

describe("the recording script's KEYS/ARGV layout", () => {
  it("names the lock, the held set, each window's two hashes (all time first) and each dedupe key", () => {
    const k = hotKeys("p:");
    const a = "acc:{1}";
    const layout = recordLayout("p:", EVENTS, NOW_MS / 1000);
    const { keys, argv } = recordScriptCall(layout);
    const today = { kind: "d", date: "2026-11-18" } as const;
    const month = { kind: "m", month: "2026-11" } as const;
    const nov2 = { kind: "d", date: "2026-11-02" } as const;
    expect(keys).toEqual([
      k.reconcileLock(a), k.reconcileHeld(a),
      k.counters(a, { kind: "t" }), k.keyCounters(a, { kind: "t" }),
      k.counters(a, today), k.keyCounters(a, today),
      k.counters(a, month), k.keyCounters(a, month),
      k.counters(a, nov2), k.keyCounters(a, nov2),
      ...["r1", "r2", "r3", "r-old"].map((id) => k.dedupe(a, id)),
    ]);
    const r1 = Date.parse("2026-11-18T01:00:00Z");
    const r2 = Date.parse("2026-11-18T02:00:00Z");
    // ttl, windows, events, counters per record (COUNTER_FIELDS), which events the sums hold, then
    // per window its expiry and its number of fields in each hash, then the request ids.
    expect(argv.slice(0, 17)).toEqual([
      DEDUPE_TTL_SECONDS, 4, 4, 10, "1111",
      0, 1, 2,
      dayExpireAt("2026-11-18"), 3, 2,
      monthExpireAt("2026-11"), 3, 2,
      dayExpireAt("2026-11-02"), 2, 1,
    ]);
    expect(argv.slice(17, 21)).toEqual(["r1", "r2", "r3", "r-old"]);
    // Then per window (field, sum) pairs, each sum a stored record (real, then rated cost last).
    expect(argv.slice(21, 27)).toEqual([
      "_", `4,1000,100,10,20,0,0,1130,100,200,${r2}`,
      "key-a", `3,800,80,8,16,0,0,904,80,180,${r1},m-1`,
      "key-b", `1,200,20,2,4,0,0,226,20,20,${r2},m-2`,
    ]);
    expect(argv.slice(27, 33)).toEqual(["_", `2,300,30,3,6,0,0,339,30,50,${r2}`, "m:m-1", `1,100,10,1,2,0,0,113,10,30,${r1}`, "m:m-2", `1,200,20,2,4,0,0,226,20,20,${r2}`]);
    expect(argv.length).toBe(21 + 2 * (3 + 5 + 5 + 3));
  });

  it("sums a group's events per field: the latest use wins, a tie goes to the smallest model name", () => {
    const at = "2026-11-18T03:00:00Z";
    const tie = [event("t1", at, "key-a", "m-b", 1), event("t2", at, "key-a", "m-a", 1), event("t3", "2026-11-18T02:00:00Z", "key-a", "m-0", 1)];
    const { argv } = recordScriptCall(recordLayout("p:", tie, NOW_MS / 1000));
    const sumOf = (field: string) => argv[argv.indexOf(field) + 1];
    expect(sumOf("key-a")).toBe(`3,300,30,3,6,0,0,339,30,30,${Date.parse(at)},m-a`);
  });

  it("sums each request id once, and counts nothing twice when the dedupe keys disagree with the sums", async () => {
    const prefix = newPrefix();
    const k = hotKeys(prefix);
    const a = "acc:{1}";
    expect(await countHotEvents(redis, prefix, [EVENTS[1]!], NOW_MS)).toEqual([1]);
    // r2 is already counted: the first call's sums hold it, the script refuses them, the second counts r1 once.
    expect(await countHotEvents(redis, prefix, [EVENTS[0]!, EVENTS[1]!, EVENTS[0]!], NOW_MS)).toEqual([1, 0, 0]);
    const all = unpackCounters(await redis.hget(k.counters(a, { kind: "t" }), ACCOUNT_FIELD));
    expect(all).toMatchObject({ requests: 2n, inputTokens: 300n, costNanos: 30n, ratedCostNanos: 50n });
    // A call whose sums hold an event already counted writes nothing and says which events are new.
    const { keys, argv } = recordScriptCall(recordLayout(prefix, [EVENTS[2]!, EVENTS[1]!], NOW_MS / 1000, [true, true]));
    expect(await redis.evalsha(recordScriptSha, keys.length, ...keys, ...argv)).toBe("10");
    expect(await redis.exists(k.dedupe(a, "r3"))).toBe(0);
    expect(unpackCounters(await redis.hget(k.counters(a, { kind: "t" }), ACCOUNT_FIELD)).requests).toBe(2n);
  });

  it("writes exactly the keys of the layout on a real Redis, with their sums and expiries", async () => {
    const prefix = newPrefix();
    const k = hotKeys(prefix);
    const a = "acc:{1}";
    expect(await countHotEvents(redis, prefix, EVENTS, NOW_MS)).toEqual([1, 1, 1, 1]);
    const { keys } = recordScriptCall(recordLayout(prefix, EVENTS, NOW_MS / 1000));
    // Lock and held set are only read; the index hashes get placeholders.
    expect(await keysUnder(prefix)).toEqual([...keys.slice(2), k.accountIndex(), k.apiKeyIndex()].sort());

    const all = await redis.hgetall(k.counters(a, { kind: "t" }));
    expect(Object.keys(all)).toEqual([ACCOUNT_FIELD]);
    expect(unpackCounters(all[ACCOUNT_FIELD])).toMatchObject({ requests: 4n, inputTokens: 1000n, costNanos: 100n, ratedCostNanos: 200n, lastUsedAt: Date.parse("2026-11-18T02:00:00Z") });
    expect(all[ACCOUNT_FIELD]).toBe(`4,1000,100,10,20,0,0,1130,100,200,${Date.parse("2026-11-18T02:00:00Z")}`);
    const today = await redis.hgetall(k.counters(a, { kind: "d", date: "2026-11-18" }));
    expect(Object.keys(today).sort()).toEqual([ACCOUNT_FIELD, modelField("m-1"), modelField("m-2")].sort());
    const keysToday = await redis.hgetall(k.keyCounters(a, { kind: "d", date: "2026-11-18" }));
    expect(unpackCounters(keysToday["key-b"])).toMatchObject({ requests: 1n, costNanos: 20n, ratedCostNanos: 20n, lastModel: "m-2" });
    expect(unpackCounters(keysToday["key-a"])).toMatchObject({ requests: 1n, costNanos: 10n, ratedCostNanos: 30n, lastModel: "m-1" });
    const month = unpackCounters(await redis.hget(k.counters(a, { kind: "m", month: "2026-11" }), ACCOUNT_FIELD));
    expect(month).toMatchObject({ requests: 3n, costNanos: 60n, ratedCostNanos: 80n });

    expect(await redis.ttl(k.counters(a, { kind: "t" }))).toBe(-1);
    expect(await redis.expiretime(k.counters(a, { kind: "d", date: "2026-11-18" }))).toBe(dayExpireAt("2026-11-18"));
    expect(await redis.expiretime(k.keyCounters(a, { kind: "m", month: "2026-11" }))).toBe(monthExpireAt("2026-11"));
    const ttl = await redis.ttl(k.dedupe(a, "r1"));
    expect(ttl).toBeGreaterThan(DEDUPE_TTL_SECONDS - 60);

    // The same ids again are duplicates and change nothing.
    const before = await redis.hget(k.counters(a, { kind: "t" }), ACCOUNT_FIELD);
    expect(await countHotEvents(redis, prefix, EVENTS, NOW_MS)).toEqual([0, 0, 0, 0]);
    expect(await redis.hget(k.counters(a, { kind: "t" }), ACCOUNT_FIELD)).toBe(before);
  });

  it("holds events back while the account's reconcile lock exists", async () => {
    const prefix = newPrefix();
    const k = hotKeys(prefix);
    await redis.set(k.reconcileLock("acc:{1}"), "token", "PX", 60_000);
    expect(await countHotEvents(redis, prefix, EVENTS.slice(0, 2), NOW_MS)).toEqual([-1, -1]);
    expect((await redis.smembers(k.reconcileHeld("acc:{1}"))).sort()).toEqual(["r1", "r2"]);
    expect(await redis.exists(k.counters("acc:{1}", { kind: "t" }))).toBe(0);
    await unlockAccounts(redis, prefix, ["acc:{1}"], "token");
    expect(await countHotEvents(redis, prefix, EVENTS.slice(0, 2), NOW_MS)).toEqual([1, 1]);
  });
});

describe("scripts run by SHA", () => {
  let own: OwnRedis | undefined;
  afterAll(() => own?.destroy());

  it("are loaded again when Redis answers NOSCRIPT (a restart or SCRIPT FLUSH)", async () => {
    own = await startOwnRedis();
    const client = createRedis(own.url);
    await client.connect();
    try {
      expect(await countHotEvents(client, "t:", EVENTS.slice(0, 1), NOW_MS)).toEqual([1]);
      await client.script("FLUSH");
      expect(await countHotEvents(client, "t:", EVENTS.slice(1, 3), NOW_MS)).toEqual([1, 1]);
      await client.script("FLUSH");
      await client.set(hotKeys("t:").reconcileLock("acc:{1}"), "tok");
      await unlockAccounts(client, "t:", ["acc:{1}"], "tok");
      expect(await client.exists(hotKeys("t:").reconcileLock("acc:{1}"))).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});
