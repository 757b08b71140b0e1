import { pipelineBySlot, type RedisClient } from "../redis";
import { ACCOUNT_FIELD, DEDUPE_TTL_SECONDS, hotKeys, modelField, packCounters, type CounterField, type Window } from "./hot-keys";
import { dayExpireAt, monthExpireAt } from "./local-time";
import { RedisScript } from "./redis-script";

/**
 * The Redis side of reconcile (reconcile.ts): per-account locks that make the recording script
 * hold events back, and the atomic swap of an account's counters for PostgreSQL's figures.
 */

const replaceScript = new RedisScript("replace-counters.lua");
const unlockScript = new RedisScript("unlock.lua");

/** Takes the reconcile lock of each account that is free; returns the ones taken. */
export async function lockAccounts(redis: RedisClient, prefix: string, accountIds: string[], token: string, ttlMs: number): Promise<string[]> {
  const k = hotKeys(prefix);
  const res = await pipelineBySlot(
    redis,
    accountIds.map((id) => ({ key: k.reconcileLock(id), add: (p) => void p.set(k.reconcileLock(id), token, "PX", ttlMs, "NX") })),
  );
  return accountIds.filter((_, i) => res[i]?.[1] === "OK");
}

export async function unlockAccounts(redis: RedisClient, prefix: string, accountIds: string[], token: string): Promise<void> {
  const k = hotKeys(prefix);
  await Promise.all(accountIds.map((id) => unlockScript.run(redis, [k.reconcileLock(id), k.reconcileHeld(id)], [token])));
}

export type CounterValues = Record<CounterField, bigint> & { lastUsedAt: number | null; lastModel?: string | null };

export interface AccountCounters {
  window: Window;
  account: CounterValues | undefined;
  keys: Map<string, CounterValues>;
  /** Day and month windows only. */
  models: Map<string, CounterValues>;
}

/** When the counters were last rebuilt from PostgreSQL (undefined: never, or Redis was flushed). */
export async function findCountersRebuiltAt(redis: RedisClient, prefix: string): Promise<string | undefined> {
  return (await redis.get(hotKeys(prefix).countersRebuilt())) ?? undefined;
}

export async function setCountersRebuiltAt(redis: RedisClient, prefix: string, at: Date): Promise<void> {
  await redis.set(hotKeys(prefix).countersRebuilt(), at.toISOString());
}

/** Request ids that arrived while the account was locked (see lua/record-usage.lua). */
export async function heldRequestIds(redis: RedisClient, prefix: string, accountId: string): Promise<string[]> {
  return redis.smembers(hotKeys(prefix).reconcileHeld(accountId));
}

/**
 * Replaces an account's counters for the given windows in one atomic script (both hashes of each
 * window are deleted and written anew), marks `inSnapshot` (held request ids the figures already
 * include) and releases the lock. `held.seen` is the size of the held set the caller examined.
 * Returns "lost" (lock expired: nothing written) or "changed" (more ids were held meanwhile:
 * examine them and call again).
 */
export async function replaceAccountCounters(
  redis: RedisClient,
  prefix: string,
  accountId: string,
  token: string,
  windows: AccountCounters[],
  held: { seen: number; inSnapshot: string[] },
): Promise<"done" | "lost" | "changed"> {
  const k = hotKeys(prefix);
  const keys: string[] = [];
  const index = new Map<string, number>();
  // KEYS[1] and KEYS[2] are the lock and the held set; plan indexes count from 3.
  const idx = (key: string) => {
    let i = index.get(key);
    if (i === undefined) {
      keys.push(key);
      i = keys.length + 2;
      index.set(key, i);
    }
    return i;
  };
  const plan = {
    del: [] as number[],
    hashes: [] as [number, string[]][],
    expire: [] as [number, string][],
    mark: held.inSnapshot.map((id) => idx(k.dedupe(accountId, id))),
  };
  for (const wc of windows) {
    const w = wc.window;
    const expireAt = w.kind === "d" ? dayExpireAt(w.date) : w.kind === "m" ? monthExpireAt(w.month) : undefined;
    const counters = idx(k.counters(accountId, w));
    const keyCounters = idx(k.keyCounters(accountId, w));
    plan.del.push(counters, keyCounters);
    const fields: string[] = [];
    if (wc.account) fields.push(ACCOUNT_FIELD, packCounters(wc.account, false));
    if (w.kind !== "t") for (const [model, v] of wc.models) fields.push(modelField(model), packCounters(v, false));
    const keyFields: string[] = [];
    for (const [keyId, v] of wc.keys) keyFields.push(keyId, packCounters(v, true));
    for (const [key, f] of [[counters, fields], [keyCounters, keyFields]] as const) {
      if (!f.length) continue;
      plan.hashes.push([key, f]);
      if (expireAt !== undefined) plan.expire.push([key, String(expireAt)]);
    }
  }
  const res = await replaceScript.run(redis, [k.reconcileLock(accountId), k.reconcileHeld(accountId), ...keys], [token, held.seen, DEDUPE_TTL_SECONDS, JSON.stringify(plan)]);
  return res === 1 ? "done" : res === 2 ? "changed" : "lost";
}
