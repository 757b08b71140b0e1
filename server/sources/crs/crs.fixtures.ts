import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Redis } from "ioredis";
import { crsCalendar, normalizeCrsModel } from "./layout";

/**
 * Tests only: the shared CRS fixture (../shared/fixtures/crs beside the clone, never copied into
 * the repo), a loader of its dumps into a Redis of the test's own, and a writer that records a
 * request the way CRS v1.1.314 does (the steps and keys of the fixture's README, our own code).
 */

export const FIXTURE_DIR = path.resolve(import.meta.dirname, "../../../../shared/fixtures/crs");

type DumpValue =
  | { type: "string"; value: string }
  | { type: "hash"; value: Record<string, string> }
  | { type: "list"; value: string[] }
  | { type: "set"; value: string[] }
  | { type: "zset"; value: [string, number][] }
  | { type: "stream"; value: { id: string; fields: Record<string, string> }[] };

export interface Dump {
  meta: { anchor: string; timezoneOffsetHours: number };
  keys: Record<string, DumpValue>;
}

const cache = new Map<string, unknown>();
export function fixture<T>(name: string): T {
  if (!cache.has(name)) cache.set(name, JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, name), "utf8")));
  return cache.get(name) as T;
}

/** Writes every key of a dump, without TTLs (the test runs long after the anchor). */
export async function loadDump(redis: Redis, dump: Dump, filter: (key: string) => boolean = () => true): Promise<number> {
  let p = redis.pipeline();
  let n = 0;
  for (const [key, v] of Object.entries(dump.keys)) {
    if (!filter(key)) continue;
    if (v.type === "string") p.set(key, v.value);
    else if (v.type === "hash") p.hset(key, v.value);
    else if (v.type === "list") p.rpush(key, ...v.value);
    else if (v.type === "set") p.sadd(key, ...v.value);
    else if (v.type === "zset") p.zadd(key, ...v.value.flatMap(([m, s]) => [s, m]));
    else for (const e of v.value) p.xadd(key, e.id, ...Object.entries(e.fields).flat());
    if (++n % 500 === 0) {
      await p.exec();
      p = redis.pipeline();
    }
  }
  await p.exec();
  return n;
}

export interface FixtureRequest {
  seq: number;
  occurredAt: string;
  occurredAtMs: number;
  crsDate: string;
  crsMonth: string;
  apiKeyId: string;
  accountId: string;
  crsAccountType: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  cacheCreateTokens: number;
  cacheReadTokens: number;
  ephemeral5mTokens: number;
  ephemeral1hTokens: number;
  realCost: number;
  ratedCost: number;
  realCostUsd8: string;
  ratedCostUsd8: string;
  crsRecordJson: string;
  eventRequestId: string;
}

/** Which CRS writes: v1.1.314 (the shared fixture's), or the later refactored stores (cost first, atomic last-used index). */
export type CrsLayoutVersion = "v1.1.314" | "newer";

export interface WriteOptions {
  offsetHours?: number;
  layout?: CrsLayoutVersion;
  /** CRS's API key index service keeps `apikey:idx:lastUsedAt` (v1.1.314 when it runs; always in the newer stores). */
  lastUsedIndex?: boolean;
}

/**
 * Records one request as CRS does, in its order and with its separate round trips. v1.1.314:
 * counters (key, key × model, global, hourly/daily/monthly, indexes), cost strings, the key hash
 * (and, when the index service runs, a separate ZADD of the last-used index), account counters,
 * then the record (LPUSH + LTRIM 200). The newer stores: the cost first — a dedupe marker and the
 * all-time costs in one atomic step, then the day/month/hour costs —, then the counters, the key
 * hash and its last-used index in one MULTI, account counters, the record. Only what the importer
 * and follower read.
 */
