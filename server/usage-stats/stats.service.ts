import { pastDeadline, type Deadline } from "../deadline";
import type { RedisClient } from "../redis";
import type { Runtime } from "../runtime";
import { compareBy, compareText } from "../sort-order";
import type { Window } from "../usage/hot-keys";
import { allAccountIndex, findAccountIndex, findApiKeyIndexes, type AccountIndexEntry } from "../usage/hot-index";
import { addFig, figFromRow, figValue, fraction, totals, ZERO_FIG, type Fig } from "./figures";
import { figFromHot, readAccountCounters, readKeyCounters, readModelCounters, type HotFigures } from "./hot-reader";
import { assertExactZone, boundaries, monthBoundaries, resolveRange, type ResolvedRange } from "./range";
import { defaultAccountOrder } from "./order";
import { answer, assertConfiguredZone, hotWindow, notFound, unavailable, zonedToday, type ZonedToday } from "./store-choice";
import {
  findAccount,
  findAccountListPage,
  findAccountListSummary,
  findAccountRangeTotals,
  findAccountWindows,
  findAvailableSources,
  findDailySeries,
  findKeyBreakdown,
  findModelBreakdown,
  findMonthlySeries,
  streamKeyBreakdown,
  windowFigures,
  type AccountRow,
  type KeyRow,
} from "./stats.repository";
import {
  DEFAULT_LIMITS,
  type AccountBreakdownInput,
  type AccountBreakdownResult,
  type AccountInfo,
  type AccountSort,
  type AccountSummaryInput,
  type AccountSummaryResult,
  type AccountUsageListInput,
  type AccountUsageListResult,
  type AccountUsageRow,
  type BreakdownItem,
  type Figure,
  type ModelUsage,
  type SeriesPoint,
  type WindowName,
} from "./schemas";
import { eachDay, eachMonth, firstDayOf, lastDayOf, localDate, localDateHour, monthOf } from "../calendar";
import { findLastHourByAccount, findLastHourOfList, type LastHourWindow } from "./live.repository";

/**
 * The one service behind every usage question (REST and tRPC alike): the account list, one
 * account's summary and its per-key breakdown. store-choice.ts decides which store answers
 * (PostgreSQL's rollups, or the live Redis counters while it is down); stats.repository.ts and
 * hot-reader.ts are those stores' reads; figures.ts turns their rows into the answer's figures.
 */

const iso = (d: Date | number | null | undefined) => (d === null || d === undefined ? null : new Date(d).toISOString());

/** An account row as the answer's AccountInfo; sources sorted by code point, as the filter's choices are. */
export const accountInfo = (a: AccountRow): AccountInfo => ({
  id: a.id,
  name: a.name,
  platform: a.platform,
  type: a.type,
  status: a.status,
  priority: a.priority,
  lastUsedAt: iso(a.last_used_at),
  sources: [...a.sources].sort(compareText),
});

/** The metadata index in Redis keeps no sources (server/usage/hot-index.ts). */
const SOURCES_UNKNOWN = "the Redis index keeps no sources of accounts";

// ---- the last 60 minutes (近1小时)

const HOUR_MS = 3_600_000;

/** The 60 minutes up to `now`, with the local bounds of usage_records (kept in USAGE_TIMEZONE) that hold them. */
function lastHourWindow(runtime: Runtime, now: Date): LastHourWindow {
  const tz = runtime.config.usageTimezone;
  const low = localDateHour(now.getTime() - 2 * HOUR_MS, tz);
  return { from: new Date(now.getTime() - HOUR_MS), to: now, lowDate: low.date, lowHour: low.hour, highDate: localDate(now, tz) };
}

// ---- accounts.usageStats

/** PostgreSQL answers for accounts not soft-deleted; the index marks a deleted one by its status. */
const isLive = (m: AccountIndexEntry | undefined): m is AccountIndexEntry => m !== undefined && m.status !== "deleted";

interface AccountWindows {
  info: AccountInfo;
  windows: Record<WindowName, Fig>;
}

/** Names compare lower-cased by code point, like lower(name) COLLATE "C" in SQL. */
function accountKey(sort: AccountSort) {
  return (a: AccountWindows): string | number | bigint | null => {
    if (sort === "name") return a.info.name.toLowerCase();
    if (sort === "priority") return a.info.priority;
    if (sort === "lastUsedAt") return a.info.lastUsedAt;
    const [w, f] = sort.split(".") as [WindowName, Figure];
    return figValue(a.windows[w], f);
  };
}

