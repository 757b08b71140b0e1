import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
import pg from "pg";
import { getTestStores } from "../../config";
import { adminQuery, uniqueName } from "../../testing/stores";

/**
 * Tests only: a new-api / one-api database on each engine the relay supports (MySQL/MariaDB,
 * PostgreSQL, SQLite), with the DDL GORM's AutoMigrate creates there (notes/newapi-facts.md §1,
 * §4–§6), writers that insert rows as the relay does, and the login the ledger is given: SELECT only.
 */

export type NewapiEngine = "mysql" | "postgres" | "sqlite";
export type NewapiVariant = "new-api" | "one-api";

/** One `logs` row as the relay writes it. new-api fills token_id/group/other/use_time; one-api elapsed_time. */
export interface LogRow {
  id?: number;
  user_id: number;
  username: string;
  /** Unix seconds. */
  created_at: number;
  type: number;
  content: string;
  token_name: string;
  token_id?: number;
  channel_id: number;
  model_name: string;
  quota: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** new-api, whole seconds. */
  use_time?: number;
  /** one-api, milliseconds. */
  elapsed_time?: number;
  is_stream: boolean;
  group?: string;
  /** JSON text; NULL, '' or not JSON on some rows. */
  other?: string | null;
  request_id?: string;
}

export interface LogTransaction {
  insertLogs(rows: LogRow[]): Promise<number[]>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

export interface NewapiDatabase {
  engine: NewapiEngine;
  variant: NewapiVariant;
  /** The read-only DSN the ledger is given for the main tables. */
  url: string;
  /** With separateLogs: the read-only DSN of the database that holds `logs` (new-api's LOG_SQL_DSN). */
  logUrl?: string;
  addChannel(c: { id?: number; name: string; type: number; status?: number; group?: string; priority?: number }): Promise<number>;
  addToken(t: { id?: number; userId: number; name: string; key: string; status?: number }): Promise<number>;
  addUser(u: { id?: number; username: string; group?: string }): Promise<number>;
  setOption(key: string, value: string): Promise<void>;
  deleteChannel(id: number): Promise<void>;
  /** new-api soft-deletes (deleted_at); one-api hard-deletes. */
  deleteToken(id: number): Promise<void>;
  /** One multi-row INSERT into the logs database; returns the ids in row order. */
  insertLogs(rows: LogRow[]): Promise<number[]>;
  /** MySQL and PostgreSQL: a writer's transaction of its own, to commit out of id order. */
  openTransaction(): Promise<LogTransaction>;
  /** The owner's connection (`?` placeholders), on the main database or the logs one. */
  query(text: string, params?: unknown[], target?: "main" | "logs"): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

const MYSQL_ADMIN_URL = "mysql://root@127.0.0.1:3306/";
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

// better-sqlite3 ships no types and @types/better-sqlite3 is not a dependency: the little we use.
export interface SqliteStatement {
  readonly reader: boolean;
  all(...params: unknown[]): Record<string, unknown>[];
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}
export interface SqliteDb {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  pragma(sql: string, opts?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  close(): void;
}
type SqliteCtor = new (file: string, opts?: { readonly?: boolean; fileMustExist?: boolean; timeout?: number }) => SqliteDb;
const BetterSqlite = createRequire(import.meta.url)("better-sqlite3") as SqliteCtor;

export function openSqlite(file: string, opts: { readonly?: boolean } = {}): SqliteDb {
  // The relay's busy_timeout (new-api 30 s); a read-only handle must not create the file.
  return new BetterSqlite(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, timeout: 30_000 });
}

// ---------------------------------------------------------------------------------------------
// DDL, as GORM maps Go types per dialect (facts §1): one spec, three renderings.

type Kind = "pk" | "int" | "int32" | "str" | "text" | "bool" | "time" | "float" | "json" | `varchar(${number})` | `char(${number})`;
interface TableSpec {
  name: string;
  columns: [name: string, kind: Kind, extra?: string][];
  primaryKey: string;
  indexes: [name: string, columns: string[], unique?: "unique"][];
}

const TYPES: Record<Exclude<Kind, `varchar(${number})` | `char(${number})`>, Record<NewapiEngine, string>> = {
  pk: { mysql: "bigint AUTO_INCREMENT", postgres: "bigserial", sqlite: "integer" },
  int: { mysql: "bigint", postgres: "bigint", sqlite: "integer" },
  int32: { mysql: "int", postgres: "int", sqlite: "int" },
  str: { mysql: "varchar(191)", postgres: "text", sqlite: "text" },
  text: { mysql: "longtext", postgres: "text", sqlite: "text" },
  bool: { mysql: "boolean", postgres: "boolean", sqlite: "numeric" },
  time: { mysql: "datetime(3)", postgres: "timestamptz", sqlite: "datetime" },
  float: { mysql: "double", postgres: "decimal", sqlite: "real" },
  json: { mysql: "json", postgres: "json", sqlite: "json" },
};

const quoteFor = (engine: NewapiEngine) => (id: string) => (engine === "mysql" ? `\`${id}\`` : `"${id}"`);

function renderTable(engine: NewapiEngine, t: TableSpec): string[] {
  const q = quoteFor(engine);
  const cols = t.columns.map(([name, kind, extra]) => {
    const type = kind in TYPES ? TYPES[kind as keyof typeof TYPES][engine] : kind;
    return `${q(name)} ${type}${extra ? ` ${extra}` : ""}`;
  });
  const table = `CREATE TABLE ${q(t.name)} (${cols.join(",")},PRIMARY KEY (${q(t.primaryKey)}))${engine === "mysql" ? " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" : ""}`;
  return [
    table,
    ...t.indexes.map(([name, c, unique]) => `CREATE ${unique ? "UNIQUE " : ""}INDEX ${q(name)} ON ${q(t.name)} (${c.map(q).join(",")})`),
  ];
}

const D0 = "DEFAULT 0";
const DS = "DEFAULT ''";

const LOGS: Record<NewapiVariant, TableSpec> = {
  "new-api": {
    name: "logs",
    primaryKey: "id",
    columns: [
      ["id", "pk"], ["user_id", "int"], ["created_at", "int"], ["type", "int"], ["content", "text"],
      ["username", "str", DS], ["token_name", "str", DS], ["model_name", "str", DS], ["quota", "int", D0],
      ["prompt_tokens", "int", D0], ["completion_tokens", "int", D0], ["use_time", "int", D0], ["is_stream", "bool"],
      ["channel_id", "int"], ["channel_name", "text"], ["token_id", "int", D0], ["group", "str"], ["ip", "str", DS],
      ["request_id", "varchar(64)", DS], ["upstream_request_id", "varchar(128)", DS], ["other", "text"],
    ],
    indexes: [
      ["idx_logs_user_id", ["user_id"]], ["idx_user_id_id", ["user_id", "id"]], ["idx_created_at_id", ["created_at", "id"]],
      ["idx_created_at_type", ["created_at", "type"]], ["idx_logs_username", ["username"]],
      ["index_username_model_name", ["model_name", "username"]], ["idx_logs_token_name", ["token_name"]],
      ["idx_logs_model_name", ["model_name"]], ["idx_logs_channel_id", ["channel_id"]], ["idx_logs_token_id", ["token_id"]],
      ["idx_logs_group", ["group"]], ["idx_logs_ip", ["ip"]], ["idx_logs_request_id", ["request_id"]],
      ["idx_logs_upstream_request_id", ["upstream_request_id"]],
    ],
  },
  "one-api": {
    name: "logs",
    primaryKey: "id",
    columns: [
      ["id", "pk"], ["user_id", "int"], ["created_at", "int"], ["type", "int"], ["content", "text"],
      ["username", "str", DS], ["token_name", "str", DS], ["model_name", "str", DS], ["quota", "int", D0],
      ["prompt_tokens", "int", D0], ["completion_tokens", "int", D0], ["channel_id", "int"], ["request_id", "str", DS],
      ["elapsed_time", "int", D0], ["is_stream", "bool", "DEFAULT false"], ["system_prompt_reset", "bool", "DEFAULT false"],
    ],
    indexes: [
      ["idx_logs_user_id", ["user_id"]], ["idx_created_at_type", ["created_at", "type"]],
      ["index_username_model_name", ["model_name", "username"]], ["idx_logs_token_name", ["token_name"]],
      ["idx_logs_model_name", ["model_name"]], ["idx_logs_channel_id", ["channel_id"]],
    ],
  },
};

const MAIN: Record<NewapiVariant, TableSpec[]> = {
  "new-api": [
    {
      name: "channels",
      primaryKey: "id",
      columns: [
        ["id", "pk"], ["type", "int", D0], ["key", "text", "NOT NULL"], ["openai_organization", "text"], ["test_model", "text"],
        ["status", "int", "DEFAULT 1"], ["name", "str"], ["weight", "int", D0], ["created_time", "int"], ["test_time", "int"],
        ["response_time", "int"], ["base_url", "str", DS], ["other", "text"], ["balance", "float"], ["balance_updated_time", "int"],
        ["models", "text"], ["group", "varchar(64)", "DEFAULT 'default'"], ["used_quota", "int", D0], ["model_mapping", "text"],
        ["status_code_mapping", "varchar(1024)", DS], ["priority", "int", D0], ["auto_ban", "int", "DEFAULT 1"],
        ["other_info", "text"], ["tag", "str"], ["setting", "text"], ["param_override", "text"], ["header_override", "text"],
        ["remark", "varchar(255)"], ["channel_info", "json"], ["settings", "text"],
      ],
      indexes: [["idx_channels_name", ["name"]], ["idx_channels_tag", ["tag"]]],
    },
    {
      name: "tokens",
      primaryKey: "id",
      columns: [
        ["id", "pk"], ["user_id", "int"], ["key", "varchar(128)"], ["status", "int", "DEFAULT 1"], ["name", "str"],
        ["created_time", "int"], ["accessed_time", "int"], ["expired_time", "int", "DEFAULT -1"], ["remain_quota", "int", D0],
        ["unlimited_quota", "bool"], ["model_limits_enabled", "bool"], ["model_limits", "text"], ["allow_ips", "str", DS],
        ["used_quota", "int", D0], ["group", "str", DS], ["cross_group_retry", "bool"], ["deleted_at", "time"],
      ],
      indexes: [
        ["idx_tokens_user_id", ["user_id"]], ["idx_tokens_key", ["key"], "unique"], ["idx_tokens_name", ["name"]],
        ["idx_tokens_deleted_at", ["deleted_at"]],
      ],
    },
    {
      name: "users",
      primaryKey: "id",
      columns: [
        ["id", "pk"], ["username", "str", "UNIQUE"], ["password", "text", "NOT NULL"], ["display_name", "str"],
        ["role", "int32", "DEFAULT 1"], ["status", "int32", "DEFAULT 1"], ["email", "str"], ["quota", "int32", D0],
        ["used_quota", "int32", D0], ["request_count", "int32", D0], ["group", "varchar(64)", "DEFAULT 'default'"],
        ["deleted_at", "time"],
      ],
      indexes: [["idx_users_username", ["username"]], ["idx_users_deleted_at", ["deleted_at"]]],
    },
    { name: "options", primaryKey: "key", columns: [["key", "str"], ["value", "text"]], indexes: [] },
  ],
  "one-api": [
    {
      name: "channels",
      primaryKey: "id",
      columns: [
        ["id", "pk"], ["type", "int", D0], ["key", "text"], ["status", "int", "DEFAULT 1"], ["name", "str"], ["weight", "int", D0],
        ["created_time", "int"], ["test_time", "int"], ["response_time", "int"], ["base_url", "str", DS], ["other", "text"],
        ["balance", "float"], ["balance_updated_time", "int"], ["models", "text"], ["group", "varchar(32)", "DEFAULT 'default'"],
        ["used_quota", "int", D0], ["model_mapping", "varchar(1024)", DS], ["priority", "int", D0], ["config", "text"],
        ["system_prompt", "text"],
      ],
      indexes: [["idx_channels_name", ["name"]]],
    },
    {
      name: "tokens",
      primaryKey: "id",
      columns: [
        ["id", "pk"], ["user_id", "int"], ["key", "char(48)"], ["status", "int", "DEFAULT 1"], ["name", "str"],
        ["created_time", "int"], ["accessed_time", "int"], ["expired_time", "int", "DEFAULT -1"], ["remain_quota", "int", D0],
        ["unlimited_quota", "bool", "DEFAULT false"], ["used_quota", "int", D0], ["models", "text"], ["subnet", "str", DS],
      ],
      indexes: [["idx_tokens_key", ["key"], "unique"], ["idx_tokens_name", ["name"]]],
    },
    {
      name: "users",
      primaryKey: "id",
      columns: [
        ["id", "pk"], ["username", "str", "UNIQUE"], ["password", "text", "NOT NULL"], ["display_name", "str"],
        ["role", "int", "DEFAULT 1"], ["status", "int", "DEFAULT 1"], ["email", "str"], ["quota", "int", D0],
        ["used_quota", "int", D0], ["request_count", "int", D0], ["group", "varchar(32)", "DEFAULT 'default'"],
      ],
      indexes: [["idx_users_username", ["username"]]],
    },
    { name: "options", primaryKey: "key", columns: [["key", "str"], ["value", "text"]], indexes: [] },
  ],
};

export function newapiDdl(engine: NewapiEngine, variant: NewapiVariant, tables: "main" | "logs" | "all" = "all"): string[] {
  const specs = tables === "logs" ? [LOGS[variant]] : tables === "main" ? MAIN[variant] : [...MAIN[variant], LOGS[variant]];
  return specs.flatMap((t) => renderTable(engine, t));
}

const LOG_COLUMNS: Record<NewapiVariant, (keyof LogRow)[]> = {
  "new-api": ["user_id", "created_at", "type", "content", "username", "token_name", "model_name", "quota", "prompt_tokens",
    "completion_tokens", "use_time", "is_stream", "channel_id", "token_id", "group", "request_id", "other"],
  "one-api": ["user_id", "created_at", "type", "content", "username", "token_name", "model_name", "quota", "prompt_tokens",
    "completion_tokens", "channel_id", "request_id", "elapsed_time", "is_stream"],
};

const LOG_DEFAULTS: Partial<Record<keyof LogRow, unknown>> = { token_id: 0, use_time: 0, elapsed_time: 0, group: "", other: null, request_id: "" };

/** The multi-row INSERT the relay's GORM batch would run: SQL with `?` placeholders and its parameters. */
export function logInsert(engine: NewapiEngine, variant: NewapiVariant, rows: LogRow[]): { text: string; params: unknown[] } {
  if (rows.length === 0) throw new Error("logInsert: no rows");
  const withIds = rows.filter((r) => r.id !== undefined).length;
  if (withIds !== 0 && withIds !== rows.length) throw new Error("logInsert: give an id on every row or on none");
  const cols: (keyof LogRow)[] = [...(withIds ? (["id"] as const) : []), ...LOG_COLUMNS[variant]];
  const q = quoteFor(engine);
  const params: unknown[] = [];
  for (const r of rows) for (const c of cols) params.push(r[c] ?? LOG_DEFAULTS[c] ?? null);
  const tuple = `(${cols.map(() => "?").join(",")})`;
  return { text: `INSERT INTO ${q("logs")} (${cols.map(q).join(",")}) VALUES ${rows.map(() => tuple).join(",")}`, params };
}

/** GORM's time format on SQLite (glebarez stores text). */
const sqliteTime = (d: Date) => d.toISOString().replace("T", " ").replace("Z", "+00:00");
const sqliteParams = (params: unknown[]) =>
  params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p instanceof Date ? sqliteTime(p) : p));

