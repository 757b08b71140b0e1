import pg from "pg";

/**
 * Reads a sub2api database (PostgreSQL), read-only: every session is `default_transaction_read_only`
 * and the login needs SELECT on five tables alone (README, "Connect sub2api"). Never reads a
 * secret: not `accounts.credentials`, not `api_keys.key` (sub2api keeps the key itself there).
 * Columns sub2api added over time (account_stats_cost, account_rate_multiplier, image tokens,
 * billing_mode, channel_id …) are read when the database has them, so older sub2api versions
 * read too.
 */

/** A usage_logs row as this product reads it: ids as text (BIGSERIAL), costs already worked out in SQL, exactly. */
export interface LogRow {
  id: string;
  user_id: string;
  api_key_id: string;
  account_id: string;
  request_id: string | null;
  model: string;
  created_at: Date;
  input_tokens: number;
  output_tokens: number;
  cache_creation_tokens: number;
  cache_read_tokens: number;
  cache_creation_5m_tokens: number;
  cache_creation_1h_tokens: number;
  /** What the upstream account really cost: coalesce(account_stats_cost, total_cost) × coalesce(account_rate_multiplier, 1), to 8 places. */
  real_cost: string;
  /** What the user was charged (actual_cost = total_cost × rate_multiplier), to 8 places. */
  rated_cost: string;
  /** The list price (total_cost), as sub2api keeps it. */
  list_cost: string;
  rate_multiplier: string | null;
  account_rate_multiplier: string | null;
  stream: boolean | null;
  duration_ms: number | null;
  billing_mode: string | null;
  channel_id: string | null;
  image_output_tokens: number | null;
  group_id: string | null;
}

export interface AccountRow {
  id: string;
  name: string;
  platform: string;
  type: string;
  status: string;
  priority: number | null;
  crs_account_id: string | null;
  crs_kind: string | null;
  updated_at: Date | null;
  deleted_at: Date | null;
}

export interface KeyRow {
  id: string;
  name: string;
  status: string;
  user_id: string;
  group_id: string | null;
  created_at: Date | null;
  deleted_at: Date | null;
  user_email: string | null;
  user_name: string | null;
  group_name: string | null;
}

const REQUIRED_LOG_COLUMNS = [
  "id", "user_id", "api_key_id", "account_id", "model", "created_at", "input_tokens", "output_tokens",
  "cache_creation_tokens", "cache_read_tokens", "total_cost", "actual_cost",
] as const;

export class Sub2apiSchemaError extends Error {}

export class Sub2apiReader {
  private columns: Map<string, Set<string>> | undefined;
  private logSelect: string | undefined;
  /** Queries sent (for the bench: a poll's cost). */
  queries = 0;

  constructor(private readonly pool: pg.Pool) {}

