import type { Runtime } from "../../runtime";
import type { UpsertAccountInput } from "../../accounts/schemas";
import { accountOrigins, type AccountOrigin } from "./crs.repository";
import { UNATTRIBUTED_ACCOUNT_ID, accountFromRecords, type CrsEvent } from "./mapping";
import type { CrsReader } from "./reader";
import type { RejectionLog } from "../shared/rejections";

/**
 * Which account a CRS record may charge. A record names its account itself, and CRS's Redis is
 * written by another program: the id must be an account of *this* CRS — one of its account
 * families, one it keeps `account_usage:{id}` counters for (any family, known here or not), or
 * one the ledger has from CRS already. Bindings alone cannot decide (keys served by a shared pool
 * name many accounts). Any other id goes to the unattributed account, with the original id in
 * the event's metadata, and never onto an account this ledger has from elsewhere (the REST API,
 * another source).
 */

type Verdict = { ok: true } | { ok: false; reason: string };

export class CrsAccountDirectory {
  /** Accounts read from CRS's families in this run / since the last metadata sync. */
  private readonly families = new Map<string, string>();
  private readonly verdicts = new Map<string, Verdict>();
  /** Accounts known only from records and counters (a family this product does not know). */
  readonly fromRecords = new Map<string, UpsertAccountInput>();

  constructor(
    private readonly runtime: Runtime,
    private readonly reader: CrsReader,
  ) {}

  /** Forgets what was decided (the follower's metadata sync re-reads the families). */
  reset(): void {
    this.families.clear();
    this.verdicts.clear();
  }

  private async origins(ids: readonly string[]): Promise<Map<string, AccountOrigin>> {
    return this.runtime.db ? accountOrigins(this.runtime.db.db, ids) : new Map();
  }

  /**
   * The accounts of CRS's families that may be written here: one this ledger has from elsewhere
   * is left as it is (counted), and its records go to the unattributed account.
   */
  async admitFamilyAccounts<T extends { id: string; platform?: string | undefined }>(accounts: T[], log: RejectionLog, keyOf: (a: T) => string): Promise<T[]> {
    const origins = await this.origins(accounts.map((a) => a.id));
    return accounts.filter((a) => {
      if (origins.get(a.id) === "other") {
        this.verdicts.set(a.id, { ok: false, reason: "an account id this ledger has from another source" });
        log.add("an account id this ledger has from another source", keyOf(a), `account ${a.id} is not overwritten; its CRS usage goes to ${UNATTRIBUTED_ACCOUNT_ID}`);
        return false;
      }
      this.families.set(a.id, a.platform ?? "");
      this.verdicts.set(a.id, { ok: true });
      return true;
    });
  }

  /**
   * Decides for each id not decided yet; accounts of unknown families (CRS keeps counters for
   * them) are returned for the caller to write before any event names them.
   */
  private async decide(ids: readonly string[], typeOf: (id: string) => string | undefined): Promise<UpsertAccountInput[]> {
    const open = [...new Set(ids)].filter((id) => id !== UNATTRIBUTED_ACCOUNT_ID && !this.verdicts.has(id));
    if (!open.length) return [];
    const newAccounts: UpsertAccountInput[] = [];
    const origins = await this.origins(open);
    const unknown = open.filter((id) => !this.families.has(id) && origins.get(id) !== "crs" && origins.get(id) !== "other");
    const counted = unknown.length ? await this.reader.accountsWithUsage(unknown) : new Set<string>();
    for (const id of open) {
      const origin = origins.get(id);
      if (origin === "other") this.verdicts.set(id, { ok: false, reason: "an account id this ledger has from another source" });
      else if (this.families.has(id) || origin === "crs") this.verdicts.set(id, { ok: true });
      else if (counted.has(id)) {
        const account = accountFromRecords(id, typeOf(id));
        this.fromRecords.set(id, account);
        newAccounts.push(account);
        this.verdicts.set(id, { ok: true });
      } else this.verdicts.set(id, { ok: false, reason: "an account that is not one of this CRS's" });
    }
    return newAccounts;
  }

  /** Which of these ids may be charged (an account of this CRS, not the ledger's from elsewhere). */
  async permitted(ids: readonly string[]): Promise<{ ok: Set<string>; newAccounts: UpsertAccountInput[] }> {
    const newAccounts = await this.decide(ids, () => undefined);
    return { ok: new Set(ids.filter((id) => this.verdicts.get(id)?.ok)), newAccounts };
  }

  /**
   * Checks the account of each record event; moves those that may not charge it to the
   * unattributed account (metadata.crsAccountId keeps the id), counting each in `log`.
   */
  async attribute(events: CrsEvent[], log: RejectionLog): Promise<{ moved: number; newAccounts: UpsertAccountInput[] }> {
    const newAccounts = await this.decide(
      events.map((e) => e.event.accountId),
      (id) => events.find((e) => e.event.accountId === id)?.crsAccountType,
    );
    let moved = 0;
    for (const e of events) {
      const v = this.verdicts.get(e.event.accountId);
      if (!v || v.ok) continue;
      log.add(v.reason, `usage:records:${e.event.apiKeyId}`, `account ${e.event.accountId} → ${UNATTRIBUTED_ACCOUNT_ID}`);
      e.event.metadata = { ...(e.event.metadata ?? {}), crsAccountId: e.event.accountId };
      e.event.accountId = UNATTRIBUTED_ACCOUNT_ID;
      moved++;
    }
    return { moved, newAccounts };
  }
}
