import crypto from "node:crypto";
import { counterField, MEASURES, type CounterField } from "../../db/measures";

/**
 * Redis key layout of the hot path: every key name the product writes in Redis is built here, for
 * the writers (hot-record.ts, hot-outbox.ts, hot-index.ts, hot-reconcile.ts, dedupe-seeds.ts,
 * reconcile.ts), the readers (usage-stats/hot-reader.ts, store-choice.ts) and the demo's cleanup.
 * Every per-account key carries the hash tag {a:<account>} so that one event's keys live in one
 * Redis Cluster slot and a Lua script may touch them together. Ids in key names are URI-encoded
 * so that ':', '{' or '}' in an id can never break the layout or the tag.
 *
 * Two hashes per account and window hold every live counter, so recording an account's events
 * touches two keys per window whatever the number of API keys and models:
 *   counters(account, w)     field "_"          the account's record
 *                            field "m:<model>"  a model's record (day and month windows only)
 *   keyCounters(account, w)  field "<apiKeyId>" an API key's record, with its last model
 * A record is one string, `packCounters` below: the COUNTER_FIELDS (one per measure of
 * db/measures.ts, in its order) as integers (costs in nano-USD,
 * 1e-9 USD) and lastUsedAt (epoch ms), comma-separated, then on API key records the last model.
 * Decimal strings, so sums stay exact past 2^53.
 */
export const COUNTER_FIELDS: readonly CounterField[] = MEASURES.map(counterField);
export type { CounterField };

/**
 * The layout version of a counter record: its fields. A new list starts without the "rebuilt"
 * mark below, so the counters are rebuilt from PostgreSQL once in the new layout.
 */
const LAYOUT = crypto.createHash("sha1").update(COUNTER_FIELDS.join(",")).digest("hex").slice(0, 8);

/** d:YYYY-MM-DD (a local day), m:YYYY-MM (a local month) or t (all time). */
export type Window = { kind: "d"; date: string } | { kind: "m"; month: string } | { kind: "t" };

export const ALL_TIME: Window = { kind: "t" };

export function windowSuffix(w: Window): string {
  return w.kind === "d" ? `d:${w.date}` : w.kind === "m" ? `m:${w.month}` : "t";
}

const enc = (id: string) => encodeURIComponent(id);

export function hotKeys(prefix: string) {
  const tag = (accountId: string) => `${prefix}{a:${enc(accountId)}}`;
  return {
    /** Seen request ids (SET NX with a TTL of DEDUPE_TTL_SECONDS). */
    dedupe: (accountId: string, requestId: string) => `${tag(accountId)}:rid:${enc(requestId)}`,
    /** Hash: the account's record ("_") and, for days and months, its models' ("m:<model>"). */
    counters: (accountId: string, w: Window) => `${tag(accountId)}:c:${windowSuffix(w)}`,
    /** Hash: API key id → that key's record within the account for a window. */
    keyCounters: (accountId: string, w: Window) => `${tag(accountId)}:k:${windowSuffix(w)}`,
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
    /**
     * String: when the counters were last rebuilt from PostgreSQL (absent after a flush). The
     * key names the counter layout (LAYOUT): a new layout starts without it, so it is rebuilt.
     */
    countersRebuilt: () => `${prefix}counters:rebuilt:${LAYOUT}`,
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

/** Field of the account's own record in a counters() hash. */
export const ACCOUNT_FIELD = "_";
/** Field of a model's record in a counters() hash. */
export const modelField = (model: string) => `m:${model}`;

/** A counter record: the sums, when last used, and (API key records) the model of that use. */
export type CounterRecord = Record<CounterField, bigint> & { lastUsedAt: number | null; lastModel: string | null };

export function emptyRecord(): CounterRecord {
  const r = { lastUsedAt: null, lastModel: null } as CounterRecord;
  for (const f of COUNTER_FIELDS) r[f] = 0n;
  return r;
}

/** The stored form: "<COUNTER_FIELDS, in order>,<lastUsedAt or empty>[,<lastModel>]". */
export function packCounters(r: Record<CounterField, bigint | number> & { lastUsedAt: number | null; lastModel?: string | null }, withModel: boolean): string {
  const parts: string[] = COUNTER_FIELDS.map((f) => String(r[f]));
  parts.push(r.lastUsedAt === null ? "" : String(r.lastUsedAt));
  if (withModel) parts.push(r.lastModel ?? "");
  return parts.join(",");
}

/** Reads a stored record; absent or malformed parts read as 0 / null. The model may hold commas. */
export function unpackCounters(value: string | null | undefined): CounterRecord {
  const r = emptyRecord();
  if (!value) return r;
  let pos = 0;
  for (let i = 0; i <= COUNTER_FIELDS.length; i++) {
    const comma = value.indexOf(",", pos);
    const part = comma < 0 ? value.slice(pos) : value.slice(pos, comma);
    // Money sums may be negative (corrections, migration 0013).
    if (i < COUNTER_FIELDS.length) r[COUNTER_FIELDS[i]!] = /^-?\d+$/.test(part) ? BigInt(part) : 0n;
    else r.lastUsedAt = /^\d+$/.test(part) && part !== "0" ? Number(part) : null;
    if (comma < 0) return r;
    pos = comma + 1;
  }
  r.lastModel = value.slice(pos) || null;
  return r;
}
