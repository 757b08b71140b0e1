import { sql, type Kysely } from "kysely";
import type { Database } from "../../../db/types";

/**
 * SQL of every source's state (table source_status): one row per source — its lease (one reader
 * works, the others stand by), its cursor, and what it read, recorded and skipped, for
 * /admin/health and /metrics.
 */

/** Takes or renews the lease of a source; true when this owner holds it now. */
export async function acquireLease(db: Kysely<Database>, source: string, kind: string, owner: string, leaseMs: number): Promise<boolean> {
  await db.insertInto("source_status").values({ source, kind }).onConflict((oc) => oc.column("source").doNothing()).execute();
  const r = await sql`
    update source_status set lease_owner = ${owner}, lease_until = now() + ${`${leaseMs} milliseconds`}::interval
     where source = ${source} and kind = ${kind} and (lease_owner = ${owner} or lease_owner is null or lease_until < now())`.execute(db);
  return Number(r.numAffectedRows ?? 0) === 1;
}

export async function releaseLease(db: Kysely<Database>, source: string, owner: string): Promise<void> {
  await sql`update source_status set lease_owner = null, lease_until = null where source = ${source} and lease_owner = ${owner}`.execute(db);
}

export interface StatusUpdate {
  globalRequests?: number;
  readAt?: Date;
  lastEventAt?: Date | null;
  /** Rows (or records) read from the relay this time. */
  rowsRead?: number;
  eventsRecorded?: number;
  gapsFilled?: number;
  gapRequests?: number;
  error?: string;
  /** What this poll skipped: reason → count, and the last one named. */
  rejections?: Record<string, number>;
  lastRejection?: string;
  /** The poll succeeded: the run of failures ends. */
  succeeded?: boolean;
  /** The source's new cursor (replaces the stored one). */
  cursor?: Record<string, unknown>;
}

export async function updateStatus(db: Kysely<Database>, source: string, u: StatusUpdate): Promise<void> {
  await sql`
    update source_status set
      global_requests = coalesce(${u.globalRequests ?? null}::bigint, global_requests),
      last_read_at = coalesce(${u.readAt?.toISOString() ?? null}::timestamptz, last_read_at),
      last_event_at = greatest(last_event_at, ${u.lastEventAt?.toISOString() ?? null}::timestamptz),
      rows_read = rows_read + ${u.rowsRead ?? 0},
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
      last_rejection_at = case when ${u.lastRejection ?? null}::text is null then last_rejection_at else now() end,
      cursor = coalesce(${u.cursor === undefined ? null : JSON.stringify(u.cursor)}::jsonb, cursor)
     where source = ${source}`.execute(db);
}

export type SourceStatusRow = Awaited<ReturnType<typeof findStatuses>>[number];

export async function findStatuses(db: Kysely<Database>, kind?: string) {
  let q = db.selectFrom("source_status").selectAll();
  if (kind !== undefined) q = q.where("kind", "=", kind);
  return q.orderBy("source").execute();
}

export async function findStatus(db: Kysely<Database>, source: string) {
  return db.selectFrom("source_status").selectAll().where("source", "=", source).executeTakeFirst();
}
