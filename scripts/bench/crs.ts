/**
 * npm run bench:crs — the claude-relay-service figures: the fixture's aged CRS Redis scaled to
 * `--keys` API keys (default 5,000: each of its 12 keys copied with new ids, ~1.3M Redis keys),
 * imported with crs:import (events/s), then the follower's commands per poll at that size. Own
 * redis-server for CRS, own PostgreSQL database, a Redis key prefix of its own. Writes the figures
 * between markers in bench/RESULTS.md and into bench/crs-results.json.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { createRuntime } from "../../server/runtime";
import { fixture, writeLikeCrs, type Dump, type FixtureRequest } from "../../server/crs/crs.fixtures";
import { CrsFollower } from "../../server/crs/follower";
import { importCrs } from "../../server/crs/importer";
import { createTestDatabase, dropRedisPrefix, testConfig } from "../../server/testing/stores";
import { startOwnRedis } from "../../server/usage/test-servers";

const { values } = parseArgs({ options: { keys: { type: "string", default: "5000" } } });
const wantKeys = Number(values.keys);
const ANCHOR = Date.parse("2026-12-02T04:32:39.000Z");

async function loadScaled(redis: Redis, dump: Dump, copies: number): Promise<number> {
  const keyIds = Object.keys(dump.keys).filter((k) => /^apikey:[0-9a-f-]{36}$/.test(k)).map((k) => k.slice(7));
  const idOf = (id: string, c: number) => (c === 0 ? id : `${c.toString(16).padStart(8, "0")}${id.slice(8)}`);
  const sub = (s: string, c: number) => keyIds.reduce((t, id) => t.split(id).join(idOf(id, c)), s);
  let p = redis.pipeline();
  let n = 0;
  const flush = async () => {
    if (++n % 2000 === 0) {
      await p.exec();
      p = redis.pipeline();
    }
  };
  for (const [key, v] of Object.entries(dump.keys)) {
    const perKey = keyIds.some((id) => key.includes(id)) || (v.type === "set" && v.value.some((m) => keyIds.some((id) => m.includes(id))));
    for (let c = 0; c < (perKey ? copies : 1); c++) {
      const k = sub(key, c);
      if (v.type === "string") p.set(k, v.value);
      else if (v.type === "hash") p.hset(k, Object.fromEntries(Object.entries(v.value).map(([f, x]) => [f, f === "id" ? sub(x, c) : x])));
      else if (v.type === "list") p.rpush(k, ...v.value);
      else if (v.type === "set") p.sadd(k, ...v.value.map((m) => sub(m, c)));
      else if (v.type === "zset") p.zadd(k, ...v.value.flatMap(([m, s]) => [s, sub(m, c)]));
      else if (c === 0) for (const e of v.value) p.xadd(k, e.id, ...Object.entries(e.fields).flat());
      await flush();
    }
  }
  await p.exec();
  return Number(await redis.dbsize());
}

async function main() {
  const dump = fixture<Dump>("dump-aged.json");
  const copies = Math.ceil(wantKeys / 12);
  const crs = await startOwnRedis();
  const client = new Redis(crs.url);
  const db = await createTestDatabase({ migrated: true });
  const runtime = await createRuntime(testConfig({ DATABASE_URL: db.url, USAGE_TIMEZONE: "Asia/Shanghai", LOG_LEVEL: "error" }), { ownDatabase: true });
  try {
    const t0 = performance.now();
    const redisKeys = await loadScaled(client, dump, copies);
    console.log(`loaded ${redisKeys} CRS keys (${copies * 12} API keys) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const report = await importCrs(runtime, client, { offsetHours: 8, now: () => ANCHOR });
    const events = report.records.events + report.aggregates.events;
    console.log(`import: ${events} events (${report.aggregates.events} aggregate) from ${report.apiKeys} keys in ${(report.durationMs / 1000).toFixed(1)} s = ${report.eventsPerSecond} events/s`);

    const followerRedis = new Redis(crs.url);
    const follower = new CrsFollower(runtime, followerRedis, { owner: "bench", now: () => ANCHOR + 1000, offsetHours: 8 });
    const first = await follower.pollOnce(); // first start: watermarks for every key, metadata sync
    const idle = await follower.pollOnce();
    const requests = fixture<{ requests: FixtureRequest[] }>("requests.json").requests;
    const last = requests.at(-1)!;
    await writeLikeCrs(client, { ...last, occurredAtMs: ANCHOR + 500, occurredAt: new Date(ANCHOR + 500).toISOString(), crsRecordJson: last.crsRecordJson.replace(last.occurredAt, new Date(ANCHOR + 500).toISOString()) });
    const one = await follower.pollOnce();
    const afterOne = await follower.pollOnce();
    const figures = {
      keys: copies * 12,
      redisKeys,
      importEvents: events,
      importSeconds: report.durationMs / 1000,
      importEventsPerSecond: report.eventsPerSecond,
      followerFirstPollCommands: first.commands,
      followerIdlePollCommands: idle.commands,
      followerOneRequestPollCommands: one.commands,
      followerOneRequestEvents: one.events,
      followerActiveKeysInHour: one.keysChanged,
      followerNextPollCommands: afterOne.commands,
    };
    console.log(JSON.stringify(figures, null, 2));
    await follower.stop();
    // The follower does not own the client it was given: without this the process never exits.
    followerRedis.disconnect();
    fs.writeFileSync(path.resolve(import.meta.dirname, "../../bench/crs-results.json"), JSON.stringify({ measuredAt: new Date().toISOString(), ...figures }, null, 2) + "\n");
    const md = path.resolve(import.meta.dirname, "../../bench/RESULTS.md");
    const section = [
      "<!-- crs:begin (npm run bench:crs) -->",
      "## claude-relay-service: import and follower",
      "",
      `The fixture's aged CRS Redis scaled to ${figures.keys.toLocaleString("en")} API keys (${redisKeys.toLocaleString("en")} Redis keys; 40 days of records, residual day and month aggregates on 1 key in 12), \`npm run bench:crs\`:`,
      "",
      "| figure | value |",
      "| --- | --- |",
      `| crs:import | ${events.toLocaleString("en")} events in ${figures.importSeconds.toFixed(1)} s = **${figures.importEventsPerSecond.toLocaleString("en")} events/s** (COPY reference in this file: rows/s into usage_records) |`,
      `| follower, poll with nothing new | **${figures.followerIdlePollCommands} command** |`,
      `| follower, poll after 1 request | ${figures.followerOneRequestPollCommands} commands (${figures.followerActiveKeysInHour} key in CRS's hourly index; ${figures.followerOneRequestEvents} event) |`,
      `| follower, first start (watermarks for every key, metadata) | ${figures.followerFirstPollCommands.toLocaleString("en")} commands, once |`,
      "",
      "<!-- crs:end -->",
    ].join("\n");
    let text = fs.readFileSync(md, "utf8");
    text = /<!-- crs:begin[\s\S]*<!-- crs:end -->/.test(text) ? text.replace(/<!-- crs:begin[\s\S]*<!-- crs:end -->/, section) : `${text.trimEnd()}\n\n${section}\n`;
    fs.writeFileSync(md, text);
  } finally {
    await runtime.close();
    await db.drop();
    await dropRedisPrefix(runtime.config.redisKeyPrefix);
    client.disconnect();
    crs.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
