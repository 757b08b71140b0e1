import { sql, type Kysely } from "kysely";
import { isMissingPartition } from "../../db/errors";
import { counterField, MEASURES } from "../../db/measures";
import type { Database } from "../../db/types";
import { COUNTER_FIELDS, type CounterField } from "./hot-keys";

/**
 * One element of the JSON array insert_usage_batch takes (generated from usage_measures, see
 * db/schema.sql): the measures an event gives (db/measures.ts) under their usage_records columns,
 * money as exact decimal USD text (null for one equal to the measure it defaults to).
 */
export type UsageBatchRow = {
  request_id: string;
  /** ISO-8601 UTC with milliseconds. */
  occurred_at: string;
  account_id: string;
  api_key_id: string;
  model: string;
  cost_breakdown: Record<string, unknown> | null;
  metadata: Record<string, unknown> | null;
} & {
  [K in Extract<(typeof MEASURES)[number], { input: object }> as K["recordColumn"]]: K["kind"] extends "money" ? string | null : number;
};

/** A batch for insert_usage_batch: a JSON array of UsageBatchRow and the UTC months ('YYYY-MM-01') of its rows. */
export interface UsageBatch {
  rowsJson: string;
  months: string[];
}

/**
 * The one way rows enter the ledger (the API's direct write, the drainer, ledger-first writes
 * such as the CRS import and follower): the batch in one statement (one transaction), after making
 * sure the partitions of its months exist. Request ids already recorded are skipped, and the
 * trigger updates the rollups, api_keys totals and placeholders for the inserted rows only.
 * Returns how many rows were inserted, or with "ids" their request ids (a writer that counts
 * exactly those in Redis); the drainer asks for the count, which transfers nothing per row.
 * Passed as json, not jsonb: json_to_recordset reads the text once, where jsonb would first build
 * a binary copy of it.
 */
export async function insertUsageRows(db: Kysely<Database>, batch: UsageBatch, timeZone: string, returning?: "count"): Promise<number>;
export async function insertUsageRows(db: Kysely<Database>, batch: UsageBatch, timeZone: string, returning: "ids"): Promise<string[]>;
export async function insertUsageRows(db: Kysely<Database>, batch: UsageBatch, timeZone: string, returning: "count" | "ids" = "count"): Promise<number | string[]> {
  const insert = async () => {
    if (returning === "ids") {
      const r = await sql<{ request_id: string }>`select request_id from insert_usage_batch(${batch.rowsJson}::json, ${timeZone})`.execute(db);
      return r.rows.map((x) => x.request_id);
    }
    const r = await sql<{ n: number }>`select count(*)::int as n from insert_usage_batch(${batch.rowsJson}::json, ${timeZone})`.execute(db);
    return r.rows[0]?.n ?? 0;
  };
  await ensureUsagePartitions(db, batch.months);
  try {
    return await insert();
  } catch (err) {
    // The partition cache was stale (a partition dropped by retention meanwhile): check again, once.
    if (!isMissingPartition(err)) throw err;
    forgetUsagePartitions(db);
    await ensureUsagePartitions(db, batch.months);
    return insert();
  }
}

const knownPartitions = new WeakMap<Kysely<Database>, Set<string>>();

/**
 * Makes sure usage_records has a partition for each UTC month ('YYYY-MM-01'). Each month is
 * checked once per process; the check runs as its own short statement, outside any insert
 * transaction, because creating a partition takes a lock on the parent table.
 */
export async function ensureUsagePartitions(db: Kysely<Database>, months: Iterable<string>): Promise<void> {
  let known = knownPartitions.get(db);
  if (!known) knownPartitions.set(db, (known = new Set()));
  for (const month of new Set(months)) {
    if (known.has(month)) continue;
    await sql`select ensure_usage_partition(${month}::date)`.execute(db);
    known.add(month);
  }
}

/** Forgets the partitions this process believes exist (after "no partition" errors). */
export function forgetUsagePartitions(db: Kysely<Database>): void {
  knownPartitions.delete(db);
}

/** Accounts that have any recorded usage. */
export async function findAccountIdsWithUsage(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom("usage_account_totals").select("account_id").orderBy("account_id").execute();
  return rows.map((r) => r.account_id);
}

/**
 * The rollup measures in the camelCase of the Redis counters. Sums are bigint: cost_nanos passes
 * 2^53 at about 9 million USD, so they are read as decimal text, never as JS numbers.
 */
export type SnapshotMeasures = Record<CounterField, bigint> & { lastUsedAtMs: number | null };

/** Where a snapshot row belongs: a local day, a local month ('YYYY-MM') or all time. */
export type SnapshotWindow = { kind: "d"; date: string } | { kind: "m"; month: string } | { kind: "t" };

export interface SnapshotRow extends SnapshotMeasures {
  accountId: string;
  window: SnapshotWindow;
  /** Set on per-key rows. */
  apiKeyId?: string;
  lastModel?: string | null;
  /** Set on per-model rows. */
  model?: string;
}

export interface HotSnapshot {
  accounts: SnapshotRow[];
  keys: SnapshotRow[];
  models: SnapshotRow[];
}

