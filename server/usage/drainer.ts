import { randomBytes } from "node:crypto";
import os from "node:os";
import type { DbHandle } from "../../db/client";
import type { AppConfig } from "../config";
import { logger } from "../logger";
import { connectWithin, createRedis, type RedisClient } from "../redis";
import {
  ackOutbox,
  claimOutbox,
  deadLetterOutbox,
  forgetOutboxConsumer,
  ensureOutboxGroup,
  outboxHoldsUpTo,
  pruneOutboxConsumers,
  readOutbox,
  type OutboxEntry,
} from "./hot-outbox";
import { metrics } from "../metrics/metrics";
import { isDataError, isStatementTimeout } from "../../db/errors";
import { insertUsageRows } from "./usage.repository";
import { utcMonthStart } from "./local-time";
import { rawKeptFromMs } from "../maintenance/raw-horizon";

/**
 * Moves the outbox stream into PostgreSQL. Several drainers (one per app node or worker) share
 * the stream through one consumer group. Each write is one insert_usage_batch statement (one
 * transaction) of up to maxEventsPerWrite events, acknowledged only after it committed: a crash
 * in between redelivers the entries (to this consumer, or via XAUTOCLAIM to another one) and the
 * unique request id makes the second write a no-op.
 *
 * Part of a write's cost is per statement and per distinct account × key × model × day it touches
 * (the rollup upserts), so big writes are cheaper per event: 2,000-event writes take about twice
 * the PostgreSQL CPU per event of 50,000-event ones (`npm run bench:drain`). The background loop
 * therefore reads at most once per lingerMs while it keeps up, so that a write gathers what
 * arrived during the previous one and the pause.
 */
export interface DrainerOptions {
  /** Consumer name in the group; unique per process by default. */
  consumer?: string;
  maxEventsPerWrite?: number;
  /**
   * Most stream entries per read. Each entry is one recorded batch (1 to 1,000 events): the
   * drainer reads about maxEventsPerWrite events' worth, learning the usual batch size.
   */
  readCount?: number;
  /** Background loop: after a cycle that emptied the stream, the next read waits until this long after that cycle began. */
  lingerMs?: number;
  blockMs?: number;
  /** Pending entries idle this long in another consumer are taken over. */
  claimIdleMs?: number;
  claimIntervalMs?: number;
  /** Test hook: runs after a commit and before the acknowledgement; a throw stops that cycle. */
  afterCommit?: (entryIds: string[]) => void | Promise<void>;
  /**
   * Every pause of the drainer (the linger, the backoff after a failure, drainAll's poll) is a call
   * of this function; tests pass one they resolve themselves, so no assertion depends on timing.
   */
  delay?: (ms: number, why: "linger" | "backoff" | "poll") => Promise<void>;
}

export interface DrainResult {
  entries: number;
  events: number;
  inserted: number;
}

export interface DrainerStatus {
  consumer: string;
  running: boolean;
  inserted: number;
  lastSuccessAt: string | null;
  lastError: string | null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Floor of the write size after statement timeouts. */
const MIN_WRITE_LIMIT = 1000;

export class Drainer {
  readonly consumer: string;
  private readonly opts: Required<Omit<DrainerOptions, "afterCommit" | "consumer">> & Pick<DrainerOptions, "afterCommit">;
  private readonly prefix: string;
  private redis: RedisClient | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private endPause: (() => void) | undefined;
  private checkOwnPending = true;
  /** The last read filled its count: more is probably waiting, so the loop does not linger. */
  private readWasFull = false;
  /** maxEventsPerWrite, halved after a write hit the statement timeout and grown back after successes. */
  private writeLimit: number;
  private lastClaimAt = 0;
  private stats = { inserted: 0, lastSuccessAt: null as string | null, lastError: null as string | null };
  /** Running average of events per entry; starts pessimistic (big batches) to bound the first read. */
  private eventsPerEntry = 1000;

