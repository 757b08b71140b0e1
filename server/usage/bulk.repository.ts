import { sql } from "kysely";
import type { DbHandle, DbSession } from "../../db/client";
import { isMissingPartition } from "../../db/errors";
import type { NormalizedEvent } from "./normalize";
import { ensureUsagePartitions, forgetUsagePartitions } from "./usage.repository";

/**
 * The ledger's bulk write (server/sources/shared/bulk.ts): the rows of normalized events COPYed
 * into a session TEMP table, then insert_usage_batch's two paths over it, in one transaction:
 *
 * - fast (no row of the batch known yet, no repeat in it): every (account, request id) inserted
 *   into usage_request_ids and every row into usage_records in one statement, in a savepoint;
 * - otherwise (a unique violation: recorded before, or by a concurrent writer that committed
 *   first): each (account, request id) claimed with ON CONFLICT DO NOTHING (of repeats within the
 *   batch the first), and only the claimed rows inserted.
 *
 * usage_records' statement trigger then updates the rollups, api_keys totals and placeholders as
 * for every other write. The staging columns and the inserted values are read from
 * usage_measures, the registry insert_usage_batch is generated from (0011): the same fields, the
 * same insert expressions over the row `i`, so a new measure (usage_add_measure) needs nothing here.
 * Claims are taken in (account, request id) byte order, as every writer takes them, so that
 * concurrent writers wait for each other instead of deadlocking.
 */

interface Shape {
  /** The staging table's columns after `n` (the event's position in the batch), in COPY order. */
  fields: { name: string; type: string }[];
  recordColumns: string;
  insertValues: string;
}

const shapes = new WeakMap<DbHandle, Promise<Shape>>();

function shapeOf(handle: DbHandle): Promise<Shape> {
  let s = shapes.get(handle);
  if (!s) {
    s = sql<{ record_column: string; input_type: string | null; insert_expr: string }>`
      select record_column, input_type::regtype::text as input_type, insert_expr from usage_measures order by position`
      .execute(handle.db)
      .then(({ rows }) => ({
        fields: [
          { name: "request_id", type: "text" },
          { name: "occurred_at", type: "timestamptz" },
          { name: "account_id", type: "text" },
          { name: "api_key_id", type: "text" },
          { name: "model", type: "text" },
          ...rows.filter((r) => r.input_type !== null).map((r) => ({ name: r.record_column, type: r.input_type! })),
          { name: "cost_breakdown", type: "jsonb" },
          { name: "metadata", type: "jsonb" },
        ],
        recordColumns: rows.map((r) => `"${r.record_column}"`).join(", "),
        insertValues: rows.map((r) => r.insert_expr).join(", "),
      }));
    s.catch(() => shapes.delete(handle));
    shapes.set(handle, s);
  }
  return s;
}

const ESCAPES: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
/** A value in COPY's text format. */
function copyText(v: unknown): string {
  if (v === null || v === undefined) return "\\N";
  const s = typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[\\\n\r\t]/.test(s) ? s.replace(/[\\\n\r\t]/g, (c) => ESCAPES[c]!) : s;
}

const CHUNK_ROWS = 1_000;

/** Rows encoded for COPY, ready to be written; several calls of stageUsageRows may add to one. */
export interface StagedBatch {
  rows: number;
  /** COPY text, a chunk per CHUNK_ROWS rows (or fewer, at the end of each call). */
  chunks: string[];
  months: Set<string>;
  /** An (account, request id) comes twice: straight to the claiming path. */
  repeats: boolean;
  /** (account, request id) staged so far, until a repeat is found. */
  seen: Set<string>;
}

export const newStagedBatch = (): StagedBatch => ({ rows: 0, chunks: [], months: new Set(), repeats: false, seen: new Set() });

/**
 * Encodes the rows for COPY, after those `into` holds (their positions go on from there). Done
 * before the write, so that the COPY is never held up by the caller's other work (the next batch
 * being read and mapped on the same thread).
 */
