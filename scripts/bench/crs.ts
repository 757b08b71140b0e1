/**
 * npm run bench:crs [-- --keys 5000,50000] [--import-keys 5000]
 *
 * The claude-relay-service figures.
 * 1. crs:import: the fixture's aged CRS Redis scaled to `--import-keys` API keys (each of its 12
 *    keys copied with new ids), imported into a database of its own (events/s).
 * 2. The follower at each size of `--keys`: a CRS Redis of its own with that many keys (a key
 *    hash, counters and a record each, 10 % of them active in the last hour, the last-used index
 *    CRS's key index service keeps), followed into a database of its own: Redis commands per
 *    poll with nothing new, after 1 request and after 100 requests on 100 keys — through CRS's
 *    last-used index, and through the hourly index as a CRS without it is read — and the lag from
 *    a request written to its event in PostgreSQL with the follower on its 2 s timer.
 * Writes bench/crs-results.json and its section of bench/RESULTS.md.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { writeLikeCrs, type FixtureRequest } from "../../server/sources/crs/crs.fixtures";
import { CrsFollower, type PollResult } from "../../server/sources/crs/follower";
import { crsCalendar } from "../../server/sources/crs/layout";
import { recordRequestId } from "../../server/sources/crs/mapping";
import { createRuntime } from "../../server/runtime";
import { createTestDatabase, dropRedisPrefix, testConfig } from "../../server/testing/stores";
import { startOwnRedis, waitFor } from "../../server/testing/servers";
import { importScaledCrs, type CrsImportFigures } from "./crs-scaled";
import { writeResultsSection } from "./report";

const { values } = parseArgs({ options: { keys: { type: "string", default: "5000,50000" }, "import-keys": { type: "string", default: "5000" } } });
const sizes = values.keys.split(",").map(Number);
const importKeys = Number(values["import-keys"]);
const ACCOUNT = "bench-claude-account";
const HOUR = 3_600_000;
/** bench:crs lag: one request this often (not a divisor of the follower's 2 s timer). */
const ARRIVAL_INTERVAL_MS = 700;
const cal = crsCalendar(8);

