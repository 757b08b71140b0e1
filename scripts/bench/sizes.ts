import type { RedisClient } from "../../server/redis";
import type pg from "pg";

/** Bytes of every key under the prefix (MEMORY USAGE), except request-id dedupe keys, which are counted and sampled. */
export interface RedisSnapshot {
  bytes: Map<string, number>;
  dedupeKeys: string[];
}

export async function redisSnapshot(redis: RedisClient, prefix: string): Promise<RedisSnapshot> {
  const names: string[] = [];
  const dedupeKeys: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 5000);
    cursor = next;
    for (const k of keys) (k.includes(":rid:") ? dedupeKeys : names).push(k);
  } while (cursor !== "0");
  const bytes = new Map<string, number>();
  for (let i = 0; i < names.length; i += 1000) {
    const chunk = names.slice(i, i + 1000);
    const p = redis.pipeline();
    for (const k of chunk) p.call("MEMORY", "USAGE", k, "SAMPLES", "0");
    const res = (await p.exec()) ?? [];
    chunk.forEach((k, j) => bytes.set(k, Number(res[j]?.[1] ?? 0)));
  }
  return { bytes, dedupeKeys };
}

export interface RedisFigures {
  activeApiKeys: number;
  /** API keys with a counter record for today (from the history's reconcile and the ingest). */
  keysActiveToday: number;
  /** Every key of today's window (the account's counters and key-counters hashes) / keysActiveToday. */
  dayBytesPerActiveKey: number;
  dayWindowBytes: number;
  counterKeysWritten: number;
  counterBytesAdded: number;
  /** Counter bytes the ingest added (new keys, and growth of existing ones) per API key it used. */
  bytesPerActiveKeyPerDay: number;
  dedupeKeys: number;
  dedupeBytesPerEvent: number;
  outboxBytesAfterDrain: number;
}

export async function redisFigures(redis: RedisClient, prefix: string, before: RedisSnapshot, after: RedisSnapshot, activeApiKeys: number, events: number, today: string): Promise<RedisFigures> {
  let dayBytes = 0;
  let keysToday = 0;
  const daySuffix = `:d:${today}`;
  for (const [k, b] of after.bytes) {
    if (!k.endsWith(daySuffix)) continue;
    dayBytes += b;
    // One field per API key in the account's key-counters hash of the day (server/usage/hot-keys.ts).
    if (k.includes("}:k:")) keysToday += await redis.hlen(k);
  }
  let added = 0;
  let written = 0;
  let outbox = 0;
  for (const [k, b] of after.bytes) {
    if (k.endsWith("outbox") || k.endsWith("outbox:dead")) {
      outbox += b;
      continue;
    }
    const d = b - (before.bytes.get(k) ?? 0);
    if (d !== 0 || !before.bytes.has(k)) written++;
    added += Math.max(0, d);
  }
  // Dedupe keys all have the same shape: a sample gives their size.
  const sample = after.dedupeKeys.slice(0, 2000);
  let sampled = 0;
  if (sample.length) {
    const p = redis.pipeline();
    for (const k of sample) p.call("MEMORY", "USAGE", k, "SAMPLES", "0");
    sampled = ((await p.exec()) ?? []).reduce((s, r) => s + Number(r[1] ?? 0), 0);
  }
  const dedupeBytes = sample.length ? (sampled / sample.length) * (after.dedupeKeys.length - before.dedupeKeys.length) : 0;
  return {
    activeApiKeys,
    keysActiveToday: keysToday,
    dayBytesPerActiveKey: keysToday ? Math.round(dayBytes / keysToday) : 0,
    dayWindowBytes: dayBytes,
    counterKeysWritten: written,
    counterBytesAdded: added,
    bytesPerActiveKeyPerDay: activeApiKeys ? Math.round(added / activeApiKeys) : 0,
    dedupeKeys: after.dedupeKeys.length - before.dedupeKeys.length,
    dedupeBytesPerEvent: events ? Math.round(dedupeBytes / events) : 0,
    outboxBytesAfterDrain: outbox,
  };
}

export interface PgFigures {
  records: number;
  usageRecordsBytes: number;
  usageRecordsHeapBytes: number;
  usageRecordsIndexBytes: number;
  bytesPerRecord: number;
  requestIdsBytesPerRecord: number;
  rollupBytes: number;
  days: number;
  rollupRowsPerDay: { accountDaily: number; keyDaily: number; modelDaily: number; allDaily: number };
}

export async function pgFigures(pool: pg.Pool): Promise<PgFigures> {
  const q = async (text: string) => (await pool.query(text)).rows[0] as Record<string, string>;
  const parts = await q(`
    SELECT coalesce(sum(pg_table_size(c.oid)), 0)::text AS heap, coalesce(sum(pg_indexes_size(c.oid)), 0)::text AS idx
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_records'::regclass`);
  const records = Number((await q(`SELECT count(*)::text AS n FROM usage_records`)).n);
  const rid = Number((await q(`SELECT pg_total_relation_size('usage_request_ids')::text AS b`)).b);
  const ridRows = Number((await q(`SELECT count(*)::text AS n FROM usage_request_ids`)).n);
  const rollups = Number(
    (await q(`SELECT sum(pg_total_relation_size(t::regclass))::text AS b FROM unnest(ARRAY['usage_account_daily','usage_account_monthly','usage_account_totals','usage_key_daily','usage_key_monthly','usage_key_totals','usage_model_daily','usage_model_monthly','usage_model_totals']) t`)).b,
  );
  const c = await q(`SELECT (SELECT count(DISTINCT usage_date) FROM usage_account_daily)::text AS days,
                            (SELECT count(*) FROM usage_account_daily)::text AS a,
                            (SELECT count(*) FROM usage_key_daily)::text AS k,
                            (SELECT count(*) FROM usage_model_daily)::text AS m`);
  const heap = Number(parts.heap);
  const idx = Number(parts.idx);
  const days = Number(c.days);
  const per = (n: string) => Math.round((Number(n) / Math.max(1, days)) * 10) / 10;
  return {
    records,
    usageRecordsBytes: heap + idx,
    usageRecordsHeapBytes: heap,
    usageRecordsIndexBytes: idx,
    bytesPerRecord: Math.round((heap + idx) / Math.max(1, records)),
    requestIdsBytesPerRecord: Math.round(rid / Math.max(1, ridRows)),
    rollupBytes: rollups,
    days,
    rollupRowsPerDay: { accountDaily: per(c.a!), keyDaily: per(c.k!), modelDaily: per(c.m!), allDaily: per(String(Number(c.a) + Number(c.k) + Number(c.m))) },
  };
}
