import { sql } from "kysely";
import type { AppConfig } from "../server/config";
import { createDatabase, type DbHandle } from "./client";
import { migrate, seed } from "./migrator";

export type { DbHandle } from "./client";
export type { Database } from "./types";

/**
 * The process-wide database handle, created on first use. Kept on globalThis because Next.js
 * may evaluate this module more than once in a process (instrumentation and route bundles),
 * and the embedded database must be opened exactly once.
 */
const g = globalThis as unknown as { __usageDb?: Promise<DbHandle> };

export function getDbHandle(config: AppConfig): Promise<DbHandle> {
  g.__usageDb ??= createDatabase({
    databaseUrl: config.databaseUrl,
    pgliteDir: config.pgliteDir,
    poolMax: config.dbPoolMax,
    statementTimeoutMs: config.dbStatementTimeoutMs,
  }).then((handle) => {
    const shutdown = () => void handle.close().catch(() => {});
    process.once("SIGTERM", shutdown);
    process.once("SIGINT", shutdown);
    return handle;
  });
  g.__usageDb.catch(() => {
    g.__usageDb = undefined;
  });
  return g.__usageDb;
}

/**
 * Brings the schema up to date at start-up. On an empty embedded database it also seeds the demo
 * data, so the first `npm run dev` shows real-looking numbers. Records the usage time zone and
 * warns when it differs from the one the rollups were built in.
 */
export async function prepareDatabase(
  handle: DbHandle,
  config: AppConfig,
  log: (line: string) => void = console.log,
): Promise<{ applied: string[]; seeded: boolean }> {
  const applied = await migrate(handle, { log: (l) => log(`[db] ${l}`) });
  let seeded = false;
  if (handle.kind === "pglite") {
    const row = await handle.db.selectFrom("accounts").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow();
    if (row.n === 0) {
      log("[db] empty embedded database: loading the demo seed");
      await seed(handle, config.usageTimezone);
      seeded = true;
    }
  }
  await ensureUpcomingPartitions(handle);
  const tz = await handle.db.selectFrom("usage_settings").select("value").where("key", "=", "timezone").executeTakeFirst();
  if (!tz) {
    await handle.db.insertInto("usage_settings").values({ key: "timezone", value: config.usageTimezone }).onConflict((oc) => oc.doNothing()).execute();
  } else if (tz.value !== config.usageTimezone) {
    log(
      `[db] WARNING: usage rollups were built in ${tz.value} but USAGE_TIMEZONE is ${config.usageTimezone}; ` +
        "run `npm run db:rebuild-rollups` to recompute days and months in the new zone.",
    );
  }
  return { applied, seeded };
}

/** Keeps monthly partitions of usage_records three months ahead of now (called daily too). */
export async function ensureUpcomingPartitions(handle: DbHandle): Promise<number> {
  const r = await sql<{ n: number }>`select ensure_usage_partitions(current_date, (current_date + interval '3 months')::date) as n`.execute(handle.db);
  return r.rows[0]?.n ?? 0;
}
