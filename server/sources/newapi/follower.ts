import { logger, redactUrl } from "../../logger";
import type { Runtime } from "../../runtime";
import { idTableReaderOf, TableFollower, type TablePollResult } from "../shared/table-follower";
import { mapLog, NOT_USAGE } from "./mapping";
import { NewapiReader, type LogRow } from "./reader";
import { NewapiDirectory } from "./sync";

/**
 * Follows a live new-api / one-api through its database (MySQL, PostgreSQL or SQLite; read-only),
 * with no change to the relay: its logs by id, as every relay kept in SQL is followed
 * (shared/table-follower.ts: new rows by primary key — of every type, so that an id skipped is one
 * not committed yet —, ids committed out of order waited for, the horizon kept for a restart);
 * channels, tokens and QuotaPerUnit synced at start and every few minutes (sync.ts).
 */

export const SOURCE_KIND = "newapi";

export interface NewapiFollowerOptions {
  source?: string;
  owner?: string;
  now?: () => number;
  pollIntervalMs?: number;
  gapWaitMs?: number;
  batch?: number;
}

export type NewapiPollResult = TablePollResult;

export class NewapiFollower extends TableFollower<LogRow> {
  constructor(runtime: Runtime, reader: NewapiReader, opts: NewapiFollowerOptions = {}) {
    const source = opts.source ?? runtime.config.newapiSource;
    const directory = new NewapiDirectory(runtime, reader, source);
    super(
      runtime,
      idTableReaderOf<LogRow>(reader),
      {
        kind: SOURCE_KIND,
        label: "newapi",
        table: "logs",
        importCommand: "npm run newapi:import",
        sync: (log) => directory.sync(log),
        map: (row) => {
          const e = mapLog(source, directory.variant, directory.money, row);
          return e === NOT_USAGE ? null : e;
        },
        prepare: (events, log) => directory.ensureChannels(events.map((e) => e.accountId), log),
      },
      { ...opts, source, pollIntervalMs: opts.pollIntervalMs ?? runtime.config.newapiPollIntervalMs },
    );
  }
}

/** Starts a follower when NEWAPI_DATABASE_URL is set (the worker, and the app unless NEWAPI_FOLLOW_IN_APP=false). */
export async function startNewapiFollower(runtime: Runtime): Promise<{ stop(): Promise<void> } | undefined> {
  const url = runtime.config.newapiDatabaseUrl;
  if (!url || !runtime.db) return undefined;
  let reader: NewapiReader | undefined;
  try {
    reader = NewapiReader.connect(url, { logUrl: runtime.config.newapiLogDatabaseUrl });
    const follower = new NewapiFollower(runtime, reader);
    follower.start();
    logger.info(`[newapi] following ${redactUrl(url)} as source "${follower.source}"`);
    const r = reader;
    return {
      async stop() {
        await follower.stop();
        await r.close();
      },
    };
  } catch (err) {
    await reader?.close();
    logger.error(`[newapi] not following new-api: ${(err as Error).message}`);
    return undefined;
  }
}
