import { logger } from "../logger";
import type { Runtime } from "../runtime";
import { runConfiguredRetention, type RetentionResult } from "./retention.service";

/**
 * With USAGE_RAW_RETENTION_MONTHS, raw-record retention runs in the background of both the worker
 * and the app (server/startup.ts): an installation without Redis has no worker, and its operator
 * expects the setting to take effect anyway. The advisory lock lets one process at a time work
 * and the others find nothing to do; a run is bounded (claims in batches, the rest next time).
 * The horizon moves once a month, so an hourly check is plenty; the first one soon after start.
 */
const FIRST_RUN_MS = 60_000;
const EVERY_MS = 3600_000;

export interface RetentionBackground {
  stop(): Promise<void>;
}

export function describeRetention(r: RetentionResult): string {
  const rows = r.partitions.reduce((n, p) => n + p.rows, 0);
  const names = r.partitions.map((p) => p.name).join(", ");
  return (
    `raw records kept from ${r.keptFrom.toISOString()}: ` +
    `${r.partitions.length} partition(s)${names ? ` (${names}; ${rows} record(s))` : ""} ${r.dryRun ? "would be dropped" : "dropped"}, ` +
    `${r.claims}${r.claimsLeft ? "+" : ""} request-id claim(s) ${r.dryRun ? "would be deleted" : "deleted"}` +
    (r.claimsLeft && !r.dryRun ? " (more next run)" : "")
  );
}

export function startRetentionBackground(runtime: Runtime, opts: { firstRunMs?: number; everyMs?: number } = {}): RetentionBackground {
  const { db, config } = runtime;
  if (!db || config.usageRawRetentionMonths === undefined) return { stop: async () => {} };
  let stopped = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(tick, ms);
    timer.unref();
  };
  const tick = () => {
    running = runConfiguredRetention(config, db, new Date(runtime.clock.now()))
      .then((r) => {
        if (r?.ran && (r.partitions.length || r.claims)) logger.info(`[retention] ${describeRetention(r)}`);
      })
      .catch((err: Error) => {
        if (!stopped) logger.warn(`[retention] raw-record retention failed (${err.message}); retrying in ${(opts.everyMs ?? EVERY_MS) / 1000} s`);
      })
      .finally(() => {
        running = undefined;
        schedule(opts.everyMs ?? EVERY_MS);
      });
  };
  schedule(opts.firstRunMs ?? FIRST_RUN_MS);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
