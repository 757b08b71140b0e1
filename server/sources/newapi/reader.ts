import Database from "better-sqlite3";
import { CompiledQuery, Kysely, MysqlDialect, PostgresDialect, SqliteDialect, sql, type Dialect } from "kysely";
import { createPool } from "mysql2";
import pg from "pg";

/**
 * Reads a new-api or one-api database — MySQL / MariaDB, PostgreSQL or SQLite, as the relay runs —
 * read-only, through one Kysely query per question on each engine's own driver (mysql2, pg,
 * better-sqlite3). Sessions are read-only and statements bounded (MySQL: a READ ONLY session with
 * a statement time limit; PostgreSQL: default_transaction_read_only and statement_timeout;
 * SQLite: the file opened read-only). The login needs SELECT on logs, channels, tokens, options and
 * users (README, "Connect new-api / one-api"). Never reads a secret: not `channels.key`, not
 * `tokens.key` (the relay keeps the key itself there).
 *
 * The logs may live in a database of their own (the relay's LOG_SQL_DSN): `logUrl`. Which relay
 * it is follows from the logs table: new-api has `token_id` (and `other`, `group`); one-api has
 * neither, and names a token by its name and user only.
 */

export type Engine = "mysql" | "postgres" | "sqlite";
export type Variant = "new-api" | "one-api";

/** A logs row as this product reads it: ids as text, counts as numbers, quota exact. */
export interface LogRow {
  id: string;
  created_at: number;
  type: number;
  user_id: string;
  token_id: string | null;
  token_name: string;
  channel_id: string | null;
  model_name: string;
  quota: bigint;
  prompt_tokens: number;
  completion_tokens: number;
  is_stream: boolean | null;
  /** Seconds (new-api use_time), or milliseconds (one-api elapsed_time) as durationMs. */
  duration_ms: number | null;
  group: string | null;
  other: string | null;
  request_id: string | null;
}

export interface ChannelRow {
  id: string;
  name: string;
  type: number;
  status: number;
  group: string | null;
  priority: number | null;
}

export interface TokenRow {
  id: string;
  user_id: string;
  name: string;
  status: number;
  created_time: number | null;
  deleted: boolean;
  username: string | null;
}

export class NewapiSchemaError extends Error {}

const REQUIRED_LOG_COLUMNS = ["id", "created_at", "type", "user_id", "token_name", "channel_id", "model_name", "quota", "prompt_tokens", "completion_tokens"];
/** Log types that are usage: consume and (new-api) refund. */
export const USAGE_TYPES = [2, 6] as const;

