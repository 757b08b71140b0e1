/**
 * The stores for a one-off CLI: the configured database (migrated, never seeded) and Redis.
 * With the embedded database, stop `npm run dev` / `npm start` first (one process per folder).
 */
import { migrate } from "../db/migrator";
import { getConfig } from "../server/config";
import { createRuntime, type Runtime } from "../server/runtime";

export async function openCliRuntime(): Promise<Runtime> {
  const runtime = await createRuntime(getConfig(), { ownDatabase: true });
  try {
    if (runtime.db) await migrate(runtime.db);
  } catch (err) {
    await runtime.close();
    throw err;
  }
  return runtime;
}
