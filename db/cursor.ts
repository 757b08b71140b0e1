import { sql, type Kysely, type RawBuilder } from "kysely";
import type { DbKind } from "./client";
import type { Database } from "./types";

/**
 * A statement's rows in batches, the statement run once: a server-side cursor (DECLARE … FETCH) in
 * a read-only transaction, so an export of any size holds one batch in memory. Each step gets the
 * time left until `deadlineAt` as its statement_timeout, and the transaction ends when `signal`
 * aborts even while nobody reads: a slow reader cannot keep the connection or the snapshot.
 */

export interface RowBatches<R> {
  /** The next rows, or undefined once all were read (the transaction is over then). */
  next(): Promise<R[] | undefined>;
  /** Ends the transaction early; safe to call twice. */
  close(): Promise<void>;
}

export interface CursorOptions {
  batchSize: number;
  deadlineAt: number;
  signal: AbortSignal;
  /** DB_STATEMENT_TIMEOUT_MS: no step takes longer, whatever the deadline. */
  maxStatementMs: number;
  /** The error once the deadline has passed (the statement was cancelled, or is not started). */
  expired: () => Error;
}

const CURSOR = sql.raw("export_rows");

export async function readInBatches<R>(db: Kysely<Database>, kind: DbKind, query: RawBuilder<R>, o: CursorOptions): Promise<RowBatches<R>> {
  if (o.signal.aborted) throw o.expired();
  // PGlite is one connection: an open cursor would hold it, and every other request, until the end.
  if (kind === "pglite") return inMemory((await query.execute(db)).rows, o);

  const trx = await db.startTransaction().setAccessMode("read only").execute();
  let open = true;
  let exhausted = false;
  let queue: Promise<unknown> = Promise.resolve();
  const end = async () => {
    if (!open) return;
    open = false;
    o.signal.removeEventListener("abort", onAbort);
    await trx.rollback().execute().catch(() => {});
  };
  // After the step in flight (which its statement_timeout ends), never in the middle of it.
  function onAbort() {
    queue = queue.then(end, end);
  }
  o.signal.addEventListener("abort", onAbort, { once: true });

  const step = <T,>(run: () => Promise<T>): Promise<T> => {
    const result = queue.then(async () => {
      const left = Math.floor(o.deadlineAt - Date.now());
      if (!open || o.signal.aborted || left <= 0) {
        await end();
        throw o.expired();
      }
      try {
        await sql`SELECT set_config('statement_timeout', ${String(Math.min(left, o.maxStatementMs))}, true)`.execute(trx);
        return await run();
      } catch (err) {
        await end();
        const cancelled = (err as { code?: unknown }).code === "57014";
        throw cancelled && (o.signal.aborted || Date.now() >= o.deadlineAt - 100) ? o.expired() : err;
      }
    });
    queue = result.catch(() => {});
    return result;
  };

  await step(() => sql`DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${query}`.execute(trx));
  return {
    async next() {
      if (exhausted) return undefined;
      return step(async () => {
        const rows = (await sql<R>`FETCH ${sql.raw(String(Math.trunc(o.batchSize)))} FROM ${CURSOR}`.execute(trx)).rows;
        if (rows.length > 0) return rows;
        exhausted = true;
        await end();
        return undefined;
      });
    },
    async close() {
      queue = queue.then(end, end);
      await queue;
    },
  };
}

function inMemory<R>(rows: R[], o: CursorOptions): RowBatches<R> {
  let at = 0;
  return {
    async next() {
      if (o.signal.aborted) throw o.expired();
      if (at >= rows.length) return undefined;
      const batch = rows.slice(at, at + o.batchSize);
      at += batch.length;
      return batch;
    },
    async close() {},
  };
}
