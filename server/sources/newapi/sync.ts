import { deleteAccount } from "../../accounts/accounts.service";
import type { UpsertAccountInput } from "../../accounts/schemas";
import type { Runtime } from "../../runtime";
import type { RejectionLog } from "../shared/rejections";
import { writeAccounts, writeApiKeys, type SourceApiKey } from "../shared/sink";
import { accountIdOf, mapChannel, mapToken, moneyOf, noTokenKey, placeholderChannel, rowKey, type Money } from "./mapping";
import type { NewapiReader, Variant } from "./reader";

/**
 * new-api's / one-api's channels (→ accounts) and tokens (→ API keys) into the ledger, and the
 * QuotaPerUnit that prices its quota. The relay keeps no update time on either table, so each
 * sync reads them all (channels are a few hundred; tokens are paged) and writes only what changed
 * since this process last wrote it. A channel gone from the relay (it deletes them for good) is
 * kept in the ledger, marked deleted, with its history; one the logs name that the ledger never
 * saw gets a placeholder "channel #<id>", marked deleted.
 */

const TOKEN_PAGE = 2_000;

export interface SyncResult {
  accounts: number;
  keys: number;
  quotaPerUnit: string;
}

export class NewapiDirectory {
  /** What this process last wrote per ledger id (its input as JSON): unchanged rows are not written again. */
  private readonly written = new Map<string, string>();
  private readonly channels = new Set<string>();
  private money_: Money | undefined;
  private variant_: Variant | undefined;

  constructor(
    private readonly runtime: Runtime,
    private readonly reader: NewapiReader,
    readonly source: string,
  ) {}

  get money(): Money {
    if (!this.money_) throw new Error("sync first");
    return this.money_;
  }
  get variant(): Variant {
    if (!this.variant_) throw new Error("sync first");
    return this.variant_;
  }

  private changed(id: string, input: unknown): boolean {
    const json = JSON.stringify(input);
    if (this.written.get(id) === json) return false;
    this.written.set(id, json);
    return true;
  }

  async sync(log: RejectionLog, opts: { dryRun?: boolean } = {}): Promise<SyncResult> {
    const { variant } = await this.reader.schema();
    this.variant_ = variant;
    this.money_ = moneyOf(await this.reader.quotaPerUnit());
    const out: SyncResult = { accounts: 0, keys: 0, quotaPerUnit: this.money_.quotaPerUnitText };
    const rows = await this.reader.channels();
    const present = new Set(rows.map((c) => accountIdOf(this.source, c.id)));
    const accounts: { input: UpsertAccountInput; key: string }[] = [];
    for (const c of rows) {
      const input = mapChannel(this.source, variant, c);
      this.channels.add(input.id);
      if (this.changed(input.id, input)) accounts.push({ input, key: rowKey("channels", c.id) });
    }
    // Channels this process saw before that the relay no longer has.
    const gone = [...this.channels].filter((id) => !present.has(id) && this.written.get(id) !== "deleted");
    if (opts.dryRun) out.accounts = accounts.length;
    else {
      out.accounts = await writeAccounts(this.runtime, this.source, accounts, log);
      for (const id of gone) {
        await deleteAccount(this.runtime, { id }).catch(() => {});
        this.written.set(id, "deleted");
      }
    }
    const keys: SourceApiKey[] = variant === "new-api" ? [noTokenKey(this.source)] : [];
    for (let after = "0"; ; ) {
      const page = await this.reader.tokens(after, TOKEN_PAGE);
      if (!page.length) break;
      after = page.at(-1)!.id;
      for (const t of page) {
        const k = mapToken(this.source, variant, t);
        keys.push(k);
      }
      const fresh = keys.filter((k) => this.changed(k.input.id, k.input));
      out.keys += opts.dryRun ? fresh.length : await writeApiKeys(this.runtime, this.source, fresh, log);
      keys.length = 0;
      if (page.length < TOKEN_PAGE) break;
    }
    if (keys.length) {
      const fresh = keys.filter((k) => this.changed(k.input.id, k.input));
      out.keys += opts.dryRun ? fresh.length : await writeApiKeys(this.runtime, this.source, fresh, log);
    }
    return out;
  }

  /** Placeholders for channels the logs name that neither the relay nor this process knows (deleted before the ledger saw them). */
  async ensureChannels(accountIds: Iterable<string>, log: RejectionLog): Promise<void> {
    const missing: { input: UpsertAccountInput; key: string }[] = [];
    const prefix = `${this.source}-`;
    for (const id of new Set(accountIds)) {
      if (this.channels.has(id) || !id.startsWith(prefix)) continue;
      this.channels.add(id);
      this.written.set(id, "deleted");
      const channelId = id.slice(prefix.length);
      missing.push({ input: placeholderChannel(this.source, this.variant, channelId), key: rowKey("channels", channelId) });
    }
    if (!missing.length) return;
    await writeAccounts(this.runtime, this.source, missing, log);
    for (const m of missing) await deleteAccount(this.runtime, { id: m.input.id }).catch(() => {});
  }
}