export async function stageUsageRows(handle: DbHandle, events: NormalizedEvent[], into: StagedBatch = newStagedBatch()): Promise<StagedBatch> {
  const names = (await shapeOf(handle)).fields.map((f) => f.name);
  const { seen, months } = into;
  let chunk = "";
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (!into.repeats) {
      const id = `${e.accountId}\u0000${e.requestId}`;
      if (seen.has(id)) {
        into.repeats = true;
        seen.clear();
      } else seen.add(id);
    }
    months.add(e.partitionMonth);
    const row = e.row as unknown as Record<string, unknown>;
    let line = String(into.rows + i);
    for (const name of names) line += "\t" + copyText(row[name]);
    chunk += line + "\n";
    if ((i + 1) % CHUNK_ROWS === 0) {
      into.chunks.push(chunk);
      chunk = "";
      // Let I/O (a write under way) go on between chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  if (chunk) into.chunks.push(chunk);
  into.rows += events.length;
  return into;
}

/**
 * Writes a staged batch in one transaction; returns the positions (in the events staged) of the
 * rows inserted. An (account, request id) recorded before, or by a concurrent writer first, is
 * skipped; of repeats within the batch the first is inserted. Partitions as insertUsageRows.
 */
export async function insertStagedRows(handle: DbHandle, batch: StagedBatch, timeZone: string): Promise<number[]> {
  if (!batch.rows) return [];
  const shape = await shapeOf(handle);
  const write = () => handle.withSession((session) => writeStaged(session, shape, batch, timeZone));
  const months = [...batch.months];
  await ensureUsagePartitions(handle.db, months);
  try {
    return await write();
  } catch (err) {
    // As insertUsageRows: a partition dropped by retention since this process checked it.
    if (!isMissingPartition(err)) throw err;
    forgetUsagePartitions(handle.db);
    await ensureUsagePartitions(handle.db, months);
    return write();
  }
}

/** A text as an SQL string literal (standard_conforming_strings is on since PostgreSQL 9.1). */
const quoteLiteral = (text: string) => `'${text.replace(/'/g, "''")}'`;

const isUniqueViolation = (err: unknown) => (err as { code?: unknown } | null)?.code === "23505";

async function writeStaged(session: DbSession, shape: Shape, batch: StagedBatch, timeZone: string): Promise<number[]> {
  if (!session.copyFrom) throw new Error("the bulk write needs PostgreSQL (COPY), not PGlite");
  const [fresh] = await session.query<{ fresh: boolean }>("SELECT to_regclass('pg_temp.usage_bulk_stage') IS NULL AS fresh");
  // A batch is tens of MB: with the default 8 MB of temp buffers it would go through files. Only
  // possible before the session's first temporary table; a session that had one keeps its size.
  if (fresh?.fresh) await session.exec("SET temp_buffers = '128MB'").catch(() => {});
  try {
    // ON COMMIT DELETE ROWS: the session's table is empty for the next batch whatever happened.
    // A batch of 50,000 rows may take longer than DB_STATEMENT_TIMEOUT_MS, a guard for requests.
    // One round trip with the BEGIN.
    await session.exec(
      `BEGIN; SET LOCAL work_mem = '64MB'; SET LOCAL statement_timeout = '10min';
       CREATE TEMP TABLE IF NOT EXISTS usage_bulk_stage (n int4, ${shape.fields.map((f) => `${f.name} ${f.type}`).join(", ")}) ON COMMIT DELETE ROWS`,
    );
    await session.copyFrom(`COPY usage_bulk_stage (n, ${shape.fields.map((f) => f.name).join(", ")}) FROM STDIN`, batch.chunks);
    let inserted: number[] | undefined;
    if (!batch.repeats) {
      // One round trip: the savepoint, the insert and the commit (the time zone, a validated IANA
      // name, as a quoted literal). A unique violation stops the script at the insert, inside the
      // transaction: back to the savepoint, and the claiming path.
      try {
        await session.exec(`SAVEPOINT bulk_fast; ${fastPath(shape).replace(/\$1/g, quoteLiteral(timeZone))}; RELEASE SAVEPOINT bulk_fast; COMMIT`);
        return Array.from({ length: batch.rows }, (_, i) => i);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        await session.exec("ROLLBACK TO SAVEPOINT bulk_fast");
      }
    }
    if (!inserted) {
      await session.exec("ANALYZE usage_bulk_stage");
      const [r] = await session.query<{ n: number[] | null }>(claimingPath(shape), [timeZone]);
      inserted = (r?.n ?? []).sort((a, b) => a - b);
    }
    await session.exec("COMMIT");
    return inserted;
  } catch (err) {
    await session.exec("ROLLBACK").catch(() => {});
    throw err;
  }
}

const insertRecords = (shape: Shape, from: string) => `
  INSERT INTO usage_records (request_id, occurred_at, usage_date, usage_hour, account_id, api_key_id, model, ${shape.recordColumns}, cost_breakdown, metadata)
  SELECT i.request_id, i.occurred_at, (i.occurred_at AT TIME ZONE $1)::date, extract(hour FROM i.occurred_at AT TIME ZONE $1)::smallint,
         i.account_id, i.api_key_id, i.model, ${shape.insertValues}, i.cost_breakdown, i.metadata
    FROM ${from} i`;

const fastPath = (shape: Shape) => `
  WITH ids AS (
    INSERT INTO usage_request_ids (account_id, request_id, occurred_at)
    SELECT s.account_id, s.request_id, s.occurred_at FROM usage_bulk_stage s ORDER BY s.account_id COLLATE "C", s.request_id COLLATE "C"
  )
  ${insertRecords(shape, "usage_bulk_stage")}`;

const claimingPath = (shape: Shape) => `
  WITH input AS MATERIALIZED (
    SELECT DISTINCT ON (s.account_id COLLATE "C", s.request_id COLLATE "C") s.*
      FROM usage_bulk_stage s
     ORDER BY s.account_id COLLATE "C", s.request_id COLLATE "C", s.n
  ), fresh AS (
    INSERT INTO usage_request_ids (account_id, request_id, occurred_at)
    SELECT i.account_id, i.request_id, i.occurred_at FROM input i ORDER BY i.account_id COLLATE "C", i.request_id COLLATE "C"
    ON CONFLICT DO NOTHING
    RETURNING usage_request_ids.account_id, usage_request_ids.request_id
  ), claimed AS MATERIALIZED (
    SELECT i.* FROM input i JOIN fresh f ON f.account_id = i.account_id AND f.request_id = i.request_id
  ), inserted AS (${insertRecords(shape, "claimed")}
  )
  SELECT array_agg(n) AS n FROM claimed`;
