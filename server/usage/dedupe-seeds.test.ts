import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getTestStores } from "../config";
import { createRedis, type RedisClient } from "../redis";
import { dropRedisPrefix, uniqueName } from "../testing/stores";
import { DedupeSeeds, MAX_PENDING } from "./dedupe-seeds";
import { DEDUPE_TTL_SECONDS, hotKeys } from "./hot-keys";

/** The ids that bypassed Redis get their dedupe keys once it answers again (on the real Redis). */

const prefix = `${uniqueName("seed").slice(0, 24)}:`;
let redis: RedisClient;

beforeAll(async () => {
  redis = createRedis(getTestStores().redisUrl);
  await redis.connect();
});

afterAll(async () => {
  redis?.disconnect();
  await dropRedisPrefix(prefix);
});

describe("DedupeSeeds", () => {
  it("writes each pending id's dedupe key with the dedupe TTL, never over an existing one, then holds nothing", async () => {
    const seeds = new DedupeSeeds();
    const k = hotKeys(prefix);
    await redis.set(k.dedupe("acc-2", "r-2"), "r");
    const ids = Array.from({ length: 12_345 }, (_, i) => ({ accountId: `acc-${i % 3}`, requestId: `r-${i}` }));
    seeds.add(ids);
    seeds.add(ids.slice(0, 10)); // again: still one each
    expect(seeds.size).toBe(12_345);
    // Two writers at once wait for the same write.
    await Promise.all([seeds.flush(redis, prefix), seeds.flush(redis, prefix)]);
    expect(seeds.size).toBe(0);
    const values = await redis.mget(...ids.map((e) => k.dedupe(e.accountId, e.requestId)));
    expect(values.filter((v) => v === "1").length).toBe(12_344);
    expect(values[2]).toBe("r"); // the reconciler's mark is kept
    const ttl = await redis.ttl(k.dedupe("acc-0", "r-0"));
    expect(ttl).toBeGreaterThan(DEDUPE_TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(DEDUPE_TTL_SECONDS);
  });

  it("keeps the ids when Redis fails, so that the writer does not count either", async () => {
    const seeds = new DedupeSeeds();
    seeds.add([{ accountId: "acc-x", requestId: "r-x" }]);
    const down = createRedis("redis://127.0.0.1:1");
    await expect(seeds.flush(down, prefix)).rejects.toThrow();
    down.disconnect();
    expect(seeds.size).toBe(1);
    await seeds.flush(redis, prefix);
    expect(await redis.get(hotKeys(prefix).dedupe("acc-x", "r-x"))).toBe("1");
  });

  it("is bounded: past MAX_PENDING the oldest ids are dropped", () => {
    const seeds = new DedupeSeeds();
    seeds.add(Array.from({ length: MAX_PENDING + 5 }, (_, i) => ({ accountId: "a", requestId: String(i) })));
    expect(seeds.size).toBe(MAX_PENDING);
  });
});
