import { deleteApiKey, upsertAccount, upsertApiKey } from "../accounts/accounts.service";
import { upsertAccountInput, upsertApiKeyInput, type UpsertAccountInput } from "../accounts/schemas";
import { logger } from "../logger";
import { isRedisReady } from "../redis";
import type { Runtime } from "../runtime";
import { countHotEvents } from "../usage/hot-record";
import type { NormalizedEvent } from "../usage/normalize";
import type { RejectedEvent } from "../usage/schemas";
import { insertWithPartitions } from "../usage/usage.repository";
import { recordUsage, validateEvents } from "../usage/usage.service";
import { insertReturningIds } from "./crs.repository";
import { UNATTRIBUTED_ACCOUNT, UNATTRIBUTED_ACCOUNT_ID, type CrsEvent, type MappedApiKey } from "./mapping";
import type { RejectionLog } from "./rejections";

/**
 * Writes CRS events into our stores. With PostgreSQL: straight into the ledger (one idempotent
 * statement per batch), then the live Redis counters count exactly the rows PostgreSQL inserted,
 * so a re-import after Redis's 72-hour dedupe window cannot count anything twice. The importer
 * and the follower compute what is missing against the ledger, which therefore has to be current
 * at once (the outbox would make it lag). If the process dies between the two steps, Redis is
 * short until `npm run usage:reconcile` (or the next rebuild) — never over.
 * Without PostgreSQL: the usual recording path (Redis counters, deduped per account).
 */

export const WRITE_BATCH = 1000;

export interface SinkResult {
  inserted: number;
  duplicates: number;
  rejected: (RejectedEvent & { requestId: string })[];
}

export async function writeCrsEvents(runtime: Runtime, events: CrsEvent[]): Promise<SinkResult> {
  const out: SinkResult = { inserted: 0, duplicates: 0, rejected: [] };
  for (let i = 0; i < events.length; i += WRITE_BATCH) {
    const raw = events.slice(i, i + WRITE_BATCH).map((e) => e.event);
    if (!runtime.db) {
      const r = await recordUsage(runtime, { events: raw });
      out.inserted += r.accepted;
      out.duplicates += r.duplicates;
      out.rejected.push(...r.rejected.map((x) => ({ ...x, requestId: raw[x.index]!.requestId, index: i + x.index })));
      continue;
    }
    const { events: normalized, rejected } = validateEvents(raw, runtime.config.usageTimezone);
    out.rejected.push(...rejected.map((x) => ({ ...x, requestId: raw[x.index]!.requestId, index: i + x.index })));
    if (!normalized.length) continue;
    const inserted = await insertLedger(runtime, normalized);
    out.inserted += inserted.length;
    out.duplicates += normalized.length - inserted.length;
    if (inserted.length) await countHot(runtime, normalized, new Set(inserted));
  }
  return out;
}

async function insertLedger(runtime: Runtime, events: NormalizedEvent[]): Promise<string[]> {
  const db = runtime.db!.db;
  const rowsJson = JSON.stringify(events.map((e) => e.row));
  return insertWithPartitions(db, events.map((e) => e.partitionMonth), () => insertReturningIds(db, rowsJson, runtime.config.usageTimezone));
}

async function countHot(runtime: Runtime, events: NormalizedEvent[], inserted: Set<string>): Promise<void> {
  const { redis } = runtime;
  if (!redis) return;
  if (!isRedisReady(redis)) {
    runtime.events.emit("redisBypassed");
    return;
  }
  // CRS ids embed the key, so an id names one event whatever the account.
  const fresh = events.filter((e) => inserted.has(e.requestId));
  try {
    let pending = fresh;
    for (let attempt = 0; attempt < 50 && pending.length; attempt++) {
      const statuses = await countHotEvents(redis, runtime.config.redisKeyPrefix, pending);
      pending = pending.filter((_, j) => statuses[j] === -1);
      // -1: the account is being reconciled from PostgreSQL, which already has these rows.
      if (pending.length) await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    logger.warn(`[crs] counting in Redis failed (${(err as Error).message}); the counters will be rebuilt from PostgreSQL`);
    runtime.events.emit("redisBypassed");
  }
}

/**
 * Accounts and keys from CRS into the ledger, each on its own: one the schema refuses (an id too
 * long, a name it cannot store) is counted in `log` with its Redis key, never the end of a run.
 */
export async function writeAccounts(runtime: Runtime, accounts: { input: UpsertAccountInput; key: string }[], log: RejectionLog): Promise<number> {
  let n = 0;
  for (const a of accounts) {
    const parsed = upsertAccountInput.safeParse(a.input);
    if (!parsed.success) {
      log.add("an account the ledger cannot take", a.key, parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ").slice(0, 200));
      continue;
    }
    await upsertAccount(runtime, parsed.data);
    n++;
  }
  return n;
}

export async function writeApiKeys(runtime: Runtime, keys: MappedApiKey[], log: RejectionLog): Promise<number> {
  let n = 0;
  for (const k of keys) {
    const key = `apikey:${k.input.id}`;
    if (k.dropped.length) log.add("API key fields left out (unsafe or too big)", key, k.dropped.join(", "));
    const parsed = upsertApiKeyInput.safeParse(k.input);
    if (!parsed.success) {
      log.add("an API key the ledger cannot take", key, parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ").slice(0, 200));
      continue;
    }
    await upsertApiKey(runtime, parsed.data);
    if (k.deleted) await deleteApiKey(runtime, { id: k.input.id });
    n++;
  }
  return n;
}

/** The unattributed account exists before anything is written to it (once per process is enough). */
const unattributedWritten = new WeakSet<Runtime>();
export async function ensureUnattributed(runtime: Runtime, events: CrsEvent[]): Promise<void> {
  if (unattributedWritten.has(runtime) || !events.some((e) => e.event.accountId === UNATTRIBUTED_ACCOUNT_ID)) return;
  await upsertAccount(runtime, UNATTRIBUTED_ACCOUNT);
  unattributedWritten.add(runtime);
}
