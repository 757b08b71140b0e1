import type { ChainableCommander, Redis } from "ioredis";
import { addDays } from "../../calendar";
import { ACCOUNT_FAMILIES, apiKeyIdOf, crsKeys, type AccountFamily, type CrsCalendar } from "./layout";
import { parseCounters, type KeyAggregates } from "./mapping";
import { RejectionLog, quote } from "../shared/rejections";

/**
 * Every command sent to a CRS Redis: reads only (no write, no KEYS, no blocking command). Scans
 * use SCAN / SSCAN with COUNT and every read is bounded — CRS's own 200-record trim, caps on
 * index sizes, value sizes checked before a value is read — so memory stays flat whatever CRS's
 * Redis holds. A key of an unexpected type or size is skipped into a RejectionLog, never thrown.
 */

export const SCAN_COUNT = 1000;
/** Commands per pipeline: a bound on memory and on the time one batch holds CRS's Redis. */
export const PIPELINE_SIZE = 500;
/** CRS keeps the newest 200 records per key (LTRIM 0 199): more is never read. */
export const MAX_RECORDS_PER_KEY = 200;
/** Keys whose record lists are read in one pipeline: ≤ 50 × 200 records in memory at once. */
export const RECORD_KEYS_PER_PIPELINE = 50;
/** Members read from one index set (a family's accounts, a model index). */
export const MAX_INDEX_MEMBERS = 100_000;
/** Model names whose aggregates are looked for (CRS's model indexes of the last year). */
export const MAX_MODELS = 2_000;
/** An account held as JSON, a hash: bigger is refused unread (a record: see mapping's MAX_RECORD_BYTES). */
export const MAX_STRING_BYTES = 1024 * 1024;
export const MAX_HASH_FIELDS = 1_000;

export type CrsHash = Record<string, string>;

/** One account as CRS keeps it, its fields as text (a JSON account's booleans and numbers too). */
export interface CrsAccountRow {
  family: AccountFamily;
  id: string;
  fields: CrsHash;
}

/** A command's reply or its own error (WRONGTYPE …): one key's problem is not the batch's. */
type Reply<T> = { ok: true; value: T } | { ok: false; error: Error };

const typeName = (t: unknown) => (typeof t === "string" ? t : "unknown");

