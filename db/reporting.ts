import pg from "pg";

/**
 * The read-only role of BI tools (issues 15, 19): it sees the `reporting` schema (0007_reporting.sql)
 * and nothing else — no table of the product, so no key hashes, sessions or tokens. Read-only does
 * not rest on `default_transaction_read_only`, which the role may turn off itself: the role holds no
 * privilege that writes (no TEMP, no CREATE, no table or sequence grant, no large objects), which
 * grantReporting() checks before committing, and the limits it cannot change (connection limit,
 * `temp_file_limit`) bound what its queries take. Created or updated in place (idempotent).
 */

export interface ReportingRoleOptions {
  role: string;
  /** Sets LOGIN with this password; without it an existing role keeps its login state, a new one has none. */
  password?: string;
  /** statement_timeout of the role's sessions in this database, e.g. "30s" (a default the role may change). */
  statementTimeout?: string;
  /** Sessions the role may hold at once (default 10). */
  connectionLimit?: number;
  /** temp_file_limit of its sessions (spill files of sorts and hashes), e.g. "1GB"; only a superuser may change it. */
  tempFileLimit?: string;
}

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const TIMEOUT = /^\d{1,7}(ms|s|min|h)?$/;
const SIZE = /^\d{1,7}(kB|MB|GB|TB)?$/;
/** The functions that create a large object (0009 revokes them from PUBLIC). */
const LARGE_OBJECT_CREATORS = ["lo_create(oid)", "lo_creat(integer)", "lo_from_bytea(oid, bytea)"];

export class ReportingRoleError extends Error {}

/** The statements that create or update the role, in order. The password is a literal: never log them. */
export function reportingRoleSql(database: string, o: ReportingRoleOptions): string[] {
  if (!ROLE_NAME.test(o.role)) throw new ReportingRoleError(`--role must be a lower-case SQL name (letters, digits, _; at most 63), got "${o.role.slice(0, 80)}"`);
  if (["postgres", "public", "pg_monitor"].includes(o.role) || o.role.startsWith("pg_")) throw new ReportingRoleError(`--role ${o.role} is reserved`);
  const timeout = o.statementTimeout ?? "30s";
  if (!TIMEOUT.test(timeout)) throw new ReportingRoleError(`--statement-timeout must be like 30s, 500ms or 2min, got "${timeout.slice(0, 40)}"`);
  if (o.password !== undefined && o.password.length < 12) throw new ReportingRoleError("the reporting password must have at least 12 characters");
  const connections = o.connectionLimit ?? 10;
  if (!Number.isInteger(connections) || connections < 1 || connections > 1000) throw new ReportingRoleError(`--connection-limit must be an integer from 1 to 1000, got ${String(connections).slice(0, 20)}`);
  const tempFiles = o.tempFileLimit ?? "1GB";
  if (!SIZE.test(tempFiles)) throw new ReportingRoleError(`--temp-file-limit must be like 1GB, 500MB or 0 (no spill files at all), got "${tempFiles.slice(0, 40)}"`);
  const r = pg.escapeIdentifier(o.role);
  const db = pg.escapeIdentifier(database);
  return [
    `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${pg.escapeLiteral(o.role)}) THEN CREATE ROLE ${r}; END IF; END $$`,
    `ALTER ROLE ${r} NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT ${connections}`,
    ...(o.password !== undefined ? [`ALTER ROLE ${r} LOGIN PASSWORD ${pg.escapeLiteral(o.password)}`] : []),
    `ALTER ROLE ${r} IN DATABASE ${db} SET statement_timeout = ${pg.escapeLiteral(timeout)}`,
    // A default the role may lift; what it can write is settled by the privileges below.
    `ALTER ROLE ${r} IN DATABASE ${db} SET default_transaction_read_only = on`,
    `ALTER ROLE ${r} IN DATABASE ${db} SET search_path = reporting`,
    // A superuser-only setting (or one granted SET on it): the role cannot raise it.
    `ALTER ROLE ${r} IN DATABASE ${db} SET temp_file_limit = ${pg.escapeLiteral(tempFiles)}`,
    `REVOKE ALL ON DATABASE ${db} FROM ${r}`,
    `GRANT CONNECT ON DATABASE ${db} TO ${r}`,
    // What PostgreSQL grants every role, as 0009 does for a database migrated by its owner.
    `REVOKE TEMPORARY ON DATABASE ${db} FROM PUBLIC`,
    `REVOKE EXECUTE ON FUNCTION ${LARGE_OBJECT_CREATORS.map((f) => `pg_catalog.${f}`).join(", ")} FROM PUBLIC`,
    `REVOKE ALL ON SCHEMA public FROM ${r}`,
    `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${r}`,
    `GRANT USAGE ON SCHEMA reporting TO ${r}`,
    `REVOKE ALL ON ALL TABLES IN SCHEMA reporting FROM ${r}`,
    `GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO ${r}`,
    // Views a later migration adds to the schema (created by the same migrating role).
    `ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO ${r}`,
  ];
}

