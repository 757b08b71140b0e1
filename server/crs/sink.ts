import { deleteApiKey, upsertAccount, upsertApiKey } from "../accounts/accounts.service";
import { upsertAccountInput, upsertApiKeyInput, type UpsertAccountInput } from "../accounts/schemas";
import type { Runtime } from "../runtime";
import type { RejectedEvent } from "../usage/schemas";
import { recordUsage } from "../usage/usage.service";
import { UNATTRIBUTED_ACCOUNT, UNATTRIBUTED_ACCOUNT_ID, type CrsEvent, type MappedApiKey } from "./mapping";
import type { RejectionLog } from "./rejections";

/**
 * Writes CRS events into our stores through recordUsage, ledger first (see usage.service.ts): the
 * importer and the follower compute what is missing against the ledger, which therefore has to be
 * current at once (the outbox would make it lag), and Redis counts exactly the rows PostgreSQL
 * inserted, so a re-import after Redis's 72-hour dedupe window cannot count anything twice.
 * Dedupe, reconcile waits and Redis bypasses are the REST path's own (without PostgreSQL it is the
 * REST path). This file only batches and maps: events in, a SinkResult out (rejections named by
 * their index in `events`).
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
    const r = await recordUsage(runtime, { events: raw }, { order: "ledger-first" });
    out.inserted += r.accepted;
    out.duplicates += r.duplicates;
    out.rejected.push(...r.rejected.map((x) => ({ ...x, requestId: raw[x.index]!.requestId, index: i + x.index })));
  }
  return out;
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