/** lastHour null: the Redis fallback, whose counters keep days, not minutes. */
function usageRow(a: AccountWindows, lastHour: Fig | null): AccountUsageRow {
  return {
    ...a.info,
    usage: { daily: totals(a.windows.daily), monthly: totals(a.windows.monthly), total: totals(a.windows.total) },
    lastHour: lastHour === null ? null : totals(lastHour),
  };
}

export async function listAccountUsage(runtime: Runtime, input: AccountUsageListInput, now = new Date()): Promise<AccountUsageListResult> {
  const c = zonedToday(runtime, input.tz, now);
  if (input.tz !== undefined) assertExactZone(runtime.config.usageTimezone, c.timezone, boundaries(firstDayOf(c.month), lastDayOf(c.month)));
  const order = input.order ?? defaultAccountOrder(input.sort);
  const limit = input.limit ?? DEFAULT_LIMITS.accounts;
  const offset = input.offset ?? 0;

  const { value, source } = await answer(
    runtime,
    async (db) => {
      const filter = { platform: input.platform, status: input.status, search: input.search, source: input.source, today: c.today, month: c.month };
      const hour = lastHourWindow(runtime, now);
      const [rows, sum, availableSources, hourSum] = await Promise.all([
        findAccountListPage(db, filter, { sort: input.sort, order, limit, offset }),
        findAccountListSummary(db, filter),
        findAvailableSources(db),
        findLastHourOfList(db, filter, hour),
      ]);
      const hourOf = new Map((await findLastHourByAccount(db, rows.map((r) => r.id), hour)).map((h) => [h.account_id, figFromRow(h)]));
      return {
        availableSources,
        page: rows.map((r) =>
          usageRow(
            {
              info: accountInfo(r),
              windows: { daily: figFromRow(windowFigures(r, "daily")), monthly: figFromRow(windowFigures(r, "monthly")), total: figFromRow(windowFigures(r, "total")) },
            },
            hourOf.get(r.id) ?? ZERO_FIG,
          ),
        ),
        count: sum.total_accounts,
        activeToday: sum.active_today,
        sums: {
          daily: figFromRow(windowFigures(sum, "daily")),
          monthly: figFromRow(windowFigures(sum, "monthly")),
          total: figFromRow(windowFigures(sum, "total")),
        },
        lastHour: figFromRow(hourSum) as Fig | null,
      };
    },
    async (redis, why) => {
      assertConfiguredZone(runtime, c, why);
      if (input.source !== undefined) throw unavailable(why, `source=${input.source} (${SOURCES_UNKNOWN})`);
      const prefix = runtime.config.redisKeyPrefix;
      const search = input.search?.toLowerCase();
      const metas = [...(await allAccountIndex(redis, prefix))].filter(
        ([id, m]) =>
          isLive(m) &&
          (input.platform === undefined || m.platform === input.platform) &&
          (input.status === undefined || m.status === input.status) &&
          (search === undefined || m.name.toLowerCase().includes(search) || id.toLowerCase().includes(search)),
      );
      const windows: Window[] = [{ kind: "d", date: c.today }, { kind: "m", month: c.month }, { kind: "t" }];
      const counters = await readAccountCounters(redis, prefix, metas.map(([id]) => id), windows);
      const all: AccountWindows[] = metas.map(([id, m], i) => {
        const [d, mo, t] = counters[i]!;
        return {
          info: { id, ...m, lastUsedAt: iso(t!.lastUsedAt), sources: [] },
          windows: { daily: figFromHot(d!), monthly: figFromHot(mo!), total: figFromHot(t!) },
        };
      });
      all.sort(compareBy(accountKey(input.sort), (a) => a.info.id, order));
      return {
        availableSources: [],
        page: all.slice(offset, offset + limit).map((a) => usageRow(a, null)),
        count: all.length,
        activeToday: all.filter((a) => a.windows.daily.requests > 0).length,
        sums: {
          daily: all.reduce((s, a) => addFig(s, a.windows.daily), ZERO_FIG),
          monthly: all.reduce((s, a) => addFig(s, a.windows.monthly), ZERO_FIG),
          total: all.reduce((s, a) => addFig(s, a.windows.total), ZERO_FIG),
        },
        lastHour: null,
      };
    },
  );
  return {
    data: value.page,
    summary: {
      totalAccounts: value.count,
      activeToday: value.activeToday,
      daily: totals(value.sums.daily),
      monthly: totals(value.sums.monthly),
      total: totals(value.sums.total),
      lastHour: value.lastHour === null ? null : totals(value.lastHour),
    },
    pagination: { total: value.count, limit, offset, hasMore: offset + value.page.length < value.count },
    availableSources: value.availableSources,
    source,
    timezone: c.timezone,
    timestamp: now.toISOString(),
  };
}