  constructor(
    private readonly config: AppConfig,
    private readonly db: DbHandle,
    opts: DrainerOptions = {},
  ) {
    if (!config.redisUrl) throw new Error("The drainer needs REDIS_URL");
    this.prefix = config.redisKeyPrefix;
    this.consumer = opts.consumer ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
    this.opts = {
      maxEventsPerWrite: opts.maxEventsPerWrite ?? 50_000,
      readCount: opts.readCount ?? 10_000,
      lingerMs: opts.lingerMs ?? 1000,
      blockMs: opts.blockMs ?? 1000,
      claimIdleMs: opts.claimIdleMs ?? 30_000,
      claimIntervalMs: opts.claimIntervalMs ?? 5_000,
      afterCommit: opts.afterCommit,
      delay: opts.delay ?? sleep,
    };
    this.writeLimit = this.opts.maxEventsPerWrite;
  }

  status(): DrainerStatus {
    return { consumer: this.consumer, running: this.running, ...this.stats };
  }

  /** Its own connection: a blocking read must not hold up the request path's pipelines. */
  private async client(): Promise<RedisClient> {
    if (!this.redis) {
      this.redis = createRedis(this.config.redisUrl!, { name: `usage-drainer:${this.consumer}` });
    }
    if (this.redis.status === "wait" || this.redis.status === "end") {
      try {
        await connectWithin(this.redis);
      } catch (err) {
        // A fresh client next time (a Cluster that failed its first connect may never recover).
        this.redis.disconnect();
        this.redis = undefined;
        throw err;
      }
      await ensureOutboxGroup(this.redis, this.prefix);
    }
    if (this.redis.status !== "ready") throw new Error(`Redis is ${this.redis.status}`);
    return this.redis;
  }

  private readCount(): number {
    return Math.max(1, Math.min(this.opts.readCount, Math.ceil(this.writeLimit / this.eventsPerEntry)));
  }

  private async read(redis: RedisClient, opts: { pending?: boolean; blockMs?: number }): Promise<OutboxEntry[]> {
    const count = this.readCount();
    const entries = await readOutbox(redis, this.prefix, this.consumer, { count, ...opts });
    this.readWasFull = entries.length >= count;
    return entries;
  }

  /**
   * One cycle: this consumer's unacknowledged entries first, then (now and then) entries of dead
   * consumers, then new entries. Returns what it wrote.
   */
  async drainOnce(opts: { blockMs?: number } = {}): Promise<DrainResult> {
    const redis = await this.client();
    try {
      if (this.checkOwnPending) {
        const mine = await this.read(redis, { pending: true });
        if (mine.length) return await this.write(redis, mine);
        this.checkOwnPending = false;
      }
      if (Date.now() - this.lastClaimAt >= this.opts.claimIntervalMs) {
        this.lastClaimAt = Date.now();
        const claimed = await claimOutbox(redis, this.prefix, this.consumer, { minIdleMs: this.opts.claimIdleMs, count: this.readCount() });
        if (claimed.length) {
          this.readWasFull = true;
          logger.info(`[drainer] ${this.consumer} took over ${claimed.length} outbox entr${claimed.length === 1 ? "y" : "ies"} of a stalled consumer`);
          return await this.write(redis, claimed);
        }
      }
      const fresh = await this.read(redis, { blockMs: opts.blockMs ?? 0 });
      return await this.write(redis, fresh);
    } catch (err) {
      this.checkOwnPending = true;
      if (String((err as Error).message).includes("NOGROUP")) {
        // Redis lost the stream and its group (a restart without persistence): start afresh.
        logger.warn(`[drainer] the outbox consumer group was missing (Redis restarted without persistence?); recreating it`);
        await ensureOutboxGroup(redis, this.prefix);
        return { entries: 0, events: 0, inserted: 0 };
      }
      throw err;
    }
  }

  /** Drains until nothing is left (or nothing up to `upToId`), for scripts and reconciliation. */
  async drainAll(opts: { upToId?: string; timeoutMs?: number } = {}): Promise<DrainResult> {
    const total: DrainResult = { entries: 0, events: 0, inserted: 0 };
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    for (;;) {
      const r = await this.drainOnce();
      total.entries += r.entries;
      total.events += r.events;
      total.inserted += r.inserted;
      const redis = await this.client();
      const left = opts.upToId ? await outboxHoldsUpTo(redis, this.prefix, opts.upToId) : r.entries > 0;
      if (!left) return total;
      if (Date.now() > deadline) throw new Error("timed out waiting for the outbox to drain");
      // What is left belongs to other consumers: wait for them, or claim it once stalled.
      if (r.entries === 0) await this.opts.delay(50, "poll");
    }
  }

