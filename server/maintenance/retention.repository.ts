import { sql, type Kysely, type Transaction } from "kysely";
import { MEASURES } from "../../db/measures";
import type { Database } from "../../db/types";

/** SQL of raw-record retention (retention.service.ts). */
type Tx = Transaction<Database> | Kysely<Database>;

/** usage_settings key of the horizon: the first instant whose raw records are kept (0017_raw_retention.sql). */
const KEPT_FROM = "raw_kept_from";

export async function findRawKeptFrom(db: Tx): Promise<Date | undefined> {
  const row = await db.selectFrom("usage_settings").select("value").where("key", "=", KEPT_FROM).executeTakeFirst();
  return row ? new Date(row.value) : undefined;
}

/** Moves the horizon forward, never back (a smaller USAGE_RAW_RETENTION_MONTHS cannot bring rows back). */
export async function advanceRawKeptFrom(tx: Tx, keptFrom: Date): Promise<void> {
  await sql`
    INSERT INTO usage_settings (key, value) VALUES (${KEPT_FROM}, ${keptFrom.toISOString()})
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()
     WHERE usage_settings.value::timestamptz < excluded.value::timestamptz`.execute(tx);
}

/** One retention run at a time across every process: the lock is held by the run's transaction. */
export async function tryRetentionLock(tx: Tx): Promise<boolean> {
  const r = await sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(hashtext('usage_raw_retention')) AS ok`.execute(tx);
  return r.rows[0]?.ok === true;
}

export interface RawPartition {
  name: string;
  /** The UTC month it holds, 'YYYY-MM-01'. */
  month: string;
  rows: number;
  bytes: number;
}

/** Partitions of usage_records whose whole month is before `keptFrom` (a UTC month start), oldest first (at most `limit`), with exact row counts. */
export async function listExpiredPartitions(db: Tx, keptFrom: Date, limit = Number.POSITIVE_INFINITY): Promise<RawPartition[]> {
  const r = await sql<{ name: string; month: string; bytes: string }>`
    SELECT c.relname AS name, substr(c.relname, 16, 4) || '-' || substr(c.relname, 20, 2) || '-01' AS month,
           pg_total_relation_size(c.oid)::text AS bytes
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'usage_records'::regclass AND c.relname ~ '^usage_records_p[0-9]{6}$'
     ORDER BY c.relname`.execute(db);
  const expired = r.rows.filter((p) => Date.parse(`${p.month}T00:00:00Z`) < keptFrom.getTime()).slice(0, limit);
  const out: RawPartition[] = [];
  for (const p of expired) {
    const n = await sql<{ n: string }>`SELECT count(*)::text AS n FROM ${sql.table(p.name)}`.execute(db);
    out.push({ name: p.name, month: p.month, rows: Number(n.rows[0]?.n ?? 0), bytes: Number(p.bytes) });
  }
  return out;
}

/** What a key × model × day × kind held: the counts an event gives, and both costs (rated with its default). */
const COVERAGE_SUMS = sql.raw(
  [
    ...MEASURES.filter((m) => m.kind === "count" && "input" in m).map((m) => `'${m.recordColumn}', sum(${m.recordColumn})`),
    "'total_cost', sum(total_cost)",
    "'rated_cost', sum(coalesce(rated_cost, total_cost))",
  ].join(", "),
);

/**
 * Before a partition is dropped: what its rows held per API key × model × local day × kind, added
 * to usage_expired_coverage (a local day can straddle two UTC months, hence the merge).
 */
export async function keepExpiredCoverage(tx: Tx, partition: string): Promise<void> {
  await sql`
    INSERT INTO usage_expired_coverage (api_key_id, model, usage_date, kind, sums)
    SELECT api_key_id, model, usage_date, coalesce(metadata->>'crsAggregate', 'event'), jsonb_build_object(${COVERAGE_SUMS})
      FROM ${sql.table(partition)} GROUP BY 1, 2, 3, 4
    ON CONFLICT (api_key_id, model, usage_date, kind) DO UPDATE
       SET sums = (SELECT jsonb_object_agg(k, coalesce((usage_expired_coverage.sums->>k)::numeric, 0) + (excluded.sums->>k)::numeric)
                     FROM jsonb_object_keys(excluded.sums) k)`.execute(tx);
}

/**
 * Detaches and drops one partition. Plain DETACH (not CONCURRENTLY: that cannot run in a
 * transaction) takes a short ACCESS EXCLUSIVE lock on usage_records, within lock_timeout.
 */
export async function dropPartition(tx: Tx, name: string): Promise<void> {
  await sql`ALTER TABLE usage_records DETACH PARTITION ${sql.table(name)}`.execute(tx);
  await sql`DROP TABLE ${sql.table(name)}`.execute(tx);
}

/** Claims older than `keptFrom`, at most `limit` of them (the dry run's count stops there). */
export async function countExpiredClaims(db: Tx, keptFrom: Date, limit: number): Promise<number> {
  const r = await sql<{ n: string }>`
    SELECT count(*)::text AS n FROM (SELECT 1 FROM usage_request_ids WHERE occurred_at < ${keptFrom} LIMIT ${limit}) x`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/** Deletes up to `batch` claims older than `keptFrom` (found through the BRIN index); returns how many. */
export async function deleteExpiredClaims(db: Tx, keptFrom: Date, batch: number): Promise<number> {
  const r = await sql`
    DELETE FROM usage_request_ids WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM usage_request_ids WHERE occurred_at < ${keptFrom} LIMIT ${batch}))`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/** Bounds a statement of the run's transaction: waiting for a lock on usage_records past this gives up. */
export async function setLocalLockTimeout(tx: Tx, ms: number): Promise<void> {
  await sql`SELECT set_config('lock_timeout', ${`${ms}ms`}, true)`.execute(tx);
}
