import { pipelineBySlot, type RedisClient } from "../redis";
import { ACCOUNT_FIELD, hotKeys, unpackCounters, type Window } from "../usage/hot-keys";
import { figFromCounters, type Fig } from "./figures";

/**
 * Reads of the live counters (layout in server/usage/hot-keys.ts) for the fallback used while
 * PostgreSQL is disabled or unreachable. Read-only; the writer is server/usage/hot-record.ts, the
 * metadata index is read through server/usage/hot-index.ts.
 */

export type HotFigures = Fig & {
  /** Epoch ms. */
  lastUsedAt: number | null;
  lastModel: string | null;
};

const PIPELINE_CHUNK = 1000;
const MODEL_PREFIX = "m:";

/** A stored counter record (hot-keys.ts) as figures; absent reads as zeros. */
export function parseCounters(value: string | null | undefined): HotFigures {
  const r = unpackCounters(value);
  return { ...figFromCounters(r), lastUsedAt: r.lastUsedAt, lastModel: r.lastModel };
}

/** The figures of a record, without when and on what it was last used. */
export function figFromHot(h: HotFigures): Fig {
  const { lastUsedAt: _lastUsedAt, lastModel: _lastModel, ...fig } = h;
  return fig as Fig;
}

/** One field of each [hash, field], pipelined in chunks. */
async function hgetMany(redis: RedisClient, pairs: [string, string][]): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < pairs.length; i += PIPELINE_CHUNK) {
    const results = await pipelineBySlot(
      redis,
      pairs.slice(i, i + PIPELINE_CHUNK).map(([key, field]) => ({ key, add: (p) => void p.hget(key, field) })),
    );
    for (const [err, value] of results) {
      if (err) throw err;
      out.push((value as string | null) ?? null);
    }
  }
  return out;
}

/** The account counters of each id for each window: result[i][j] is ids[i] in windows[j]. */
export async function readAccountCounters(redis: RedisClient, prefix: string, ids: string[], windows: Window[]): Promise<HotFigures[][]> {
  const k = hotKeys(prefix);
  const values = await hgetMany(redis, ids.flatMap((id) => windows.map((w): [string, string] => [k.counters(id, w), ACCOUNT_FIELD])));
  return ids.map((_, i) => windows.map((_, j) => parseCounters(values[i * windows.length + j])));
}

/** The account's models in a day or month window (by name), each with its counters. */
export async function readModelCounters(redis: RedisClient, prefix: string, accountId: string, w: Window): Promise<{ model: string; figures: HotFigures }[]> {
  const all = await redis.hgetall(hotKeys(prefix).counters(accountId, w));
  return Object.entries(all)
    .filter(([field]) => field.startsWith(MODEL_PREFIX))
    .map(([field, value]) => ({ model: field.slice(MODEL_PREFIX.length), figures: parseCounters(value) }))
    .sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
}

/** Every API key of the account with usage in a window, by all tokens (then id) descending. */
export async function readKeyCounters(redis: RedisClient, prefix: string, accountId: string, w: Window): Promise<{ apiKeyId: string; figures: HotFigures }[]> {
  const all = await redis.hgetall(hotKeys(prefix).keyCounters(accountId, w));
  const keys = Object.entries(all).map(([apiKeyId, value]) => ({ apiKeyId, value: unpackCounters(value), figures: parseCounters(value) }));
  keys.sort((a, b) => {
    if (a.value.allTokens !== b.value.allTokens) return a.value.allTokens > b.value.allTokens ? -1 : 1;
    return a.apiKeyId > b.apiKeyId ? -1 : a.apiKeyId < b.apiKeyId ? 1 : 0;
  });
  return keys.map(({ apiKeyId, figures }) => ({ apiKeyId, figures }));
}
