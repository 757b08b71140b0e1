import pg from "pg";
import { getTestStores } from "../../config";
import { adminQuery, uniqueName } from "../../testing/stores";

/**
 * Tests only: a sub2api-shaped database on the real PostgreSQL — our own DDL for the tables and
 * columns this product reads (facts from sub2api's migrations: `usage_logs` with BIGSERIAL ids and
 * the later columns, `accounts` with `extra`, `api_keys`, `users`, `groups`, soft deletes, a user
 * deleted with ON DELETE CASCADE of its logs) — and writers that insert rows as sub2api does. The
 * ledger reads it through a login that has SELECT only, the one README tells a DBA to create.
 */

const DDL = `
CREATE TABLE groups (
  id BIGSERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL UNIQUE, platform VARCHAR(50) NOT NULL DEFAULT 'anthropic',
  rate_multiplier DECIMAL(10, 4) NOT NULL DEFAULT 1.0, status VARCHAR(20) NOT NULL DEFAULT 'active',
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), deleted_at TIMESTAMPTZ);
CREATE TABLE users (
  id BIGSERIAL PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, username VARCHAR(100) NOT NULL DEFAULT '',
  password_hash VARCHAR(255) NOT NULL DEFAULT 'x', role VARCHAR(20) NOT NULL DEFAULT 'user',
  status VARCHAR(20) NOT NULL DEFAULT 'active',
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), deleted_at TIMESTAMPTZ);
CREATE TABLE accounts (
  id BIGSERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL, platform VARCHAR(50) NOT NULL, type VARCHAR(20) NOT NULL,
  credentials JSONB NOT NULL DEFAULT '{}', extra JSONB NOT NULL DEFAULT '{}', concurrency INT NOT NULL DEFAULT 3,
  priority INT NOT NULL DEFAULT 50, rate_multiplier DECIMAL(10, 4) NOT NULL DEFAULT 1.0,
  status VARCHAR(20) NOT NULL DEFAULT 'active', error_message TEXT, last_used_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), deleted_at TIMESTAMPTZ);
CREATE TABLE api_keys (
  id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key VARCHAR(128) NOT NULL UNIQUE, name VARCHAR(100) NOT NULL, group_id BIGINT REFERENCES groups(id) ON DELETE SET NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'active',
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), deleted_at TIMESTAMPTZ);
CREATE TABLE usage_logs (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  api_key_id BIGINT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
  account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  request_id VARCHAR(64), model VARCHAR(100) NOT NULL, group_id BIGINT,
  input_tokens INT NOT NULL DEFAULT 0, output_tokens INT NOT NULL DEFAULT 0,
  cache_creation_tokens INT NOT NULL DEFAULT 0, cache_read_tokens INT NOT NULL DEFAULT 0,
  cache_creation_5m_tokens INT NOT NULL DEFAULT 0, cache_creation_1h_tokens INT NOT NULL DEFAULT 0,
  input_cost DECIMAL(20, 10) NOT NULL DEFAULT 0, output_cost DECIMAL(20, 10) NOT NULL DEFAULT 0,
  cache_creation_cost DECIMAL(20, 10) NOT NULL DEFAULT 0, cache_read_cost DECIMAL(20, 10) NOT NULL DEFAULT 0,
  total_cost DECIMAL(20, 10) NOT NULL DEFAULT 0, actual_cost DECIMAL(20, 10) NOT NULL DEFAULT 0,
  rate_multiplier DECIMAL(10, 4) NOT NULL DEFAULT 1, account_rate_multiplier DECIMAL(10, 4),
  account_stats_cost DECIMAL(20, 10),
  channel_id BIGINT, billing_mode VARCHAR(20), image_output_tokens INT NOT NULL DEFAULT 0,
  image_output_cost DECIMAL(20, 10) NOT NULL DEFAULT 0,
  stream BOOLEAN NOT NULL DEFAULT FALSE, duration_ms INT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW());
CREATE INDEX idx_usage_logs_created_at ON usage_logs(created_at);
`;

export interface Sub2apiDatabase {
  /** The owner's connection (writes, as sub2api does). */
  pool: pg.Pool;
  /** A read-only login: what the ledger is given (GRANT SELECT only). */
  readUrl: string;
  name: string;
  drop(): Promise<void>;
}

function urlFor(database: string, user?: string): string {
  const u = new URL(getTestStores().databaseUrl);
  u.pathname = `/${database}`;
  if (user) {
    u.username = user;
    u.password = "";
  }
  return u.toString();
}

