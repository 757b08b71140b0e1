import os from "node:os";
import type { Redis } from "ioredis";
import { upsertAccount, upsertApiKey, deleteApiKey } from "../accounts/accounts.service";
import { upsertAccountInput, upsertApiKeyInput } from "../accounts/schemas";
import { logger } from "../logger";
import type { Runtime } from "../runtime";
import {
  acquireLease,
  countWatermarks,
  findWatermarks,
  keysWithGaps,
  releaseLease,
  updateStatus,
  upsertWatermarks,
  type KeyWatermark,
} from "./crs.repository";
import { checkTimeZone, keyResiduals, type KeyBatchContext } from "./importer";
import { crsCalendar, crsKeys, parseServiceRates, type CrsCalendar } from "./layout";
import { isUnmapped, keyServiceRates, mapAccount, mapApiKey, mapRecord, recordRequestId, type CrsEvent, type RateContext } from "./mapping";
import { CrsReader, type CrsHash } from "./reader";
import { writeCrsEvents } from "./sink";

/**
 * Follows a live claude-relay-service through its Redis (read-only), with no change to CRS.
 *
 * Steady state, one poll: HGET usage:global:total requests (it rises with every request). When it
 * moved: the keys in CRS's hourly key index for the hours since the last read (SMEMBERS, one per
 * hour), their request counters (one HGET each, pipelined), and for those that moved the head of
 * their record list (one LRANGE each). Never KEYS, never a scan per poll: the cost follows the
 * keys active in the last hour, not how many keys CRS has.
 *
 * Per key a watermark (CRS's request count and the newest record seen) lives in PostgreSQL: new
 * records are those above it, so a restart neither loses nor doubles (ids are content-derived, a
 * re-read is a duplicate anyway). A record not yet pushed (CRS bumps counters first) is taken at
 * the next poll: the watermark advances only by what was read. More than 200 new requests on a
 * key is a gap: CRS trimmed records it never showed; once the key is quiet (or after
 * GAP_MAX_WAIT_MS) the gap is filled from its aggregates against the ledger, as the importer does.
 *
 * Several followers share one lease row (crs_follower_status): one works, the others stand by
 * and take over when its lease lapses.
 */

export const DEFAULT_SOURCE = "default";
const LEASE_MS = 15_000;
const GAP_MAX_WAIT_MS = 30_000;
const METADATA_SYNC_MS = 5 * 60_000;
/** The hourly key index lives 7 days in CRS; beyond that (or on first start) keys are listed by SCAN. */
const MAX_INDEX_HOURS = 6 * 24;

export interface FollowerOptions {
  source?: string;
  owner?: string;
  now?: () => number;
  pollIntervalMs?: number;
  offsetHours?: number;
}

export interface PollResult {
  leader: boolean;
  commands: number;
  /** Keys whose request counter was read: those in CRS's hourly index since the last read, and pending ones. */
  candidates: number;
  /** CRS hourly key indexes read (the hours since the last read, and the one before). */
  indexHours: number;
  /** Commands of the metadata sync (accounts and keys), which runs every 5 minutes. */
  metadataCommands: number;
  keysChanged: number;
  events: number;
  gapsDetected: number;
  gapsFilled: number;
  gapRequests: number;
}

export class CrsFollower {
  readonly source: string;
  readonly owner: string;
  private readonly now: () => number;
  private readonly reader: CrsReader;
  private readonly cal: CrsCalendar;
  private lastGlobal: number | undefined;
  private lastReadMs: number | undefined;
  private lastMetadataSyncMs = 0;
  /** Keys to look at even when the global counter did not move: lagging records, pending gaps. */
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private initialized = false;

  constructor(
    private readonly runtime: Runtime,
    crs: Redis,
    private readonly opts: FollowerOptions = {},
  ) {
    if (!runtime.db) throw new Error("the CRS follower keeps its watermarks in PostgreSQL: it needs POSTGRES_ENABLED=true");
    this.source = opts.source ?? DEFAULT_SOURCE;
    this.owner = opts.owner ?? `${os.hostname()}:${process.pid}`;
    this.now = opts.now ?? Date.now;
    this.reader = new CrsReader(crs);
    this.cal = crsCalendar(opts.offsetHours ?? runtime.config.crsTimezoneOffset);
    checkTimeZone(this.cal, runtime.config.usageTimezone, this.now() - 400 * 86_400_000, this.now() + 86_400_000);
  }

