import { sql } from "kysely";
import type { DbHandle } from "./client";
import { migrate, seed } from "./migrator";

/**
 * Brings the schema up to date at start-up. On an empty embedded database it also seeds the demo
 * data, so the first `npm run dev` shows real-looking numbers. Records the usage time zone and
 * warns when it differs from the one the rollups were built in.
 */
export async function prepareDatabase(
  handle: DbHandle,
  settings: { usageTimezone: string },
  log: (line: string) => void = console.log,
): Promise<{ applied: string[]; seeded: boolean }> {
  const applied = await migrate(handle, { log: (l) => log(`[db] ${l}`) });
  let seeded = false;
  if (handle.kind === "pglite") {
    const row = await handle.db.selectFrom("accounts").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow();
    if (row.n === 0) {
      log("[db] empty embedded database: loading the demo seed");
      await seed(handle, settings.usageTimezone);
      seeded = true;
    }
  }
  await ensureUpcomingPartitions(handle);
  const tz = await handle.db.selectFrom("usage_settings").select("value").where("key", "=", "timezone").executeTakeFirst();
  if (!tz) {
    await handle.db.insertInto("usage_settings").values({ key: "timezone", value: settings.usageTimezone }).onConflict((oc) => oc.doNothing()).execute();
  } else if (tz.value !== settings.usageTimezone) {
    log(
      `[db] WARNING: usage rollups were built in ${tz.value} but USAGE_TIMEZONE is ${settings.usageTimezone}; ` +
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
