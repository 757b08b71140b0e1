/**
 * npm run db:grant-reporting -- --role <name> [--statement-timeout 30s] [--connection-limit 10] [--temp-file-limit 1GB]
 *
 * Creates or updates a read-only PostgreSQL role for BI tools that sees only the `reporting`
 * schema (db/reporting.ts); run it as a superuser. The password, when REPORTING_PASSWORD is set,
 * makes it a login role; it is never printed. Needs DATABASE_URL (the embedded database has no roles).
 */
import { parseArgs } from "node:util";
import { getConfig } from "../server/config";
import { grantReporting, ReportingRoleError } from "../db/reporting";

async function main() {
  const { values } = parseArgs({
    options: { role: { type: "string" }, "statement-timeout": { type: "string" }, "connection-limit": { type: "string" }, "temp-file-limit": { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  if (!values.role) {
    throw new ReportingRoleError(
      "usage: npm run db:grant-reporting -- --role <name> [--statement-timeout 30s] [--connection-limit 10] [--temp-file-limit 1GB] (REPORTING_PASSWORD in the environment for a login role)",
    );
  }
  const limit = values["connection-limit"];
  if (limit !== undefined && !/^\d{1,4}$/.test(limit)) throw new ReportingRoleError(`--connection-limit must be a whole number, got "${limit.slice(0, 20)}"`);
  const config = getConfig();
  if (!config.databaseUrl) throw new ReportingRoleError("DATABASE_URL is not set: the embedded database (PGlite) has no roles; point DATABASE_URL at PostgreSQL");
  const password = process.env.REPORTING_PASSWORD || undefined;
  const { views } = await grantReporting(config.databaseUrl, {
    role: values.role,
    password,
    statementTimeout: values["statement-timeout"],
    connectionLimit: limit === undefined ? undefined : Number(limit),
    tempFileLimit: values["temp-file-limit"],
  });
  console.log(`role ${values.role}: read-only on schema reporting (${views.length} views: ${views.join(", ")})${password ? ", login with REPORTING_PASSWORD" : " (no password set: REPORTING_PASSWORD=… to allow login)"}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
