import { deleteApiKey, upsertAccount, upsertApiKey } from "../../accounts/accounts.service";
import { upsertAccountInput, upsertApiKeyInput, type UpsertAccountInput, type UpsertApiKeyInput } from "../../accounts/schemas";
import type { Runtime } from "../../runtime";
import type { RejectedEvent, UsageEvent } from "../../usage/schemas";
import { recordUsage } from "../../usage/usage.service";
import type { RejectionLog } from "./rejections";

/**
 * Every source writes through here into the one write path of the ledger (recordUsage), ledger
 * first (see usage.service.ts): an importer or follower computes what is missing against the
 * ledger, which therefore has to be current at once, and Redis counts exactly the rows PostgreSQL
 * inserted, so a re-import cannot count anything twice. Each event's request id is derived from
 * the source's own row identity. Accounts and keys are written with the source's name, which the
 * ledger keeps (`accounts.sources`, `api_keys.source`).
 */

export const WRITE_BATCH = 1000;

export interface SinkResult {
  inserted: number;
  duplicates: number;
  /** Events the ledger refused, by their index in the events given. */
  rejected: (RejectedEvent & { requestId: string })[];
}

export async function writeEvents(runtime: Runtime, events: UsageEvent[]): Promise<SinkResult> {
  const out: SinkResult = { inserted: 0, duplicates: 0, rejected: [] };
  for (let i = 0; i < events.length; i += WRITE_BATCH) {
    const raw = events.slice(i, i + WRITE_BATCH);
    const r = await recordUsage(runtime, { events: raw }, { order: "ledger-first" });
    out.inserted += r.accepted;
    out.duplicates += r.duplicates;
    out.rejected.push(...r.rejected.map((x) => ({ ...x, requestId: raw[x.index]!.requestId, index: i + x.index })));
  }
  return out;
}

const issues = (e: { issues: { path: PropertyKey[]; message: string }[] }) => e.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ").slice(0, 200);

/**
 * Accounts from a source into the ledger, each on its own: one the schema refuses (an id too
 * long, a name it cannot store) is counted in `log` with where it came from, never the end of a run.
 */
export async function writeAccounts(runtime: Runtime, source: string, accounts: { input: UpsertAccountInput; key: string }[], log: RejectionLog): Promise<number> {
  let n = 0;
  for (const a of accounts) {
    const parsed = upsertAccountInput.safeParse(a.input);
    if (!parsed.success) {
      log.add("an account the ledger cannot take", a.key, issues(parsed.error));
      continue;
    }
    await upsertAccount(runtime, parsed.data, { source });
    n++;
  }
  return n;
}

export interface SourceApiKey {
  input: UpsertApiKeyInput;
  /** Deleted at the relay: kept here (its history stays), marked deleted. */
  deleted: boolean;
  /** Where it came from (a Redis key, a row), for the rejection log. */
  key: string;
  /** Fields left out because the relay held something unsafe or too big there. */
  dropped?: string[];
}

/** API keys written at once: a first import writes thousands, each its own upsert. */
const KEY_WRITERS = 4;

export async function writeApiKeys(runtime: Runtime, source: string, keys: SourceApiKey[], log: RejectionLog): Promise<number> {
  const valid: { input: UpsertApiKeyInput; deleted: boolean }[] = [];
  for (const k of keys) {
    if (k.dropped?.length) log.add("API key fields left out (unsafe or too big)", k.key, k.dropped.join(", "));
    const parsed = upsertApiKeyInput.safeParse(k.input);
    if (!parsed.success) {
      log.add("an API key the ledger cannot take", k.key, issues(parsed.error));
      continue;
    }
    valid.push({ input: parsed.data, deleted: k.deleted });
  }
  let next = 0;
  const worker = async () => {
    while (next < valid.length) {
      const k = valid[next++]!;
      await upsertApiKey(runtime, k.input, { source });
      if (k.deleted) await deleteApiKey(runtime, { id: k.input.id });
    }
  };
  await Promise.all(Array.from({ length: Math.min(KEY_WRITERS, valid.length) }, worker));
  return valid.length;
}
