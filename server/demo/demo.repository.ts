import { sql, type Kysely, type Transaction } from "kysely";
import { ROLLUP_TABLES, type Database } from "../../db/types";

/** SQL of the demo generator. Every statement touches only ids that start with the demo prefix. */
type Tx = Transaction<Database> | Kysely<Database>;

/** `prefix%` for LIKE, with LIKE's own wildcards in the prefix escaped. */
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export interface DemoDeleted {
  accounts: number;
  apiKeys: number;
  usageRecords: number;
  requestIds: number;
  rollupRows: number;
}

/**
 * Deletes the demo accounts, their keys, usage rows, request ids and rollup rows. Rollups are
 * deleted rather than recomputed: demo accounts' rows hold only demo usage. Run in one
 * transaction by the caller.
 */
export async function deleteDemoData(tx: Tx, prefix: string): Promise<DemoDeleted> {
  const like = likePrefix(prefix);
  const usage = await sql`DELETE FROM usage_records WHERE account_id LIKE ${like}`.execute(tx);
  const ids = await sql`DELETE FROM usage_request_ids WHERE request_id LIKE ${like}`.execute(tx);
  let rollupRows = 0;
  for (const table of ROLLUP_TABLES) {
    const r = await sql`DELETE FROM ${sql.table(table)} WHERE account_id LIKE ${like}`.execute(tx);
    rollupRows += Number(r.numAffectedRows ?? 0);
  }
  const keys = await tx.deleteFrom("api_keys").where((eb) => eb.or([eb("id", "like", like), eb("account_id", "like", like)])).executeTakeFirst();
  const accounts = await tx.deleteFrom("accounts").where("id", "like", like).executeTakeFirst();
  return {
    accounts: Number(accounts.numDeletedRows),
    apiKeys: Number(keys.numDeletedRows),
    usageRecords: Number(usage.numAffectedRows ?? 0),
    requestIds: Number(ids.numAffectedRows ?? 0),
    rollupRows,
  };
}
