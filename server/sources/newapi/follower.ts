import os from "node:os";
import { logger, redactUrl } from "../../logger";
import type { Runtime } from "../../runtime";
import type { UsageEvent } from "../../usage/schemas";
import { IdGapCursor, GAP_WAIT_MS } from "../shared/id-cursor";
import { pollUnderLease, PollLoop, type Lease } from "../shared/poller";
import { RejectionLog, visible } from "../shared/rejections";
import { writeEvents } from "../shared/sink";
import { findStatus, updateStatus } from "../shared/status.repository";
import { isUnmapped, mapLog, NOT_USAGE, rowKey } from "./mapping";
import { NewapiReader, type LogRow } from "./reader";
import { NewapiDirectory } from "./sync";

/**
 * Follows a live new-api / one-api through its database (MySQL, PostgreSQL or SQLite; read-only),
 * with no change to the relay. One poll: the logs rows above the highest id read (`id > ? ORDER BY
 * id LIMIT n`, the primary key) — every type, so that an id skipped is one not committed yet —,
 * the usage rows among them written through the one sink: O(new rows). Ids that commit out of
 * order (two relay nodes, held transactions) are waited for by the shared id cursor, whose horizon
 * is kept in PostgreSQL (source_status.cursor) for a restart. Channels, tokens and QuotaPerUnit
 * are synced at start and every few minutes. Several followers share one lease.
 */

export const SOURCE_KIND = "newapi";
const METADATA_SYNC_MS = 5 * 60_000;
/** Rows per poll; more wait for the next poll (which follows at once while there are more). */
export const FOLLOW_BATCH = 5_000;

export interface NewapiFollowerOptions {
  source?: string;
  owner?: string;
  now?: () => number;
  pollIntervalMs?: number;
  gapWaitMs?: number;
  batch?: number;
}

export interface NewapiPollResult {
  leader: boolean;
  rowsRead: number;
  events: number;
  lateRows: number;
  openGaps: number;
  gapsExpired: number;
  rejected: number;
  queries: number;
  horizon: string;
  more: boolean;
}

export class NewapiFollower {
  readonly source: string;
  readonly owner: string;
  private readonly now: () => number;
  private readonly directory: NewapiDirectory;
  private readonly gapWaitMs: number;
  private readonly batch: number;
  private cursor: IdGapCursor;
  private lastMetadataSyncMs = -Infinity;
  private initialized = false;
  private readonly lease: Lease;
  private readonly loop: PollLoop;

  constructor(
    private readonly runtime: Runtime,
    private readonly reader: NewapiReader,
    opts: NewapiFollowerOptions = {},
  ) {
    if (!runtime.db) throw new Error("the new-api follower keeps its cursor in PostgreSQL: it needs POSTGRES_ENABLED=true");
    this.source = opts.source ?? runtime.config.newapiSource;
    this.owner = opts.owner ?? `${os.hostname()}:${process.pid}`;
    this.now = opts.now ?? Date.now;
    this.gapWaitMs = opts.gapWaitMs ?? GAP_WAIT_MS;
    this.batch = opts.batch ?? FOLLOW_BATCH;
    this.cursor = new IdGapCursor(0n, this.gapWaitMs);
    this.directory = new NewapiDirectory(runtime, reader, this.source);
    this.lease = { source: this.source, kind: SOURCE_KIND, owner: this.owner };
    this.loop = new PollLoop(() => this.pollOnce(), opts.pollIntervalMs ?? runtime.config.newapiPollIntervalMs, "newapi");
  }

  start(): void {
    this.loop.start();
  }

  async stop(opts: { release?: boolean } = {}): Promise<void> {
    await this.loop.stop(this.runtime.db!.db, this.lease, opts);
  }

  get horizon(): bigint {
    return this.cursor.horizon;
  }

