import { sql, type Kysely } from "kysely";
import type { Database } from "../../../db/types";
import { MEASURES as LEDGER_MEASURES } from "../../../db/measures";
import { MEASURES, type Covered } from "./mapping";
import { findAccountOrigins } from "../shared/origins.repository";

/** The usage_records column of each count CRS gives (db/measures.ts). */
const COLUMN_OF = new Map<string, string>(LEDGER_MEASURES.map((m) => [m.name, m.recordColumn]));

/** SQL of the CRS capability: what the ledger holds per key, and the follower's per-key watermarks. */

/** source_status.kind of a claude-relay-service (server/sources/shared/status.repository.ts). */
export const SOURCE_KIND = "crs";

/**
 * Per key × model × local day (== CRS day) and kind, what the ledger holds: the coverage that
 * residual aggregates are computed against.
 */
export async function ledgerCoverage(db: Kysely<Database>, apiKeyId: string): Promise<Covered[]> {
  const counts = sql.raw(MEASURES.map((m) => `sum(${COLUMN_OF.get(m)})::bigint as "${m}"`).join(", "));
  // Months dropped by raw-record retention: what their rows held (0017_raw_retention.sql).
  const expiredCounts = sql.raw(MEASURES.map((m) => `coalesce((sums->>'${COLUMN_OF.get(m)}')::bigint, 0) as "${m}"`).join(", "));
  const r = await sql<Record<string, string | number>>`
    select model, to_char(usage_date, 'YYYY-MM-DD') as day, coalesce(metadata->>'crsAggregate', 'event') as kind,
           ${counts},
           (sum(total_cost) * 1000000000)::bigint as nanos,
           (sum(coalesce(rated_cost, total_cost)) * 1000000000)::bigint as rated_nanos
      from usage_records where api_key_id = ${apiKeyId}
     group by 1, 2, 3
    union all
    select model, to_char(usage_date, 'YYYY-MM-DD'), kind, ${expiredCounts},
           ((sums->>'total_cost')::numeric * 1000000000)::bigint,
           ((sums->>'rated_cost')::numeric * 1000000000)::bigint
      from usage_expired_coverage where api_key_id = ${apiKeyId}`.execute(db);
  return r.rows.map((row) => {
    const c = { model: String(row.model), day: String(row.day), kind: String(row.kind) as Covered["kind"], realNanos: Number(row.nanos), ratedNanos: Number(row.rated_nanos) } as Covered;
    for (const m of MEASURES) c[m] = Number(row[m]);
    if (!["event", "day", "month", "alltime"].includes(c.kind)) c.kind = "event";
    return c;
  });
}

/* ------------------------------------------------------------ follower state */

export interface KeyWatermark {
  totalRequests: number;
  newestRecordId: string | null;
  gapSince: Date | null;
}

export async function findWatermarks(db: Kysely<Database>, source: string, keyIds: string[]): Promise<Map<string, KeyWatermark>> {
  if (!keyIds.length) return new Map();
  const rows = await db
    .selectFrom("crs_follower_keys")
    .select(["key_id", "total_requests", "newest_record_id", "gap_since"])
    .where("source", "=", source)
    .where(sql<boolean>`key_id = any(${keyIds}::text[])`)
    .execute();
  return new Map(rows.map((r) => [r.key_id, { totalRequests: Number(r.total_requests), newestRecordId: r.newest_record_id, gapSince: r.gap_since }]));
}

export async function countWatermarks(db: Kysely<Database>, source: string): Promise<number> {
  const r = await db.selectFrom("crs_follower_keys").select((eb) => eb.fn.countAll<number>().as("n")).where("source", "=", source).executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function keysWithGaps(db: Kysely<Database>, source: string): Promise<string[]> {
  const rows = await db.selectFrom("crs_follower_keys").select("key_id").where("source", "=", source).where("gap_since", "is not", null).execute();
  return rows.map((r) => r.key_id);
}

export async function upsertWatermarks(db: Kysely<Database>, source: string, marks: Map<string, KeyWatermark>): Promise<void> {
  if (!marks.size) return;
  const rows = [...marks].map(([keyId, m]) => ({ source, key_id: keyId, total_requests: m.totalRequests, newest_record_id: m.newestRecordId, gap_since: m.gapSince }));
  for (let i = 0; i < rows.length; i += 1000) {
    await db
      .insertInto("crs_follower_keys")
      .values(rows.slice(i, i + 1000))
      .onConflict((oc) =>
        oc.columns(["source", "key_id"]).doUpdateSet((eb) => ({
          total_requests: eb.ref("excluded.total_requests"),
          newest_record_id: eb.ref("excluded.newest_record_id"),
          gap_since: eb.ref("excluded.gap_since"),
          updated_at: sql`now()`,
        })),
      )
      .execute();
  }
}

/* ------------------------------------------------------------ account origins */

/** Where an account of the ledger came from, as CRS sees it (../shared/origins.repository.ts). */
export type AccountOrigin = "crs" | "other" | "placeholder";

export async function accountOrigins(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, AccountOrigin>> {
  const found = await findAccountOrigins(db, ids);
  return new Map([...found].map(([id, o]) => [id, o.fromCrs ? "crs" : o.placeholder ? "placeholder" : "other"]));
}
