import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { DbHandle, DbSession } from "./client";

/**
 * Plain-SQL migrations: db/migrations/NNNN_name.sql, applied in order, each in its own
 * transaction, recorded in schema_migrations with a SHA-256 checksum. A session-level advisory
 * lock serialises concurrent runners (two app nodes starting at once): the second waits, then
 * finds nothing pending.
 */
// Read from the working folder (the repo, or the standalone folder the Docker image runs). The
// reads below are marked turbopackIgnore: they take any folder, so Next.js's file tracer would
// copy the whole project into the standalone build; next.config.mjs lists these files instead.
export const MIGRATIONS_DIR = path.join(process.cwd(), "db", "migrations");
export const SEED_FILE = path.join(process.cwd(), "db", "seed.sql");
const LOCK_KEY = 7_311_420_001; // arbitrary, fixed: "usage-breakdown migrations"

export interface MigrationFile {
  name: string;
  checksum: string;
  sql: string;
}

export interface MigrationStatus {
  applied: { name: string; checksum: string; appliedAt: Date }[];
  pending: MigrationFile[];
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MigrationError";
  }
}

export function loadMigrations(dir = MIGRATIONS_DIR): MigrationFile[] {
  const files = fs
    .readdirSync(/* turbopackIgnore: true */ dir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  return files.map((name) => {
    if (!/^\d{4}_[a-z0-9_]+\.sql$/.test(name)) {
      throw new MigrationError(`Migration file name ${name} must look like NNNN_name.sql`);
    }
    const sql = fs.readFileSync(/* turbopackIgnore: true */ path.join(/* turbopackIgnore: true */ dir, name), "utf8");
    return { name, sql, checksum: crypto.createHash("sha256").update(sql).digest("hex") };
  });
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  name text PRIMARY KEY,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

async function status(session: DbSession, files: MigrationFile[]): Promise<MigrationStatus> {
  const exists = await session.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
  const rows = exists[0]?.t
    ? await session.query<{ name: string; checksum: string; applied_at: Date }>(
        `SELECT name, checksum, applied_at FROM schema_migrations ORDER BY name`,
      )
    : [];
  const byName = new Map(files.map((f) => [f.name, f]));
  for (const row of rows) {
    const file = byName.get(row.name);
    if (!file) {
      throw new MigrationError(`Migration ${row.name} is recorded as applied but its file is missing from db/migrations.`);
    }
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `Migration ${row.name} was edited after it was applied (checksum ${row.checksum.slice(0, 12)}… recorded, ` +
          `${file.checksum.slice(0, 12)}… on disk). Restore the file and put the change in a new migration.`,
      );
    }
  }
  const applied = new Set(rows.map((r) => r.name));
  return {
    applied: rows.map((r) => ({ name: r.name, checksum: r.checksum, appliedAt: r.applied_at })),
    pending: files.filter((f) => !applied.has(f.name)),
  };
}

export async function migrationStatus(handle: DbHandle, files = loadMigrations()): Promise<MigrationStatus> {
  return handle.withSession((s) => status(s, files));
}

/** Applies pending migrations; returns the names applied (none when up to date). */
export async function migrate(
  handle: DbHandle,
  opts: { files?: MigrationFile[]; log?: (line: string) => void } = {},
): Promise<string[]> {
  const files = opts.files ?? loadMigrations();
  const log = opts.log ?? (() => {});
  return handle.withSession(async (s) => {
    await s.query(`SELECT pg_advisory_lock($1)`, [LOCK_KEY]);
    try {
      await s.exec(CREATE_TABLE);
      const { pending } = await status(s, files);
      const done: string[] = [];
      for (const file of pending) {
        log(`applying ${file.name}`);
        try {
          await s.exec(`BEGIN;\n${file.sql}\n;\nINSERT INTO schema_migrations (name, checksum) VALUES ('${file.name}', '${file.checksum}');\nCOMMIT;`);
        } catch (err) {
          await s.exec("ROLLBACK").catch(() => {});
          throw new MigrationError(`Migration ${file.name} failed and was rolled back: ${(err as Error).message}`);
        }
        done.push(file.name);
      }
      return done;
    } finally {
      await s.query(`SELECT pg_advisory_unlock($1)`, [LOCK_KEY]);
    }
  });
}

/**
 * Loads db/seed.sql with the usage time zone set for it. The seed is idempotent: its request
 * ids are derived from the local date, so a second run on the same day inserts nothing.
 */
export async function seed(handle: DbHandle, timezone: string, file = SEED_FILE): Promise<void> {
  if (!/^[A-Za-z0-9_+\-/]+$/.test(timezone)) throw new MigrationError(`Invalid time zone ${timezone}`);
  const text = fs.readFileSync(/* turbopackIgnore: true */ file, "utf8");
  await handle.withSession(async (s) => {
    try {
      await s.exec(`BEGIN;\nSELECT set_config('usage.timezone', '${timezone}', true);\n${text}\n;\nCOMMIT;`);
    } catch (err) {
      await s.exec("ROLLBACK").catch(() => {});
      throw err;
    }
  });
}