// ---- accounts.summary

function rangeOut(r: ResolvedRange) {
  return { name: r.name, start: r.start, end: r.end, timezone: r.timezone };
}

function thisMonthDays(c: ZonedToday): Iterable<string> {
  return boundaries(firstDayOf(c.month), lastDayOf(c.month));
}

/** Zero-filled points: every day start..end, or every month first..last. */
function fillSeries(points: Map<string, Fig>, keys: Iterable<string>): SeriesPoint[] {
  return [...keys].map((date) => ({ date, ...totals(points.get(date) ?? ZERO_FIG) }));
}

interface SummaryParts {
  account: AccountInfo;
  usage: Fig;
  windows: Record<WindowName, Fig>;
  lastHour: Fig | null;
  byModel: ModelUsage[] | null;
  series: SeriesPoint[] | null;
  /** What the Redis fallback could not answer, and why. */
  unavailable?: string[];
}

export async function getAccountSummary(runtime: Runtime, input: AccountSummaryInput, now = new Date()): Promise<AccountSummaryResult> {
  const configTz = runtime.config.usageTimezone;
  const c = zonedToday(runtime, input.tz, now);
  const range = resolveRange(input, c.today, c.timezone);
  if (input.tz !== undefined) {
    assertExactZone(configTz, c.timezone, thisMonthDays(c));
    if (range.start && range.end) assertExactZone(configTz, c.timezone, boundaries(range.start, range.end));
  }

  const { value, source } = await answer<SummaryParts>(
    runtime,
    async (db) => {
      const account = await findAccount(db, input.id);
      if (!account) throw notFound(input.id);
      const [windowRows, usageRow, modelRows, seriesRows, hourRows] = await Promise.all([
        findAccountWindows(db, input.id, c.today, c.month),
        findAccountRangeTotals(db, input.id, range.plan),
        findModelBreakdown(db, input.id, range.plan),
        range.seriesUnit === "day" ? findDailySeries(db, input.id, range.start!, range.end!) : findMonthlySeries(db, input.id, range.plan),
        findLastHourByAccount(db, [input.id], lastHourWindow(runtime, now)),
      ]);
      const windows = { daily: ZERO_FIG, monthly: ZERO_FIG, total: ZERO_FIG };
      for (const w of windowRows) windows[w.window_name] = figFromRow(w);

      const points = new Map(seriesRows.map((r) => [range.seriesUnit === "day" ? r.bucket : monthOf(r.bucket), figFromRow(r)]));
      let seriesKeys: Iterable<string>;
      if (range.seriesUnit === "day") seriesKeys = eachDay(range.start!, range.end!);
      else if (range.start && range.end) seriesKeys = eachMonth(monthOf(range.start), monthOf(range.end));
      else {
        const months = [...points.keys()];
        const first = months[0];
        const last = months.at(-1)! > c.month ? months.at(-1)! : c.month;
        if (first !== undefined && input.tz !== undefined) assertExactZone(configTz, c.timezone, monthBoundaries(first, last));
        seriesKeys = first === undefined ? [] : eachMonth(first, last);
      }
      return {
        account: accountInfo(account),
        usage: figFromRow(usageRow),
        windows,
        lastHour: hourRows[0] ? figFromRow(hourRows[0]) : ZERO_FIG,
        byModel: modelRows.map((m): ModelUsage => ({ model: m.model, ...totals(figFromRow(m)) })),
        series: fillSeries(points, seriesKeys),
      };
    },
    async (redis, why) => {
      assertConfiguredZone(runtime, c, why);
      const w = hotWindow(range, c, why);
      const prefix = runtime.config.redisKeyPrefix;
      const meta = await findAccountIndex(redis, prefix, input.id);
      if (!isLive(meta)) throw notFound(input.id);
      const [[d, m, t]] = (await readAccountCounters(redis, prefix, [input.id], [{ kind: "d", date: c.today }, { kind: "m", month: c.month }, { kind: "t" }])) as [HotFigures[]];
      const windows = { daily: figFromHot(d!), monthly: figFromHot(m!), total: figFromHot(t!) };
      const models = w.kind === "t" ? null : await readModelCounters(redis, prefix, input.id, w);
      const unavailableParts = [`series: ${why}; the live counters keep no history to chart`];
      if (!models) unavailableParts.push(`byModel: ${why}; the live counters keep models per day and month only`);
      unavailableParts.push(`lastHour: ${why}; the live counters keep days, not minutes`);
      unavailableParts.push(`account.sources: ${why}; ${SOURCES_UNKNOWN}`);
      return {
        account: { id: input.id, ...meta, lastUsedAt: iso(t!.lastUsedAt), sources: [] },
        usage: w.kind === "d" ? windows.daily : w.kind === "m" ? windows.monthly : windows.total,
        windows,
        lastHour: null,
        byModel: models
          ? models
              .map(({ model, figures }): ModelUsage => ({ model, ...totals(figFromHot(figures)) }))
              .sort((a, b) => b.allTokens - a.allTokens || compareText(a.model, b.model))
          : null,
        series: null,
        unavailable: unavailableParts,
      };
    },
  );
  return {
    data: {
      account: value.account,
      range: rangeOut(range),
      usage: totals(value.usage),
      windows: { daily: totals(value.windows.daily), monthly: totals(value.windows.monthly), total: totals(value.windows.total) },
      lastHour: value.lastHour === null ? null : totals(value.lastHour),
      byModel: value.byModel,
      series: value.series,
    },
    source,
    timezone: c.timezone,
    timestamp: now.toISOString(),
    ...(value.unavailable ? { unavailable: value.unavailable } : {}),
  };
}

