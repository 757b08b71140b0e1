/**
 * Playwright's web server: builds if needed, creates the run's own database, migrates and seeds
 * it, runs `next start`, and drops the database and Redis prefix when stopped.
 */
import { spawn } from "node:child_process";
import { getConfig } from "../server/config";
import { createDatabase } from "../db/client";
import { migrate, seed } from "../db/migrator";
import { adminQuery, dropRedisPrefix } from "../server/testing/stores";
import { ensureBuild } from "../server/testing/ensure-build";

async function main() {
  // Reuses the build an earlier step of `npm test` made, unless a source changed since.
  ensureBuild(process.cwd(), (s) => console.log(`[e2e-server] ${s}`));
  const config = getConfig();
  if (!config.databaseUrl) throw new Error("e2e-server needs DATABASE_URL");
  const name = new URL(config.databaseUrl).pathname.slice(1);
  if (!/^ub_e2e_[a-z0-9]+$/.test(name)) throw new Error(`refusing to manage database ${name}`);
  await adminQuery(`CREATE DATABASE ${name}`);
  const handle = await createDatabase({ databaseUrl: config.databaseUrl, pgliteDir: "", statementTimeoutMs: 60_000 });
  await migrate(handle);
  await seed(handle, config.usageTimezone);
  await handle.close();

  // E2E_PORT: the free port playwright.config.ts chose.
  const port = process.env.E2E_PORT ?? process.argv[2];
  if (!port) throw new Error("e2e-server needs E2E_PORT");
  const child = spawn("node_modules/.bin/next", ["start", "-p", port, "-H", "127.0.0.1"], { stdio: "inherit" });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((e) => console.error(e));
    await dropRedisPrefix(config.redisKeyPrefix).catch((e) => console.error(e));
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  child.on("exit", (code) => {
    if (!stopping) {
      console.error(`next start exited with ${code}`);
      void adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => process.exit(code ?? 1));
    }
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
