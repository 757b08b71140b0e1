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

/** Adds one partition's rows to every rollup, through the same function the insert trigger uses. */
export async function addPartitionToRollups(tx: Tx, partition: string): Promise<void> {
  await sql`
    SELECT usage_rollup_upsert(ARRAY(
      SELECT ROW(account_id, api_key_id, model, usage_date,
                 sum(requests), sum(input_tokens), sum(output_tokens), sum(cache_create_tokens),
                 sum(cache_read_tokens), sum(ephemeral_5m_tokens), sum(ephemeral_1h_tokens),
                 sum(total_tokens), sum(round(total_cost * 1000000000)), max(occurred_at))::usage_agg_row
        FROM ${sql.table(partition)}
       GROUP BY account_id, api_key_id, model, usage_date))`.execute(tx);
}

/** api_keys.total_cost_accumulated / last_used_at from the rebuilt per-key totals. */
export async function resetApiKeyTotals(tx: Tx): Promise<void> {
  await sql`
    UPDATE api_keys k
       SET total_cost_accumulated = coalesce(s.cost, 0), last_used_at = s.last_used_at
      FROM (SELECT k2.id, t.cost, t.last_used_at
              FROM api_keys k2
              LEFT JOIN (SELECT api_key_id, sum(cost_nanos) / 1000000000.0 AS cost, max(last_used_at) AS last_used_at
                           FROM usage_key_totals GROUP BY api_key_id) t ON t.api_key_id = k2.id) s
     WHERE k.id = s.id
       AND (k.total_cost_accumulated IS DISTINCT FROM coalesce(s.cost, 0) OR k.last_used_at IS DISTINCT FROM s.last_used_at)`.execute(tx);
}

export async function setRollupTimezone(tx: Tx, timezone: string): Promise<void> {
  await sql`
    INSERT INTO usage_settings (key, value) VALUES ('timezone', ${timezone})
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`.execute(tx);
}
