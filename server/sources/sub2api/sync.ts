import { deleteAccount } from "../../accounts/accounts.service";
import type { UpsertAccountInput } from "../../accounts/schemas";
import type { Runtime } from "../../runtime";
import type { RejectionLog } from "../shared/rejections";
import { findAccountOrigins, type AccountOrigin } from "../shared/origins.repository";
import { writeAccounts, writeApiKeys, type SourceApiKey } from "../shared/sink";
import { accountIdOf, crsAccountIdOf, mapAccount, mapApiKey, rowKey } from "./mapping";
import type { Sub2apiReader } from "./reader";

/**
 * sub2api's accounts and keys into the ledger, and which ledger account each sub2api account's
 * usage lands on. An account sub2api synced from CRS (`extra.crs_account_id`) lands on that CRS
 * account — known to the ledger already, or created under CRS's id so that a CRS import made
 * later joins it — unless the ledger holds that id as an account of its own (entered through the
 * REST API), which a relay never writes.
 */

export interface SyncResult {
  accounts: number;
  /** Accounts synced from CRS whose usage lands on the CRS account. */
  linked: number;
  keys: number;
}

/** Keys read and written per page of a sync. */
const KEY_PAGE = 2_000;
/** A row updated this long before the last sync is written again (transactions still open then). */
const OVERLAP_MS = 60_000;

export class Sub2apiDirectory {
  private readonly ledgerIdOf = new Map<string, string>();
  /** The database's time when the last sync began (sub2api's clock, as its `updated_at`). */
  private syncedAt: Date | undefined;

  constructor(
    private readonly runtime: Runtime,
    private readonly reader: Sub2apiReader,
    readonly source: string,
  ) {}

  /** The ledger account of a sub2api account id (its own id until a sync says otherwise). */
  readonly accountOf = (sub2apiId: string): string => this.ledgerIdOf.get(sub2apiId) ?? accountIdOf(this.source, sub2apiId);

  /**
   * Reads every account (a few hundred: each one's ledger id) and writes those changed since the
   * last sync, and the keys changed since (all of them the first time; sub2api keeps deleted
   * ones, marked), unless `dryRun`. `accounts` counts those written (or, dry, to be written).
   */
  async sync(log: RejectionLog, opts: { dryRun?: boolean } = {}): Promise<SyncResult> {
    // Accounts are few: all are read (each one's ledger id); written the first time, then when sub2api changed them.
    const startedAt = await this.reader.now();
    const since = this.syncedAt && new Date(this.syncedAt.getTime() - OVERLAP_MS);
    const rows = await this.reader.accounts();
    const crsIds = [...new Set(rows.flatMap((a) => crsAccountIdOf(a) ?? []))];
    const known = this.runtime.db ? await findAccountOrigins(this.runtime.db.db, crsIds) : new Map<string, AccountOrigin>();
    const out: SyncResult = { accounts: 0, linked: 0, keys: 0 };
    const accounts: { input: UpsertAccountInput; key: string }[] = [];
    const deleted: string[] = [];
    for (const a of rows) {
      const crsId = crsAccountIdOf(a);
      const held = crsId ? known.get(crsId) : undefined;
      // A relay's account (CRS's, this source's, a placeholder) or none yet: the same account.
      const linked = crsId !== undefined && (!held || held.placeholder || held.fromCrs || held.sources.includes(this.source));
      const ledgerId = linked ? crsId! : accountIdOf(this.source, a.id);
      this.ledgerIdOf.set(a.id, ledgerId);
      if (linked) out.linked++;
      if (since && a.updated_at && a.updated_at < since) continue;
      accounts.push({ input: mapAccount(this.source, a, ledgerId, { linked, keepPlatform: linked && held !== undefined && !held.placeholder }), key: rowKey("accounts", a.id) });
      if (a.deleted_at) deleted.push(ledgerId);
    }
    if (opts.dryRun) out.accounts = accounts.length;
    else {
      out.accounts = await writeAccounts(this.runtime, this.source, accounts, log);
      for (const id of deleted) await deleteAccount(this.runtime, { id }).catch(() => {});
    }
    // Keys: every one the first time, then those sub2api changed since (paged either way).
    for (let after = "0"; ; ) {
      const page = await this.reader.apiKeys(after, KEY_PAGE, since);
      if (!page.length) break;
      after = page.at(-1)!.id;
      const keys: SourceApiKey[] = page.map((k) => mapApiKey(this.source, k));
      out.keys += opts.dryRun ? keys.length : await writeApiKeys(this.runtime, this.source, keys, log);
      if (page.length < KEY_PAGE) break;
    }
    if (!opts.dryRun) this.syncedAt = startedAt;
    return out;
  }
}
