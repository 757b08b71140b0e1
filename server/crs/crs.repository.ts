import { sql, type Kysely } from "kysely";
import type { Database } from "../../db/types";
import { MEASURES as LEDGER_MEASURES } from "../../db/measures";
import { MEASURES, type Covered } from "./mapping";

/** The usage_records column of each count CRS gives (db/measures.ts). */
const COLUMN_OF = new Map<string, string>(LEDGER_MEASURES.map((m) => [m.name, m.recordColumn]));

/** SQL of the CRS capability: what the ledger holds per key, and the follower's state. */

/**
 * Per key × model × local day (== CRS day) and kind, what the ledger holds: the coverage that
 * residual aggregates are computed against.
 */
export async function ledgerCoverage(db: Kysely<Database>, apiKeyId: string): Promise<Covered[]> {
  const counts = sql.raw(MEASURES.map((m) => `sum(${COLUMN_OF.get(m)})::bigint as "${m}"`).join(", "));
  const r = await sql<Record<string, string | number>>`
    select model, to_char(usage_date, 'YYYY-MM-DD') as day, coalesce(metadata->>'crsAggregate', 'event') as kind,
           ${counts},
           (sum(total_cost) * 1000000000)::bigint as nanos,
           (sum(coalesce(rated_cost, total_cost)) * 1000000000)::bigint as rated_nanos
      from usage_records where api_key_id = ${apiKeyId}
     group by 1, 2, 3`.execute(db);
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

/** Takes or renews the lease of a source; true when this owner holds it now. */
export async function acquireLease(db: Kysely<Database>, source: string, owner: string, leaseMs: number): Promise<boolean> {
  await db.insertInto("crs_follower_status").values({ source }).onConflict((oc) => oc.column("source").doNothing()).execute();
  const r = await sql`
    update crs_follower_status set lease_owner = ${owner}, lease_until = now() + ${`${leaseMs} milliseconds`}::interval
     where source = ${source} and (lease_owner = ${owner} or lease_owner is null or lease_until < now())`.execute(db);
  return Number(r.numAffectedRows ?? 0) === 1;
}

export async function releaseLease(db: Kysely<Database>, source: string, owner: string): Promise<void> {
  await sql`update crs_follower_status set lease_owner = null, lease_until = null where source = ${source} and lease_owner = ${owner}`.execute(db);
}

export interface StatusUpdate {
  globalRequests?: number;
  readAt?: Date;
  lastEventAt?: Date | null;
  eventsRecorded?: number;
  gapsFilled?: number;
  gapRequests?: number;
  error?: string;
  /** What this poll skipped: reason → count, and the last one named. */
  rejections?: Record<string, number>;
  lastRejection?: string;
  /** The poll succeeded: the run of failures ends. */
  succeeded?: boolean;
}

export async function updateStatus(db: Kysely<Database>, source: string, u: StatusUpdate): Promise<void> {
  await sql`
    update crs_follower_status set
      global_requests = coalesce(${u.globalRequests ?? null}::bigint, global_requests),
      last_read_at = coalesce(${u.readAt?.toISOString() ?? null}::timestamptz, last_read_at),
      last_event_at = greatest(last_event_at, ${u.lastEventAt?.toISOString() ?? null}::timestamptz),
      events_recorded = events_recorded + ${u.eventsRecorded ?? 0},
      gaps_filled = gaps_filled + ${u.gapsFilled ?? 0},
      gap_requests = gap_requests + ${u.gapRequests ?? 0},
      errors = errors + ${u.error ? 1 : 0},
      last_error = coalesce(${u.error ?? null}, last_error),
      last_error_at = case when ${u.error ?? null}::text is null then last_error_at else now() end,
      consecutive_errors = case when ${u.error ?? null}::text is not null then consecutive_errors + 1
                                when ${u.succeeded ?? false} then 0 else consecutive_errors end,
      rejected = rejected + ${Object.values(u.rejections ?? {}).reduce((a, b) => a + b, 0)},
      rejections = (select coalesce(jsonb_object_agg(k, v), '{}'::jsonb) from (
                      select k, sum(v)::bigint as v from (
                        select key as k, value::bigint as v from jsonb_each_text(rejections)
                        union all select key, value::bigint from jsonb_each_text(${JSON.stringify(u.rejections ?? {})}::jsonb)) x
                      group by k order by k limit 100) y),
      last_rejection = coalesce(${u.lastRejection ?? null}, last_rejection),
      last_rejection_at = case when ${u.lastRejection ?? null}::text is null then last_rejection_at else now() end
     where source = ${source}`.execute(db);
}

export type FollowerStatusRow = Awaited<ReturnType<typeof findStatuses>>[number];

export async function findStatuses(db: Kysely<Database>) {
  return db.selectFrom("crs_follower_status").selectAll().orderBy("source").execute();
}

/* ------------------------------------------------------------ account origins */

/** Where an account of the ledger came from: a CRS import or follower, elsewhere, or nowhere yet (a bare placeholder). */
export type AccountOrigin = "crs" | "other" | "placeholder";

/**
 * The origin of each of these accounts the ledger holds: `metadata.source = 'crs'`, a bare
 * placeholder (created by an event naming it: name = id, status 'unknown', no metadata), or other.
 */
export async function accountOrigins(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, AccountOrigin>> {
  if (!ids.length) return new Map();
  const r = await sql<{ id: string; origin: AccountOrigin }>`
    select id, case when metadata->>'source' = 'crs' then 'crs'
                    when status = 'unknown' and name = id and metadata = '{}'::jsonb then 'placeholder'
                    else 'other' end as origin
      from accounts where id = any(${[...ids]}::text[])`.execute(db);
  return new Map(r.rows.map((x) => [x.id, x.origin]));
}
