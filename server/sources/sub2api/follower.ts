import os from "node:os";
import { logger, redactUrl } from "../../logger";
import type { Runtime } from "../../runtime";
import { RejectionLog, visible } from "../shared/rejections";
import { writeEvents } from "../shared/sink";
import { findStatus, updateStatus } from "../shared/status.repository";
import { pollUnderLease, PollLoop, type Lease } from "../shared/poller";
import { GAP_WAIT_MS, IdGapCursor } from "../shared/id-cursor";
import { isUnmapped, mapLog, rowKey } from "./mapping";
import { Sub2apiReader, type LogRow } from "./reader";
import { Sub2apiDirectory } from "./sync";

/**
 * Follows a live sub2api through its PostgreSQL (read-only), with no change to sub2api.
 *
 * One poll: the usage_logs rows above the highest id read (`id > $1 ORDER BY id LIMIT n`, the
 * primary key), written through the one sink, O(new rows); ids that commit out of order are
 * waited for as the shared id cursor does (shared/id-cursor.ts), whose horizon is kept in
 * PostgreSQL (source_status.cursor) for a restart.
 *
 * Accounts and keys are synced at start and every few minutes. Several followers share one lease.
 */

export const SOURCE_KIND = "sub2api";
const METADATA_SYNC_MS = 5 * 60_000;
export { GAP_WAIT_MS };
/** Rows per poll; more wait for the next poll (which follows at once while there are more). */
export const FOLLOW_BATCH = 5_000;

export interface Sub2apiFollowerOptions {
  source?: string;
  owner?: string;
  now?: () => number;
  pollIntervalMs?: number;
  gapWaitMs?: number;
  batch?: number;
}

export interface Sub2apiPollResult {
  leader: boolean;
  rowsRead: number;
  events: number;
  /** Rows that turned up in an open gap (a transaction that committed late). */
  lateRows: number;
  openGaps: number;
  gapsExpired: number;
  rejected: number;
  queries: number;
  horizon: string;
  /** More rows wait than one poll reads. */
  more: boolean;
}

export class Sub2apiFollower {
  readonly source: string;
  readonly owner: string;
  private readonly now: () => number;
  private readonly directory: Sub2apiDirectory;
  private readonly gapWaitMs: number;
  private readonly batch: number;
  private cursor: IdGapCursor;
  private lastMetadataSyncMs = -Infinity;
  private initialized = false;
  private readonly lease: Lease;
  private readonly loop: PollLoop;

  constructor(
    private readonly runtime: Runtime,
    private readonly reader: Sub2apiReader,
    private readonly opts: Sub2apiFollowerOptions = {},
  ) {
    if (!runtime.db) throw new Error("the sub2api follower keeps its cursor in PostgreSQL: it needs POSTGRES_ENABLED=true");
    this.source = opts.source ?? runtime.config.sub2apiSource;
    this.owner = opts.owner ?? `${os.hostname()}:${process.pid}`;
    this.now = opts.now ?? Date.now;
    this.gapWaitMs = opts.gapWaitMs ?? GAP_WAIT_MS;
    this.cursor = new IdGapCursor(0n, this.gapWaitMs);
    this.batch = opts.batch ?? FOLLOW_BATCH;
    this.directory = new Sub2apiDirectory(runtime, reader, this.source);
    this.lease = { source: this.source, kind: SOURCE_KIND, owner: this.owner };
    this.loop = new PollLoop(() => this.pollOnce(), opts.pollIntervalMs ?? runtime.config.sub2apiPollIntervalMs, "sub2api");
  }

  start(): void {
    this.loop.start();
  }

  async stop(opts: { release?: boolean } = {}): Promise<void> {
    await this.loop.stop(this.runtime.db!.db, this.lease, opts);
  }

  /** Every id at or below it is read or given up: where a restart reads on from. */
  get horizon(): bigint {
    return this.cursor.horizon;
  }

  /** One poll; public for tests and the bench. Errors are recorded for /admin/health and rethrown. */
  async pollOnce(): Promise<Sub2apiPollResult> {
    const result: Sub2apiPollResult = { leader: false, rowsRead: 0, events: 0, lateRows: 0, openGaps: 0, gapsExpired: 0, rejected: 0, queries: 0, horizon: "0", more: false };
    const before = this.reader.queries;
    try {
      await pollUnderLease(this.runtime.db!.db, this.lease, result, (log) => this.poll(result, log));
    } finally {
      result.queries = this.reader.queries - before;
    }
    // Someone else works: re-read the cursor when we take over.
    if (!result.leader) this.initialized = false;
    return result;
  }

  private async poll(result: Sub2apiPollResult, log: RejectionLog): Promise<void> {
    const db = this.runtime.db!.db;
    const nowMs = this.now();
    if (!this.initialized) await this.initialize(nowMs);
    if (nowMs - this.lastMetadataSyncMs >= METADATA_SYNC_MS) {
      await this.directory.sync(log);
      this.lastMetadataSyncMs = nowMs;
    }
    // Rows that turned up in open gaps, then the new ones.
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
    const events = [];
    for (const r of rows) {
      const e = mapLog(this.source, r, this.directory.accountOf);
      if (isUnmapped(e)) log.add(e.reason, rowKey("usage_logs", r.id), e.detail);
      else events.push(e);
    }
    let newest = 0;
    if (events.length) {
      const written = await writeEvents(this.runtime, events);
      result.events = written.inserted;
      for (const x of written.rejected) log.add("an event the ledger refused", rowKey("usage_logs", events[x.index]!.requestId.slice(this.source.length + 1)), visible(x.message, 160));
      newest = events.reduce((m, e) => Math.max(m, Date.parse(e.occurredAt)), 0);
    }
    result.horizon = this.horizon.toString();
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

  /** First poll as leader: the stored cursor, or — first start — the present (import the history with npm run sub2api:import). */
  private async initialize(nowMs: number): Promise<void> {
    const db = this.runtime.db!.db;
    await this.reader.schema();
    const status = await findStatus(db, this.source);
    const stored = IdGapCursor.parseHorizon(status?.cursor);
    if (stored === undefined) {
      const present = BigInt(await this.reader.maxId());
      this.cursor = new IdGapCursor(present, this.gapWaitMs);
      await updateStatus(db, this.source, { readAt: new Date(nowMs), cursor: { horizon: present.toString(), maxRead: present.toString(), openGaps: 0 } });
      logger.info(`[sub2api] follower ${this.owner} starts at sub2api's present (usage_logs id ${present}): import the history with npm run sub2api:import`);
    } else {
      this.cursor = new IdGapCursor(stored, this.gapWaitMs);
    }
    this.lastMetadataSyncMs = -Infinity;
    this.initialized = true;
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
