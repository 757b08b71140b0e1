import pg from "pg";

/**
 * The read-only role of BI tools (issue 15): it sees the `reporting` schema (0007_reporting.sql)
 * and nothing else — no table of the product, so no key hashes, sessions or tokens — with a
 * statement timeout and read-only transactions. Created or updated in place (idempotent).
 */

export interface ReportingRoleOptions {
  role: string;
  /** Sets LOGIN with this password; without it an existing role keeps its login state, a new one has none. */
  password?: string;
  /** statement_timeout of the role's sessions in this database, e.g. "30s". */
  statementTimeout?: string;
}

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const TIMEOUT = /^\d{1,7}(ms|s|min|h)?$/;

export class ReportingRoleError extends Error {}

/** The statements that create or update the role, in order. The password is a literal: never log them. */
export function reportingRoleSql(database: string, o: ReportingRoleOptions): string[] {
  if (!ROLE_NAME.test(o.role)) throw new ReportingRoleError(`--role must be a lower-case SQL name (letters, digits, _; at most 63), got "${o.role.slice(0, 80)}"`);
  if (["postgres", "public", "pg_monitor"].includes(o.role) || o.role.startsWith("pg_")) throw new ReportingRoleError(`--role ${o.role} is reserved`);
  const timeout = o.statementTimeout ?? "30s";
  if (!TIMEOUT.test(timeout)) throw new ReportingRoleError(`--statement-timeout must be like 30s, 500ms or 2min, got "${timeout.slice(0, 40)}"`);
  if (o.password !== undefined && o.password.length < 12) throw new ReportingRoleError("the reporting password must have at least 12 characters");
  const r = pg.escapeIdentifier(o.role);
  const db = pg.escapeIdentifier(database);
  return [
    `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${pg.escapeLiteral(o.role)}) THEN CREATE ROLE ${r}; END IF; END $$`,
    `ALTER ROLE ${r} NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS`,
    ...(o.password !== undefined ? [`ALTER ROLE ${r} LOGIN PASSWORD ${pg.escapeLiteral(o.password)}`] : []),
    `ALTER ROLE ${r} IN DATABASE ${db} SET statement_timeout = ${pg.escapeLiteral(timeout)}`,
    `ALTER ROLE ${r} IN DATABASE ${db} SET default_transaction_read_only = on`,
    `ALTER ROLE ${r} IN DATABASE ${db} SET search_path = reporting`,
    `GRANT CONNECT ON DATABASE ${db} TO ${r}`,
    `REVOKE ALL ON SCHEMA public FROM ${r}`,
    `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${r}`,
    `GRANT USAGE ON SCHEMA reporting TO ${r}`,
    `REVOKE ALL ON ALL TABLES IN SCHEMA reporting FROM ${r}`,
    `GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO ${r}`,
    // Views a later migration adds to the schema (created by the same migrating role).
    `ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO ${r}`,
  ];
}

/** Creates or updates the role on the database at `databaseUrl` (PostgreSQL only), in one transaction. */
export async function grantReporting(databaseUrl: string, o: ReportingRoleOptions): Promise<{ views: string[] }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const database = (await client.query<{ db: string }>("SELECT current_database() AS db")).rows[0]!.db;
    const schema = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = 'reporting'");
    if (!schema.rowCount) throw new ReportingRoleError("the reporting schema does not exist: run npm run db:migrate first");
    const statements = reportingRoleSql(database, o);
    await client.query("BEGIN");
    try {
      for (const s of statements) await client.query(s);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    }
    const views = await client.query<{ v: string }>("SELECT table_name AS v FROM information_schema.views WHERE table_schema = 'reporting' ORDER BY 1");
    return { views: views.rows.map((x) => x.v) };
  } finally {
    await client.end();
  }
}
