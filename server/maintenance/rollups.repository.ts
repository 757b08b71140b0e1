import { sql, type Kysely, type Transaction } from "kysely";
import { ROLLUP_TABLES, type Database } from "../../db/types";

/** SQL of db:rebuild-rollups. Every function takes the transaction the service opened. */
type Tx = Transaction<Database> | Kysely<Database>;

/** Blocks concurrent inserts (they wait, or queue in the Redis outbox) while rollups are rebuilt. */
export async function lockUsageForRebuild(tx: Tx): Promise<void> {
  await sql`LOCK TABLE usage_records IN SHARE ROW EXCLUSIVE MODE`.execute(tx);
}

export async function truncateRollups(tx: Tx): Promise<void> {
  await sql.raw(`TRUNCATE ${ROLLUP_TABLES.join(", ")}`).execute(tx);
}

/**
 * Rewrites every rollup table compactly. Adding partition after partition updates a key's all-time
 * row once per partition (and a month's or a day's row once per partition it straddles), all in
 * one transaction: without this the rebuilt tables hold up to one dead version per partition
 * (usage_key_totals ~13× its size at 13 months), and every read scans them (issue 26). TRUNCATE
 * inside the rebuild's transaction swaps in a new file that readers see only at commit.
 */
export async function compactRollups(tx: Tx): Promise<void> {
  for (const t of ROLLUP_TABLES) {
    await sql.raw(`CREATE TEMP TABLE rollup_compact ON COMMIT DROP AS SELECT * FROM ${t}`).execute(tx);
    await sql.raw(`TRUNCATE ${t}`).execute(tx);
    await sql.raw(`INSERT INTO ${t} SELECT * FROM rollup_compact`).execute(tx);
    await sql.raw(`DROP TABLE rollup_compact`).execute(tx);
  }
}

/** The monthly partitions of usage_records that hold rows, oldest first. */
export async function listUsagePartitions(tx: Tx): Promise<{ name: string; rows: number }[]> {
  const r = await sql<{ name: string; rows: number }>`
    SELECT c.relname AS name, greatest(c.reltuples, 0)::int8 AS rows
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'usage_records'::regclass
     ORDER BY c.relname`.execute(tx);
  return r.rows;
}

/** Recomputes usage_date / usage_hour of one partition in a time zone; returns rows changed. */
export async function relocalizePartition(tx: Tx, partition: string, timezone: string): Promise<number> {
  const r = await sql`
    UPDATE ${sql.table(partition)}
       SET usage_date = (occurred_at AT TIME ZONE ${timezone})::date,
           usage_hour = extract(hour FROM occurred_at AT TIME ZONE ${timezone})::smallint
     WHERE usage_date IS DISTINCT FROM (occurred_at AT TIME ZONE ${timezone})::date
        OR usage_hour IS DISTINCT FROM extract(hour FROM occurred_at AT TIME ZONE ${timezone})::smallint`.execute(tx);
  return Number(r.numAffectedRows ?? 0);
}

/**
 * Adds one partition's rows to every rollup and to api_keys' totals: the statement the insert
 * trigger runs for each batch (usage_rollup_sql, 0004_one_rollup_definition.sql).
 */
export async function addPartitionToRollups(tx: Tx, partition: string): Promise<void> {
  await sql`SELECT usage_rollup_add(${partition}::regclass)`.execute(tx);
}

/** Before the partitions are added again: api_keys' totals start from zero, like the rollups. */
export async function zeroApiKeyTotals(tx: Tx): Promise<void> {
  await sql`UPDATE api_keys SET total_cost_accumulated = 0, last_used_at = NULL
             WHERE total_cost_accumulated <> 0 OR last_used_at IS NOT NULL`.execute(tx);
}

export async function setRollupTimezone(tx: Tx, timezone: string): Promise<void> {
  await sql`
    INSERT INTO usage_settings (key, value) VALUES ('timezone', ${timezone})
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`.execute(tx);
}
