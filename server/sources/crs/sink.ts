import { upsertAccount } from "../../accounts/accounts.service";
import type { UpsertAccountInput } from "../../accounts/schemas";
import type { Runtime } from "../../runtime";
import type { RejectionLog } from "../shared/rejections";
import * as shared from "../shared/sink";
import { SOURCE_KIND } from "./crs.repository";
import { UNATTRIBUTED_ACCOUNT, UNATTRIBUTED_ACCOUNT_ID, type CrsEvent, type MappedApiKey } from "./mapping";

/**
 * CRS's side of the one sink (../shared/sink.ts): its events, accounts (named by their Redis key)
 * and keys, all recorded as coming from source "crs".
 */

export { WRITE_BATCH, type SinkResult } from "../shared/sink";

export async function writeCrsEvents(runtime: Runtime, events: CrsEvent[]): Promise<shared.SinkResult> {
  return shared.writeEvents(runtime, events.map((e) => e.event));
}

export async function writeAccounts(runtime: Runtime, accounts: { input: UpsertAccountInput; key: string }[], log: RejectionLog): Promise<number> {
  return shared.writeAccounts(runtime, SOURCE_KIND, accounts, log);
}

export async function writeApiKeys(runtime: Runtime, keys: MappedApiKey[], log: RejectionLog): Promise<number> {
  return shared.writeApiKeys(runtime, SOURCE_KIND, keys.map((k) => ({ input: k.input, deleted: k.deleted, dropped: k.dropped, key: `apikey:${k.input.id}` })), log);
}

/** The unattributed account exists before anything is written to it (once per process is enough). */
const unattributedWritten = new WeakSet<Runtime>();
export async function ensureUnattributed(runtime: Runtime, events: CrsEvent[]): Promise<void> {
  if (unattributedWritten.has(runtime) || !events.some((e) => e.event.accountId === UNATTRIBUTED_ACCOUNT_ID)) return;
  await upsertAccount(runtime, UNATTRIBUTED_ACCOUNT, { source: SOURCE_KIND });
  unattributedWritten.add(runtime);
}
