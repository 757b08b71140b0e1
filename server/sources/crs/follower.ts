import os from "node:os";
import type { Redis } from "ioredis";
import { logger, redactUrl } from "../../logger";
import type { Runtime } from "../../runtime";
import { CrsAccountDirectory } from "./attribution";
import { countWatermarks, findWatermarks, keysWithGaps, SOURCE_KIND, upsertWatermarks, type KeyWatermark } from "./crs.repository";
import { findStatus, updateStatus } from "../shared/status.repository";
import { pollUnderLease, PollLoop, type Lease } from "../shared/poller";
import { checkTimeZone, keyResiduals, type KeyBatchContext } from "./importer";
import { crsCalendar, crsKeys, parseServiceRates, type CrsCalendar } from "./layout";
import { isUnmapped, keyServiceRates, mapAccount, mapApiKey, mapRecord, recordRequestId, type CrsEvent, type RateContext } from "./mapping";
import { CrsReader, MAX_RECORDS_PER_KEY, type CrsHash } from "./reader";
import { RejectionLog, refusedEventReason, visible, type Rejection } from "../shared/rejections";
import { ensureUnattributed, writeAccounts, writeApiKeys, writeCrsEvents } from "./sink";

/**
 * Follows a live claude-relay-service through its Redis (read-only), with no change to CRS.
 *
 * Steady state, one poll: HGET usage:global:total requests (it rises with every request). When it
 * moved, the keys that changed: from CRS's last-used index of API keys (`apikey:idx:lastUsedAt`,
 * a sorted set by time of last use, in CRS since late 2025) the keys used since the last read —
 * one ZRANGEBYSCORE —, or, in a CRS without it, its hourly key index for the hours since the last
 * read (SMEMBERS, one per hour). Then their request counters (one HGET each, pipelined) and, for
 * those that moved, the head of their record list (one LRANGE each). Never KEYS, never a scan per
 * poll: the cost follows the keys that changed, not how many keys CRS has. When the global counter
 * moved but the index showed no changed key (a write not in it yet, a path that skips it), and
 * every 150 polls anyway, a poll reads the hourly index instead.
 *
 * Per key a watermark (CRS's request count and the newest record seen) lives in PostgreSQL: new
 * records are those above it, so a restart neither loses nor doubles (ids are content-derived, a
 * re-read is a duplicate anyway). A record not yet pushed (CRS bumps counters first) is taken at
 * the next poll: the watermark advances only by what was read. A record that cannot be taken (not
 * JSON, a negative count, …) is counted with its reason and passed: it never blocks the ones after
 * it. More than 200 new requests on a key is a gap: CRS trimmed records it never showed; once the
 * key is quiet (or after GAP_MAX_WAIT_MS) the gap is filled from its aggregates against the
 * ledger, as the importer does.
 *
 * Several followers share one lease row (crs_follower_status): one works, the others stand by
 * and take over when its lease lapses.
 */

export const DEFAULT_SOURCE = "crs";

