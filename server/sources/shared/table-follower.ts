import os from "node:os";
import { logger } from "../../logger";
import type { Runtime } from "../../runtime";
import type { UsageEvent } from "../../usage/schemas";
import { GAP_WAIT_MS, IdGapCursor } from "./id-cursor";
import { pollUnderLease, PollLoop, type Lease } from "./poller";
import { refusedEventReason, visible, type RejectionLog } from "./rejections";
import { writeEvents } from "./sink";
import { findStatus, updateStatus } from "./status.repository";

/**
 * Following a relay's usage table by its auto-increment id, for every relay kept in SQL (sub2api's
 * usage_logs, new-api's logs): one poll reads the rows above the highest id read (`id > ? ORDER BY
 * id LIMIT n`, the primary key) and the open gaps of the id cursor (ids committed out of order:
 * id-cursor.ts), maps them through the relay's own mapping and writes the events through the one
 * sink: O(new rows). The horizon is kept in PostgreSQL (source_status.cursor): a restart reads on
 * from there, a first start from the relay's present (its history is the importer's). The relay's
 * accounts and keys are synced at the first poll and every few minutes. Several followers share
 * one lease (poller.ts).
 */

/** What a relay's reader gives a follower: rows by id, with the row's id as text. */
export interface IdTableReader<Row extends { id: string }> {
  /** Queries sent (a poll's cost, for the bench). */
  readonly queries: number;
  /** Checks the relay's schema (once), refusing a database that is not the relay's. */
  schema(): Promise<unknown>;
  maxId(): Promise<string>;
  /** Rows above `afterId` in id order, at most `limit`, of every kind (an id skipped must be one not committed yet). */
  rowsAfter(afterId: string, limit: number): Promise<Row[]>;
  /** Rows with ids in [lo, hi] other than those given. */
  rowsBetween(lo: string, hi: string, exclude: string[]): Promise<Row[]>;
}

/** A relay reader's usage-log methods as an IdTableReader (sub2api's and new-api's readers have the same ones). */
export function idTableReaderOf<Row extends { id: string }>(reader: {
  readonly queries: number;
  schema(): Promise<unknown>;
  maxId(): Promise<string>;
  logsAfter(afterId: string, limit: number): Promise<Row[]>;
  logsBetween(lo: string, hi: string, exclude: string[]): Promise<Row[]>;
}): IdTableReader<Row> {
  return {
    get queries() {
      return reader.queries;
    },
    schema: () => reader.schema(),
    maxId: () => reader.maxId(),
    rowsAfter: (after, limit) => reader.logsAfter(after, limit),
    rowsBetween: (lo, hi, exclude) => reader.logsBetween(lo, hi, exclude),
  };
}

/** The relay's side of a follower: its directory of accounts and keys, and its mapping of a row. */
export interface TableSource<Row extends { id: string }> {
  /** The relay's kind in source_status (`sub2api`, `newapi`), its log label and its table (for rejections). */
  kind: string;
  label: string;
  table: string;
  /** Accounts and keys into the ledger (first poll, then every METADATA_SYNC_MS). */
  sync(log: RejectionLog): Promise<unknown>;
  /** A row → an event, `null` when the row is not usage, or why it cannot be one. */
  map(row: Row): UsageEvent | { reason: string; detail?: string } | null;
  /** Before a batch's events are written (e.g. placeholders for accounts the relay no longer has). */
  prepare?(events: UsageEvent[], log: RejectionLog): Promise<void>;
  /** The command that imports the history, named in the log at a first start. */
  importCommand: string;
}

export const METADATA_SYNC_MS = 5 * 60_000;
/** Rows per poll; more wait for the next poll (which follows at once while there are more). */
export const FOLLOW_BATCH = 5_000;

export interface TableFollowerOptions {
  source: string;
  owner?: string;
  now?: () => number;
  pollIntervalMs: number;
  gapWaitMs?: number;
  batch?: number;
}

export interface TablePollResult {
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

export class TableFollower<Row extends { id: string }> {
  readonly source: string;
  readonly owner: string;
  private readonly now: () => number;
  private readonly gapWaitMs: number;
  private readonly batch: number;
  private cursor: IdGapCursor;
  private lastMetadataSyncMs = -Infinity;
  private initialized = false;
  private readonly lease: Lease;
  private readonly loop: PollLoop;