/** Inserts on an open better-sqlite3 handle in one transaction; ids in row order (rowid, no AUTOINCREMENT). */
export function sqliteInsertLogs(db: SqliteDb, variant: NewapiVariant, rows: LogRow[]): number[] {
  const { text, params } = logInsert("sqlite", variant, rows);
  return db.transaction(() => {
    const r = db.prepare(text).run(...sqliteParams(params));
    if (rows.every((x) => x.id !== undefined)) return rows.map((x) => x.id!);
    // A rowid table under the write lock takes max(rowid)+1 per row, so one statement's ids are consecutive.
    const last = Number(r.lastInsertRowid);
    return rows.map((_, i) => last - rows.length + 1 + i);
  })();
}

// ---------------------------------------------------------------------------------------------
// A tiny per-engine session: `?` placeholders everywhere, ids of an insert in row order.

interface Session {
  query(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  insert(text: string, params: unknown[], count: number): Promise<number[]>;
  /** After rows with explicit ids: PostgreSQL's sequence does not follow them (MySQL and SQLite do). */
  syncSerial(table: string): Promise<void>;
}

const pgText = (text: string) => {
  let i = 0;
  return text.replace(/\?/g, () => `$${++i}`);
};

type PgQueryable = { query(text: string, params: unknown[]): Promise<pg.QueryResult> };

function pgSession(db: PgQueryable): Session {
  return {
    async query(text, params = []) {
      return (await db.query(pgText(text), params)).rows as Record<string, unknown>[];
    },
    async insert(text, params) {
      const r = (await db.query(`${pgText(text)} RETURNING id`, params)) as pg.QueryResult<{ id: string }>;
      // nextval runs in VALUES order, so ascending ids are row order even when other writers interleave.
      return r.rows.map((x) => Number(x.id)).sort((a, b) => a - b);
    },
    async syncSerial(table) {
      await db.query(`SELECT setval(pg_get_serial_sequence('"${table}"', 'id'), (SELECT max(id) FROM "${table}"))`, []);
    },
  };
}

function mysqlSession(db: Pick<mysql.Pool, "query">): Session {
  return {
    async query(text, params = []) {
      const [rows] = await db.query(text, params);
      return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
    },
    async insert(text, params, count) {
      const [r] = await db.query<mysql.ResultSetHeader>(text, params);
      // innodb_autoinc_lock_mode 0/1 (checked at create) gives a multi-row INSERT one consecutive block.
      return Array.from({ length: count }, (_, i) => r.insertId + i);
    },
    async syncSerial() {},
  };
}

function sqliteSession(db: SqliteDb): Session {
  return {
    async query(text, params = []) {
      const st = db.prepare(text);
      if (st.reader) return st.all(...sqliteParams(params));
      st.run(...sqliteParams(params));
      return [];
    },
    async insert(text, params, count) {
      const r = db.prepare(text).run(...sqliteParams(params));
      const last = Number(r.lastInsertRowid);
      return Array.from({ length: count }, (_, i) => last - count + 1 + i);
    },
    async syncSerial() {},
  };
}

function urlWith(base: string, database: string, user?: string, password?: string): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  if (user !== undefined) {
    u.username = user;
    u.password = password ?? "";
  }
  return u.toString();
}