/** A rejection as health shows it: key (escaped already), reason, the value at fault (as JSON). */
const describe = (r: Rejection) => `${r.key}: ${r.reason}${r.detail ? ` (${r.detail})` : ""}`.slice(0, 500);
const GAP_MAX_WAIT_MS = 30_000;
const METADATA_SYNC_MS = 5 * 60_000;
/** The hourly key index lives 7 days in CRS; beyond that (or on first start) keys are listed by SCAN. */
const MAX_INDEX_HOURS = 6 * 24;
/** Keys used this long before the newest use seen are looked at again (CRS instances' clocks, write order). */
const LAST_USED_OVERLAP_MS = 10_000;
/** Keys taken from the last-used index per poll; the rest in the next poll (the cursor moves by what was read). */
const MAX_CHANGED_PER_POLL = 5_000;
/** A safety net: every so many polls (~5 minutes at 2 s) the hourly index is read, whatever the last-used index showed. */
const HOURLY_EVERY_POLLS = 150;

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
  /** How the keys that changed were found: CRS's last-used index, its hourly key index, or a scan. */
  via: "none" | "lastUsedIndex" | "hourlyIndex" | "scan";
  /** Keys whose request counter was read: those found changed, and pending ones. */
  candidates: number;
  /** CRS hourly key indexes read (the hours since the last read, and the one before). */
  indexHours: number;
  /** Commands of the metadata sync (accounts and keys), which runs every 5 minutes. */
  metadataCommands: number;
  keysChanged: number;
  events: number;
  /** Records and keys skipped this poll (counted per reason in crs_follower_status). */
  rejected: number;
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
  private readonly directory: CrsAccountDirectory;
  private lastGlobal: number | undefined;
  private lastReadMs: number | undefined;
  private lastMetadataSyncMs = 0;
  /** CRS keeps `apikey:idx:lastUsedAt` (checked at each metadata sync). */
  private lastUsedIndex = false;
  /** The newest last-use time read from it (CRS's clock), and each key's, so an unchanged key is not read again. */
  private lastUsedCursor: number | undefined;
  private readonly lastUsedOf = new Map<string, number>();
  /** Read the hourly index next time (the last-used index missed something, or the 5-minute safety net). */
  private hourlyNext = false;
  private pollsSinceHourly = 0;
  /** Keys to look at even when the global counter did not move: lagging records, pending gaps. */
  private readonly pending = new Set<string>();
  /** Per key, what its hash says that a poll needs: its rates and bound accounts (from the metadata sync, or read once). */
  private readonly keyFacts = new Map<string, { rates: Record<string, number>; bound: string[] }>();
  /** Bad keys already counted (accounts, key hashes, counters): re-read each sync or poll, counted once. */
  private readonly seenBadKeys = new Set<string>();
  private readonly lease: Lease;
  private readonly loop: PollLoop;
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
    this.directory = new CrsAccountDirectory(runtime, this.reader);
    this.cal = crsCalendar(opts.offsetHours ?? runtime.config.crsTimezoneOffset);
    checkTimeZone(this.cal, runtime.config.usageTimezone, this.now() - 400 * 86_400_000, this.now() + 86_400_000);
    this.lease = { source: this.source, kind: SOURCE_KIND, owner: this.owner };
    this.loop = new PollLoop(() => this.pollOnce(), opts.pollIntervalMs ?? runtime.config.crsPollIntervalMs, "crs");
  }

  get commands(): number {
    return this.reader.commands;
  }

  start(): void {
    this.loop.start();
  }

  async stop(opts: { release?: boolean } = {}): Promise<void> {
    await this.loop.stop(this.runtime.db!.db, this.lease, opts);
  }

  /** One poll; public for tests and the bench. Errors are recorded for /admin/health and rethrown. */
  async pollOnce(): Promise<PollResult> {
    const result: PollResult = {
      leader: false,
      commands: 0,
      via: "none",
      candidates: 0,
      indexHours: 0,
      metadataCommands: 0,
      keysChanged: 0,
      events: 0,
      rejected: 0,
      gapsDetected: 0,
      gapsFilled: 0,
      gapRequests: 0,
    };
    const before = this.reader.commands;
    try {
      await pollUnderLease(this.runtime.db!.db, this.lease, result, (log) => this.poll(result, log));
    } finally {
      result.commands = this.reader.commands - before;
    }
    // Someone else works: re-read the state when we take over.
    if (!result.leader) this.initialized = false;
    return result;
  }

  private async poll(result: PollResult, log: RejectionLog): Promise<void> {
    const db = this.runtime.db!.db;
    const nowMs = this.now();
    if (!this.initialized) await this.initialize(nowMs);
    const global = await this.reader.globalRequests();
    const quiet = global === this.lastGlobal && !this.pending.size;
    if (nowMs - this.lastMetadataSyncMs > METADATA_SYNC_MS) {
      const before = this.reader.commands;
      const metadataLog = new RejectionLog(this.seenBadKeys);
      await this.syncMetadata(nowMs, metadataLog);
      log.merge(metadataLog);
      result.metadataCommands = this.reader.commands - before;
    }
    const done = (extra: Parameters<typeof updateStatus>[2] = {}) =>
      updateStatus(db, this.source, {
        readAt: new Date(nowMs),
        succeeded: true,
        rejections: log.byReason,
        ...(log.named.length ? { lastRejection: describe(log.named.at(-1)!) } : {}),
        ...extra,
      });
    if (quiet) {
      this.lastReadMs = nowMs;
      await done();
      return;
    }
    const active = await this.changedKeys(nowMs);
    result.via = active.via;
    result.indexHours = active.hours;
    const candidates = new Set([...active.ids, ...this.pending]);
    const ids = [...candidates];
    result.candidates = ids.length;
    const keysLog = new RejectionLog(this.seenBadKeys);
    const states = await this.reader.keyStates(ids, keysLog);
    const marks = await findWatermarks(db, this.source, ids);
    const changed = ids.filter((id) => {
      const t = states.get(id)!.totalRequests;
      const m = marks.get(id);
      return t > (m?.totalRequests ?? 0) || m?.gapSince;
    });
    result.keysChanged = changed.length;
    // A key's hash is read when it is new here or its facts are not known yet; the rest come from
    // the metadata sync, which reads every key's hash anyway (rates change rarely, and a charge
    // CRS made otherwise is taken as CRS recorded it).
    const unknown = changed.filter((id) => !marks.has(id) || !this.keyFacts.has(id));
    if (unknown.length) {
      const hashes = await this.reader.hashes(unknown.map((id) => crsKeys.apiKey(id)), keysLog);
      const found = unknown.flatMap((id, i) => (hashes[i] && Object.keys(hashes[i]!).length ? [mapApiKey(id, hashes[i]!)] : []));
      unknown.forEach((id, i) => this.learnKey(id, hashes[i]));
      await writeApiKeys(this.runtime, found.filter((k) => !marks.has(k.input.id)), log);
    }
    log.merge(keysLog);
    const rates: RateContext = { globalRates: parseServiceRates(await this.reader.serviceRatesJson()), keyRates: (k) => this.keyFacts.get(k)?.rates ?? {} };

    const wantCount = (id: string) => Math.min(MAX_RECORDS_PER_KEY, states.get(id)!.totalRequests - (marks.get(id)?.totalRequests ?? 0) + 1);
    const heads = new Map<string, string[]>();
    const unreadable = new Set<string>();
    const listsLog = new RejectionLog(this.seenBadKeys);
    for (const id of changed) heads.set(id, (await this.reader.records([id], listsLog, Math.max(1, wantCount(id)), unreadable)).get(id)!);
    log.merge(listsLog);

    const updates = new Map<string, KeyWatermark>();
    const events: CrsEvent[] = [];
    const gapKeys: { id: string; retained: CrsEvent[] }[] = [];
    const mapAll = (id: string, list: string[], what: RejectionLog) =>
      list.flatMap((json, j) => {
        const m = mapRecord(id, json, this.cal, rates);
        if (!isUnmapped(m)) return [m];
        what.add(m.reason, `${crsKeys.records(id)}[${j}]`, m.detail);
        return [];
      });
    let laggingKeys = 0;
    let recordsRead = 0;
    for (const id of changed) {
      const mark = marks.get(id) ?? { totalRequests: 0, newestRecordId: null, gapSince: null };
      const total = states.get(id)!.totalRequests;
      let list = heads.get(id)!;
      let ids = list.map((json) => recordRequestId(id, json));
      let anchor = mark.newestRecordId ? ids.indexOf(mark.newestRecordId) : -1;
      if (anchor < 0 && list.length === wantCount(id) && list.length < MAX_RECORDS_PER_KEY) {
        // More records than the counter said (it was read first): read on to the watermark.
        list = (await this.reader.records([id], log)).get(id)!;
        ids = list.map((json) => recordRequestId(id, json));
        anchor = mark.newestRecordId ? ids.indexOf(mark.newestRecordId) : -1;
      }
      const fresh = anchor >= 0 ? list.slice(0, anchor) : list;
      const due = total - mark.totalRequests;
      if (unreadable.has(id)) {
        // Its record list is not a list (counted once): nothing to take, nothing to wait for.
        updates.set(id, { ...mark, totalRequests: total });
        this.pending.delete(id);
        continue;
      }
      // A record that cannot be taken is counted and passed, like any other record read.
      recordsRead += fresh.length;
      events.push(...mapAll(id, fresh, log));
      let next: KeyWatermark;
      if (anchor < 0 && list.length >= MAX_RECORDS_PER_KEY && (due > MAX_RECORDS_PER_KEY || mark.newestRecordId)) {
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
          const all = (await this.reader.records([id], log)).get(id)!;
          gapKeys.push({ id, retained: mapAll(id, all, new RejectionLog()) });
        }
      }
      updates.set(id, next);
      if (next.totalRequests !== total || next.gapSince) this.pending.add(id);
      else this.pending.delete(id);
    }
    // Records first, then the watermarks: a crash in between re-reads them (duplicates).
    result.events += await this.write(events, log);
    for (const g of gapKeys) {
      const ctx: KeyBatchContext = {
        runtime: this.runtime,
        reader: this.reader,
        cal: this.cal,
        rates,
        models: await this.reader.knownModels(this.cal, nowMs, log),
        nowMs,
        dryRun: false,
        directory: this.directory,
        log,
      };
      const oldest = g.retained.reduce((m, e) => Math.min(m, Date.parse(e.event.occurredAt)), nowMs);
      const bound = this.keyFacts.get(g.id)?.bound ?? [];
      await this.directory.attribute(g.retained, new RejectionLog());
      const res = await keyResiduals(ctx, g.id, g.retained, bound, oldest);
      await writeAccounts(this.runtime, res.newAccounts.map((input) => ({ input, key: crsKeys.accountUsage(input.id) })), log);
      if (res.events.length) {
        result.events += await this.write(res.events, log);
        result.gapRequests += res.events.reduce((s, e) => s + (e.event.requests ?? 1), 0);
      }
      for (const n of res.notReconstructed) logger.warn(`[crs] gap of key ${visible(g.id, 80)}, ${visible(n.model, 80)} ${n.bucket}: ${n.reason} ${JSON.stringify(n.counts)}`);
      result.gapsFilled++;
      const u = updates.get(g.id)!;
      updates.set(g.id, { ...u, gapSince: null });
      if (u.totalRequests >= states.get(g.id)!.totalRequests) this.pending.delete(g.id);
    }
    await upsertWatermarks(db, this.source, updates);
    const newest = events.reduce((m, e) => Math.max(m, Date.parse(e.event.occurredAt)), 0);
    // The global counter moved but the index showed no key that did: a key CRS did not put in it
    // (no key hash, an index being rebuilt) or not yet — the next poll reads the hourly index too.
    const missed = active.via === "lastUsedIndex" && global !== this.lastGlobal && changed.length === 0 && !this.pending.size;
    this.hourlyNext = missed;
    if (active.cursor !== undefined) this.lastUsedCursor = Math.max(this.lastUsedCursor ?? 0, active.cursor);
    // The global figure is kept only once every key caught up, so a restart looks again.
    if (!laggingKeys && !this.pending.size && !missed) this.lastGlobal = global;
    this.lastReadMs = nowMs;
    await done({
      globalRequests: this.lastGlobal,
      lastEventAt: newest ? new Date(newest) : null,
      rowsRead: recordsRead,
      eventsRecorded: result.events,
      gapsFilled: result.gapsFilled,
      gapRequests: result.gapRequests,
    });
  }

  /** Writes record or aggregate events: their accounts checked (and written, for unknown families) first. */
  private async write(events: CrsEvent[], log: RejectionLog): Promise<number> {
    if (!events.length) return 0;
    const { newAccounts } = await this.directory.attribute(events, log);
    await writeAccounts(this.runtime, newAccounts.map((input) => ({ input, key: crsKeys.accountUsage(input.id) })), log);
    await ensureUnattributed(this.runtime, events);
    const written = await writeCrsEvents(this.runtime, events);
    for (const x of written.rejected) log.add(refusedEventReason(x.code), crsKeys.records(events[x.index]?.event.apiKeyId ?? "?"), x.message.slice(0, 160));
    return written.inserted;
  }

  /** First poll as leader: the persisted state, or — first start — watermarks at CRS's present (the cut-over). */
  private async initialize(nowMs: number): Promise<void> {
    const db = this.runtime.db!.db;
    if ((await countWatermarks(db, this.source)) === 0) {
      const log = new RejectionLog();
      for await (const ids of this.reader.apiKeyIds()) {
        const states = await this.reader.keyStates(ids, log);
        const heads = await this.reader.records(ids, log, 1);
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
    const status = await findStatus(db, this.source);
    this.lastGlobal = status?.global_requests ? Number(status.global_requests) : undefined;
    this.lastReadMs = status?.last_read_at ? new Date(status.last_read_at).getTime() : undefined;
    this.lastUsedCursor = undefined;
    this.lastUsedOf.clear();
    this.lastMetadataSyncMs = 0;
    this.initialized = true;
  }

  /**
   * Keys that may have changed since the last read. From CRS's last-used index once a cursor is
   * set; otherwise (its first use, a CRS without it, or after a miss) the hourly key index since
   * the last read, and the index's newest time as the cursor read *before* it, so that nothing
   * falls between the two. A scan when the last read is too far back.
   */
  private async changedKeys(nowMs: number): Promise<{ ids: string[]; hours: number; via: PollResult["via"]; cursor?: number }> {
    if (this.lastUsedIndex && this.lastUsedCursor !== undefined && !this.hourlyNext && ++this.pollsSinceHourly < HOURLY_EVERY_POLLS) {
      const hits = await this.reader.keysUsedSince(this.lastUsedCursor - LAST_USED_OVERLAP_MS, MAX_CHANGED_PER_POLL);
      const ids = hits.filter((h) => this.pending.has(h.id) || (this.lastUsedOf.get(h.id) ?? -1) < h.ms).map((h) => h.id);
      for (const h of hits) this.lastUsedOf.set(h.id, h.ms);
      const cursor = hits.reduce((m, h) => Math.max(m, h.ms), this.lastUsedCursor);
      for (const [id, ms] of this.lastUsedOf) if (ms < cursor - 2 * LAST_USED_OVERLAP_MS) this.lastUsedOf.delete(id);
      return { ids, hours: 0, via: "lastUsedIndex", cursor };
    }
    this.pollsSinceHourly = 0;
    let cursor: number | undefined;
    if (this.lastUsedIndex) {
      cursor = (await this.reader.newestLastUse()) ?? nowMs;
      // Keys used just before the cursor are in the hourly index read now: seen, not read again next poll.
      for (const h of await this.reader.keysUsedSince(cursor - LAST_USED_OVERLAP_MS, MAX_CHANGED_PER_POLL)) this.lastUsedOf.set(h.id, h.ms);
    }
    const from = (this.lastReadMs ?? 0) - 3_600_000;
    const hours = Math.ceil((nowMs - from) / 3_600_000) + 1;
    if (this.lastReadMs === undefined || hours > MAX_INDEX_HOURS) {
      const all: string[] = [];
      for await (const ids of this.reader.apiKeyIds()) all.push(...ids);
      return { ids: all, hours: 0, via: "scan", cursor };
    }
    const names: string[] = [];
    for (let i = 0; i < hours; i++) {
      const local = new Date(nowMs - i * 3_600_000 + this.cal.offsetHours * 3_600_000).toISOString();
      names.push(crsKeys.hourlyKeyIndex(`${local.slice(0, 10)}:${local.slice(11, 13)}`));
    }
    const sets = await this.reader.sets(names, new RejectionLog());
    return { ids: [...new Set(sets.flat())], hours: names.length, via: "hourlyIndex", cursor };
  }

  private learnKey(id: string, hash: CrsHash | undefined): void {
    this.keyFacts.set(id, { rates: keyServiceRates(hash), bound: hash ? mapApiKey(id, hash).boundAccounts : [] });
  }

  /** Accounts and keys as CRS has them now (names, platforms, bindings, deletions); every few minutes. */
  private async syncMetadata(nowMs: number, log: RejectionLog): Promise<void> {
    this.lastMetadataSyncMs = nowMs;
    this.lastUsedIndex = await this.reader.hasLastUsedIndex();
    this.directory.reset();
    for await (const rows of this.reader.accounts(log, nowMs)) {
      const mapped = rows.map((a) => ({ input: mapAccount(a.family, a.id, a.fields), key: `${a.family.prefix}${a.id}` }));
      const admitted = await this.directory.admitFamilyAccounts(mapped.map((m) => ({ ...m, id: m.input.id, platform: m.input.platform })), log, (m) => m.key);
      await writeAccounts(this.runtime, admitted, log);
    }
    for await (const ids of this.reader.apiKeyIds()) {
      const hashes = await this.reader.hashes(ids.map((id) => crsKeys.apiKey(id)), log);
      ids.forEach((id, i) => this.learnKey(id, hashes[i]));
      await writeApiKeys(this.runtime, ids.flatMap((id, i) => (hashes[i] && Object.keys(hashes[i]!).length ? [mapApiKey(id, hashes[i]!)] : [])), log);
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
    logger.info(`[crs] following claude-relay-service at ${redactUrl(url)}`);
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