/** Each measure as exact decimal text, aliased by its Redis counter name (db/measures.ts), and last_used_at. */
const measureColumns = [...MEASURES.map((m) => sql<string>`${sql.ref(m.column)}::text`.as(counterField(m))), "last_used_at"] as const;

function measures(r: Record<string, unknown> & { last_used_at: Date | null }): SnapshotMeasures {
  const m = { lastUsedAtMs: r.last_used_at ? r.last_used_at.getTime() : null } as SnapshotMeasures;
  for (const f of COUNTER_FIELDS) m[f] = BigInt(r[f] as string);
  return m;
}

const day = (date: string): SnapshotWindow => ({ kind: "d", date });
const month = (monthStart: string): SnapshotWindow => ({ kind: "m", month: monthStart.slice(0, 7) });
const allTime: SnapshotWindow = { kind: "t" };

/**
 * The rollups of some accounts for the given local days ('YYYY-MM-DD') and months ('YYYY-MM'),
 * plus all-time totals. Run it in a REPEATABLE READ transaction so that the figures agree.
 */
export async function hotSnapshot(
  db: Kysely<Database>,
  accountIds: string[],
  dates: string[],
  months: string[],
): Promise<HotSnapshot> {
  const out: HotSnapshot = { accounts: [], keys: [], models: [] };
  if (!accountIds.length) return out;
  const monthStarts = months.map((m) => `${m}-01`);
  const [ad, am, at, kd, km, kt, md, mm] = await Promise.all([
    db.selectFrom("usage_account_daily")
      .select(["account_id", "usage_date", ...measureColumns])
      .where("account_id", "in", accountIds)
      .where("usage_date", "in", dates)
      .execute(),
    db.selectFrom("usage_account_monthly")
      .select(["account_id", "usage_month", ...measureColumns])
      .where("account_id", "in", accountIds)
      .where("usage_month", "in", monthStarts)
      .execute(),
    db.selectFrom("usage_account_totals")
      .select(["account_id", ...measureColumns])
      .where("account_id", "in", accountIds)
      .execute(),
    db.selectFrom("usage_key_daily")
      .select(["account_id", "usage_date", "api_key_id", "last_model", ...measureColumns])
      .where("account_id", "in", accountIds)
      .where("usage_date", "in", dates)
      .execute(),
    db.selectFrom("usage_key_monthly")
      .select(["account_id", "usage_month", "api_key_id", "last_model", ...measureColumns])
      .where("account_id", "in", accountIds)
      .where("usage_month", "in", monthStarts)
      .execute(),
    db.selectFrom("usage_key_totals")
      .select(["account_id", "api_key_id", "last_model", ...measureColumns])
      .where("account_id", "in", accountIds)
      .execute(),
    db.selectFrom("usage_model_daily")
      .select(["account_id", "usage_date", "model", ...measureColumns])
      .where("account_id", "in", accountIds)
      .where("usage_date", "in", dates)
      .execute(),
    db.selectFrom("usage_model_monthly")
      .select(["account_id", "usage_month", "model", ...measureColumns])
      .where("account_id", "in", accountIds)
      .where("usage_month", "in", monthStarts)
      .execute(),
  ]);
  for (const r of ad) out.accounts.push({ accountId: r.account_id, window: day(r.usage_date), ...measures(r) });
  for (const r of am) out.accounts.push({ accountId: r.account_id, window: month(r.usage_month), ...measures(r) });
  for (const r of at) out.accounts.push({ accountId: r.account_id, window: allTime, ...measures(r) });
  for (const r of kd) out.keys.push({ accountId: r.account_id, window: day(r.usage_date), apiKeyId: r.api_key_id, lastModel: r.last_model, ...measures(r) });
  for (const r of km) out.keys.push({ accountId: r.account_id, window: month(r.usage_month), apiKeyId: r.api_key_id, lastModel: r.last_model, ...measures(r) });
  for (const r of kt) out.keys.push({ accountId: r.account_id, window: allTime, apiKeyId: r.api_key_id, lastModel: r.last_model, ...measures(r) });
  for (const r of md) out.models.push({ accountId: r.account_id, window: day(r.usage_date), model: r.model, ...measures(r) });
  for (const r of mm) out.models.push({ accountId: r.account_id, window: month(r.usage_month), model: r.model, ...measures(r) });
  return out;
}

/**
 * Which of these request ids are recorded in PostgreSQL: of one account (the key is account + id,
 * 0005), or of any account when none is given (CRS ids embed the key, so they name one event).
 */
export async function findRecordedRequestIds(db: Kysely<Database>, requestIds: string[], accountId?: string): Promise<string[]> {
  if (!requestIds.length) return [];
  // = any($1) rather than IN (…): one parameter however many ids.
  let q = db.selectFrom("usage_request_ids").select("request_id").where(sql<boolean>`request_id = any(${requestIds}::text[])`);
  if (accountId !== undefined) q = q.where("account_id", "=", accountId);
  const rows = await q.execute();
  return rows.map((r) => r.request_id);
}