async function mysqlAdmin<T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection(MYSQL_ADMIN_URL);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** A physical database: a session on it as its owner, transactions, and how to close it. */
interface Store {
  session: Session;
  begin?(): Promise<{ session: Session; commit(): Promise<void>; rollback(): Promise<void>; destroy(): void }>;
  close(): Promise<void>;
}

function pgStore(database: string): Store {
  const pool = new pg.Pool({ connectionString: urlWith(getTestStores().databaseUrl, database), max: 6 });
  pool.on("error", () => {});
  return {
    session: pgSession(pool),
    async begin() {
      const client = await pool.connect();
      client.on("error", () => {});
      await client.query("BEGIN");
      let done = false;
      const finish = async (sqlText: string) => {
        if (done) return;
        done = true;
        try {
          await client.query(sqlText);
        } finally {
          client.release();
        }
      };
      return {
        session: pgSession(client),
        commit: () => finish("COMMIT"),
        rollback: () => finish("ROLLBACK"),
        destroy() {
          if (done) return;
          done = true;
          client.release(true);
        },
      };
    },
    close: () => pool.end().catch(() => {}),
  };
}

function mysqlStore(database: string): Store {
  const pool = mysql.createPool({ uri: urlWith(MYSQL_ADMIN_URL, database), connectionLimit: 6, charset: "utf8mb4" });
  return {
    session: mysqlSession(pool),
    async begin() {
      const conn = await pool.getConnection();
      conn.on("error", () => {});
      await conn.beginTransaction();
      let done = false;
      const finish = async (commit: boolean) => {
        if (done) return;
        done = true;
        try {
          await (commit ? conn.commit() : conn.rollback());
        } finally {
          conn.release();
        }
      };
      return {
        session: mysqlSession(conn),
        commit: () => finish(true),
        rollback: () => finish(false),
        destroy() {
          if (done) return;
          done = true;
          conn.destroy();
        },
      };
    },
    close: () => pool.end().catch(() => {}),
  };
}

