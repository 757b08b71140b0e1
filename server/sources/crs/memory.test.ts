import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../runtime";
import { createTestRuntime, type TestRuntime } from "../../testing/runtime";
import { startOwnRedis, type OwnRedis } from "../../testing/servers";
import { FAMILY_ANCHOR, familyFixture, writeFamilyMetadata, writeFamilyRequests } from "./families.fixtures";
import { CrsFollower } from "./follower";
import { importCrs } from "./importer";
import { MAX_MODELS } from "./reader";

/**
 * Memory stays flat whatever CRS's Redis holds: a key with a list of 1,000,000 records (CRS keeps
 * 200) and a model index of 200,000 names. Peak resident memory of this process is sampled while
 * the import runs and while the follower fills the key's gap; before the bounds, the same data
 * took 1.87 GB (the list) and 3.0 GB (the names).
 */

const TZ = "Asia/Shanghai";
const BIG = "k-million";
const RECORDS = 1_000_000;
const NAMES = 200_000;
/** Growth of resident memory allowed over the run (the unbounded reads grew by gigabytes). */
const MAX_GROWTH_MB = 300;

let crs: OwnRedis;
let client: Redis;
let ledger: TestRuntime;
let runtime: Runtime;

/** Runs `fn` while sampling this process's RSS; returns the peak growth over the start, in MB. */
async function peakGrowthMb(fn: () => Promise<unknown>): Promise<number> {
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return Math.round((peak - start) / 1e6);
}

async function plant(c: Redis, totalRequests: number) {
  const head = (i: number) =>
    JSON.stringify({ timestamp: new Date(FAMILY_ANCHOR - 3_600_000 - i * 1000).toISOString(), model: "claude-sonnet-4-20250514", accountId: null, inputTokens: 1, outputTokens: 1, cost: 0, realCost: 0 });
  await c.hset(`apikey:${BIG}`, { id: BIG, name: "a million records", isActive: "true" });
  for (let i = 0; i < RECORDS; i += 20_000) await c.rpush(`usage:records:${BIG}`, ...Array.from({ length: 20_000 }, (_, j) => head(i + j)));
  await c.hset(`usage:${BIG}`, "totalRequests", String(totalRequests));
  await c.sadd("usage:model:monthly:months", "2026-11", "2026-12");
  for (let i = 0; i < NAMES; i += 20_000) await c.sadd("usage:model:monthly:index:2026-12", ...Array.from({ length: 20_000 }, (_, j) => `fake-model-${i + j}`));
}

beforeAll(async () => {
  crs = await startOwnRedis();
  client = new Redis(crs.url);
  const fx = familyFixture("v1.1.314");
  await writeFamilyMetadata(client, fx);
  await writeFamilyRequests(client, fx);
  ledger = await createTestRuntime({ USAGE_TIMEZONE: TZ, LOG_LEVEL: "error" });
  runtime = ledger.runtime;
}, 120_000);

afterAll(async () => {
  await ledger?.close();
  client?.disconnect();
  crs?.destroy();
});

describe("memory on a CRS holding a million-record list and a 200,000-name model index", () => {
  it("the import reads CRS's 200 records and a bounded number of names, in flat memory", async () => {
    await plant(client, RECORDS);
    let report: Awaited<ReturnType<typeof importCrs>> | undefined;
    const growth = await peakGrowthMb(async () => (report = await importCrs(runtime, client, { offsetHours: 8, now: () => FAMILY_ANCHOR })));
    console.log(`[memory] import: peak RSS growth ${growth} MB`);
    expect(growth).toBeLessThan(MAX_GROWTH_MB);
    const big = await runtime.db!.db.selectFrom("usage_key_totals").select("requests").where("api_key_id", "=", BIG).executeTakeFirstOrThrow();
    expect(Number(big.requests)).toBe(200);
    expect(report!.rejections.byReason["more model names than are looked for"]).toBe(1);
    expect(report!.rejections.named.find((n) => n.reason === "more model names than are looked for")!.detail).toContain(String(MAX_MODELS));
  }, 240_000);

  it("the follower's gap fill after a burst of a million requests too", async () => {
    const other = await createTestRuntime({ USAGE_TIMEZONE: TZ, LOG_LEVEL: "error" });
    const c = new Redis(crs.url);
    try {
      await c.del(`usage:records:${BIG}`, `usage:${BIG}`);
      const clock = { ms: FAMILY_ANCHOR };
      const follower = new CrsFollower(other.runtime, c, { owner: "node-a", now: () => clock.ms, offsetHours: 8 });
      await follower.pollOnce(); // watermarks at CRS's present: the key has nothing yet
      await plant(c, RECORDS);
      // As CRS leaves a burst: the global counter, the key in its last-used and hourly indexes.
      await c.hincrby("usage:global:total", "requests", RECORDS);
      await c.zadd("apikey:idx:lastUsedAt", FAMILY_ANCHOR + 500, BIG);
      await c.sadd(`usage:hourly:index:${new Date(FAMILY_ANCHOR + 8 * 3_600_000).toISOString().slice(0, 13).replace("T", ":")}`, BIG);
      const polls: Awaited<ReturnType<CrsFollower["pollOnce"]>>[] = [];
      const growth = await peakGrowthMb(async () => {
        for (let i = 0; i < 4; i++) {
          clock.ms += 1000;
          polls.push(await follower.pollOnce());
        }
      });
      console.log(`[memory] follower: peak RSS growth ${growth} MB`);
      expect(growth).toBeLessThan(MAX_GROWTH_MB);
      expect(polls.reduce((s, p) => s + p.gapsDetected, 0)).toBe(1);
      expect(polls.reduce((s, p) => s + p.gapsFilled, 0)).toBe(1);
      await follower.stop();
    } finally {
      c.disconnect();
      await other.close();
    }
  }, 240_000);
});
