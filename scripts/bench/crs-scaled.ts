/**
 * The fixture's aged CRS Redis scaled to many API keys (each of its 12 keys copied with new ids),
 * and a measured crs:import of it into a database of its own: used by `npm run bench:crs` and by
 * `npm run bench` (its import figure beside COPY).
 */
import { Redis } from "ioredis";
import { fixture, type Dump } from "../../server/sources/crs/crs.fixtures";
import { importCrs } from "../../server/sources/crs/importer";
import { createRuntime, type Runtime } from "../../server/runtime";
import { createTestDatabase, dropRedisPrefix, testConfig, type TestDatabase } from "../../server/testing/stores";
import { startOwnRedis, type OwnRedis } from "../../server/testing/servers";

/** The fixture's anchor: the instant its aged dump describes. */
export const CRS_ANCHOR = Date.parse("2026-12-02T04:32:39.000Z");

export async function loadScaled(redis: Redis, dump: Dump, copies: number): Promise<number> {
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

export interface CrsImportFigures {
  keys: number;
  redisKeys: number;
  events: number;
  aggregateEvents: number;
  seconds: number;
  eventsPerSecond: number;
}

export interface ScaledCrs {
  crs: OwnRedis;
  client: Redis;
  db: TestDatabase;
  runtime: Runtime;
  figures: CrsImportFigures;
  close(): Promise<void>;
}

/** Loads the scaled dump into a redis-server of its own and imports it into a database of its own. */
export async function importScaledCrs(wantKeys: number, log: (s: string) => void = () => {}): Promise<ScaledCrs> {
  const dump = fixture<Dump>("dump-aged.json");
  const copies = Math.max(1, Math.ceil(wantKeys / 12));
  const crs = await startOwnRedis();
  const client = new Redis(crs.url);
  const db = await createTestDatabase({ migrated: true });
  const runtime = await createRuntime(testConfig({ DATABASE_URL: db.url, USAGE_TIMEZONE: "Asia/Shanghai", LOG_LEVEL: "error" }), { ownDatabase: true });
  const close = async () => {
    await runtime.close();
    await db.drop();
    await dropRedisPrefix(runtime.config.redisKeyPrefix);
    client.disconnect();
    crs.destroy();
  };
  try {
    const t0 = performance.now();
    const redisKeys = await loadScaled(client, dump, copies);
    log(`   loaded ${redisKeys} CRS keys (${copies * 12} API keys) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const report = await importCrs(runtime, client, { offsetHours: 8, now: () => CRS_ANCHOR });
    const events = report.records.events + report.aggregates.events;
    log(`   import: ${events} events (${report.aggregates.events} aggregate) from ${report.apiKeys} keys in ${(report.durationMs / 1000).toFixed(1)} s = ${report.eventsPerSecond} events/s`);
    const figures = { keys: copies * 12, redisKeys, events, aggregateEvents: report.aggregates.events, seconds: report.durationMs / 1000, eventsPerSecond: report.eventsPerSecond };
    return { crs, client, db, runtime, figures, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
