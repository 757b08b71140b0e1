import { pastDeadline, type Deadline } from "../deadline";
import type { Runtime } from "../runtime";
import { figFromRow, totals } from "./figures";
import { defaultKeyOrder, DEFAULT_KEY_LIMIT, type KeyUsageSort } from "./key-sorts";
import { findKeyUsage, streamKeyUsage, type KeyUsageRow } from "./keys.repository";
import { assertExactZone, boundaries, resolveRange } from "./range";
import { decodeKeyCursor, encodeKeyCursor, type KeyUsageInput, type KeyUsageItem, type KeyUsageResult, type ResolvedRangeOut } from "./schemas";
import { answer, unavailable, zonedToday } from "./store-choice";

/**
 * API keys across every account (the console's key page, GET /admin/api-keys/usage-stats): a
 * key's figures are the sums over all the accounts that used it. PostgreSQL answers; the live
 * Redis counters are kept per account, so with PostgreSQL down this list is a 503 (UNAVAILABLE),
 * not a partial answer.
 */

const iso = (d: Date | null) => (d === null ? null : new Date(d).toISOString());

function keyItem(r: KeyUsageRow): KeyUsageItem {
  return {
    apiKeyId: r.api_key_id,
    apiKeyName: r.api_key_name,
    ...totals(figFromRow(r)),
    status: r.api_key_status,
    source: r.api_key_source,
    deleted: r.api_key_deleted,
    lastModel: r.last_model,
    lastUsedAt: iso(r.last_used_at),
    accounts: r.accounts,
    accountCount: r.account_count,
  };
}

function keyRange(runtime: Runtime, input: KeyUsageInput, now: Date) {
  const c = zonedToday(runtime, input.tz, now);
  const range = resolveRange(input, c.today, c.timezone);
  // All-time figures do not depend on where days are cut, so any valid zone answers them exactly.
  if (input.tz !== undefined && range.start && range.end) assertExactZone(runtime.config.usageTimezone, c.timezone, boundaries(range.start, range.end));
  const out: ResolvedRangeOut = { name: range.name, start: range.start, end: range.end, timezone: range.timezone };
  return { c, range, out };
}

const NEEDS_POSTGRES = "API keys across accounts (the live counters are kept per account)";

function sortOf(input: KeyUsageInput): { sort: KeyUsageSort; order: "asc" | "desc" } {
  return { sort: input.sort, order: input.order ?? defaultKeyOrder(input.sort) };
}

export async function listKeyUsage(runtime: Runtime, input: KeyUsageInput, now = new Date()): Promise<KeyUsageResult> {
  const { c, range, out } = keyRange(runtime, input, now);
  const { sort, order } = sortOf(input);
  const limit = input.limit ?? DEFAULT_KEY_LIMIT;
  // The schema has checked the cursor, and that it belongs to this sort and order.
  const after = input.cursor ? decodeKeyCursor(input.cursor) : undefined;

  const { value, source } = await answer(
    runtime,
    async (db) => findKeyUsage(db, range.plan, { search: input.search }, { sort, order, limit: limit + 1, after }),
    async (_redis, why) => {
      throw unavailable(why, NEEDS_POSTGRES);
    },
  );
  const hasMore = value.rows.length > limit;
  const page = value.rows.slice(0, limit);
  const last = page.at(-1);
  return {
    data: {
      items: page.map(keyItem),
      totals: totals(figFromRow(value.totals)),
      total: value.totals.keys,
      nextCursor: hasMore && last ? encodeKeyCursor({ sort, order, value: last.sort_value, id: last.api_key_id }) : null,
      hasMore,
    },
    range: out,
    source,
    timezone: c.timezone,
    timestamp: now.toISOString(),
  };
}

/** Keys per batch of an export: one FETCH, one chunk of the CSV stream. */
const EXPORT_BATCH = 2_000;

export interface KeyUsageBatches {
  range: ResolvedRangeOut;
  source: string;
  timezone: string;
  /** The next keys in the requested order (the items of listKeyUsage's pages), undefined at the end. */
  next(): Promise<KeyUsageItem[] | undefined>;
  close(): Promise<void>;
}

/** Every key that matches, for the CSV export: aggregated once and read through a cursor within `deadline`. */
export async function exportKeyUsage(runtime: Runtime, input: KeyUsageInput, o: { now: Date; deadline: Deadline }): Promise<KeyUsageBatches> {
  const { c, range, out } = keyRange(runtime, input, o.now);
  const expired = () => pastDeadline(o.deadline.ms);
  const { value, source } = await answer(
    runtime,
    async (db, kind) => {
      const cursor = { batchSize: EXPORT_BATCH, deadlineAt: o.deadline.at, signal: o.deadline.signal, maxStatementMs: runtime.config.dbStatementTimeoutMs, expired };
      const { rows } = await streamKeyUsage(db, kind, range.plan, { search: input.search }, sortOf(input), cursor);
      return {
        next: async () => (await rows.next())?.map(keyItem),
        close: () => rows.close(),
      };
    },
    async (_redis, why): Promise<Pick<KeyUsageBatches, "next" | "close">> => {
      throw unavailable(why, NEEDS_POSTGRES);
    },
  );
  return { ...value, range: out, source, timezone: c.timezone };
}
