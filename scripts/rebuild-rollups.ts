/**
 * npm run db:rebuild-rollups — recomputes every rollup from raw usage records (after an import, a
 * repair, or a change of USAGE_TIMEZONE). Safe to re-run.
 */
import cliProgress from "cli-progress";
import { createDatabase } from "../db/client";
import { getConfig } from "../server/config";
import { rebuildRollups } from "../server/maintenance/rollups.service";

async function main() {
  const config = getConfig();
  if (!config.postgresEnabled) throw new Error("POSTGRES_ENABLED=false: there are no rollups to rebuild");
  const handle = await createDatabase({
    databaseUrl: config.databaseUrl,
    pgliteDir: config.pgliteDir,
    statementTimeoutMs: 6 * 3600_000,
    poolMax: 1,
  });
  const bar = new cliProgress.SingleBar(
    { format: "rebuilding rollups [{bar}] {value}/{total} partitions | {partition}", hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  try {
    const t0 = Date.now();
    const r = await rebuildRollups(handle, config.usageTimezone, (p) => {
      if (!started) {
        bar.start(p.total, 0, { partition: p.partition });
        started = true;
      }
      bar.update(p.done, { partition: p.partition });
    });
    if (started) bar.stop();
    console.log(
      `rebuilt rollups from ${r.partitions} partition(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s; ` +
        `${r.relocalized} record(s) moved to ${config.usageTimezone} days`,
    );
  } finally {
    if (started) bar.stop();
    await handle.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