export async function createSub2apiDatabase(): Promise<Sub2apiDatabase> {
  const name = uniqueName("ub_s2a");
  const reader = `${name}_ro`;
  await adminQuery(`CREATE DATABASE ${name}`);
  await adminQuery(`CREATE ROLE ${reader} LOGIN`);
  const pool = new pg.Pool({ connectionString: urlFor(name), max: 6 });
  pool.on("error", () => {});
  await pool.query(DDL);
  // What README tells the DBA to run.
  await pool.query(`GRANT CONNECT ON DATABASE ${name} TO ${reader}; GRANT USAGE ON SCHEMA public TO ${reader};
                    GRANT SELECT ON usage_logs, accounts, api_keys, users, groups TO ${reader}`);
  return {
    pool,
    readUrl: urlFor(name, reader),
    name,
    async drop() {
      await pool.end().catch(() => {});
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await adminQuery(`DROP ROLE IF EXISTS ${reader}`);
    },
  };
}

type Queryable = Pick<pg.Pool, "query"> | Pick<pg.PoolClient, "query">;

export async function addGroup(db: Queryable, name: string, rate = "1"): Promise<string> {
  const r = await db.query<{ id: string }>(`INSERT INTO groups (name, rate_multiplier) VALUES ($1, $2) RETURNING id`, [name, rate]);
  return r.rows[0]!.id;
}

export async function addUser(db: Queryable, email: string, username = ""): Promise<string> {
  const r = await db.query<{ id: string }>(`INSERT INTO users (email, username) VALUES ($1, $2) RETURNING id`, [email, username]);
  return r.rows[0]!.id;
}

export interface AccountFixture {
  name: string;
  platform?: string;
  type?: string;
  status?: string;
  priority?: number;
  extra?: Record<string, unknown>;
}

export async function addAccount(db: Queryable, a: AccountFixture): Promise<string> {
  const r = await db.query<{ id: string }>(
    `INSERT INTO accounts (name, platform, type, status, priority, extra, credentials) VALUES ($1, $2, $3, $4, $5, $6, '{"access_token":"secret-token"}') RETURNING id`,
    [a.name, a.platform ?? "anthropic", a.type ?? "oauth", a.status ?? "active", a.priority ?? 50, JSON.stringify(a.extra ?? {})],
  );
  return r.rows[0]!.id;
}

export async function addKey(db: Queryable, k: { userId: string; name: string; groupId?: string | null; status?: string }): Promise<string> {
  const r = await db.query<{ id: string }>(
    `INSERT INTO api_keys (user_id, key, name, group_id, status) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    [k.userId, `sk-${uniqueName("k")}`, k.name, k.groupId ?? null, k.status ?? "active"],
  );
  return r.rows[0]!.id;
}

export interface LogFixture {
  userId: string;
  apiKeyId: string;
  accountId: string;
  model: string;
  createdAt: string;
  input?: number;
  output?: number;
  cacheCreate?: number;
  cacheRead?: number;
  cache5m?: number;
  cache1h?: number;
  /** Decimal strings, up to 10 places (sub2api's DECIMAL(20,10)). */
  totalCost: string;
  actualCost: string;
  rateMultiplier?: string;
  accountStatsCost?: string | null;
  accountRateMultiplier?: string | null;
  requestId?: string | null;
  stream?: boolean;
  durationMs?: number | null;
  imageOutputTokens?: number;
  billingMode?: string | null;
  channelId?: string | null;
}

export async function addLog(db: Queryable, l: LogFixture): Promise<string> {
  const r = await db.query<{ id: string }>(
    `INSERT INTO usage_logs (user_id, api_key_id, account_id, request_id, model, input_tokens, output_tokens,
       cache_creation_tokens, cache_read_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens,
       total_cost, actual_cost, rate_multiplier, account_stats_cost, stream, duration_ms, image_output_tokens,
       billing_mode, channel_id, created_at, account_rate_multiplier)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22) RETURNING id`,
    [
      l.userId, l.apiKeyId, l.accountId, l.requestId ?? null, l.model, l.input ?? 0, l.output ?? 0,
      l.cacheCreate ?? 0, l.cacheRead ?? 0, l.cache5m ?? 0, l.cache1h ?? 0,
      l.totalCost, l.actualCost, l.rateMultiplier ?? "1", l.accountStatsCost ?? null, l.stream ?? false, l.durationMs ?? null,
      l.imageOutputTokens ?? 0, l.billingMode ?? null, l.channelId ?? null, l.createdAt, l.accountRateMultiplier ?? null,
    ],
  );
  return r.rows[0]!.id;
}