function sqliteStore(file: string): Store {
  const db = openSqlite(file);
  // Not what the relay does (it keeps the rollback journal), but the follower tests read while a
  // writer process writes, and only WAL lets a reader's snapshot coexist with a writer.
  db.pragma("journal_mode = WAL");
  return {
    session: sqliteSession(db),
    async close() {
      try {
        db.close();
      } catch {
        // already closed
      }
    },
  };
}

export async function createNewapiDatabase(opts: {
  engine: NewapiEngine;
  variant?: NewapiVariant;
  separateLogs?: boolean;
  quotaPerUnit?: string | null;
}): Promise<NewapiDatabase> {
  const { engine } = opts;
  const variant = opts.variant ?? "new-api";
  const name = uniqueName("ub_na");
  const logName = `${name}_log`;
  const reader = `${name}_ro`;
  const password = randomBytes(12).toString("hex");
  const databases = opts.separateLogs ? [name, logName] : [name];
  let url: string;
  let logUrl: string | undefined;
  let main: Store;
  let logs: Store;
  let dropAll: () => Promise<void>;
  const openTx: { destroy(): void }[] = [];

  if (engine === "postgres") {
    await adminQuery(`CREATE ROLE ${reader} LOGIN`);
    for (const d of databases) await adminQuery(`CREATE DATABASE ${d}`);
    main = pgStore(name);
    logs = opts.separateLogs ? pgStore(logName) : main;
    dropAll = async () => {
      for (const d of databases) await adminQuery(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`);
      await adminQuery(`DROP ROLE IF EXISTS ${reader}`);
    };
    url = urlWith(getTestStores().databaseUrl, name, reader);
    if (opts.separateLogs) logUrl = urlWith(getTestStores().databaseUrl, logName, reader);
  } else if (engine === "mysql") {
    await mysqlAdmin(async (c) => {
      const [[mode]] = await c.query<mysql.RowDataPacket[]>("SELECT @@innodb_autoinc_lock_mode AS m, @@auto_increment_increment AS i");
      if (Number(mode!.m) > 1 || Number(mode!.i) !== 1) throw new Error("newapi fixtures: insertLogs needs innodb_autoinc_lock_mode 0/1 and auto_increment_increment 1");
      for (const d of databases) await c.query(`CREATE DATABASE \`${d}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
      await c.query(`CREATE USER '${reader}'@'%' IDENTIFIED BY '${password}'`);
      for (const d of databases) await c.query(`GRANT SELECT ON \`${d}\`.* TO '${reader}'@'%'`);
    });
    main = mysqlStore(name);
    logs = opts.separateLogs ? mysqlStore(logName) : main;
    dropAll = () =>
      mysqlAdmin(async (c) => {
        // DROP DATABASE waits on the metadata lock of any open transaction: end the stragglers first.
        const list = databases.map((d) => `'${d}'`).join(",");
        const [procs] = await c.query<mysql.RowDataPacket[]>(
          `SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND (db IN (${list}) OR user = '${reader}')`,
        );
        for (const p of procs) await c.query(`KILL ${Number(p.id)}`).catch(() => {});
        for (const d of databases) await c.query(`DROP DATABASE IF EXISTS \`${d}\``);
        await c.query(`DROP USER IF EXISTS '${reader}'@'%'`);
      });
    url = urlWith(MYSQL_ADMIN_URL, name, reader, password);
    if (opts.separateLogs) logUrl = urlWith(MYSQL_ADMIN_URL, logName, reader, password);
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
    const file = path.join(dir, "one-api.db");
    const logFile = path.join(dir, "one-api-log.db");
    main = sqliteStore(file);
    logs = opts.separateLogs ? sqliteStore(logFile) : main;
    dropAll = async () => fs.rmSync(dir, { recursive: true, force: true });
    url = `sqlite://${file}`;
    if (opts.separateLogs) logUrl = `sqlite://${logFile}`;
  }

  const close = async () => {
    for (const t of openTx.splice(0)) t.destroy();
    await main.close();
    if (logs !== main) await logs.close();
  };
  try {
    for (const s of newapiDdl(engine, variant, "all")) await main.session.query(s);
    if (logs !== main) for (const s of newapiDdl(engine, variant, "logs")) await logs.session.query(s);
    if (engine === "postgres") {
      // What a DBA grants the ledger: CONNECT and SELECT on the relay's tables, nothing else.
      const grant = async (store: Store, d: string, tables: string) =>
        store.session.query(`GRANT CONNECT ON DATABASE ${d} TO ${reader}; GRANT USAGE ON SCHEMA public TO ${reader}; GRANT SELECT ON ${tables} TO ${reader}`);
      await grant(main, name, "logs, channels, tokens, users, options");
      if (logs !== main) await grant(logs, logName, "logs");
    }
  } catch (e) {
    await close();
    await dropAll().catch(() => {});
    throw e;
  }

  const q = quoteFor(engine);
  const insertOne = async (table: string, values: Record<string, unknown>): Promise<number> => {
    const cols = Object.keys(values).filter((k) => values[k] !== undefined);
    const text = `INSERT INTO ${q(table)} (${cols.map(q).join(",")}) VALUES (${cols.map(() => "?").join(",")})`;
    const params = cols.map((c) => values[c]);
    if (values.id !== undefined) {
      await main.session.query(text, params);
      await main.session.syncSerial(table);
      return values.id as number;
    }
    return (await main.session.insert(text, params, 1))[0]!;
  };
  const now = () => Math.floor(Date.now() / 1000);

  const db: NewapiDatabase = {
    engine,
    variant,
    url,
    ...(logUrl ? { logUrl } : {}),
    addChannel: (c) =>
      insertOne("channels", {
        id: c.id, type: c.type, key: `sk-upstream-${randomBytes(8).toString("hex")}`, status: c.status ?? 1, name: c.name,
        created_time: now(), models: "gpt-4o,claude-sonnet-4-5", group: c.group ?? "default", priority: c.priority ?? 0,
        ...(variant === "new-api" ? { channel_info: "{}" } : {}),
      }),
    addToken: (t) =>
      insertOne("tokens", {
        id: t.id, user_id: t.userId, key: t.key, status: t.status ?? 1, name: t.name, created_time: now(), accessed_time: now(),
        unlimited_quota: true, ...(variant === "new-api" ? { model_limits_enabled: false, cross_group_retry: false } : {}),
      }),
    addUser: (u) =>
      insertOne("users", { id: u.id, username: u.username, password: "$2a$10$x", display_name: u.username, group: u.group ?? "default" }),
    async setOption(key, value) {
      await main.session.query(`DELETE FROM ${q("options")} WHERE ${q("key")} = ?`, [key]);
      await main.session.query(`INSERT INTO ${q("options")} (${q("key")}, ${q("value")}) VALUES (?, ?)`, [key, value]);
    },
    async deleteChannel(id) {
      await main.session.query(`DELETE FROM ${q("channels")} WHERE ${q("id")} = ?`, [id]);
    },
    async deleteToken(id) {
      if (variant === "new-api") await main.session.query(`UPDATE ${q("tokens")} SET ${q("deleted_at")} = ? WHERE ${q("id")} = ?`, [new Date(), id]);
      else await main.session.query(`DELETE FROM ${q("tokens")} WHERE ${q("id")} = ?`, [id]);
    },
    async insertLogs(rows) {
      return insertLogsOn(logs.session, engine, variant, rows);
    },
    async openTransaction() {
      if (!logs.begin) throw new Error("openTransaction: MySQL and PostgreSQL only (SQLite has one writer; use startSqliteWriter)");
      const tx = await logs.begin();
      openTx.push(tx);
      const forget = () => {
        const i = openTx.indexOf(tx);
        if (i >= 0) openTx.splice(i, 1);
      };
      return {
        insertLogs: (rows) => insertLogsOn(tx.session, engine, variant, rows),
        commit: () => tx.commit().finally(forget),
        rollback: () => tx.rollback().finally(forget),
      };
    },
    query: (text, params, target = "main") => (target === "logs" ? logs : main).session.query(text, params),
    async drop() {
      await close();
      await dropAll();
    },
  };
  await db.setOption("LogConsumeEnabled", "true");
  if (opts.quotaPerUnit != null) await db.setOption("QuotaPerUnit", opts.quotaPerUnit);
  return db;
}

