/**
 * Redis key layout of the hot path, shared by the writer (hot-store.ts) and the read fallback.
 * Every per-account key carries the hash tag {a:<account>} so that one event's keys live in one
 * Redis Cluster slot and a Lua script may touch them together. Ids are URI-encoded so that ':',
 * '{' or '}' in an id can never break the layout or the tag.
 *
 * Counter hashes hold the fields in COUNTER_FIELDS (integers; cost in nano-USD, 1e-9 USD), plus
 * lastUsedAt (epoch ms) and, on per-key hashes, lastModel. A field never incremented may be
 * absent: read it as 0.
 */
export const COUNTER_FIELDS = [
  "requests",
  "inputTokens",
  "outputTokens",
  "cacheCreateTokens",
  "cacheReadTokens",
  "ephemeral5mTokens",
  "ephemeral1hTokens",
  "allTokens",
  "costNanos",
] as const;
export type CounterField = (typeof COUNTER_FIELDS)[number];

/** d:YYYY-MM-DD (a local day), m:YYYY-MM (a local month) or t (all time). */
export type Window = { kind: "d"; date: string } | { kind: "m"; month: string } | { kind: "t" };

export function windowSuffix(w: Window): string {
  return w.kind === "d" ? `d:${w.date}` : w.kind === "m" ? `m:${w.month}` : "t";
}

const enc = (id: string) => encodeURIComponent(id);

export function hotKeys(prefix: string) {
  const tag = (accountId: string) => `${prefix}{a:${enc(accountId)}}`;
  return {
    /** Seen request ids (SET NX with a TTL of DEDUPE_TTL_SECONDS). */
    dedupe: (accountId: string, requestId: string) => `${tag(accountId)}:rid:${enc(requestId)}`,
    /** Hash: the account's counters for a window. */
    account: (accountId: string, w: Window) => `${tag(accountId)}:acc:${windowSuffix(w)}`,
    /** Hash: one API key's counters within the account for a window (+ lastModel). */
    key: (accountId: string, apiKeyId: string, w: Window) => `${tag(accountId)}:key:${enc(apiKeyId)}:${windowSuffix(w)}`,
    /** Sorted set: API key ids of the account ranked by allTokens for a window. */
    rank: (accountId: string, w: Window) => `${tag(accountId)}:rank:${windowSuffix(w)}`,
    /** Hash: one model's counters within the account for a day or month window. */
    model: (accountId: string, model: string, w: Window) => `${tag(accountId)}:model:${enc(model)}:${windowSuffix(w)}`,
    /** Set: models the account used in a day or month window. */
    models: (accountId: string, w: Window) => `${tag(accountId)}:models:${windowSuffix(w)}`,
    /** Hash (global): account id → JSON { name, platform, type, status, priority } for the fallback list. */
    accountIndex: () => `${prefix}accounts`,
    /** Hash (global): API key id → JSON { name, accountId, status }. */
    apiKeyIndex: () => `${prefix}api-keys`,
    /** Stream (global): the outbox the drainer moves into PostgreSQL. */
    outbox: () => `${prefix}outbox`,
    /** Stream (global): outbox entries PostgreSQL refused for a reason retrying cannot fix. */
    outboxDead: () => `${prefix}outbox:dead`,
    /**
     * String: held by the reconciler while it rebuilds the account's counters from PostgreSQL;
     * the recording script counts nothing for the account while it exists (writers retry).
     */
    reconcileLock: (accountId: string) => `${tag(accountId)}:lock`,
    /** String: when the counters were last rebuilt from PostgreSQL (absent after a flush). */
    countersRebuilt: () => `${prefix}counters:rebuilt`,
    /** Set: request ids that arrived while the account was locked and were not counted yet. */
    reconcileHeld: (accountId: string) => `${tag(accountId)}:held`,
  };
}

/** Consumer group of the drainers on the outbox stream. */
export const OUTBOX_GROUP = "pg-drainer";

export const DEDUPE_TTL_SECONDS = 72 * 3600;
/** Day keys live ~35 days, month keys ~13 months; all-time keys do not expire. */
export const DAY_TTL_SECONDS = 35 * 86400;
export const MONTH_TTL_SECONDS = 400 * 86400;