  /** A pool on the sub2api database: read-only sessions, bounded statements, few connections. */
  static connect(url: string, opts: { statementTimeoutMs?: number; max?: number } = {}): Sub2apiReader {
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.max ?? 2,
      application_name: "usage-breakdown-sub2api",
      options: `-c default_transaction_read_only=on -c statement_timeout=${opts.statementTimeoutMs ?? 120_000}`,
      connectionTimeoutMillis: 10_000,
    });
    // An idle connection dropped by the server is not fatal: the next query opens another.
    pool.on("error", () => {});
    return new Sub2apiReader(pool);
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }

  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    this.queries++;
    return (await this.pool.query<R>(text, values)).rows;
  }

  /** Which columns each table has (once per reader); a database that is not sub2api's is refused by name. */
  async schema(): Promise<Map<string, Set<string>>> {
    if (this.columns) return this.columns;
    const rows = await this.query<{ table_name: string; column_name: string }>(
      `select table_name, column_name from information_schema.columns
        where table_schema = current_schema() and table_name = any($1::text[])`,
      [["usage_logs", "accounts", "api_keys", "users", "groups"]],
    );
    const m = new Map<string, Set<string>>();
    for (const r of rows) (m.get(r.table_name) ?? m.set(r.table_name, new Set()).get(r.table_name)!).add(r.column_name);
    const logs = m.get("usage_logs");
    if (!logs) throw new Sub2apiSchemaError("this database has no usage_logs table (or the login cannot see it): is it sub2api's, and was SELECT granted?");
    const missing = REQUIRED_LOG_COLUMNS.filter((c) => !logs.has(c));
    if (missing.length) throw new Sub2apiSchemaError(`usage_logs lacks ${missing.join(", ")}: not a sub2api schema this product knows`);
    if (!m.has("accounts") || !m.has("api_keys")) throw new Sub2apiSchemaError("the login cannot read accounts and api_keys: GRANT SELECT on them (README, Connect sub2api)");
    this.columns = m;
    return m;
  }

  private async logColumns(): Promise<string> {
    if (this.logSelect) return this.logSelect;
    const has = (await this.schema()).get("usage_logs")!;
    const opt = (c: string, fallback: string, cast = "") => (has.has(c) ? `l.${c}${cast}` : fallback);
    const stats = has.has("account_stats_cost") ? "coalesce(l.account_stats_cost, l.total_cost)" : "l.total_cost";
    const accountRate = has.has("account_rate_multiplier") ? "coalesce(l.account_rate_multiplier, 1)" : "1";
    this.logSelect = [
      "l.id::text as id", "l.user_id::text as user_id", "l.api_key_id::text as api_key_id", "l.account_id::text as account_id",
      `${opt("request_id", "null")} as request_id`, "l.model", "l.created_at",
      "l.input_tokens::int8::float8 as input_tokens", "l.output_tokens::int8::float8 as output_tokens",
      "l.cache_creation_tokens::int8::float8 as cache_creation_tokens", "l.cache_read_tokens::int8::float8 as cache_read_tokens",
      `${opt("cache_creation_5m_tokens", "0", "::int8::float8")} as cache_creation_5m_tokens`,
      `${opt("cache_creation_1h_tokens", "0", "::int8::float8")} as cache_creation_1h_tokens`,
      `round(${stats} * ${accountRate}, 8)::text as real_cost`,
      "round(l.actual_cost, 8)::text as rated_cost",
      "l.total_cost::text as list_cost",
      `${opt("rate_multiplier", "null", "::text")} as rate_multiplier`,
      `${opt("account_rate_multiplier", "null", "::text")} as account_rate_multiplier`,
      `${opt("stream", "null")} as stream`,
      `${opt("duration_ms", "null", "::int8::float8")} as duration_ms`,
      `${opt("billing_mode", "null", "::text")} as billing_mode`,
      `${opt("channel_id", "null", "::text")} as channel_id`,
      `${opt("image_output_tokens", "null", "::int8::float8")} as image_output_tokens`,
      `${opt("group_id", "null", "::text")} as group_id`,
    ].join(", ");
    return this.logSelect;
  }

  /** Rows with id above `afterId`, oldest first (the primary key's order), at most `limit`. */
  async logsAfter(afterId: string, limit: number, upToId?: string): Promise<LogRow[]> {
    const cols = await this.logColumns();
    return this.query<LogRow>(
      `select ${cols} from usage_logs l where l.id > $1::int8 and ($3::int8 is null or l.id <= $3::int8) order by l.id limit $2`,
      [afterId, limit, upToId ?? null],
    );
  }

  /** Rows in [lo, hi] other than `seen`: what a gap in the ids held when it was last looked at. */
  async logsBetween(lo: string, hi: string, seen: string[]): Promise<LogRow[]> {
    const cols = await this.logColumns();
    return this.query<LogRow>(
      `select ${cols} from usage_logs l where l.id between $1::int8 and $2::int8 and not (l.id = any($3::int8[])) order by l.id`,
      [lo, hi, seen],
    );
  }

  /** The highest id now (0 for an empty table). */
  async maxId(): Promise<string> {
    const [r] = await this.query<{ id: string | null }>(`select max(id)::text as id from usage_logs`);
    return r?.id ?? "0";
  }

  /**
   * About how many rows there are, for a progress bar: PostgreSQL's estimate (no count(*) over a
   * table of hundreds of millions of rows), or the highest id when the table was never analyzed.
   */
  async countLogs(): Promise<number> {
    const [r] = await this.query<{ n: string | null; id: string | null }>(
      `select (select greatest(reltuples, 0)::bigint::text from pg_class where oid = 'usage_logs'::regclass) as n, (select max(id)::text from usage_logs) as id`,
    );
    const n = Number(r?.n ?? 0);
    return n > 0 ? n : Number(r?.id ?? 0);
  }

  async accounts(): Promise<AccountRow[]> {
    const has = (await this.schema()).get("accounts")!;
    const opt = (c: string, expr: string, fallback: string) => (has.has(c) ? expr : fallback);
    return this.query<AccountRow>(
      `select a.id::text as id, a.name, a.platform, a.type, a.status, ${opt("priority", "a.priority", "null")} as priority,
              ${opt("extra", "a.extra->>'crs_account_id'", "null")} as crs_account_id,
              ${opt("extra", "a.extra->>'crs_kind'", "null")} as crs_kind,
              ${opt("updated_at", "a.updated_at", "null")} as updated_at,
              ${opt("deleted_at", "a.deleted_at", "null")} as deleted_at
         from accounts a order by a.id`,
    );
  }

  /**
   * API keys by id, `limit` at a time after `afterId`; with `changedSince`, only those updated
   * since then (sub2api's `updated_at`, which a soft delete sets too), so that a sync costs what
   * changed, not how many keys there are.
   */
  async apiKeys(afterId: string, limit: number, changedSince?: Date): Promise<KeyRow[]> {
    const s = await this.schema();
    const keys = s.get("api_keys")!;
    const users = s.get("users");
    const groups = s.get("groups");
    const k = (c: string, fallback = "null") => (keys.has(c) ? `k.${c}` : fallback);
    const since = changedSince && keys.has("updated_at") ? changedSince.toISOString() : null;
    return this.query<KeyRow>(
      `select k.id::text as id, k.name, ${k("status", "'active'")} as status, k.user_id::text as user_id,
              ${k("group_id")}::text as group_id, ${k("created_at")} as created_at, ${k("deleted_at")} as deleted_at,
              ${users?.has("email") ? "u.email" : "null"} as user_email,
              ${users?.has("username") ? "nullif(u.username, '')" : "null"} as user_name,
              ${groups?.has("name") && keys.has("group_id") ? "g.name" : "null"} as group_name
         from api_keys k
         ${users ? "left join users u on u.id = k.user_id" : ""}
         ${groups && keys.has("group_id") ? "left join groups g on g.id = k.group_id" : ""}
        where k.id > $1::int8 and ($3::timestamptz is null or k.updated_at >= $3::timestamptz)
        order by k.id limit $2`,
      [afterId, limit, since],
    );
  }

  /** The database's clock now (a sync's next `changedSince`, free of this host's clock). */
  async now(): Promise<Date> {
    const [r] = await this.query<{ now: Date }>(`select now() as now`);
    return r!.now;
  }
}
