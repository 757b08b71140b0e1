/**
 * npm run crs:import -- --redis <url> [--until <ISO time>] [--dry-run] [--json]
 * Imports a claude-relay-service's history from its Redis (read-only there) into the ledger:
 * accounts, API keys, every retained per-request record, and what only CRS's aggregates still
 * hold. Safe to re-run; see README "Connect an existing claude-relay-service".
 */
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { getConfig } from "../server/config";
import { CrsImportError, formatReport, importCrs } from "../server/sources/crs/importer";
import { openCliRuntime, progressBar } from "./cli-runtime";

async function main() {
  const { values } = parseArgs({
    options: {
      redis: { type: "string" },
      until: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  const url = values.redis ?? getConfig().crsRedisUrl;
  if (!url) throw new CrsImportError("give CRS's Redis: --redis redis://host:6379/0 (or set CRS_REDIS_URL)");
  let until: Date | undefined;
  if (values.until) {
    until = new Date(values.until);
    if (!Number.isFinite(until.getTime())) throw new CrsImportError(`--until must be an ISO-8601 time, got ${JSON.stringify(values.until)}`);
  }
  // Read-only by construction: the connection never gets a write command, and a replica URL works too.
  const crs = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, connectionName: "usage-breakdown-crs-import" });
  await crs.connect();
  const runtime = await openCliRuntime();
  const bar = progressBar("importing CRS [{bar}] {percentage}% | {value}/{total} API keys | {eta_formatted} left");
  try {
    const report = await importCrs(runtime, crs, {
      until,
      dryRun: values["dry-run"],
      offsetHours: runtime.config.crsTimezoneOffset,
      onProgress: (done, total) => bar.update(done, total),
    });
    bar.stop();
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  } finally {
    bar.stop();
    crs.disconnect();
    await runtime.close();
  }
}

main().catch((err) => {
  console.error(`[crs:import] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