/**
 * Everything `$1` could write in this database, one line each (none for a read-only role): TEMP or
 * CREATE on it, CREATE on a schema, a table, view or sequence it may change, a large-object creator
 * ($2) or a SECURITY DEFINER function it may call. Privileges through PUBLIC count.
 */
const WRITABLE_SQL = `SELECT what FROM (
    SELECT 'TEMP on the database' AS what WHERE has_database_privilege($1, current_database(), 'TEMP')
    UNION ALL SELECT 'CREATE on the database' WHERE has_database_privilege($1, current_database(), 'CREATE')
    UNION ALL SELECT format('CREATE on schema %I', nspname) FROM pg_namespace WHERE has_schema_privilege($1, oid, 'CREATE')
    UNION ALL SELECT format('%s on %s', p, c.oid::regclass) FROM pg_class c CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p
      -- pg_settings: PUBLIC may UPDATE it, which is SET (this session's settings), not a write.
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.oid <> 'pg_catalog.pg_settings'::regclass AND has_table_privilege($1, c.oid, p)
    UNION ALL SELECT format('USAGE on sequence %s', c.oid::regclass) FROM pg_class c
      WHERE CASE WHEN c.relkind = 'S' THEN has_sequence_privilege($1, c.oid, 'USAGE, UPDATE') ELSE false END
    UNION ALL SELECT format('EXECUTE on %s', f) FROM unnest($2::regprocedure[]) AS f WHERE has_function_privilege($1, f, 'EXECUTE')
    UNION ALL SELECT format('EXECUTE on %s (SECURITY DEFINER)', p.oid::regprocedure) FROM pg_proc p WHERE p.prosecdef AND has_function_privilege($1, p.oid, 'EXECUTE')
  ) w ORDER BY 1`;

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
      const writable = (await client.query<{ what: string }>(WRITABLE_SQL, [o.role, LARGE_OBJECT_CREATORS])).rows.map((x) => x.what);
      if (writable.length > 0) {
        throw new ReportingRoleError(`role ${o.role} could still write (${writable.slice(0, 10).join("; ")}${writable.length > 10 ? " …" : ""}); nothing was changed. Grant as a superuser, or revoke those privileges first`);
      }
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      if ((err as { code?: string }).code === "42501") {
        throw new ReportingRoleError(`the connecting role may not set up the reporting role (${(err as Error).message}): run db:grant-reporting as a superuser (temp_file_limit and the large-object functions need one)`);
      }
      throw err;
    }
    const views = await client.query<{ v: string }>("SELECT table_name AS v FROM information_schema.views WHERE table_schema = 'reporting' ORDER BY 1");
    return { views: views.rows.map((x) => x.v) };
  } finally {
    await client.end();
  }
}
