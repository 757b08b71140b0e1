import fs from "node:fs";
import path from "node:path";
import { Kysely, PGliteDialect, PostgresDialect, sql } from "kysely";
import { finished } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import lockfile from "proper-lockfile";
import type { Database } from "./types";

/**
 * The Kysely instance and its connection: a pg pool for a real PostgreSQL, or embedded PGlite
 * (same SQL, same migrations) when no DATABASE_URL is given.
 */
export type DbKind = "postgres" | "pglite";

export interface DbHandle {
  db: Kysely<Database>;
  kind: DbKind;
  /**
   * Runs fn on one dedicated connection (session-level advisory locks, BEGIN/COMMIT around a
   * multi-statement script). Used by the migration runner and the seed.
   */
  withSession<T>(fn: (session: DbSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbSession {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** Several statements in one round trip, no parameters. */
  exec(text: string): Promise<void>;
  /**
   * `COPY … FROM STDIN` (text format) fed with `chunks`; returns the rows taken. PostgreSQL only
   * (pg-copy-streams on the session's connection): undefined on PGlite.
   */
  copyFrom?(text: string, chunks: Iterable<string>): Promise<number>;
}

export interface DbOptions {
  databaseUrl: string | undefined;
  pgliteDir: string;
  poolMax?: number;
  statementTimeoutMs: number;
  /** Retries of the first connection, with exponential backoff, before giving up. */
  connectRetries?: number;
  /** No first connection at all (a read replica that may be down at start-up: used when it answers). */
  lazy?: boolean;
}

const INT8 = 20;
const NUMERIC = 1700;
const DATE = 1082;

/**
 * int8 → number, refusing values JavaScript cannot hold exactly (counts, ids, sizes); numeric →
 * exact decimal string; date → the 'YYYY-MM-DD' text itself (a JS Date would shift it by the
 * process time zone).
 *
 * Sums of usage measures are the exception, because cost_nanos passes 2^53 at about 9 million
 * USD: repositories read them as decimal text (`::text`, or a numeric sum) and the code holds them
 * as bigint, the Redis counters as decimal strings (see server/usage/big-numbers.test.ts).
 */
export function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} exceeds the safe integer range`);
  return n;
}
const parsers: Record<number, (v: string) => unknown> = {
  [INT8]: parseInt8,
  [NUMERIC]: (v) => v,
  [DATE]: (v) => v,
};

export class EmbeddedDatabaseBusyError extends Error {
  constructor(dir: string) {
    super(
      `The embedded database in ${dir} is in use by another process (a running \`npm run dev\` or \`npm start\`?). ` +
        `PGlite allows one process per folder: stop that process first, or point DATABASE_URL at a PostgreSQL server.`,
    );
    this.name = "EmbeddedDatabaseBusyError";
  }
}

export async function createDatabase(opts: DbOptions): Promise<DbHandle> {
  return opts.databaseUrl ? createPostgres(opts.databaseUrl, opts) : createPglite(opts);
}

async function createPostgres(url: string, opts: DbOptions): Promise<DbHandle> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolMax ?? 10,
    statement_timeout: opts.statementTimeoutMs,
    // No JIT: every statement of the app is short by design, and once the planner's estimates of
    // usage_records cross jit_above_cost (100M records) compiling took longer than running — the
    // accounts list's last-hour statement spent ~30–100 ms in JIT for a few ms of work (issue 26).
    options: "-c jit=off",
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    types: { getTypeParser: ((oid: number, format?: string) => parsers[oid] ?? pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser },
  });
  // An idle client losing its server (restart, failover) must not crash the process.
  pool.on("error", (err) => console.error(`[db] idle client error: ${err.message}`));
  // A client that is checked out (or was just dropped from the idle list) when the server goes
  // away emits 'error' with no pool listener: without one of its own that is an uncaught exception.
  pool.on("connect", (client) => client.on("error", (err) => console.error(`[db] client error: ${err.message}`)));
  if (!opts.lazy) {
    await retry(async () => {
      const c = await pool.connect();
      c.release();
    }, opts.connectRetries ?? 5);
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: "postgres",
    async withSession(fn) {
      const client = await pool.connect();
      try {
        return await fn({
          query: async (text, params) => (await client.query(text, params)).rows,
          // No parameters → the simple query protocol, which runs several statements at once.
          exec: async (text) => void (await client.query(text)),
          copyFrom: (text, chunks) => copyInto(client, text, chunks),
        });
      } finally {
        client.release();
      }
    },
    async close() {
      await db.destroy();
      // Kysely only ends a pool it has used; end ours in any case.
      if (!pool.ended) await pool.end();
    },
  };
}

/**
 * COPY FROM STDIN of text already in memory: every chunk handed to the socket at once (no wait for
 * 'drain' between chunks), so the data flows while the event loop runs other work.
 */
async function copyInto(client: pg.PoolClient, text: string, chunks: Iterable<string>): Promise<number> {
  const stream = client.query(copyFrom(text));
  const done = finished(stream);
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await done;
  return stream.rowCount;
}

async function createPglite(opts: DbOptions): Promise<DbHandle> {
  const dir = path.resolve(opts.pgliteDir);
  fs.mkdirSync(dir, { recursive: true });
  // PGlite has no lock of its own and two processes on one folder corrupt it: hold a lock file
  // (refreshed while we live, stale 30 s after we die) for as long as the database is open.
  // PGlite runs WASM on the event loop, so a long statement can delay a refresh: the generous
  // staleness and a logging onCompromised (the default throws and would crash the process) keep
  // a busy server from losing or dying over its own lock.
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, {
      stale: 30_000,
      update: 5_000,
      realpath: false,
      lockfilePath: `${dir}.lock`,
      onCompromised: (err) => console.warn(`[db] embedded database lock refresh was late (${err.message}); still holding it`),
    });
  } catch (err) {
    if ((err as { code?: string }).code === "ELOCKED") throw new EmbeddedDatabaseBusyError(opts.pgliteDir);
    throw err;
  }
  const { PGlite } = await import("@electric-sql/pglite");
  let pglite: InstanceType<typeof PGlite>;
  try {
    pglite = await PGlite.create(dir, { parsers });
    await pglite.exec(`SET statement_timeout = ${Math.trunc(opts.statementTimeoutMs)}`);
  } catch (err) {
    await release();
    throw err;
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
  return {
    db,
    kind: "pglite",
    async withSession(fn) {
      // PGlite is a single connection; Kysely's driver serialises its own use of it.
      return fn({
        query: async <R,>(text: string, params?: unknown[]) => (await pglite.query<R>(text, params)).rows,
        exec: async (text: string) => void (await pglite.exec(text)),
      });
    },
    async close() {
      await db.destroy();
      await release();
    },
  };
}

async function retry(fn: () => Promise<void>, retries: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= retries) throw err;
      const delay = Math.min(200 * 2 ** attempt, 5_000);
      console.warn(`[db] connection failed (${(err as Error).message}); retrying in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** True when the database answers a trivial query within its statement timeout. */
export async function ping(db: Kysely<Database>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
