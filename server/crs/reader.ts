import type { Redis } from "ioredis";
import { addDays } from "../usage/local-time";
import { ACCOUNT_FAMILIES, crsKeys, type CrsCalendar } from "./layout";
import { parseCounters, type CrsCounters, type KeyAggregates } from "./mapping";

/**
 * Every command sent to a CRS Redis: reads only (no write, no KEYS, no blocking command). Scans
 * use SCAN with COUNT, reads go in pipelines of bounded size, so memory stays bounded.
 */

export const SCAN_COUNT = 1000;
/** Commands per pipeline: a bound on memory and on the time one batch holds CRS's Redis. */
export const PIPELINE_SIZE = 500;

export type CrsHash = Record<string, string>;

/** Counts the commands it sends (the follower's figure of cost per poll). */
export class CrsReader {
  commands = 0;
  constructor(readonly redis: Redis) {}

  private async pipelined<T>(items: readonly string[], add: (p: ReturnType<Redis["pipeline"]>, item: string) => void): Promise<T[]> {
    const out: T[] = [];
    for (let i = 0; i < items.length; i += PIPELINE_SIZE) {
      const p = this.redis.pipeline();
      const slice = items.slice(i, i + PIPELINE_SIZE);
      for (const it of slice) add(p, it);
      this.commands += slice.length;
      const res = (await p.exec()) ?? [];
      for (const [err, v] of res) {
        if (err) throw err;
        out.push(v as T);
      }
    }
    return out;
  }