async function insertLogsOn(session: Session, engine: NewapiEngine, variant: NewapiVariant, rows: LogRow[]): Promise<number[]> {
  if (rows.length === 0) return [];
  const { text, params } = logInsert(engine, variant, rows);
  if (rows[0]!.id !== undefined) {
    await session.query(text, params);
    await session.syncSerial("logs");
    return rows.map((r) => r.id!);
  }
  return session.insert(text, params, rows.length);
}

/** 48 alphanumerics, as new-api's GenerateKey stores a token key (plain, no "sk-"). */
export function tokenKey(): string {
  const abc = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  return Array.from(randomBytes(48), (b) => abc[b % abc.length]).join("");
}

// ---------------------------------------------------------------------------------------------
// Reading as the ledger does: with the read-only DSN.

export interface NewapiReader {
  engine: NewapiEngine;
  /** `?` placeholders on every engine. */
  query(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export function engineOfUrl(url: string): NewapiEngine {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) return "postgres";
  if (url.startsWith("mysql://")) return "mysql";
  if (url.startsWith("sqlite://")) return "sqlite";
  throw new Error(`not a newapi fixture URL: ${url}`);
}

export const sqlitePathOf = (url: string) => decodeURIComponent(new URL(url).pathname);

/** A connection with the given DSN and the driver defaults (bigint as string on PG, as number on MySQL). */
export async function connectReader(url: string): Promise<NewapiReader> {
  const engine = engineOfUrl(url);
  if (engine === "postgres") {
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => {});
    await client.connect();
    return { engine, query: (t, p) => pgSession(client).query(t, p), close: () => client.end().catch(() => {}) };
  }
  if (engine === "mysql") {
    const conn = await mysql.createConnection({ uri: url, charset: "utf8mb4" });
    conn.on("error", () => {});
    return { engine, query: (t, p) => mysqlSession(conn).query(t, p), close: () => conn.end().catch(() => {}) };
  }
  const db = openSqlite(sqlitePathOf(url), { readonly: true });
  return {
    engine,
    query: (t, p) => sqliteSession(db).query(t, p),
    async close() {
      db.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// SQLite: the relay is another process. The writer child inserts each stdin line's rows in one
// transaction and answers "ok <lastId>" (or "error <message>").

export interface SqliteWriter {
  write(rows: LogRow[]): Promise<number>;
  close(): Promise<void>;
}

export function startSqliteWriter(file: string, variant: NewapiVariant = "new-api"): SqliteWriter {
  const script = path.join(ROOT, "server/sources/newapi/sqlite-writer.fixtures.ts");
  const child = spawn(process.execPath, ["--import", "tsx", script, file, variant], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
  const waiting: { resolve(id: number): void; reject(e: Error): void }[] = [];
  let stderr = "";
  let exited: Error | undefined;
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const exit = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = new Error(`sqlite writer exited (code ${code}, signal ${signal}): ${stderr.trim()}`);
      for (const w of waiting.splice(0)) w.reject(exited);
      resolve();
    }),
  );
  createInterface({ input: child.stdout }).on("line", (line) => {
    const w = waiting.shift();
    if (!w) return;
    if (line.startsWith("ok ")) w.resolve(Number(line.slice(3)));
    else w.reject(new Error(`sqlite writer: ${line}`));
  });
  return {
    write(rows) {
      if (exited) return Promise.reject(exited);
      return new Promise<number>((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin.write(`${JSON.stringify(rows)}\n`);
      });
    },
    async close() {
      if (!exited) child.stdin.end();
      await exit;
    },
  };
}
