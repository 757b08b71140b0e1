/**
 * The stores for a one-off CLI: the configured database (migrated, never seeded) and Redis.
 * With the embedded database, stop `npm run dev` / `npm start` first (one process per folder).
 */
import cliProgress from "cli-progress";
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

/** A progress bar on stderr when it is a terminal (silent otherwise): `update(done, total)`, then `stop()`. */
export function progressBar(format: string): { update(done: number, total: number): void; stop(): void } {
  const bar = new cliProgress.SingleBar({ format, hideCursor: true }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(done, total) {
      if (!process.stderr.isTTY) return;
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.setTotal(total);
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