  private async write(redis: RedisClient, entries: OutboxEntry[]): Promise<DrainResult> {
    const result: DrainResult = { entries: entries.length, events: 0, inserted: 0 };
    const counted = entries.filter((e) => e.rowsJson !== null);
    if (counted.length) {
      const avg = counted.reduce((s, e) => s + e.count, 0) / counted.length;
      this.eventsPerEntry = Math.max(1, 0.7 * this.eventsPerEntry + 0.3 * avg);
    }
    const gone = entries.filter((e) => e.rowsJson === null).map((e) => e.id);
    if (gone.length) await ackOutbox(redis, this.prefix, gone);
    let chunk: OutboxEntry[] = [];
    let chunkEvents = 0;
    const flush = async () => {
      if (!chunk.length) return;
      result.inserted += await this.writeChunk(redis, chunk);
      result.events += chunkEvents;
      chunk = [];
      chunkEvents = 0;
    };
    for (const e of entries) {
      if (e.rowsJson === null) continue;
      if (chunk.length && chunkEvents + e.count > this.writeLimit) await flush();
      chunk.push(e);
      chunkEvents += e.count;
    }
    await flush();
    this.stats.inserted += result.inserted;
    if (entries.length) this.stats.lastSuccessAt = new Date().toISOString();
    return result;
  }

  private async writeChunk(redis: RedisClient, chunk: OutboxEntry[]): Promise<number> {
    let inserted: number;
    const m = metrics();
    try {
      const stop = m.drainDuration.startTimer();
      inserted = await this.insert(chunk);
      stop();
      m.drainBatchEvents.observe(chunk.reduce((n, e) => n + e.count, 0));
      m.drainInserted.inc(inserted);
    } catch (err) {
      if (isStatementTimeout(err)) {
        // Retrying the same entries at the same size would time out again: write less at a time.
        this.writeLimit = Math.max(MIN_WRITE_LIMIT, Math.floor(this.writeLimit / 2));
      }
      if (!isDataError(err)) throw err;
      return this.writePoisoned(redis, chunk, err as Error);
    }
    this.writeLimit = Math.min(this.opts.maxEventsPerWrite, this.writeLimit * 2);
    await this.opts.afterCommit?.(chunk.map((e) => e.id));
    await ackOutbox(redis, this.prefix, chunk.map((e) => e.id));
    return inserted;
  }

  private async insert(chunk: OutboxEntry[]): Promise<number> {
    chunk = await this.withoutExpired(chunk);
    const months = chunk.flatMap((e) => e.months);
    const rows = chunk.map((e) => e.rowsJson!.slice(1, -1)).filter((s) => s.trim().length > 0);
    return insertUsageRows(this.db.db, { rowsJson: `[${rows.join(",")}]`, months }, this.config.usageTimezone);
  }

  /**
   * Events before where raw records begin (raw-horizon.ts) are left out: recordUsage refuses them,
   * so only an event validated just before the horizon moved gets here. Its request-id claim may
   * be gone, so it could be counted twice. Only entries with such a month are parsed.
   */
  private async withoutExpired(chunk: OutboxEntry[]): Promise<OutboxEntry[]> {
    const keptFrom = await rawKeptFromMs({ config: this.config, db: this.db });
    if (keptFrom === undefined) return chunk;
    const keptMonth = utcMonthStart(keptFrom);
    return chunk.map((e) => {
      if (!e.months.some((m) => m <= keptMonth)) return e;
      const rows = JSON.parse(e.rowsJson!) as { occurred_at: string }[];
      const kept = rows.filter((r) => Date.parse(r.occurred_at) >= keptFrom);
      if (kept.length === rows.length) return e;
      logger.warn(`[drainer] ${rows.length - kept.length} event(s) of outbox entry ${e.id} are before ${new Date(keptFrom).toISOString()}, where raw records begin (USAGE_RAW_RETENTION_MONTHS): not recorded; \`npm run usage:reconcile\` realigns Redis`);
      return { ...e, count: kept.length, rowsJson: JSON.stringify(kept), months: [...new Set(kept.map((r) => utcMonthStart(Date.parse(r.occurred_at))))] };
    });
  }