// ---- accounts.breakdown

interface KeyFigures {
  apiKeyId: string;
  apiKeyName: string;
  source: string | null;
  fig: Fig;
  lastModel: string | null;
  lastUsedAt: string | null;
}

function breakdownItem(k: KeyFigures, whole: Fig): BreakdownItem {
  const t = totals(k.fig);
  return {
    apiKeyId: k.apiKeyId,
    apiKeyName: k.apiKeyName,
    ...t,
    share: { tokens: fraction(t.allTokens, whole.allTokens), cost: fraction(k.fig.costNanos, whole.costNanos) },
    lastModel: k.lastModel,
    lastUsedAt: k.lastUsedAt,
    source: k.source,
  };
}

/** Today in the answering zone and the range of a breakdown; an answer in another zone only where it is exact. */
function breakdownRange(runtime: Runtime, input: AccountBreakdownInput, now: Date) {
  const c = zonedToday(runtime, input.tz, now);
  const range = resolveRange(input, c.today, c.timezone);
  // All-time figures do not depend on where days are cut, so any valid zone answers them exactly.
  if (input.tz !== undefined && range.start && range.end) {
    assertExactZone(runtime.config.usageTimezone, c.timezone, boundaries(range.start, range.end));
  }
  return { c, range };
}

const keyFigures = (r: KeyRow): KeyFigures => ({
  apiKeyId: r.api_key_id,
  apiKeyName: r.api_key_name,
  source: r.api_key_source,
  fig: figFromRow(r),
  lastModel: r.last_model,
  lastUsedAt: iso(r.last_used_at),
});

/** Every key of the range from the live counters, in the requested order, and their sum. */
async function keysFromRedis(runtime: Runtime, redis: RedisClient, input: AccountBreakdownInput, c: ZonedToday, range: ResolvedRange, why: string) {
  if (range.name !== "total") assertConfiguredZone(runtime, c, why);
  const w = hotWindow(range, c, why);
  const prefix = runtime.config.redisKeyPrefix;
  if (!isLive(await findAccountIndex(redis, prefix, input.id))) throw notFound(input.id);
  const keys = await readKeyCounters(redis, prefix, input.id, w);
  const index = await findApiKeyIndexes(redis, prefix, keys.map((k) => k.apiKeyId));
  const all = keys.map(
    ({ apiKeyId, figures }): KeyFigures => ({
      apiKeyId,
      apiKeyName: index.get(apiKeyId)?.name ?? apiKeyId,
      // The Redis index keeps no sources of keys either.
      source: null,
      fig: figFromHot(figures),
      lastModel: figures.lastModel,
      lastUsedAt: iso(figures.lastUsedAt),
    }),
  );
  const sort = input.sort;
  all.sort(compareBy((k) => (sort === "lastUsedAt" ? k.lastUsedAt : figValue(k.fig, sort)), (k) => k.apiKeyId, input.order));
  return { all, whole: all.reduce((s, k) => addFig(s, k.fig), ZERO_FIG) };
}

