/**
 * npm run db:retention [-- --dry-run] [-- --months N]
 *
 * Raw-record retention now (the worker and the app also run it hourly): drops the monthly
 * partitions of usage_records before the horizon (the current UTC month − N months) and the
 * request-id claims before it. --dry-run lists what would go and changes nothing. N is
 * USAGE_RAW_RETENTION_MONTHS unless --months gives it. The rollups keep every figure.
 */
import { createDatabase } from "../db/client";
import { migrate } from "../db/migrator";
import { getConfig, RAW_RETENTION_MAX_MONTHS, RAW_RETENTION_MIN_MONTHS } from "../server/config";
import { describeRetention } from "../server/maintenance/retention.background";
import { applyRawRetention } from "../server/maintenance/retention.service";

const USAGE = "usage: npm run db:retention [-- --dry-run] [-- --months N]";

function parseRetentionArgs(argv: string[], configured: number | undefined): { dryRun: boolean; months: number } {
  let dryRun = false;
  let months = configured;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--dry-run") {
      dryRun = true;
      continue;
    }
    const value = a.startsWith("--months=") ? a.slice(9) : a === "--months" ? argv[++i] : undefined;
    if (value === undefined) throw new Error(`Unknown option ${a}; ${USAGE}`);
    months = Number(value);
    if (!/^\d+$/.test(value) || months < RAW_RETENTION_MIN_MONTHS || months > RAW_RETENTION_MAX_MONTHS) {
      throw new Error(`--months must be a whole number of months from ${RAW_RETENTION_MIN_MONTHS} to ${RAW_RETENTION_MAX_MONTHS}, got "${value}"`);
    }
  }
  if (months === undefined) throw new Error(`USAGE_RAW_RETENTION_MONTHS is not set (every raw record is kept): set it, or give --months N; ${USAGE}`);
  return { dryRun, months };
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

async function main() {
  const config = getConfig();
  const { dryRun, months } = parseRetentionArgs(process.argv.slice(2), config.usageRawRetentionMonths);
  if (!config.postgresEnabled) throw new Error("POSTGRES_ENABLED=false: there are no raw records to expire");
  const handle = await createDatabase({ databaseUrl: config.databaseUrl, pgliteDir: config.pgliteDir, statementTimeoutMs: 3600_000, poolMax: 1 });
  try {
    await migrate(handle);
    const r = await applyRawRetention(handle, { months, dryRun, maxClaimBatches: Number.MAX_SAFE_INTEGER });
    if (!r.ran) {
      console.log("Another process is running retention right now; nothing done. Try again in a minute.");
      return;
    }
    for (const p of r.partitions) console.log(`  ${p.name}  ${p.month.slice(0, 7)}  ${p.rows} record(s)  ${mib(p.bytes)}`);
    console.log(`${dryRun ? "[dry run] " : ""}${describeRetention(r)}. Rollups (days, months, all time) are kept.`);
  } finally {
    await handle.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