  /** One poll; public for tests and the bench. Errors are recorded for /admin/health and rethrown. */
  async pollOnce(): Promise<NewapiPollResult> {
    const result: NewapiPollResult = { leader: false, rowsRead: 0, events: 0, lateRows: 0, openGaps: 0, gapsExpired: 0, rejected: 0, queries: 0, horizon: "0", more: false };
    const before = this.reader.queries;
    try {
      await pollUnderLease(this.runtime.db!.db, this.lease, result, (log) => this.poll(result, log));
    } finally {
      result.queries = this.reader.queries - before;
    }
    if (!result.leader) this.initialized = false;
    return result;
  }

  private async poll(result: NewapiPollResult, log: RejectionLog): Promise<void> {
    const db = this.runtime.db!.db;
    const nowMs = this.now();
    if (!this.initialized) await this.initialize(nowMs);
    if (nowMs - this.lastMetadataSyncMs >= METADATA_SYNC_MS) {
      await this.directory.sync(log);
      this.lastMetadataSyncMs = nowMs;
    }
    const late: LogRow[] = [];
    for (const g of this.cursor.openGaps) {
      const rows = await this.reader.logsBetween(g.lo.toString(), g.hi.toString(), [...g.seen]);
      this.cursor.sawInGap(g, rows.map((r) => r.id));
      late.push(...rows);
    }
    const fresh = await this.reader.logsAfter(this.cursor.maxRead.toString(), this.batch);
    result.more = fresh.length === this.batch;
    this.cursor.sawFresh(fresh.map((r) => r.id), nowMs);
    const settled = this.cursor.settle(nowMs);
    result.gapsExpired = settled.expired;
    result.openGaps = settled.open;
    result.lateRows = late.length;

    const rows = [...late, ...fresh];
    result.rowsRead = rows.length;
    const events: UsageEvent[] = [];
    for (const r of rows) {
      const e = mapLog(this.source, this.directory.variant, this.directory.money, r);
      if (e === NOT_USAGE) continue;
      if (isUnmapped(e)) log.add(e.reason, rowKey("logs", r.id), e.detail);
      else events.push(e);
    }
    let newest = 0;
    if (events.length) {
      await this.directory.ensureChannels(events.map((e) => e.accountId), log);
      const written = await writeEvents(this.runtime, events);
      result.events = written.inserted;
      for (const x of written.rejected) log.add("an event the ledger refused", rowKey("logs", events[x.index]!.requestId.slice(this.source.length + 1)), visible(x.message, 160));
      newest = events.reduce((m, e) => Math.max(m, Date.parse(e.occurredAt)), 0);
    }
    result.horizon = this.cursor.horizon.toString();
    await updateStatus(db, this.source, {
      readAt: new Date(nowMs),
      succeeded: true,
      rowsRead: rows.length,
      eventsRecorded: result.events,
      lastEventAt: newest ? new Date(newest) : null,
      rejections: log.byReason,
      ...(log.named.length ? { lastRejection: `${log.named.at(-1)!.key}: ${log.named.at(-1)!.reason}`.slice(0, 500) } : {}),
      cursor: { horizon: result.horizon, maxRead: this.cursor.maxRead.toString(), openGaps: settled.open },
    });
  }

  /** First poll as leader: the stored cursor, or — first start — the present (import the history with npm run newapi:import). */
  private async initialize(nowMs: number): Promise<void> {
    const db = this.runtime.db!.db;
    await this.reader.schema();
    const stored = IdGapCursor.parseHorizon((await findStatus(db, this.source))?.cursor);
    if (stored === undefined) {
      const present = BigInt(await this.reader.maxId());
      this.cursor = new IdGapCursor(present, this.gapWaitMs);
      await updateStatus(db, this.source, { readAt: new Date(nowMs), cursor: { horizon: present.toString(), maxRead: present.toString(), openGaps: 0 } });
      logger.info(`[newapi] follower ${this.owner} starts at the relay's present (logs id ${present}): import the history with npm run newapi:import`);
    } else {
      this.cursor = new IdGapCursor(stored, this.gapWaitMs);
    }
    this.lastMetadataSyncMs = -Infinity;
    this.initialized = true;
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