/** postgres://…, mysql://…, Go's `user:pass@tcp(host:port)/db` (the relay's SQL_DSN), sqlite:///path or a path to the .db file. */
export function engineOf(url: string): Engine {
  if (/^postgres(ql)?:\/\//i.test(url)) return "postgres";
  if (/^mysql:\/\//i.test(url) || /@tcp\(/.test(url)) return "mysql";
  if (/^(sqlite|file):/i.test(url) || /\.(db|sqlite3?)(\?.*)?$/i.test(url) || url.startsWith("/")) return "sqlite";
  throw new NewapiSchemaError("the database URL must be postgres://…, mysql://… (or the relay's user:pass@tcp(host:port)/db), or sqlite:///path/to/one-api.db");
}

/** Go's MySQL DSN `user:pass@tcp(host:port)/db?…` as a mysql:// URL; other forms as they are. */
export function mysqlUrlOf(url: string): string {
  const m = /^(?:([^:@/]*)(?::([^@]*))?@)?tcp\(([^)]+)\)\/([^?]*)/.exec(url);
  if (!m) return url;
  const [, user = "", pass, host, db] = m;
  return `mysql://${encodeURIComponent(user)}${pass !== undefined ? `:${encodeURIComponent(pass)}` : ""}@${host}/${db}`;
}

function sqlitePathOf(url: string): string {
  return url.replace(/^sqlite:\/\//i, "").replace(/^file:(\/\/)?/i, "").replace(/\?.*$/, "");
}

const toNum = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const toId = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const toBool = (v: unknown): boolean | null => (v === null || v === undefined ? null : v === true || v === 1 || v === "1" || v === "t" || v === "true");

function dialectOf(url: string, statementTimeoutMs: number): Dialect {
  const engine = engineOf(url);
  if (engine === "postgres") {
    const pool = new pg.Pool({
      connectionString: url,
      max: 2,
      application_name: "usage-breakdown-newapi",
      options: `-c default_transaction_read_only=on -c statement_timeout=${statementTimeoutMs}`,
      connectionTimeoutMillis: 10_000,
    });
    pool.on("error", () => {});
    return new PostgresDialect({ pool });
  }
  if (engine === "mysql") {
    const pool = createPool({ uri: mysqlUrlOf(url), connectionLimit: 2, supportBigNumbers: true, bigNumberStrings: true, dateStrings: true, connectTimeout: 10_000 });
    pool.on("connection", () => {});
    return new MysqlDialect({
      pool,
      async onCreateConnection(conn) {
        await conn.executeQuery(CompiledQuery.raw("SET SESSION TRANSACTION READ ONLY"));
        // MariaDB bounds a statement in seconds (max_statement_time), MySQL in ms (max_execution_time).
        await conn.executeQuery(CompiledQuery.raw(`SET SESSION max_statement_time = ${Math.ceil(statementTimeoutMs / 1000)}`)).catch(() =>
          conn.executeQuery(CompiledQuery.raw(`SET SESSION max_execution_time = ${statementTimeoutMs}`)).catch(() => {}),
        );
      },
    });
  }
  const path = sqlitePathOf(url);
  return new SqliteDialect({
    database: async () => {
      // Read-only; a writer holding the file (rollback journal) is waited for, never blocked by us for long.
      const db = new Database(path, { readonly: true, fileMustExist: true, timeout: 10_000 });
      return db;
    },
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export class NewapiReader {
  private readonly main: AnyDb;
  private readonly logs: AnyDb;
  private logColumns: Set<string> | undefined;
  private tables: Map<string, Set<string>> | undefined;
  /** Queries sent (for the bench: a poll's cost). */
  queries = 0;

  private constructor(
    readonly engine: Engine,
    readonly logEngine: Engine,
    main: AnyDb,
    logs: AnyDb | undefined,
  ) {
    this.main = main;
    this.logs = logs ?? main;
  }

  static connect(url: string, opts: { logUrl?: string; statementTimeoutMs?: number } = {}): NewapiReader {
    const timeout = opts.statementTimeoutMs ?? 120_000;
    const main = new Kysely({ dialect: dialectOf(url, timeout) });
    const logs = opts.logUrl ? new Kysely({ dialect: dialectOf(opts.logUrl, timeout) }) : undefined;
    return new NewapiReader(engineOf(url), opts.logUrl ? engineOf(opts.logUrl) : engineOf(url), main, logs);
  }

  async close(): Promise<void> {
    await this.main.destroy().catch(() => {});
    if (this.logs !== this.main) await this.logs.destroy().catch(() => {});
  }

  /** new-api (logs.token_id) or one-api. */
  get variant(): Variant {
    return this.logColumns?.has("token_id") ? "new-api" : "one-api";
  }

  private async columnsOf(db: AnyDb, names: string[]): Promise<Map<string, Set<string>>> {
    this.queries++;
    const tables = await db.introspection.getTables();
    const m = new Map<string, Set<string>>();
    for (const t of tables) if (names.includes(t.name) && !m.has(t.name)) m.set(t.name, new Set(t.columns.map((c) => c.name)));
    return m;
  }

  /** Which columns the tables have (once per reader); a database that is not new-api's or one-api's is refused by name. */
  async schema(): Promise<{ variant: Variant; logColumns: Set<string>; tables: Map<string, Set<string>> }> {
    if (!this.logColumns || !this.tables) {
      const main = await this.columnsOf(this.main, ["channels", "tokens", "options", "users", "logs"]);
      const logs = this.logs === this.main ? main.get("logs") : (await this.columnsOf(this.logs, ["logs"])).get("logs");
      if (!logs) throw new NewapiSchemaError("this database has no logs table (or the login cannot see it): is it new-api's or one-api's (its LOG_SQL_DSN if logs live apart), and was SELECT granted?");
      const missing = REQUIRED_LOG_COLUMNS.filter((c) => !logs.has(c));
      if (missing.length) throw new NewapiSchemaError(`logs lacks ${missing.join(", ")}: not a new-api / one-api schema this product knows`);
      for (const t of ["channels", "tokens"]) if (!main.has(t)) throw new NewapiSchemaError(`the main database has no ${t} table (or the login cannot see it): give the relay's SQL_DSN database, and its LOG_SQL_DSN apart if logs live there`);
      this.logColumns = logs;
      this.tables = main;
    }
    return { variant: this.variant, logColumns: this.logColumns, tables: this.tables };
  }

  private logSelect(cols: Set<string>) {
    const has = (c: string) => cols.has(c);
    return this.logs
      .selectFrom("logs")
      .select(["id", "created_at", "type", "user_id", "token_name", "channel_id", "model_name", "quota", "prompt_tokens", "completion_tokens"])
      .$if(has("token_id"), (q) => q.select("token_id"))
      .$if(has("is_stream"), (q) => q.select("is_stream"))
      .$if(has("use_time"), (q) => q.select("use_time"))
      .$if(has("elapsed_time"), (q) => q.select("elapsed_time"))
      .$if(has("group"), (q) => q.select("group"))
      .$if(has("other"), (q) => q.select("other"))
      .$if(has("request_id"), (q) => q.select("request_id"));
  }

  private static row(r: Record<string, unknown>): LogRow {
    return {
      id: String(r.id),
      created_at: toNum(r.created_at),
      type: toNum(r.type),
      user_id: toId(r.user_id) ?? "0",
      token_id: toId(r.token_id),
      token_name: r.token_name == null ? "" : String(r.token_name),
      channel_id: toId(r.channel_id),
      model_name: r.model_name == null ? "" : String(r.model_name),
      quota: BigInt(String(r.quota ?? 0)),
      prompt_tokens: toNum(r.prompt_tokens),
      completion_tokens: toNum(r.completion_tokens),
      is_stream: toBool(r.is_stream),
      duration_ms: r.use_time != null ? toNum(r.use_time) * 1000 : r.elapsed_time != null ? toNum(r.elapsed_time) : null,
      group: r.group == null ? null : String(r.group),
      other: r.other == null ? null : String(r.other),
      request_id: r.request_id == null || r.request_id === "" ? null : String(r.request_id),
    };
  }

  /**
   * Rows above `afterId` in id order (the primary key), at most `limit`, up to `upToId` if given.
   * `usageOnly`: consume and refund rows alone (the import); a follower reads every type, so that
   * an id it skipped is an id not yet committed, never a row of another type.
   */
  async logsAfter(afterId: string, limit: number, opts: { upToId?: string; usageOnly?: boolean } = {}): Promise<LogRow[]> {
    const { logColumns } = await this.schema();
    this.queries++;
    const rows = await this.logSelect(logColumns)
      .where("id", ">", afterId)
      .$if(opts.upToId !== undefined, (q) => q.where("id", "<=", opts.upToId!))
      .$if(opts.usageOnly === true, (q) => q.where("type", "in", [...USAGE_TYPES]))
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map((r) => NewapiReader.row(r as Record<string, unknown>));
  }

  /** Rows with ids in [lo, hi] other than those given (an open gap: rows that committed late). */
  async logsBetween(lo: string, hi: string, exclude: string[]): Promise<LogRow[]> {
    const { logColumns } = await this.schema();
    this.queries++;
    const rows = await this.logSelect(logColumns)
      .where("id", ">=", lo)
      .where("id", "<=", hi)
      .$if(exclude.length > 0, (q) => q.where("id", "not in", exclude))
      .orderBy("id")
      .execute();
    return rows.map((r) => NewapiReader.row(r as Record<string, unknown>));
  }

  async maxId(): Promise<string> {
    await this.schema();
    this.queries++;
    const r = await this.logs.selectFrom("logs").select(sql<string>`max(id)`.as("m")).executeTakeFirst();
    return r?.m == null ? "0" : String(r.m);
  }

  /** Usage rows at or below `upToId` (the import's progress total). */
  async countUsage(upToId: string): Promise<number> {
    await this.schema();
    this.queries++;
    const r = await this.logs
      .selectFrom("logs")
      .select(sql<string>`count(*)`.as("n"))
      .where("id", "<=", upToId)
      .where("type", "in", [...USAGE_TYPES])
      .executeTakeFirst();
    return toNum(r?.n);
  }

  /** Every channel (a relay has hundreds at most); never its key. */
  async channels(): Promise<ChannelRow[]> {
    const { tables } = await this.schema();
    const cols = tables.get("channels")!;
    this.queries++;
    const rows = await this.main
      .selectFrom("channels")
      .select(["id", "name", "type", "status"])
      .$if(cols.has("group"), (q) => q.select("group"))
      .$if(cols.has("priority"), (q) => q.select("priority"))
      .orderBy("id")
      .execute();
    return rows.map((r: Record<string, unknown>) => ({
      id: String(r.id),
      name: r.name == null ? "" : String(r.name),
      type: toNum(r.type),
      status: toNum(r.status),
      group: r.group == null ? null : String(r.group),
      priority: r.priority == null ? null : toNum(r.priority),
    }));
  }

  /** A page of tokens above `afterId` with their owner's name; never the key. */
  async tokens(afterId: string, limit: number): Promise<TokenRow[]> {
    const { tables } = await this.schema();
    const cols = tables.get("tokens")!;
    const users = tables.get("users");
    this.queries++;
    const rows = await this.main
      .selectFrom("tokens as t")
      .select(["t.id", "t.user_id", "t.name", "t.status"])
      .$if(cols.has("created_time"), (q) => q.select("t.created_time"))
      .$if(cols.has("deleted_at"), (q) => q.select("t.deleted_at"))
      .$if(users?.has("username") === true, (q) => q.leftJoin("users as u", "u.id", "t.user_id").select("u.username"))
      .where("t.id", ">", afterId)
      .orderBy("t.id")
      .limit(limit)
      .execute();
    return rows.map((r: Record<string, unknown>) => ({
      id: String(r.id),
      user_id: toId(r.user_id) ?? "0",
      name: r.name == null ? "" : String(r.name),
      status: toNum(r.status),
      created_time: r.created_time == null ? null : toNum(r.created_time),
      deleted: r.deleted_at != null,
      username: r.username == null ? null : String(r.username),
    }));
  }

  /** The relay's QuotaPerUnit (quota units per US dollar), or null when never saved (the relay's default applies). */
  async quotaPerUnit(): Promise<string | null> {
    const { tables } = await this.schema();
    if (!tables.has("options")) return null;
    this.queries++;
    const r = await this.main.selectFrom("options").select("value").where("key", "=", "QuotaPerUnit").executeTakeFirst();
    return r?.value == null ? null : String(r.value);
  }
}