  get commands(): number {
    return this.reader.commands;
  }

  start(): void {
    const interval = this.opts.pollIntervalMs ?? this.runtime.config.crsPollIntervalMs;
    const tick = () => {
      if (this.stopped) return;
      this.running = this.pollOnce()
        .catch((err) => logger.warn(`[crs] follower poll failed: ${(err as Error).message}`))
        .finally(() => {
          if (!this.stopped) {
            this.timer = setTimeout(tick, interval);
            this.timer.unref();
          }
        });
    };
    tick();
  }

  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (opts.release !== false) await releaseLease(this.runtime.db!.db, this.source, this.owner).catch(() => {});
  }

  /** One poll; public for tests and the bench. Errors are recorded for /admin/health and rethrown. */
  async pollOnce(): Promise<PollResult> {
    const db = this.runtime.db!.db;
    const result: PollResult = { leader: false, commands: 0, candidates: 0, indexHours: 0, metadataCommands: 0, keysChanged: 0, events: 0, gapsDetected: 0, gapsFilled: 0, gapRequests: 0 };
    if (!(await acquireLease(db, this.source, this.owner, LEASE_MS))) {
      this.initialized = false; // someone else works: re-read the state when we take over
      return result;
    }
    result.leader = true;
    const before = this.reader.commands;
    try {
      await this.poll(result);
    } catch (err) {
      await updateStatus(db, this.source, { error: (err as Error).message.slice(0, 500) }).catch(() => {});
      throw err;
    } finally {
      result.commands = this.reader.commands - before;
    }
    return result;
  }

  private async poll(result: PollResult): Promise<void> {
    const db = this.runtime.db!.db;
    const nowMs = this.now();
    if (!this.initialized) await this.initialize(nowMs);
    const global = await this.reader.globalRequests();
    const quiet = global === this.lastGlobal && !this.pending.size;
    if (nowMs - this.lastMetadataSyncMs > METADATA_SYNC_MS) {
      const before = this.reader.commands;
      await this.syncMetadata(nowMs);
      result.metadataCommands = this.reader.commands - before;
    }
    if (quiet) {
      this.lastReadMs = nowMs;
      await updateStatus(db, this.source, { readAt: new Date(nowMs) });
      return;
    }
    const active = await this.activeKeys(nowMs);
    result.indexHours = active.hours;
    const candidates = new Set([...active.ids, ...this.pending]);
    const ids = [...candidates];
    result.candidates = ids.length;
    const states = await this.reader.keyStates(ids);
    const marks = await findWatermarks(db, this.source, ids);
    const changed = ids.filter((id) => {
      const t = states.get(id)!.totalRequests;
      const m = marks.get(id);
      return t > (m?.totalRequests ?? 0) || m?.gapSince;
    });
    result.keysChanged = changed.length;
    const newKeys = changed.filter((id) => !marks.has(id));
    const keyHash = new Map<string, CrsHash>();
    if (changed.length) {
      const hashes = await this.reader.hashes(changed.map((id) => crsKeys.apiKey(id)));
      changed.forEach((id, i) => keyHash.set(id, hashes[i]!));
    }
    for (const id of newKeys) await this.upsertKey(id, keyHash.get(id)!);
    const rates: RateContext = { globalRates: parseServiceRates(await this.reader.serviceRatesJson()), keyRates: (k) => keyServiceRates(keyHash.get(k)) };

    const wantCount = (id: string) => Math.min(200, states.get(id)!.totalRequests - (marks.get(id)?.totalRequests ?? 0) + 1);
    const heads = new Map<string, string[]>();
    for (const id of changed) heads.set(id, (await this.reader.records([id], Math.max(1, wantCount(id)))).get(id)!);

    const updates = new Map<string, KeyWatermark>();
    const events: CrsEvent[] = [];
    const gapKeys: { id: string; retained: CrsEvent[] }[] = [];
    let laggingKeys = 0;
    for (const id of changed) {
      const mark = marks.get(id) ?? { totalRequests: 0, newestRecordId: null, gapSince: null };
      const total = states.get(id)!.totalRequests;
      let list = heads.get(id)!;
      let ids = list.map((json) => recordRequestId(id, json));
      let anchor = mark.newestRecordId ? ids.indexOf(mark.newestRecordId) : -1;
      if (anchor < 0 && list.length === wantCount(id) && list.length < 200) {
        // More records than the counter said (it was read first): read on to the watermark.
        list = (await this.reader.records([id], 200)).get(id)!;
        ids = list.map((json) => recordRequestId(id, json));
        anchor = mark.newestRecordId ? ids.indexOf(mark.newestRecordId) : -1;
      }
      const fresh = anchor >= 0 ? list.slice(0, anchor) : list;
      const due = total - mark.totalRequests;
      const mapped = fresh.map((json) => mapRecord(id, json, this.cal, rates)).filter((m): m is CrsEvent => !isUnmapped(m));
      events.push(...mapped);
      let next: KeyWatermark;
      if (anchor < 0 && list.length >= 200 && (due > 200 || mark.newestRecordId)) {
        // The newest 200 no longer reach the watermark: CRS trimmed records we never saw.
        const gapSince = mark.gapSince ?? new Date(nowMs);
        if (!mark.gapSince) result.gapsDetected++;
        next = { totalRequests: total, newestRecordId: ids[0] ?? mark.newestRecordId, gapSince };
      } else {
        // Everything since the watermark is in the list, or part of it is still being written
        // (CRS bumps its counters before it pushes the record): advance by what was read.
        // Each record above the watermark is one request (the counter may have been read before it).
        next = { totalRequests: mark.totalRequests + fresh.length, newestRecordId: ids[0] ?? mark.newestRecordId, gapSince: mark.gapSince };
        if (fresh.length < due) laggingKeys++;
      }
      if (next.gapSince) {
        // Filled once the key is quiet (no record half-written), or after GAP_MAX_WAIT_MS anyway.
        if (due === 0 || nowMs - next.gapSince.getTime() > GAP_MAX_WAIT_MS) {
          const all = (await this.reader.records([id])).get(id)!;
          gapKeys.push({ id, retained: all.map((json) => mapRecord(id, json, this.cal, rates)).filter((m): m is CrsEvent => !isUnmapped(m)) });
        }
      }
      updates.set(id, next);
      if (next.totalRequests !== total || next.gapSince) this.pending.add(id);
      else this.pending.delete(id);
    }
    // Records first, then the watermarks: a crash in between re-reads them (duplicates).
    const written = events.length ? await writeCrsEvents(this.runtime, events) : { inserted: 0 };
    result.events += written.inserted;
    for (const g of gapKeys) {
      const ctx: KeyBatchContext = { runtime: this.runtime, reader: this.reader, cal: this.cal, rates, models: await this.reader.knownModels(this.cal, nowMs), nowMs, dryRun: false };
      const oldest = g.retained.reduce((m, e) => Math.min(m, Date.parse(e.event.occurredAt)), nowMs);
      const bound = mapApiKey(g.id, keyHash.get(g.id) ?? {}).boundAccounts;
      const res = await keyResiduals(ctx, g.id, g.retained, bound, oldest);
      if (res.events.length) {
        const w = await writeCrsEvents(this.runtime, res.events);
        result.events += w.inserted;
        result.gapRequests += res.events.reduce((s, e) => s + (e.event.requests ?? 1), 0);
      }
      for (const n of res.notReconstructed) logger.warn(`[crs] gap of key ${g.id}, ${n.model} ${n.bucket}: ${n.reason} ${JSON.stringify(n.counts)}`);
      result.gapsFilled++;
      const u = updates.get(g.id)!;
      updates.set(g.id, { ...u, gapSince: null });
      if (u.totalRequests >= states.get(g.id)!.totalRequests) this.pending.delete(g.id);
    }
    await upsertWatermarks(db, this.source, updates);
    const newest = events.reduce((m, e) => Math.max(m, Date.parse(e.event.occurredAt)), 0);
    // The global figure is kept only once every key caught up, so a restart looks again.
    if (!laggingKeys && !this.pending.size) this.lastGlobal = global;
    this.lastReadMs = nowMs;
    await updateStatus(db, this.source, {
      globalRequests: this.lastGlobal,
      readAt: new Date(nowMs),
      lastEventAt: newest ? new Date(newest) : null,
      eventsRecorded: result.events,
      gapsFilled: result.gapsFilled,
      gapRequests: result.gapRequests,
    });
  }

  /** First poll as leader: the persisted state, or — first start — watermarks at CRS's present (the cut-over). */
  private async initialize(nowMs: number): Promise<void> {
    const db = this.runtime.db!.db;
    if ((await countWatermarks(db, this.source)) === 0) {
      for await (const ids of this.reader.apiKeyIds()) {
        const states = await this.reader.keyStates(ids);
        const heads = await this.reader.records(ids, 1);
        const marks = new Map<string, KeyWatermark>();
        for (const id of ids) {
          const head = heads.get(id)![0];
          marks.set(id, { totalRequests: states.get(id)!.totalRequests, newestRecordId: head ? recordRequestId(id, head) : null, gapSince: null });
        }
        await upsertWatermarks(db, this.source, marks);
      }
      await updateStatus(db, this.source, { readAt: new Date(nowMs) });
      logger.info(`[crs] follower ${this.owner} starts at CRS's present (${new Date(nowMs).toISOString()}): import the history with npm run crs:import -- --until <that time>`);
    }
    for (const id of await keysWithGaps(db, this.source)) this.pending.add(id);
    const status = await db.selectFrom("crs_follower_status").select(["global_requests", "last_read_at"]).where("source", "=", this.source).executeTakeFirst();
    this.lastGlobal = status?.global_requests ? Number(status.global_requests) : undefined;
    this.lastReadMs = status?.last_read_at ? new Date(status.last_read_at).getTime() : undefined;
    this.initialized = true;
  }

  /** Keys with requests in CRS's hours since the last read (its hourly key index); a SCAN when that is too far back. */
  private async activeKeys(nowMs: number): Promise<{ ids: string[]; hours: number }> {
    const from = (this.lastReadMs ?? 0) - 3_600_000;
    const hours = Math.ceil((nowMs - from) / 3_600_000) + 1;
    if (this.lastReadMs === undefined || hours > MAX_INDEX_HOURS) {
      const all: string[] = [];
      for await (const ids of this.reader.apiKeyIds()) all.push(...ids);
      return { ids: all, hours: 0 };
    }
    const names: string[] = [];
    for (let i = 0; i < hours; i++) {
      const local = new Date(nowMs - i * 3_600_000 + this.cal.offsetHours * 3_600_000).toISOString();
      names.push(`usage:hourly:index:${local.slice(0, 10)}:${local.slice(11, 13)}`);
    }
    const sets = await this.reader.sets(names);
    return { ids: [...new Set(sets.flat())], hours: names.length };
  }

  private async upsertKey(id: string, hash: CrsHash): Promise<void> {
    if (!Object.keys(hash).length) return;
    const k = mapApiKey(id, hash);
    await upsertApiKey(this.runtime, upsertApiKeyInput.parse(k.input));
    if (k.deleted) await deleteApiKey(this.runtime, { id });
  }

  /** Accounts and keys as CRS has them now (names, platforms, bindings, deletions); every few minutes. */
  private async syncMetadata(nowMs: number): Promise<void> {
    this.lastMetadataSyncMs = nowMs;
    for (const a of await this.reader.accounts()) await upsertAccount(this.runtime, upsertAccountInput.parse(mapAccount(a.family, a.id, a.hash)));
    for await (const ids of this.reader.apiKeyIds()) {
      const hashes = await this.reader.hashes(ids.map((id) => crsKeys.apiKey(id)));
      for (let i = 0; i < ids.length; i++) await this.upsertKey(ids[i]!, hashes[i]!);
    }
  }
}

/** Starts a follower when CRS_REDIS_URL is set (the worker, and the app unless CRS_FOLLOW_IN_APP=false). */
export async function startCrsFollower(runtime: Runtime, createRedis: (url: string) => Redis): Promise<{ stop(): Promise<void> } | undefined> {
  const url = runtime.config.crsRedisUrl;
  if (!url || !runtime.db) return undefined;
  const crs = createRedis(url);
  // Down at start is not fatal: each poll fails (and /admin/health says so) until CRS answers.
  await crs.connect().catch((err: Error) => logger.warn(`[crs] CRS's Redis unavailable (${err.message}); the follower retries every poll`));
  try {
    const follower = new CrsFollower(runtime, crs);
    follower.start();
    logger.info(`[crs] following claude-relay-service at ${url.replace(/\/\/[^@/]*@/, "//***@")}`);
    return {
      async stop() {
        await follower.stop();
        crs.disconnect();
      },
    };
  } catch (err) {
    crs.disconnect();
    logger.error(`[crs] not following CRS: ${(err as Error).message}`);
    return undefined;
  }
}
