import type { RedisClient, SlotOp } from "../redis";
import { hotKeys } from "./hot-keys";
import { isNoScript, RedisScript } from "./redis-script";

/**
 * The metadata index in Redis: two global hashes, account id → JSON and API key id → JSON, that
 * let the Redis-only fallback list accounts and name keys without PostgreSQL. Every read goes
 * through parseAccountEntry / parseApiKeyEntry: a missing or malformed field reads as its default,
 * so one bad entry can neither fail a read nor hide an account.
 */

export interface AccountIndexEntry {
  name: string;
  platform: string;
  type: string;
  status: string;
  priority: number;
}
export interface ApiKeyIndexEntry {
  name: string;
  accountId: string | null;
  status: string;
}

function parseObject(json: string | null | undefined): Record<string, unknown> {
  try {
    const parsed: unknown = json ? JSON.parse(json) : {};
    return parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const str = (x: unknown, dflt: string) => (typeof x === "string" && x !== "" ? x : dflt);

export function parseAccountEntry(id: string, json: string | null | undefined): AccountIndexEntry {
  const v = parseObject(json);
  return {
    name: str(v.name, id),
    platform: str(v.platform, "unknown"),
    type: str(v.type, "shared"),
    status: str(v.status, "active"),
    priority: typeof v.priority === "number" && Number.isFinite(v.priority) ? v.priority : 50,
  };
}

export function parseApiKeyEntry(id: string, json: string | null | undefined): ApiKeyIndexEntry {
  const v = parseObject(json);
  return { name: str(v.name, id), accountId: typeof v.accountId === "string" ? v.accountId : null, status: str(v.status, "active") };
}

export async function setAccountIndex(redis: RedisClient, prefix: string, id: string, entry: AccountIndexEntry): Promise<void> {
  await redis.hset(hotKeys(prefix).accountIndex(), id, JSON.stringify(entry));
}
export async function setApiKeyIndex(redis: RedisClient, prefix: string, id: string, entry: ApiKeyIndexEntry): Promise<void> {
  await redis.hset(hotKeys(prefix).apiKeyIndex(), id, JSON.stringify(entry));
}

const setMissingScript = new RedisScript("set-missing.lua");

/** One hash of the index and the (id, placeholder JSON) pairs to set where the id is missing. */
export interface PlaceholderCall {
  key: string;
  argv: string[];
}

/** The placeholders of unknown accounts and keys: one call per index hash (HSETNX in a script). */
export function placeholderCalls(prefix: string, events: { accountId: string; apiKeyId: string }[]): PlaceholderCall[] {
  const k = hotKeys(prefix);
  const accounts = new Set<string>();
  const keys = new Map<string, string>();
  for (const e of events) {
    accounts.add(e.accountId);
    keys.set(e.apiKeyId, e.accountId);
  }
  const accountArgv: string[] = [];
  for (const accountId of accounts) {
    accountArgv.push(accountId, JSON.stringify({ name: accountId, platform: "unknown", type: "shared", status: "unknown", priority: 50 } satisfies AccountIndexEntry));
  }
  const keyArgv: string[] = [];
  for (const [apiKeyId, accountId] of keys) keyArgv.push(apiKeyId, JSON.stringify({ name: apiKeyId, accountId, status: "unknown" } satisfies ApiKeyIndexEntry));
  const calls = [{ key: k.accountIndex(), argv: accountArgv }, { key: k.apiKeyIndex(), argv: keyArgv }];
  return calls.filter((c) => c.argv.length);
}

/** A placeholder call queued in a pipeline (pipelineBySlot); see placeholderReplied for its reply. */
export function placeholderOp(call: PlaceholderCall): SlotOp {
  // One field (a one-event batch): a plain HSETNX costs Redis less than a script call.
  if (call.argv.length === 2) return { key: call.key, add: (p) => void p.hsetnx(call.key, call.argv[0]!, call.argv[1]!) };
  return { key: call.key, add: (p) => setMissingScript.queue(p, [call.key], call.argv) };
}

/**
 * A queued placeholder call's error: NOSCRIPT (it did not run: Redis restarted) runs it now. Other
 * errors are left alone, as the HSETNX replies were: the counts do not depend on placeholders.
 */
export async function placeholderReplied(redis: RedisClient, call: PlaceholderCall, err: Error | null | undefined): Promise<void> {
  if (err && isNoScript(err)) await setMissingScript.run(redis, [call.key], call.argv);
}

/** The placeholders of placeholderCalls on their own (a bulk write, which counts nothing per event). */
export async function registerPlaceholders(redis: RedisClient, prefix: string, events: { accountId: string; apiKeyId: string }[]): Promise<void> {
  for (const call of placeholderCalls(prefix, events)) await setMissingScript.run(redis, [call.key], call.argv);
}

export async function findAccountIndex(redis: RedisClient, prefix: string, id: string): Promise<AccountIndexEntry | undefined> {
  const v = await redis.hget(hotKeys(prefix).accountIndex(), id);
  return v === null ? undefined : parseAccountEntry(id, v);
}
export async function findApiKeyIndex(redis: RedisClient, prefix: string, id: string): Promise<ApiKeyIndexEntry | undefined> {
  const v = await redis.hget(hotKeys(prefix).apiKeyIndex(), id);
  return v === null ? undefined : parseApiKeyEntry(id, v);
}
export async function allAccountIndex(redis: RedisClient, prefix: string): Promise<Map<string, AccountIndexEntry>> {
  const all = await redis.hgetall(hotKeys(prefix).accountIndex());
  return new Map(Object.entries(all).map(([id, v]) => [id, parseAccountEntry(id, v)]));
}
export async function allApiKeyIndex(redis: RedisClient, prefix: string): Promise<Map<string, ApiKeyIndexEntry>> {
  const all = await redis.hgetall(hotKeys(prefix).apiKeyIndex());
  return new Map(Object.entries(all).map(([id, v]) => [id, parseApiKeyEntry(id, v)]));
}

/** The index entries of some API keys; ids it does not know are missing from the map. */
export async function findApiKeyIndexes(redis: RedisClient, prefix: string, ids: string[]): Promise<Map<string, ApiKeyIndexEntry>> {
  const out = new Map<string, ApiKeyIndexEntry>();
  if (ids.length === 0) return out;
  const values = await redis.hmget(hotKeys(prefix).apiKeyIndex(), ...ids);
  ids.forEach((id, i) => {
    const v = values[i];
    if (v !== null && v !== undefined) out.set(id, parseApiKeyEntry(id, v));
  });
  return out;
}