  /** SCAN MATCH pattern, one batch of key names at a time. */
  async *scan(match: string, count = SCAN_COUNT): AsyncGenerator<string[]> {
    let cursor = "0";
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", match, "COUNT", count);
      this.commands++;
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== "0");
  }

  /** API key ids, in batches (`apikey:{id}`; `apikey:hash_map` and sub-keys are not keys). */
  async *apiKeyIds(): AsyncGenerator<string[]> {
    for await (const keys of this.scan(crsKeys.apiKeyPattern)) {
      const ids = keys.map((k) => k.slice("apikey:".length)).filter((id) => id && id !== "hash_map" && !id.includes(":"));
      if (ids.length) yield ids;
    }
  }

  async hashes(keys: readonly string[]): Promise<CrsHash[]> {
    return this.pipelined<CrsHash>(keys, (p, k) => p.hgetall(k));
  }

  async sets(keys: readonly string[]): Promise<string[][]> {
    return this.pipelined<string[]>(keys, (p, k) => p.smembers(k));
  }

  async strings(keys: readonly string[]): Promise<(string | null)[]> {
    return this.pipelined<string | null>(keys, (p, k) => p.get(k));
  }

  /** Every account hash of every platform family, through each family's index set or, without one, a SCAN. */
  async accounts(): Promise<{ family: (typeof ACCOUNT_FAMILIES)[number]; id: string; hash: CrsHash }[]> {
    const out: { family: (typeof ACCOUNT_FAMILIES)[number]; id: string; hash: CrsHash }[] = [];
    for (const family of ACCOUNT_FAMILIES) {
      let ids: string[] = await this.redis.smembers(`${family.prefix}index`);
      this.commands++;
      if (!ids.length) {
        ids = [];
        for await (const keys of this.scan(`${family.prefix}*`)) {
          for (const k of keys) {
            const id = k.slice(family.prefix.length);
            if (id && !id.includes(":") && id !== "index") ids.push(id);
          }
        }
      }
      const hashes = await this.hashes(ids.map((id) => `${family.prefix}${id}`));
      ids.forEach((id, i) => {
        if (Object.keys(hashes[i]!).length) out.push({ family, id, hash: hashes[i]! });
      });
    }
    return out;
  }

  /** Each key's request counter (`usage:{key}` totalRequests): one HGET per key, pipelined. */
  async keyStates(ids: readonly string[]): Promise<Map<string, { totalRequests: number }>> {
    const totals = await this.pipelined<string | null>(ids, (p, id) => p.hget(crsKeys.keyTotals(id), "totalRequests"));
    return new Map(ids.map((id, i) => [id, { totalRequests: Number(totals[i] ?? 0) || 0 }]));
  }

  /** The newest `count` records of each key (all with count undefined), newest first. */
  async records(ids: readonly string[], count?: number): Promise<Map<string, string[]>> {
    const stop = count === undefined ? -1 : count - 1;
    const lists = await this.pipelined<string[]>(ids, (p, id) => p.lrange(crsKeys.records(id), 0, stop));
    return new Map(ids.map((id, i) => [id, lists[i] ?? []]));
  }

  async serviceRatesJson(): Promise<string | null> {
    this.commands++;
    return this.redis.get(crsKeys.serviceRates);
  }

  /** `usage:global:total` requests: rises with every request of every key (step 1 of a write). */
  async globalRequests(): Promise<number> {
    this.commands++;
    return Number((await this.redis.hget(crsKeys.globalTotal, "requests")) ?? 0) || 0;
  }

  /**
   * Models CRS has aggregated in the last year: the monthly model indexes and the daily ones of
   * the last 32 days. A key's aggregate hashes are then read by name, not scanned for.
   */
  async knownModels(cal: CrsCalendar, nowMs: number): Promise<string[]> {
    const months: string[] = await this.redis.smembers("usage:model:monthly:months");
    this.commands++;
    const today = cal.day(nowMs);
    const sets = [...months.map((m) => `usage:model:monthly:index:${m}`), ...Array.from({ length: 33 }, (_, i) => `usage:model:daily:index:${addDays(today, -i)}`)];
    const members = await this.pipelined<string[]>(sets, (p, k) => p.smembers(k));
    return [...new Set(members.flat())].sort();
  }

  /** A key's aggregate hashes (per model: days of the last 32 days, months of the last 13, all time) and cost strings. */
  async aggregates(keyId: string, models: readonly string[], cal: CrsCalendar, nowMs: number): Promise<KeyAggregates> {
    const today = cal.day(nowMs);
    const days = Array.from({ length: 34 }, (_, i) => addDays(today, -i));
    const months = [...new Set(Array.from({ length: 400 }, (_, i) => addDays(today, -i).slice(0, 7)))];
    const names: { key: string; model: string; kind: "d" | "m" | "a"; bucket: string }[] = [];
    for (const model of models) {
      for (const d of days) names.push({ key: crsKeys.keyModelDaily(keyId, model, d), model, kind: "d", bucket: d });
      for (const m of months) names.push({ key: crsKeys.keyModelMonthly(keyId, model, m), model, kind: "m", bucket: m });
      names.push({ key: crsKeys.keyModelAllTime(keyId, model), model, kind: "a", bucket: "all" });
    }
    const hashes = await this.hashes(names.map((n) => n.key));
    const out: KeyAggregates = {
      keyId,
      daily: new Map(),
      monthly: new Map(),
      allTime: new Map(),
      realCostTotal: null,
      ratedCostTotal: null,
      realCostDaily: new Map(),
      ratedCostDaily: new Map(),
    };
    const put = (map: Map<string, Map<string, CrsCounters>>, model: string, bucket: string, c: CrsCounters) => {
      let m = map.get(model);
      if (!m) map.set(model, (m = new Map()));
      m.set(bucket, c);
    };
    names.forEach((n, i) => {
      const h = hashes[i]!;
      if (!Object.keys(h).length) return;
      const c = parseCounters(h);
      if (n.kind === "d") put(out.daily, n.model, n.bucket, c);
      else if (n.kind === "m") put(out.monthly, n.model, n.bucket, c);
      else out.allTime.set(n.model, c);
    });
    const costKeys = [crsKeys.realCostTotal(keyId), crsKeys.ratedCostTotal(keyId), ...days.map((d) => crsKeys.realCostDaily(keyId, d)), ...days.map((d) => crsKeys.ratedCostDaily(keyId, d))];
    const costs = await this.strings(costKeys);
    out.realCostTotal = costs[0] ?? null;
    out.ratedCostTotal = costs[1] ?? null;
    days.forEach((d, i) => {
      const real = costs[2 + i];
      const rated = costs[2 + days.length + i];
      if (real) out.realCostDaily.set(d, real);
      if (rated) out.ratedCostDaily.set(d, rated);
    });
    return out;
  }

  /**
   * CRS's UTC offset, from the data: the offsets (whole hours, -12…+14) under which the hourly
   * (else daily) bucket of each sampled record exists. CRS does not store its TIMEZONE_OFFSET.
   */
  async detectOffsetHours(samples: { keyId: string; ms: number }[]): Promise<number[]> {
    let candidates = Array.from({ length: 27 }, (_, i) => i - 12);
    for (const s of samples) {
      const names = candidates.map((o) => {
        const local = new Date(s.ms + o * 3_600_000).toISOString();
        return [`usage:hourly:${s.keyId}:${local.slice(0, 10)}:${local.slice(11, 13)}`, `usage:daily:${s.keyId}:${local.slice(0, 10)}`] as const;
      });
      const exists = await this.pipelined<number>(names.flat(), (p, k) => p.exists(k));
      const hourly = candidates.filter((_, i) => exists[2 * i] === 1);
      const daily = candidates.filter((_, i) => exists[2 * i + 1] === 1);
      const next = hourly.length ? hourly : daily;
      if (next.length) candidates = next;
    }
    return candidates;
  }
}