export async function writeLikeCrs(redis: Redis, r: FixtureRequest, options: number | WriteOptions = 8): Promise<void> {
  const opts = typeof options === "number" ? { offsetHours: options } : options;
  const offsetHours = opts.offsetHours ?? 8;
  const newer = opts.layout === "newer";
  const cal = crsCalendar(offsetHours);
  const day = cal.day(r.occurredAtMs);
  const month = cal.month(r.occurredAtMs);
  const hour = `${day}:${new Date(r.occurredAtMs + offsetHours * 3_600_000).toISOString().slice(11, 13)}`;
  const model = normalizeCrsModel(r.model);
  const k = r.apiKeyId;
  const core = r.inputTokens + r.outputTokens;
  const all = core + r.cacheCreateTokens + r.cacheReadTokens;
  const realMicro = Math.round(r.realCost * 1e6);
  const ratedMicro = Math.round(r.ratedCost * 1e6);
  const costs = async () => {
    if (!(r.realCost > 0)) return;
    if (newer) {
      await redis.multi().set(`usage:cost:dedup:${randomUUID()}`, "1", "EX", 600).incrbyfloat(`usage:cost:total:${k}`, r.ratedCost).incrbyfloat(`usage:cost:real:total:${k}`, r.realCost).exec();
    }
    const c = redis.pipeline();
    c.incrbyfloat(`usage:cost:daily:${k}:${day}`, r.ratedCost);
    c.incrbyfloat(`usage:cost:real:daily:${k}:${day}`, r.realCost);
    c.incrbyfloat(`usage:cost:monthly:${k}:${month}`, r.ratedCost);
    c.incrbyfloat(`usage:cost:hourly:${k}:${hour}`, r.ratedCost);
    if (!newer) {
      c.incrbyfloat(`usage:cost:total:${k}`, r.ratedCost);
      c.incrbyfloat(`usage:cost:real:total:${k}`, r.realCost);
    }
    await c.exec();
  };
  if (newer) await costs();
  const p = redis.pipeline();
  const tokenFields = (h: string, prefix = "") => {
    const f = (n: string) => (prefix ? `${prefix}${n[0]!.toUpperCase()}${n.slice(1)}` : n);
    p.hincrby(h, f("requests"), 1);
    p.hincrby(h, f("inputTokens"), r.inputTokens);
    p.hincrby(h, f("outputTokens"), r.outputTokens);
    p.hincrby(h, f("cacheCreateTokens"), r.cacheCreateTokens);
    p.hincrby(h, f("cacheReadTokens"), r.cacheReadTokens);
    p.hincrby(h, f("ephemeral5mTokens"), r.ephemeral5mTokens);
    p.hincrby(h, f("ephemeral1hTokens"), r.ephemeral1hTokens);
    p.hincrby(h, f("allTokens"), all);
  };
  tokenFields(`usage:${k}`, "total");
  for (const [h, extra] of [
    [`usage:${k}:model:daily:${model}:${day}`, true],
    [`usage:${k}:model:monthly:${model}:${month}`, true],
    [`usage:${k}:model:alltime:${model}`, true],
    [`usage:daily:${k}:${day}`, false],
    [`usage:monthly:${k}:${month}`, false],
    [`usage:hourly:${k}:${hour}`, false],
    ["usage:global:total", false],
  ] as const) {
    tokenFields(h);
    if (extra) {
      p.hincrby(h, "realCostMicro", realMicro);
      p.hincrby(h, "ratedCostMicro", ratedMicro);
    }
  }
  p.sadd(`usage:hourly:index:${hour}`, k);
  p.sadd(`usage:daily:index:${day}`, k);
  p.sadd(`usage:keymodel:daily:index:${day}`, `${k}:${model}`);
  p.sadd(`usage:model:daily:index:${day}`, model);
  p.sadd("usage:model:monthly:months", month);
  p.sadd(`usage:model:monthly:index:${month}`, model);
  await p.exec();
  if (!newer) await costs();
  if (newer) await redis.multi().hset(`apikey:${k}`, "lastUsedAt", r.occurredAt).zadd("apikey:idx:lastUsedAt", r.occurredAtMs, k).exec();
  else {
    await redis.hset(`apikey:${k}`, "lastUsedAt", r.occurredAt);
    if (opts.lastUsedIndex) await redis.zadd("apikey:idx:lastUsedAt", r.occurredAtMs, k);
  }
  if (r.accountId) await redis.hincrby(`account_usage:${r.accountId}`, "totalRequests", 1);
  await redis.multi().lpush(`usage:records:${k}`, r.crsRecordJson).ltrim(`usage:records:${k}`, 0, 199).exec();
}