const keyId = (i: number) => {
  const h = createHash("sha256").update(`bench-key-${i}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

/** One request of key `i` at `ms`, as CRS records it. */
function request(i: number, ms: number, seq: number): FixtureRequest {
  const occurredAt = new Date(ms).toISOString();
  const tokens = { inputTokens: 1000 + (seq % 97), outputTokens: 200 + (seq % 31), cacheCreateTokens: 0, cacheReadTokens: 5000, ephemeral5mTokens: 0, ephemeral1hTokens: 0 };
  const realCost = Math.round(tokens.inputTokens * 3 + tokens.outputTokens * 15 + tokens.cacheReadTokens * 0.3) / 1e7;
  const json = JSON.stringify({ timestamp: occurredAt, model: "claude-sonnet-4-20250514", accountId: ACCOUNT, accountType: "claude-official", requestId: `b${seq}`, ...tokens, cost: Number(realCost.toFixed(6)), realCost: Number(realCost.toFixed(6)), costBreakdown: { total: realCost } });
  return { seq, occurredAt, occurredAtMs: ms, crsDate: cal.day(ms), crsMonth: cal.month(ms), apiKeyId: keyId(i), accountId: ACCOUNT, crsAccountType: "claude-official", model: "claude-sonnet-4-20250514", ...tokens, realCost, ratedCost: realCost, realCostUsd8: realCost.toFixed(8), ratedCostUsd8: realCost.toFixed(8), crsRecordJson: json, eventRequestId: "" };
}

/** A CRS of `n` keys at `nowMs`: each with its hash, counters and one record; 10 % used in the last hour. */
async function loadCrs(redis: Redis, n: number, nowMs: number): Promise<void> {
  let p = redis.pipeline();
  p.hset(`claude:account:${ACCOUNT}`, { id: ACCOUNT, name: "bench account", status: "active", isActive: "true", priority: "50" });
  p.sadd("claude:account:index", ACCOUNT);
  p.set("apikey:index:version", "2");
  p.hset("usage:global:total", "requests", String(n * 10));
  for (let i = 0; i < n; i++) {
    const id = keyId(i);
    const active = i % 10 === 0;
    const last = active ? nowMs - ((i * 7919) % HOUR) : nowMs - HOUR - ((i * 7919) % (30 * 24 * HOUR));
    p.hset(`apikey:${id}`, { id, name: `bench key ${i}`, isActive: "true", claudeAccountId: ACCOUNT, apiKey: createHash("sha256").update(id).digest("hex"), lastUsedAt: new Date(last).toISOString() });
    p.hset(`usage:${id}`, "totalRequests", "10");
    p.lpush(`usage:records:${id}`, request(i, last, i).crsRecordJson);
    p.zadd("apikey:idx:lastUsedAt", last, id);
    if (active) {
      const local = new Date(last + 8 * HOUR).toISOString();
      p.sadd(`usage:hourly:index:${local.slice(0, 10)}:${local.slice(11, 13)}`, id);
    }
    if (i % 2000 === 1999) {
      await p.exec();
      p = redis.pipeline();
    }
  }
  await p.exec();
}

interface FollowerFigures {
  via: string;
  firstStartCommands: number;
  idleCommands: number;
  oneRequest: { commands: number; ms: number; candidates: number; events: number };
  hundredRequests: { commands: number; ms: number; candidates: number; events: number };
}

async function measureFollower(n: number, withIndex: boolean): Promise<{ figures: FollowerFigures; lagMs?: { median: number; max: number; samples: number } }> {
  const crs = await startOwnRedis();
  const client = new Redis(crs.url);
  const db = await createTestDatabase({ migrated: true });
  const runtime = await createRuntime(testConfig({ DATABASE_URL: db.url, USAGE_TIMEZONE: "Asia/Shanghai", LOG_LEVEL: "error" }), { ownDatabase: true });
  const followerRedis = new Redis(crs.url);
  try {
    const t0 = Date.now();
    await loadCrs(client, n, t0);
    if (!withIndex) await client.del("apikey:idx:lastUsedAt", "apikey:index:version");
    const follower = new CrsFollower(runtime, followerRedis, { owner: "bench", offsetHours: 8 });
    const first = await follower.pollOnce();
    // Settle: the first poll after the start reads the hourly index once and sets the cursor.
    let idle: PollResult = await follower.pollOnce();
    for (let i = 0; i < 5 && idle.commands > 1; i++) idle = await follower.pollOnce();
    const timed = async () => {
      const s = performance.now();
      const r = await follower.pollOnce();
      return { commands: r.commands, ms: Math.round(performance.now() - s), candidates: r.candidates, events: r.events, via: r.via };
    };
    await writeLikeCrs(client, request(n - 1, Date.now(), 1), { lastUsedIndex: withIndex });
    const one = await timed();
    for (let i = 0; i < 100; i++) await writeLikeCrs(client, request((i * 37) % n, Date.now(), 100 + i), { lastUsedIndex: withIndex });
    const hundred = await timed();
    const figures: FollowerFigures = { via: hundred.via, firstStartCommands: first.commands, idleCommands: idle.commands, oneRequest: one, hundredRequests: hundred };
    if (!withIndex) return { figures };
    // Lag: the follower on its timer (2 s), a request every ARRIVAL_INTERVAL_MS; how long until each is in PostgreSQL.
    follower.start();
    const lags: number[] = [];
    for (let s = 0; s < 15; s++) {
      const r = request((s * 101) % n, Date.now(), 1000 + s);
      const written = Date.now();
      await writeLikeCrs(client, r, { lastUsedIndex: true });
      const id = recordRequestId(r.apiKeyId, r.crsRecordJson);
      // Polled every 20 ms: the lag is measured to that resolution.
      const followed = () => runtime.db!.db.selectFrom("usage_request_ids").select("request_id").where("request_id", "=", id).executeTakeFirst();
      await waitFor(followed, `request ${id} followed`, 30_000, 20);
      lags.push(Date.now() - written);
      // The workload's arrival schedule, not a wait for anything: one request per ~0.7 s lands at
      // every phase of the follower's 2 s timer, so the lags sample its whole range.
      await new Promise((res) => setTimeout(res, ARRIVAL_INTERVAL_MS));
    }
    await follower.stop();
    lags.sort((a, b) => a - b);
    return { figures, lagMs: { median: lags[Math.floor(lags.length / 2)]!, max: lags.at(-1)!, samples: lags.length } };
  } finally {
    followerRedis.disconnect();
    client.disconnect();
    await runtime.close();
    await db.drop();
    await dropRedisPrefix(runtime.config.redisKeyPrefix);
    crs.destroy();
  }
}

async function main() {
  console.log(`1. crs:import of the fixture's CRS scaled to ${importKeys} keys`);
  const scaled = await importScaledCrs(importKeys, console.log);
  const importFigures: CrsImportFigures = scaled.figures;
  await scaled.close();
  const followers: { keys: number; index: FollowerFigures; lagMs: { median: number; max: number; samples: number }; noIndex: FollowerFigures }[] = [];
  for (const n of sizes) {
    console.log(`2. follower at ${n.toLocaleString("en")} keys (CRS's last-used index)`);
    const index = await measureFollower(n, true);
    console.log(JSON.stringify(index));
    console.log(`   … and a CRS without it (hourly index)`);
    const noIndex = await measureFollower(n, false);
    console.log(JSON.stringify(noIndex));
    followers.push({ keys: n, index: index.figures, lagMs: index.lagMs!, noIndex: noIndex.figures });
  }
  const results = { measuredAt: new Date().toISOString(), import: importFigures, followers };
  fs.writeFileSync(path.resolve(import.meta.dirname, "../../bench/crs-results.json"), JSON.stringify(results, null, 2) + "\n");
  const f = (x: number) => x.toLocaleString("en");
  const section = [
    "<!-- crs:begin (npm run bench:crs) -->",
    "## claude-relay-service: import and follower",
    "",
    `\`npm run bench:crs\`, ${results.measuredAt.slice(0, 10)}. Import: the fixture's aged CRS Redis scaled to ${f(importFigures.keys)} API keys (${f(importFigures.redisKeys)} Redis keys; 40 days of records, residual day and month aggregates on 1 key in 12):`,
    "",
    "| figure | value |",
    "| --- | --- |",
    `| crs:import | ${f(importFigures.events)} events in ${importFigures.seconds.toFixed(1)} s = **${f(importFigures.eventsPerSecond)} events/s** (COPY reference in this file: rows/s into usage_records) |`,
    "",
    "The follower on a CRS of N keys (a hash, counters and a record each; 10 % used in the last hour), Redis commands per poll. With CRS's last-used index (`apikey:idx:lastUsedAt`, kept by CRS's key index service since late 2025) the keys that changed are one ZRANGEBYSCORE; a CRS without it is read through its hourly key index (1 HGET per key active in the hours since the last read):",
    "",
    "| keys | via | nothing new | after 1 request | after 100 requests (100 keys) | poll time after 100 | first start, once | lag request → PostgreSQL (2 s timer) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...followers.flatMap((x) => [
      `| ${f(x.keys)} | last-used index | ${x.index.idleCommands} | **${x.index.oneRequest.commands}** | **${x.index.hundredRequests.commands}** | ${x.index.hundredRequests.ms} ms | ${f(x.index.firstStartCommands)} | median ${f(x.lagMs.median)} ms, max ${f(x.lagMs.max)} ms (${x.lagMs.samples} requests) |`,
      `| ${f(x.keys)} | hourly index (no last-used index) | ${x.noIndex.idleCommands} | ${f(x.noIndex.oneRequest.commands)} | ${f(x.noIndex.hundredRequests.commands)} | ${x.noIndex.hundredRequests.ms} ms | ${f(x.noIndex.firstStartCommands)} | — |`,
    ]),
    "",
    "With the index the commands after a request follow the keys that changed (3 + 2 per changed key: the global counter, the index and the service rates; each key's counter and its new records — a key's rates and bindings come from the metadata sync, which reads every key's hash anyway), whatever the number of keys CRS holds; through the hourly index they follow the keys active in the last hour. Every 150 polls (~5 minutes) the follower reads the hourly index once anyway, as a safety net.",
    "",
    "<!-- crs:end -->",
  ].join("\n");
  writeResultsSection("crs", section);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
