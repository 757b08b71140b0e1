import type { Redis } from "ioredis";
import { hotKeys, type Window } from "../usage/hot-keys";

/**
 * Reads of the live counters (layout in server/usage/hot-keys.ts) for the fallback used while
 * PostgreSQL is disabled or unreachable. Read-only; the writer is server/usage/hot-store.ts.
 */

export interface HotFigures {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheCreateTokens: number;
  cacheReadTokens: number;
  costNanos: bigint;
  /** Epoch ms. */
  lastUsedAt: number | null;
  lastModel: string | null;
}

export interface HotAccountMeta {
  name: string;
  platform: string;
  type: string;
  status: string;
  priority: number;
}

const PIPELINE_CHUNK = 1000;

function int(v: string | undefined): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

export function parseCounters(h: Record<string, string>): HotFigures {
  return {
    requests: int(h.requests),
    inputTokens: int(h.inputTokens),
    outputTokens: int(h.outputTokens),
    cacheCreateTokens: int(h.cacheCreateTokens),
    cacheReadTokens: int(h.cacheReadTokens),
    costNanos: /^-?\d+$/.test(h.costNanos ?? "") ? BigInt(h.costNanos!) : 0n,
    lastUsedAt: h.lastUsedAt ? int(h.lastUsedAt) || null : null,
    lastModel: h.lastModel || null,
  };
}

function parseMeta(id: string, json: string | null | undefined): HotAccountMeta {
  let v: Record<string, unknown> = {};
  try {
    const parsed: unknown = json ? JSON.parse(json) : {};
    if (parsed && typeof parsed === "object") v = parsed as Record<string, unknown>;
  } catch {
    // A malformed entry still lists the account, under its id.
  }
  const str = (x: unknown, dflt: string) => (typeof x === "string" && x !== "" ? x : dflt);
  return {
    name: str(v.name, id),
    platform: str(v.platform, "unknown"),
    type: str(v.type, "shared"),
    status: str(v.status, "active"),
    priority: typeof v.priority === "number" && Number.isFinite(v.priority) ? v.priority : 50,
  };
}

/** HGETALL of many hashes, pipelined in chunks. */
async function hgetallMany(redis: Redis, keys: string[]): Promise<Record<string, string>[]> {
  const out: Record<string, string>[] = [];
  for (let i = 0; i < keys.length; i += PIPELINE_CHUNK) {
    const p = redis.pipeline();
    for (const k of keys.slice(i, i + PIPELINE_CHUNK)) p.hgetall(k);
    const results = (await p.exec()) ?? [];
    for (const [err, value] of results) {
      if (err) throw err;
      out.push((value as Record<string, string>) ?? {});
    }
  }
  return out;
}

export async function readAccountIndex(redis: Redis, prefix: string): Promise<Map<string, HotAccountMeta>> {
  const all = await redis.hgetall(hotKeys(prefix).accountIndex());
  return new Map(Object.entries(all).map(([id, json]) => [id, parseMeta(id, json)]));
}

export async function findAccountMeta(redis: Redis, prefix: string, accountId: string): Promise<HotAccountMeta | undefined> {
  const json = await redis.hget(hotKeys(prefix).accountIndex(), accountId);
  return json === null ? undefined : parseMeta(accountId, json);
}

/** The account counters of each id for each window: result[i][j] is ids[i] in windows[j]. */
export async function readAccountCounters(redis: Redis, prefix: string, ids: string[], windows: Window[]): Promise<HotFigures[][]> {
  const k = hotKeys(prefix);
  const hashes = await hgetallMany(redis, ids.flatMap((id) => windows.map((w) => k.account(id, w))));
  return ids.map((_, i) => windows.map((_, j) => parseCounters(hashes[i * windows.length + j] ?? {})));
}

/** The account's models in a day or month window, each with its counters. */
export async function readModelCounters(redis: Redis, prefix: string, accountId: string, w: Window): Promise<{ model: string; figures: HotFigures }[]> {
  const k = hotKeys(prefix);
  const models = (await redis.smembers(k.models(accountId, w))).sort();
  const hashes = await hgetallMany(redis, models.map((m) => k.model(accountId, m, w)));
  return models.map((model, i) => ({ model, figures: parseCounters(hashes[i] ?? {}) }));
}

/** Every API key of the account ranked in a window (ZREVRANGE by allTokens), with its counters. */
export async function readKeyCounters(redis: Redis, prefix: string, accountId: string, w: Window): Promise<{ apiKeyId: string; figures: HotFigures }[]> {
  const k = hotKeys(prefix);
  const ids = await redis.zrevrange(k.rank(accountId, w), 0, -1);
  const hashes = await hgetallMany(redis, ids.map((id) => k.key(accountId, id, w)));
  return ids.map((apiKeyId, i) => ({ apiKeyId, figures: parseCounters(hashes[i] ?? {}) }));
}

/** API key id → name from the apiKeyIndex; ids it does not know are missing from the map. */
export async function readApiKeyNames(redis: Redis, prefix: string, ids: string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  if (ids.length === 0) return names;
  const values = await redis.hmget(hotKeys(prefix).apiKeyIndex(), ...ids);
  ids.forEach((id, i) => {
    try {
      const v: unknown = values[i] ? JSON.parse(values[i]!) : undefined;
      const name = v && typeof v === "object" ? (v as { name?: unknown }).name : undefined;
      if (typeof name === "string" && name !== "") names.set(id, name);
    } catch {
      // Unknown or malformed: the caller shows the id.
    }
  });
  return names;
}
