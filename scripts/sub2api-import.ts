/**
 * npm run sub2api:import -- [--database <postgres url>] [--dry-run] [--json]
 * Imports a sub2api's history from its PostgreSQL (read-only there) into the ledger: accounts,
 * API keys and every usage_logs row. Safe to re-run, and beside the follower; see README
 * "Connect sub2api".
 */
import { parseArgs } from "node:util";
import { getConfig } from "../server/config";
import { formatSub2apiReport, importSub2api } from "../server/sources/sub2api/importer";
import { Sub2apiReader } from "../server/sources/sub2api/reader";
import { openCliRuntime, progressBar } from "./cli-runtime";

async function main() {
  const { values } = parseArgs({
    options: {
      database: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  const config = getConfig();
  const url = values.database ?? config.sub2apiDatabaseUrl;
  if (!url) throw new Error("give sub2api's database: --database postgres://reader@host:5432/sub2api (or set SUB2API_DATABASE_URL)");
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error("--database must be a postgres:// URL");
  const reader = Sub2apiReader.connect(url);
  const runtime = await openCliRuntime();
  const bar = progressBar("importing sub2api [{bar}] {percentage}% | {value}/{total} usage rows | {eta_formatted} left");
  try {
    const report = await importSub2api(runtime, reader, {
      source: config.sub2apiSource,
      dryRun: values["dry-run"],
      onProgress: (done, total) => bar.update(done, total),
    });
    bar.stop();
    console.log(values.json ? JSON.stringify(report, null, 2) : formatSub2apiReport(report));
  } finally {
    bar.stop();
    await reader.close();
    await runtime.close();
  }
}

main().catch((err) => {
  console.error(`[sub2api:import] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