  /**
   * PostgreSQL refused the data itself (validation should make this impossible). Write entry by
   * entry, and event by event within a refused entry, so one bad row cannot block the outbox;
   * what is still refused goes to the dead-letter stream with the reason.
   */
  private async writePoisoned(redis: RedisClient, chunk: OutboxEntry[], cause: Error): Promise<number> {
    logger.error(`[drainer] PostgreSQL refused outbox data (${cause.message}); retrying entry by entry`);
    let inserted = 0;
    for (const entry of chunk) {
      try {
        inserted += await this.insert([entry]);
        await this.opts.afterCommit?.([entry.id]);
        await ackOutbox(redis, this.prefix, [entry.id]);
        continue;
      } catch (err) {
        if (!isDataError(err)) throw err;
      }
      const rows = JSON.parse(entry.rowsJson!) as unknown[];
      const refused: unknown[] = [];
      let reason = "";
      for (const row of rows) {
        try {
          inserted += await this.insert([{ ...entry, count: 1, rowsJson: JSON.stringify([row]) }]);
        } catch (err) {
          if (!isDataError(err)) throw err;
          refused.push(row);
          reason = (err as Error).message;
        }
      }
      await this.opts.afterCommit?.([entry.id]);
      if (refused.length) {
        logger.error(`[drainer] ${refused.length} event(s) of outbox entry ${entry.id} moved to the dead-letter stream: ${reason}`);
        await deadLetterOutbox(redis, this.prefix, { ...entry, count: refused.length, rowsJson: JSON.stringify(refused) }, reason);
      } else {
        await ackOutbox(redis, this.prefix, [entry.id]);
      }
    }
    return inserted;
  }

  /** Runs drain cycles until stop(), backing off while PostgreSQL or Redis is unavailable. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      let backoff = 250;
      let lastPrune = 0;
      while (this.running) {
        try {
          const startedAt = Date.now();
          const r = await this.drainOnce({ blockMs: this.opts.blockMs });
          const lingerMs = this.opts.lingerMs - (Date.now() - startedAt);
          if (r.entries && !this.readWasFull && lingerMs > 0) await this.pause(lingerMs, "linger");
          if (this.stats.lastError) logger.info(`[drainer] ${this.consumer} recovered; writing the outbox to PostgreSQL again`);
          this.stats.lastError = null;
          backoff = 250;
          if (Date.now() - lastPrune > 600_000 && this.redis) {
            lastPrune = Date.now();
            await pruneOutboxConsumers(this.redis, this.prefix, 3_600_000).catch(() => {});
          }
        } catch (err) {
          if (!this.running) break;
          const msg = (err as Error).message;
          if (this.stats.lastError !== msg) logger.warn(`[drainer] ${this.consumer}: ${msg}; retrying with backoff (events stay in the outbox)`);
          this.stats.lastError = msg;
          await this.pause(backoff, "backoff");
          backoff = Math.min(backoff * 2, 15_000);
        }
      }
    })();
  }

  /** A pause of the loop that stop() ends at once. */
  private pause(ms: number, why: "linger" | "backoff"): Promise<void> {
    return new Promise((resolve) => {
      this.endPause = resolve;
      void this.opts.delay(ms, why).then(resolve, resolve);
    });
  }

  /** Stops the loop; with `forget`, also removes this consumer from the group if it holds nothing. */
  async stop(opts: { forget?: boolean } = {}): Promise<void> {
    this.running = false;
    this.endPause?.();
    const redis = this.redis;
    // Unblocks a pending XREADGROUP BLOCK; nothing unacknowledged is lost (it stays pending).
    redis?.disconnect();
    await this.loop?.catch(() => {});
    this.loop = undefined;
    if (opts.forget && redis) {
      const cleaner = createRedis(this.config.redisUrl!, { name: "usage-drainer-cleanup" });
      try {
        await connectWithin(cleaner);
        await forgetOutboxConsumer(cleaner, this.prefix, this.consumer);
      } catch {
        // Best effort: an idle consumer left behind is pruned later.
      } finally {
        cleaner.disconnect();
      }
    }
    this.redis = undefined;
  }
}