/** A JSON object's top-level fields as text, the way CRS's hashes hold them; undefined if not an object. */
export function fieldsOfJson(text: string): CrsHash | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const out: CrsHash = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null || x === undefined) continue;
    // defineProperty: a field named __proto__ stays a field.
    Object.defineProperty(out, k, { value: typeof x === "string" ? x : JSON.stringify(x), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Counts the commands it sends (the follower's figure of cost per poll). */
export class CrsReader {
  commands = 0;
  /** Families with neither an index nor a key, and until when that is believed (CRS's own 1 h). */
  private readonly emptyFamilies = new Map<string, number>();

  constructor(readonly redis: Redis) {}

  private async settled<T>(items: readonly string[], add: (p: ChainableCommander, item: string, index: number) => void, batch = PIPELINE_SIZE): Promise<Reply<T>[]> {
    const out: Reply<T>[] = [];
    for (let i = 0; i < items.length; i += batch) {
      const p = this.redis.pipeline();
      const slice = items.slice(i, i + batch);
      slice.forEach((it, j) => add(p, it, i + j));
      this.commands += slice.length;
      const res = (await p.exec()) ?? [];
      for (const [err, v] of res) out.push(err ? { ok: false, error: err } : { ok: true, value: v as T });
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

  /** An index set's members, at most `max` (SSCAN, deduplicated); a non-set is skipped. */
  async indexMembers(key: string, skips: RejectionLog, max = MAX_INDEX_MEMBERS): Promise<string[]> {
    const seen = new Set<string>();
    let cursor = "0";
    try {
      do {
        const [next, members] = await this.redis.sscan(key, cursor, "COUNT", SCAN_COUNT);
        this.commands++;
        cursor = next;
        for (const m of members) {
          if (seen.size >= max) {
            skips.add("an index set holds more members than are read", key, `more than ${max}`);
            return [...seen];
          }
          seen.add(m);
        }
      } while (cursor !== "0");
    } catch (err) {
      skips.add("a key of the wrong type", key, (err as Error).message.slice(0, 120));
    }
    return [...seen];
  }

  /** API key ids, in batches (`apikey:{id}`; the hash map and CRS's `apikey:…:…` sub-keys are not keys). */
  async *apiKeyIds(): AsyncGenerator<string[]> {
    for await (const keys of this.scan(crsKeys.apiKeyPattern)) {
      const ids = keys.flatMap((k) => apiKeyIdOf(k) ?? []);
      if (ids.length) yield ids;
    }
  }

  /** Hashes that must be hashes (API keys): a key of another type, or too big, is skipped and counts. */
  async hashes(keys: readonly string[], skips: RejectionLog): Promise<(CrsHash | undefined)[]> {
    return this.entities(keys, skips, ["hash"]);
  }

  /**
   * Entities stored as a hash or as a string holding a JSON object (CRS has both; `allowed` says
   * which this kind may be): TYPE first, then HGETALL or GET; anything else, too big, or not a
   * JSON object is skipped and counts. Missing keys are undefined without a rejection.
   */
  async entities(keys: readonly string[], skips: RejectionLog, allowed: readonly ("hash" | "string")[] = ["hash", "string"]): Promise<(CrsHash | undefined)[]> {
    const types = await this.settled<string>(keys, (p, k) => p.type(k));
    const sizes = await this.settled<number>(keys, (p, k, i) => {
      const t = types[i]!;
      if (t.ok && t.value === "string") p.strlen(k);
      else p.hlen(k);
    });
    const plan = keys.map((k, i) => {
      const t = types[i]!;
      const s = sizes[i]!;
      if (!t.ok || !s.ok) {
        skips.add("a key of the wrong type", k, (t.ok ? (s as { error: Error }).error : t.error).message.slice(0, 80));
        return "skip";
      }
      if (t.value === "none") return "skip";
      if (!(allowed as readonly string[]).includes(t.value)) {
        skips.add("a key of the wrong type", k, `a ${typeName(t.value)}, expected ${allowed.map((x) => (x === "hash" ? "a hash" : "a JSON string")).join(" or ")}`);
        return "skip";
      }
      if (t.value === "string" && s.value > MAX_STRING_BYTES) {
        skips.add("a value too big to be CRS's", k, `${s.value} bytes`);
        return "skip";
      }
      if (t.value === "hash" && s.value > MAX_HASH_FIELDS) {
        skips.add("a hash too big to be CRS's", k, `${s.value} fields`);
        return "skip";
      }
      return t.value;
    });
    const toRead = keys.filter((_, i) => plan[i] !== "skip");
    const kinds = plan.filter((x) => x !== "skip");
    const values = await this.settled<CrsHash | string | null>(toRead, (p, k, i) => (kinds[i] === "hash" ? p.hgetall(k) : p.get(k)));
    const byKey = new Map(toRead.map((k, i) => [k, values[i]!]));
    return keys.map((k) => {
      const v = byKey.get(k);
      if (!v) return undefined;
      if (!v.ok) {
        skips.add("a key of the wrong type", k, v.error.message.slice(0, 80));
        return undefined;
      }
      if (v.value === null) return undefined;
      if (typeof v.value !== "string") return Object.keys(v.value).length ? v.value : undefined;
      const fields = fieldsOfJson(v.value);
      if (!fields) skips.add("a string that is not a JSON object", k, quote(v.value, 60));
      return fields;
    });
  }

  async sets(keys: readonly string[], skips: RejectionLog): Promise<string[][]> {
    const out: string[][] = [];
    for (const k of keys) out.push(await this.indexMembers(k, skips));
    return out;
  }

  async strings(keys: readonly string[]): Promise<(string | null)[]> {
    const replies = await this.settled<string | null>(keys, (p, k) => p.get(k));
    return replies.map((r) => (r.ok && (r.value === null || r.value.length <= 64) ? r.value : null));
  }

  /**
   * Every account of every family, a batch at a time: through each family's index set (what CRS
   * itself reads), or — for a CRS too old to keep one — one SCAN over the keyspace for all such
   * families together. A family CRS marked empty (`{index}:empty`) or found empty is not scanned
   * again for an hour.
   */
  async *accounts(skips: RejectionLog, nowMs = Date.now()): AsyncGenerator<CrsAccountRow[]> {
    const unindexed: AccountFamily[] = [];
    for (const family of ACCOUNT_FAMILIES) {
      if ((this.emptyFamilies.get(family.prefix) ?? 0) > nowMs) continue;
      const ids = await this.indexMembers(family.index, skips);
      if (ids.length) {
        for (let i = 0; i < ids.length; i += PIPELINE_SIZE) yield await this.accountRows(family, ids.slice(i, i + PIPELINE_SIZE), skips);
        continue;
      }
      this.commands++;
      if ((await this.redis.get(crsKeys.emptyIndexMarker(family.index)).catch(() => null)) === "1") this.emptyFamilies.set(family.prefix, nowMs + 3_600_000);
      else unindexed.push(family);
    }
    if (!unindexed.length) return;
    const found = new Set<AccountFamily>();
    for await (const keys of this.scan("*")) {
      for (const family of unindexed) {
        const ids = keys.flatMap((k) => {
          if (!k.startsWith(family.prefix)) return [];
          const id = k.slice(family.prefix.length);
          return id && !id.includes(":") && id !== "index" ? [id] : [];
        });
        if (!ids.length) continue;
        found.add(family);
        yield await this.accountRows(family, ids, skips);
      }
    }
    for (const family of unindexed) if (!found.has(family)) this.emptyFamilies.set(family.prefix, nowMs + 3_600_000);
  }

  private async accountRows(family: AccountFamily, ids: string[], skips: RejectionLog): Promise<CrsAccountRow[]> {
    const values = await this.entities(ids.map((id) => `${family.prefix}${id}`), skips);
    return ids.flatMap((id, i) => (values[i] ? [{ family, id, fields: values[i]! }] : []));
  }

  /** Ids among these that CRS keeps account counters for (`account_usage:{id}`): an account of this CRS. */
  async accountsWithUsage(ids: readonly string[]): Promise<Set<string>> {
    const replies = await this.settled<number>(ids, (p, id) => p.exists(crsKeys.accountUsage(id)));
    return new Set(ids.filter((_, i) => replies[i]!.ok && (replies[i] as { value: number }).value === 1));
  }

  /** Each key's request counter (`usage:{key}` totalRequests), pipelined; a bad counter reads as unknown. */
  async keyStates(ids: readonly string[], skips: RejectionLog): Promise<Map<string, { totalRequests: number }>> {
    const totals = await this.settled<string | null>(ids, (p, id) => p.hget(crsKeys.keyTotals(id), "totalRequests"));
    return new Map(
      ids.map((id, i) => {
        const r = totals[i]!;
        if (!r.ok) skips.add("a key of the wrong type", crsKeys.keyTotals(id), r.error.message.slice(0, 80));
        const text = r.ok ? r.value : null;
        const n = text !== null && /^\d{1,15}$/.test(text) ? Number(text) : 0;
        if (text !== null && !/^\d{1,15}$/.test(text)) skips.add("a counter that is not a non-negative integer", crsKeys.keyTotals(id), `totalRequests ${quote(text)}`);
        return [id, { totalRequests: n }];
      }),
    );
  }

  /**
   * The newest `count` records of each key (at most CRS's 200), newest first. A key that is not
   * a list reads as no records, counted (and its id put in `unreadable`).
   */
  async records(ids: readonly string[], skips: RejectionLog, count = MAX_RECORDS_PER_KEY, unreadable?: Set<string>): Promise<Map<string, string[]>> {
    const stop = Math.min(Math.max(1, count), MAX_RECORDS_PER_KEY) - 1;
    const lists = await this.settled<string[]>(ids, (p, id) => p.lrange(crsKeys.records(id), 0, stop), RECORD_KEYS_PER_PIPELINE);
    return new Map(
      ids.map((id, i) => {
        const r = lists[i]!;
        if (r.ok) return [id, r.value];
        skips.add("a key of the wrong type", crsKeys.records(id), `expected a list: ${r.error.message.slice(0, 80)}`);
        unreadable?.add(id);
        return [id, []];
      }),
    );
  }

  async serviceRatesJson(): Promise<string | null> {
    this.commands++;
    const v = await this.redis.get(crsKeys.serviceRates).catch(() => null);
    return v && v.length <= 64 * 1024 ? v : null;
  }

  /** `usage:global:total` requests: rises with every request of every key (step 1 of a write). */
  async globalRequests(): Promise<number> {
    this.commands++;
    const v = await this.redis.hget(crsKeys.globalTotal, "requests").catch(() => null);
    return v !== null && /^\d{1,15}$/.test(v) ? Number(v) : 0;
  }

  /**
   * Whether CRS keeps its last-used index of API keys: a sorted set, and CRS's index version says
   * it is built (CRS rebuilds it from scratch when the version is older; v1.1.314 writes 2).
   */
  async hasLastUsedIndex(): Promise<boolean> {
    this.commands += 2;
    const [type, version] = await Promise.all([this.redis.type(crsKeys.lastUsedIndex).catch(() => "none"), this.redis.get(crsKeys.apiKeyIndexVersion).catch(() => null)]);
    return type === "zset" && Number(version) >= 2;
  }

  /** The newest last-use time in that index (CRS's clock), undefined when it is empty. */
  async newestLastUse(): Promise<number | undefined> {
    this.commands++;
    const top = await this.redis.zrevrange(crsKeys.lastUsedIndex, 0, 0, "WITHSCORES");
    const ms = Number(top[1]);
    return top.length === 2 && Number.isFinite(ms) ? ms : undefined;
  }

  /** Keys used at or after `fromMs` by CRS's clock, with that time (ZRANGEBYSCORE, at most `limit`). */
  async keysUsedSince(fromMs: number, limit: number): Promise<{ id: string; ms: number }[]> {
    this.commands++;
    const flat = await this.redis.zrangebyscore(crsKeys.lastUsedIndex, Math.floor(fromMs), "+inf", "WITHSCORES", "LIMIT", 0, limit);
    const out: { id: string; ms: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) if (!flat[i]!.includes(":")) out.push({ id: flat[i]!, ms: Number(flat[i + 1]) });
    return out;
  }

  /**
   * Models CRS has aggregated in the last year: the monthly model indexes and the daily ones of
   * the last 32 days, at most MAX_MODELS names that can be model names here. A key's aggregate
   * hashes are then read by name, not scanned for.
   */
  async knownModels(cal: CrsCalendar, nowMs: number, skips: RejectionLog): Promise<string[]> {
    const months = (await this.indexMembers(crsKeys.modelMonths, skips, 400)).filter((m) => /^\d{4}-\d{2}$/.test(m));
    const today = cal.day(nowMs);
    const sets = [...months.map((m) => crsKeys.modelMonthlyIndex(m)), ...Array.from({ length: 33 }, (_, i) => crsKeys.modelDailyIndex(addDays(today, -i)))];
    const models = new Set<string>();
    for (const set of sets) {
      // Read no more of a set than could still matter (the names taken, and room for more): a
      // set of 200,000 names costs a few thousand of them.
      const members = await this.indexMembers(set, new RejectionLog(), MAX_MODELS + models.size + 1);
      for (const m of members) {
        if (models.has(m)) continue;
        if (!m || m.length > 128 || m.includes("\u0000")) {
          skips.add("a model name that cannot be one here", set, quote(m, 40));
          continue;
        }
        if (models.size >= MAX_MODELS) {
          skips.add("more model names than are looked for", set, `more than ${MAX_MODELS}; aggregates of the rest are not reconstructed`);
          return [...models].sort();
        }
        models.add(m);
      }
    }
    return [...models].sort();
  }

  /**
   * A key's aggregate hashes (per model it ever used — its all-time hash exists —: days of the
   * last 32 days, months of the last 13, all time) and cost strings.
   */
  async aggregates(keyId: string, allModels: readonly string[], cal: CrsCalendar, nowMs: number, skips: RejectionLog): Promise<KeyAggregates> {
    const used = await this.settled<number>(allModels, (p, m) => p.exists(crsKeys.keyModelAllTime(keyId, m)));
    const models = allModels.filter((_, i) => used[i]!.ok && (used[i] as { value: number }).value === 1);
    const today = cal.day(nowMs);
    const days = Array.from({ length: 34 }, (_, i) => addDays(today, -i));
    const months = [...new Set(Array.from({ length: 400 }, (_, i) => addDays(today, -i).slice(0, 7)))];
    const names: { key: string; model: string; kind: "d" | "m" | "a"; bucket: string }[] = [];
    for (const model of models) {
      for (const d of days) names.push({ key: crsKeys.keyModelDaily(keyId, model, d), model, kind: "d", bucket: d });
      for (const m of months) names.push({ key: crsKeys.keyModelMonthly(keyId, model, m), model, kind: "m", bucket: m });
      names.push({ key: crsKeys.keyModelAllTime(keyId, model), model, kind: "a", bucket: "all" });
    }
    const hashes = await this.settled<CrsHash>(names.map((n) => n.key), (p, k) => p.hgetall(k));
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
    const put = (map: Map<string, Map<string, ReturnType<typeof parseCounters>>>, model: string, bucket: string, c: ReturnType<typeof parseCounters>) => {
      let m = map.get(model);
      if (!m) map.set(model, (m = new Map()));
      m.set(bucket, c);
    };
    names.forEach((n, i) => {
      const r = hashes[i]!;
      if (!r.ok) {
        skips.add("a key of the wrong type", n.key, r.error.message.slice(0, 80));
        return;
      }
      if (!Object.keys(r.value).length) return;
      const c = parseCounters(r.value);
      if ("bad" in c) {
        skips.add("a counter that is not a non-negative integer", n.key, c.bad);
        return;
      }
      if (n.kind === "d") put(out.daily, n.model, n.bucket, c);
      else if (n.kind === "m") put(out.monthly, n.model, n.bucket, c);
      else out.allTime.set(n.model, c);
    });
    const costKeys = [crsKeys.realCostTotal(keyId), crsKeys.ratedCostTotal(keyId), ...days.map((d) => crsKeys.realCostDaily(keyId, d)), ...days.map((d) => crsKeys.ratedCostDaily(keyId, d))];
    const costs = (await this.strings(costKeys)).map((c) => (c !== null && /^\d+(\.\d+)?(e-\d+)?$/.test(c) ? c : null));
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
      const exists = (await this.settled<number>(names.flat(), (p, k) => p.exists(k))).map((r) => (r.ok ? r.value : 0));
      const hourly = candidates.filter((_, i) => exists[2 * i] === 1);
      const daily = candidates.filter((_, i) => exists[2 * i + 1] === 1);
      const next = hourly.length ? hourly : daily;
      if (next.length) candidates = next;
    }
    return candidates;
  }
}
