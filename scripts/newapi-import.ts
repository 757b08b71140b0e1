/**
 * npm run newapi:import -- [--database <url>] [--log-database <url>] [--dry-run] [--json]
 * Imports a new-api's or one-api's history from its database — MySQL, PostgreSQL or SQLite,
 * read-only there — into the ledger: channels, tokens and every usage row of its logs. Safe to
 * re-run, and beside the follower; see README "Connect new-api / one-api".
 */
import { parseArgs } from "node:util";
import { getConfig } from "../server/config";
import { formatNewapiReport, importNewapi } from "../server/sources/newapi/importer";
import { engineOf, NewapiReader } from "../server/sources/newapi/reader";
import { openCliRuntime, progressBar } from "./cli-runtime";

async function main() {
  const { values } = parseArgs({
    options: {
      database: { type: "string" },
      "log-database": { type: "string" },
      "dry-run": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  const config = getConfig();
  const url = values.database ?? config.newapiDatabaseUrl;
  const logUrl = values["log-database"] ?? config.newapiLogDatabaseUrl;
  if (!url) throw new Error("give the relay's database: --database mysql://reader:…@host:3306/new-api, postgres://…, or sqlite:///data/one-api.db (or set NEWAPI_DATABASE_URL)");
  engineOf(url);
  if (logUrl) engineOf(logUrl);
  const reader = NewapiReader.connect(url, { logUrl });
  const runtime = await openCliRuntime();
  const bar = progressBar("importing new-api [{bar}] {percentage}% | {value}/{total} usage rows | {eta_formatted} left");
  try {
    const report = await importNewapi(runtime, reader, {
      source: config.newapiSource,
      dryRun: values["dry-run"],
      onProgress: (done, total) => bar.update(done, total),
    });
    bar.stop();
    console.log(values.json ? JSON.stringify(report, null, 2) : formatNewapiReport(report));
  } finally {
    bar.stop();
    await reader.close();
    await runtime.close();
  }
}

main().catch((err) => {
  console.error(`[newapi:import] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