export async function getAccountBreakdown(runtime: Runtime, input: AccountBreakdownInput, now = new Date()): Promise<AccountBreakdownResult> {
  const { c, range } = breakdownRange(runtime, input, now);
  const limit = input.limit ?? DEFAULT_LIMITS.breakdown;
  const offset = input.offset ?? 0;

  const { value, source } = await answer(
    runtime,
    async (db) => {
      const [account, { rows, totals: sum }] = await Promise.all([
        findAccount(db, input.id),
        findKeyBreakdown(db, input.id, range.plan, { sort: input.sort, order: input.order, limit, offset }),
      ]);
      if (!account) throw notFound(input.id);
      return { page: rows.map(keyFigures), count: sum.keys, whole: figFromRow(sum) };
    },
    async (redis, why) => {
      const { all, whole } = await keysFromRedis(runtime, redis, input, c, range, why);
      return { page: all.slice(offset, offset + limit), count: all.length, whole };
    },
  );
  const hasMore = offset + value.page.length < value.count;
  return {
    data: {
      items: value.page.map((k) => breakdownItem(k, value.whole)),
      totals: totals(value.whole),
      total: value.count,
      nextOffset: hasMore ? offset + value.page.length : null,
      hasMore,
    },
    range: rangeOut(range),
    source,
    timezone: c.timezone,
    timestamp: now.toISOString(),
  };
}

/** Keys per batch of a breakdown export: one FETCH, one chunk of the CSV stream. */
const EXPORT_BATCH = 2_000;

export interface BreakdownBatches {
  range: ReturnType<typeof rangeOut>;
  source: string;
  timezone: string;
  /** The next keys in the requested order (the items of getAccountBreakdown's pages), undefined at the end. */
  next(): Promise<BreakdownItem[] | undefined>;
  close(): Promise<void>;
}

/**
 * Every key of a breakdown, for the CSV export: aggregated once by one statement read through a
 * cursor (it used to be a page of 100 at a time, each aggregating every key again: O(keys²)). The
 * statement gets the time left until `deadline`; past it, reading fails with 503 UNAVAILABLE.
 */
export async function exportAccountBreakdown(runtime: Runtime, input: AccountBreakdownInput, o: { now: Date; deadline: Deadline }): Promise<BreakdownBatches> {
  const { c, range } = breakdownRange(runtime, input, o.now);
  const expired = () => pastDeadline(o.deadline.ms);
  const { value, source } = await answer(
    runtime,
    async (db, kind) => {
      if (!(await findAccount(db, input.id))) throw notFound(input.id);
      const cursor = { batchSize: EXPORT_BATCH, deadlineAt: o.deadline.at, signal: o.deadline.signal, maxStatementMs: runtime.config.dbStatementTimeoutMs, expired };
      const { totals: sum, rows } = await streamKeyBreakdown(db, kind, input.id, range.plan, { sort: input.sort, order: input.order }, cursor);
      const whole = figFromRow(sum);
      return {
        next: async () => (await rows.next())?.map((r) => breakdownItem(keyFigures(r), whole)),
        close: () => rows.close(),
      };
    },
    async (redis, why) => {
      const { all, whole } = await keysFromRedis(runtime, redis, input, c, range, why);
      let at = 0;
      return {
        next: async () => {
          if (o.deadline.signal.aborted) throw expired();
          if (at >= all.length) return undefined;
          const batch = all.slice(at, at + EXPORT_BATCH);
          at += batch.length;
          return batch.map((k) => breakdownItem(k, whole));
        },
        close: async () => {},
      };
    },
  );
  return { ...value, range: rangeOut(range), source, timezone: c.timezone };
}