  constructor(
    private readonly runtime: Runtime,
    private readonly reader: IdTableReader<Row>,
    private readonly relay: TableSource<Row>,
    opts: TableFollowerOptions,
  ) {
    if (!runtime.db) throw new Error(`the ${relay.label} follower keeps its cursor in PostgreSQL: it needs POSTGRES_ENABLED=true`);
    this.source = opts.source;
    this.owner = opts.owner ?? `${os.hostname()}:${process.pid}`;
    this.now = opts.now ?? Date.now;
    this.gapWaitMs = opts.gapWaitMs ?? GAP_WAIT_MS;
    this.batch = opts.batch ?? FOLLOW_BATCH;
    this.cursor = new IdGapCursor(0n, this.gapWaitMs);
    this.lease = { source: this.source, kind: relay.kind, owner: this.owner };
    this.loop = new PollLoop(() => this.pollOnce(), opts.pollIntervalMs, relay.label);
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
  async pollOnce(): Promise<TablePollResult> {
    const result: TablePollResult = { leader: false, rowsRead: 0, events: 0, lateRows: 0, openGaps: 0, gapsExpired: 0, rejected: 0, queries: 0, horizon: "0", more: false };
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

  private async poll(result: TablePollResult, log: RejectionLog): Promise<void> {
    const db = this.runtime.db!.db;
    const nowMs = this.now();
    if (!this.initialized) await this.initialize(nowMs);
    if (nowMs - this.lastMetadataSyncMs >= METADATA_SYNC_MS) {
      await this.relay.sync(log);
      this.lastMetadataSyncMs = nowMs;
    }
    // Rows that turned up in open gaps, then the new ones.
    const late: Row[] = [];
    for (const g of this.cursor.openGaps) {
      const rows = await this.reader.rowsBetween(g.lo.toString(), g.hi.toString(), [...g.seen]);
      this.cursor.sawInGap(g, rows.map((r) => r.id));
      late.push(...rows);
    }
    const fresh = await this.reader.rowsAfter(this.cursor.maxRead.toString(), this.batch);
    result.more = fresh.length === this.batch;
    this.cursor.sawFresh(fresh.map((r) => r.id), nowMs);
    const settled = this.cursor.settle(nowMs);
    result.gapsExpired = settled.expired;
    result.openGaps = settled.open;
    result.lateRows = late.length;

    const rows = [...late, ...fresh];
    result.rowsRead = rows.length;
    const events: UsageEvent[] = [];
    const rowOf: string[] = [];
    for (const r of rows) {
      const e = this.relay.map(r);
      if (e === null) continue;
      if ("reason" in e) log.add(e.reason, `${this.relay.table}#${r.id}`, e.detail);
      else {
        events.push(e);
        rowOf.push(r.id);
      }
    }
    let newest = 0;
    if (events.length) {
      await this.relay.prepare?.(events, log);
      const written = await writeEvents(this.runtime, events);
      result.events = written.inserted;
      for (const x of written.rejected) log.add(refusedEventReason(x.code), `${this.relay.table}#${rowOf[x.index]}`, visible(x.message, 160));
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

  /** First poll as leader: the stored cursor, or — first start — the relay's present. */
  private async initialize(nowMs: number): Promise<void> {
    const db = this.runtime.db!.db;
    await this.reader.schema();
    const stored = IdGapCursor.parseHorizon((await findStatus(db, this.source))?.cursor);
    if (stored === undefined) {
      const present = BigInt(await this.reader.maxId());
      this.cursor = new IdGapCursor(present, this.gapWaitMs);
      await updateStatus(db, this.source, { readAt: new Date(nowMs), cursor: { horizon: present.toString(), maxRead: present.toString(), openGaps: 0 } });
      logger.info(`[${this.relay.label}] follower ${this.owner} starts at the relay's present (${this.relay.table} id ${present}): import the history with ${this.relay.importCommand}`);
    } else {
      this.cursor = new IdGapCursor(stored, this.gapWaitMs);
    }
    this.lastMetadataSyncMs = -Infinity;
    this.initialized = true;
  }
}
