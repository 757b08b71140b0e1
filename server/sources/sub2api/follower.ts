import { logger, redactUrl } from "../../logger";
import type { Runtime } from "../../runtime";
import { idTableReaderOf, TableFollower, type TablePollResult } from "../shared/table-follower";
import { mapLog } from "./mapping";
import { Sub2apiReader, type LogRow } from "./reader";
import { Sub2apiDirectory } from "./sync";

/**
 * Follows a live sub2api through its PostgreSQL (read-only), with no change to sub2api: its
 * usage_logs by id, as every relay kept in SQL is followed (shared/table-follower.ts: new rows by
 * primary key, ids committed out of order waited for, the horizon kept for a restart), its
 * accounts and keys synced at start and every few minutes (sync.ts).
 */

export const SOURCE_KIND = "sub2api";

export interface Sub2apiFollowerOptions {
  source?: string;
  owner?: string;
  now?: () => number;
  pollIntervalMs?: number;
  gapWaitMs?: number;
  batch?: number;
}

export type Sub2apiPollResult = TablePollResult;

export class Sub2apiFollower extends TableFollower<LogRow> {
  constructor(runtime: Runtime, reader: Sub2apiReader, opts: Sub2apiFollowerOptions = {}) {
    const source = opts.source ?? runtime.config.sub2apiSource;
    const directory = new Sub2apiDirectory(runtime, reader, source);
    super(
      runtime,
      idTableReaderOf<LogRow>(reader),
      {
        kind: SOURCE_KIND,
        label: "sub2api",
        table: "usage_logs",
        importCommand: "npm run sub2api:import",
        sync: (log) => directory.sync(log),
        map: (row) => mapLog(source, row, directory.accountOf),
      },
      { ...opts, source, pollIntervalMs: opts.pollIntervalMs ?? runtime.config.sub2apiPollIntervalMs },
    );
  }
}

/** Starts a follower when SUB2API_DATABASE_URL is set (the worker, and the app unless SUB2API_FOLLOW_IN_APP=false). */
export async function startSub2apiFollower(runtime: Runtime): Promise<{ stop(): Promise<void> } | undefined> {
  const url = runtime.config.sub2apiDatabaseUrl;
  if (!url || !runtime.db) return undefined;
  const reader = Sub2apiReader.connect(url);
  try {
    const follower = new Sub2apiFollower(runtime, reader);
    follower.start();
    logger.info(`[sub2api] following sub2api at ${redactUrl(url)} as source "${follower.source}"`);
    return {
      async stop() {
        await follower.stop();
        await reader.close();
      },
    };
  } catch (err) {
    await reader.close();
    logger.error(`[sub2api] not following sub2api: ${(err as Error).message}`);
    return undefined;
  }
}
