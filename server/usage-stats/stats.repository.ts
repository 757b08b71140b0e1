import { sql, type RawBuilder } from "kysely";
import type { DbKind } from "../../db/client";
import { readInBatches, type CursorOptions, type RowBatches } from "../../db/cursor";
import { MEASURES } from "../../db/measures";
import type { Db } from "../../db/types";
import type { RangePlan } from "./range";
import type { AccountSort, BreakdownSort, Figure, WindowName } from "./schemas";
import { MAX_AVAILABLE_SOURCES, NO_SOURCE } from "./source-filter";
import { firstDayOf } from "../calendar";

/**
 * Every statement of the read path. They read the rollups only (usage_account_*, usage_key_*,
 * usage_model_*), never usage_records; stats.explain.test.ts checks each plan. Statements are
 * built by *Sql functions (so the test can EXPLAIN them) and run by the functions that follow.
 */


type Answered = Extract<(typeof MEASURES)[number], { read: true }>;

/** Sums of one rollup's answered measures (db/measures.ts): counts int8, money numeric (exact decimal strings). */
export type FigureRow = { [K in Answered as K["column"]]: K["kind"] extends "money" ? string : number } & { last_used_at: Date | null };

const ANSWERED = MEASURES.filter((m) => m.read);
const MEASURE_COLUMNS = [...ANSWERED.map((m) => m.column), "last_used_at"];

const MEASURES_SQL = sql.raw(MEASURE_COLUMNS.join(", "));

/** Money columns sum to numeric (exact past 2^63); the counters stay int8. */
const sumOf = (m: (typeof ANSWERED)[number], expr: string) => (m.kind === "money" ? `coalesce(sum(${expr}), 0)` : `coalesce(sum(${expr}), 0)::int8`);

const SUMS = sql.raw([...ANSWERED.map((m) => `${sumOf(m, m.column)} AS ${m.column}`), "max(last_used_at) AS last_used_at"].join(", "));

const FIGURE_COLUMN = Object.fromEntries(ANSWERED.map((m) => [m.name, m.column])) as Record<Figure, string>;

type Level = "account" | "key" | "model";
const TABLES: Record<Level, { daily: string; monthly: string; totals: string }> = {
  account: { daily: "usage_account_daily", monthly: "usage_account_monthly", totals: "usage_account_totals" },
  key: { daily: "usage_key_daily", monthly: "usage_key_monthly", totals: "usage_key_totals" },
  model: { daily: "usage_model_daily", monthly: "usage_model_monthly", totals: "usage_model_totals" },
};

/**
 * The rollup rows of one account that make up a range: whole months from *_monthly, leftover days
 * from *_daily, or the *_totals row(s). `bucket` is the month a row belongs to (null for totals).
 */
function rangeRows(level: Level, accountId: string, plan: RangePlan, extra = ""): RawBuilder<unknown> {
  const t = TABLES[level];
  const cols = sql.raw(extra ? `${extra}, ` : "");
  if (plan.kind === "total") {
    return sql`SELECT ${cols}${MEASURES_SQL}, NULL::date AS bucket FROM ${sql.table(t.totals)} WHERE account_id = ${accountId}`;
  }
  const parts: RawBuilder<unknown>[] = [];
  if (plan.months) {
    parts.push(sql`SELECT ${cols}${MEASURES_SQL}, usage_month AS bucket FROM ${sql.table(t.monthly)}
      WHERE account_id = ${accountId} AND usage_month BETWEEN ${firstDayOf(plan.months.from)} AND ${firstDayOf(plan.months.to)}`);
  }
  if (plan.days.length > 0) {
    const days = sql.join(
      plan.days.map((d) => sql`usage_date BETWEEN ${d.from} AND ${d.to}`),
      sql` OR `,
    );
    parts.push(sql`SELECT ${cols}${MEASURES_SQL}, date_trunc('month', usage_date)::date AS bucket FROM ${sql.table(t.daily)}
      WHERE account_id = ${accountId} AND (${days})`);
  }
  // An empty plan cannot come from resolveRange; answer zero rows rather than build invalid SQL.
  if (parts.length === 0) return sql`SELECT ${cols}${MEASURES_SQL}, NULL::date AS bucket FROM ${sql.table(t.totals)} WHERE false`;
  return sql.join(parts, sql` UNION ALL `);
}

// ---- the account list (GET /admin/accounts/usage-stats)

export interface AccountListFilter {
  platform?: string;
  status?: string;
  search?: string;
  /** A relay source the account's `sources` contain, or NO_SOURCE for none. */
  source?: string;
  /** The local day and month (YYYY-MM-DD, YYYY-MM) of the daily and monthly windows. */
  today: string;
  month: string;
}

export interface AccountListRow {
  id: string;
  name: string;
  platform: string;
  type: string;
  status: string;
  priority: number;
  last_used_at: Date | null;
  sources: string[];
  /** Window figures prefixed d_, m_, t_ (see windowColumns). */
  [column: string]: unknown;
}

const WINDOW_ALIAS: Record<WindowName, string> = { daily: "d", monthly: "m", total: "t" };

function windowColumns(): RawBuilder<unknown> {
  const cols: string[] = [];
  for (const alias of Object.values(WINDOW_ALIAS)) {
    for (const m of ANSWERED) cols.push(`coalesce(${alias}.${m.column}, 0)::${m.kind === "money" ? "numeric" : "int8"} AS ${alias}_${m.column}`);
  }
  return sql.raw(cols.join(", "));
}

function windowSums(): RawBuilder<unknown> {
  const cols: string[] = [];
  for (const alias of Object.values(WINDOW_ALIAS)) {
    for (const m of ANSWERED) cols.push(`${sumOf(m, `${alias}.${m.column}`)} AS ${alias}_${m.column}`);
  }
  return sql.raw(cols.join(", "));
}

/** The list's filters on `accounts a` (also live.repository.ts's last hour of the list). */
export function accountListConds(f: AccountListFilter): RawBuilder<unknown> {
  const conds = [sql`a.deleted_at IS NULL`];
  if (f.platform !== undefined) conds.push(sql`a.platform = ${f.platform}`);
  if (f.status !== undefined) conds.push(sql`a.status = ${f.status}`);
  if (f.search !== undefined) {
    conds.push(sql`(strpos(lower(a.name), lower(${f.search})) > 0 OR strpos(lower(a.id), lower(${f.search})) > 0)`);
  }
  // @> can use the GIN index accounts_sources_idx.
  if (f.source === NO_SOURCE) conds.push(sql`a.sources = '{}'::text[]`);
  else if (f.source !== undefined) conds.push(sql`a.sources @> ARRAY[${f.source}]::text[]`);
  return sql.join(conds, sql` AND `);
}

/** The rollup rows of `accounts a` for the list's three windows (d, m, t). */
function windowJoins(f: AccountListFilter): RawBuilder<unknown> {
  return sql`LEFT JOIN usage_account_daily d ON d.account_id = a.id AND d.usage_date = ${f.today}
    LEFT JOIN usage_account_monthly m ON m.account_id = a.id AND m.usage_month = ${firstDayOf(f.month)}
    LEFT JOIN usage_account_totals t ON t.account_id = a.id`;
}

function accountListFrom(f: AccountListFilter): RawBuilder<unknown> {
  return sql`FROM accounts a ${windowJoins(f)} WHERE ${accountListConds(f)}`;
}

/**
 * Names sort by lower(name) in the "C" collation and ties break on id, also in "C": the Redis
 * fallback sorts the same way in memory, so both stores page identically.
 */
function accountSortExpr(sort: AccountSort): string {
  if (sort === "name") return `lower(a.name) COLLATE "C"`;
  if (sort === "priority") return "a.priority";
  if (sort === "lastUsedAt") return "t.last_used_at";
  const [w, f] = sort.split(".") as [WindowName, Figure];
  return `coalesce(${WINDOW_ALIAS[w]}.${FIGURE_COLUMN[f]}, 0)`;
}

export interface Page<S> {
  sort: S;
  order: "asc" | "desc";
  limit: number;
  offset: number;
}

/**
 * The page is chosen on the sort key alone, and only its rows are then joined for their window
 * figures: sorting every account with its 27 figures computed (3,000 accounts) cost more than the
 * join of the page (issue 26). The joins the sort key does not use are removed by the planner.
 */
export function accountListPageSql(f: AccountListFilter, page: Page<AccountSort>): RawBuilder<AccountListRow> {
  const dir = page.order === "asc" ? "ASC" : "DESC";
  const sortKey = sql.raw(accountSortExpr(page.sort));
  const order = sql.raw(`p.sort_key ${dir} NULLS LAST, p.id COLLATE "C" ASC`);
  return sql<AccountListRow>`WITH p AS MATERIALIZED (
      SELECT a.id, ${sortKey} AS sort_key ${accountListFrom(f)}
      ORDER BY ${sql.raw(`2 ${dir} NULLS LAST, a.id COLLATE "C" ASC`)}
      LIMIT ${page.limit} OFFSET ${page.offset})
    SELECT a.id, a.name, a.platform, a.type, a.status, a.priority, t.last_used_at, a.sources, ${windowColumns()}
    FROM p JOIN accounts a ON a.id = p.id ${windowJoins(f)}
    ORDER BY ${order}`;
}

export interface AccountListSummaryRow {
  total_accounts: number;
  active_today: number;
  [column: string]: unknown;
}

export function accountListSummarySql(f: AccountListFilter): RawBuilder<AccountListSummaryRow> {
  return sql<AccountListSummaryRow>`SELECT count(*)::int8 AS total_accounts,
      count(*) FILTER (WHERE d.requests > 0)::int8 AS active_today, ${windowSums()}
    ${accountListFrom(f)}`;
}

/** The distinct relay sources of live accounts, the choices of the list's source filter (bounded). */
export function availableSourcesSql(): RawBuilder<{ source: string }> {
  return sql<{ source: string }>`SELECT source FROM (SELECT DISTINCT unnest(sources) AS source FROM accounts WHERE deleted_at IS NULL) d
    ORDER BY source COLLATE "C" LIMIT ${MAX_AVAILABLE_SOURCES}`;
}

export async function findAvailableSources(db: Db): Promise<string[]> {
  return (await availableSourcesSql().execute(db)).rows.map((r) => r.source);
}

export async function findAccountListPage(db: Db, f: AccountListFilter, page: Page<AccountSort>): Promise<AccountListRow[]> {
  return (await accountListPageSql(f, page).execute(db)).rows;
}

export async function findAccountListSummary(db: Db, f: AccountListFilter): Promise<AccountListSummaryRow> {
  const row = (await accountListSummarySql(f).execute(db)).rows[0];
  if (!row) throw new Error("aggregate query returned no row");
  return row;
}

// ---- one account (GET /admin/accounts/:id/usage-stats and usage-breakdown)

export interface AccountRow {
  id: string;
  name: string;
  platform: string;
  type: string;
  status: string;
  priority: number;
  last_used_at: Date | null;
  sources: string[];
}

export function accountSql(accountId: string): RawBuilder<AccountRow> {
  return sql<AccountRow>`SELECT a.id, a.name, a.platform, a.type, a.status, a.priority, t.last_used_at, a.sources
    FROM accounts a LEFT JOIN usage_account_totals t ON t.account_id = a.id
    WHERE a.id = ${accountId} AND a.deleted_at IS NULL`;
}

export async function findAccount(db: Db, accountId: string): Promise<AccountRow | undefined> {
  return (await accountSql(accountId).execute(db)).rows[0];
}

export interface WindowRow extends FigureRow {
  window_name: WindowName;
}

export function accountWindowsSql(accountId: string, today: string, month: string): RawBuilder<WindowRow> {
  return sql<WindowRow>`SELECT 'daily' AS window_name, ${SUMS} FROM usage_account_daily WHERE account_id = ${accountId} AND usage_date = ${today}
    UNION ALL SELECT 'monthly', ${SUMS} FROM usage_account_monthly WHERE account_id = ${accountId} AND usage_month = ${firstDayOf(month)}
    UNION ALL SELECT 'total', ${SUMS} FROM usage_account_totals WHERE account_id = ${accountId}`;
}

export async function findAccountWindows(db: Db, accountId: string, today: string, month: string): Promise<WindowRow[]> {
  return (await accountWindowsSql(accountId, today, month).execute(db)).rows;
}

export function accountRangeTotalsSql(accountId: string, plan: RangePlan): RawBuilder<FigureRow> {
  return sql<FigureRow>`SELECT ${SUMS} FROM (${rangeRows("account", accountId, plan)}) r`;
}

export async function findAccountRangeTotals(db: Db, accountId: string, plan: RangePlan): Promise<FigureRow> {
  const row = (await accountRangeTotalsSql(accountId, plan).execute(db)).rows[0];
  if (!row) throw new Error("aggregate query returned no row");
  return row;
}

export interface ModelRow extends FigureRow {
  model: string;
}

export function modelBreakdownSql(accountId: string, plan: RangePlan): RawBuilder<ModelRow> {
  return sql<ModelRow>`SELECT model, ${SUMS} FROM (${rangeRows("model", accountId, plan, "model")}) r
    GROUP BY model ORDER BY sum(total_tokens) DESC, model COLLATE "C"`;
}

export async function findModelBreakdown(db: Db, accountId: string, plan: RangePlan): Promise<ModelRow[]> {
  return (await modelBreakdownSql(accountId, plan).execute(db)).rows;
}

export interface SeriesRow extends FigureRow {
  /** YYYY-MM-DD: the day, or the first day of the month. */
  bucket: string;
}

export function dailySeriesSql(accountId: string, from: string, to: string): RawBuilder<SeriesRow> {
  return sql<SeriesRow>`SELECT usage_date AS bucket, ${SUMS} FROM usage_account_daily
    WHERE account_id = ${accountId} AND usage_date BETWEEN ${from} AND ${to}
    GROUP BY usage_date ORDER BY usage_date`;
}

/** Per month of the range; for all time, every month the account has a monthly rollup for. */
export function monthlySeriesSql(accountId: string, plan: RangePlan): RawBuilder<SeriesRow> {
  if (plan.kind === "total") {
    return sql<SeriesRow>`SELECT usage_month AS bucket, ${SUMS} FROM usage_account_monthly
      WHERE account_id = ${accountId} GROUP BY usage_month ORDER BY usage_month`;
  }
  return sql<SeriesRow>`SELECT bucket, ${SUMS} FROM (${rangeRows("account", accountId, plan)}) r GROUP BY bucket ORDER BY bucket`;
}

export async function findDailySeries(db: Db, accountId: string, from: string, to: string): Promise<SeriesRow[]> {
  return (await dailySeriesSql(accountId, from, to).execute(db)).rows;
}

export async function findMonthlySeries(db: Db, accountId: string, plan: RangePlan): Promise<SeriesRow[]> {
  return (await monthlySeriesSql(accountId, plan).execute(db)).rows;
}

// ---- API keys of one account in a range

export interface KeyRow extends FigureRow {
  api_key_id: string;
  api_key_name: string;
  /** api_keys.source: null for a key from the REST API or one the ledger has no row of. */
  api_key_source: string | null;
  last_model: string | null;
}

const KEY_SORT = Object.fromEntries([...MEASURES.filter((m) => "breakdownSort" in m).map((m) => [m.name, m.column]), ["lastUsedAt", "last_used_at"]]) as Record<
  BreakdownSort,
  string
>;

export interface KeyTotalsRow extends FigureRow {
  keys: number;
}

/** A page row beside the range's totals (keys, all_*); a page past the end is one row of totals and nulls. */
type KeyBreakdownRow = (KeyRow | { [K in keyof KeyRow]: null }) & { keys: number; [column: string]: unknown };

const TOTAL_COLUMNS = sql.raw(MEASURE_COLUMNS.map((c) => `t.${c} AS all_${c}`).join(", "));
const PAGE_COLUMNS = sql.raw(MEASURE_COLUMNS.map((c) => `p.${c}`).join(", "));

/** A page of keys; `limit: null` is every key (the CSV export). */
export type KeyPage = Omit<Page<BreakdownSort>, "limit"> & { limit: number | null };

/**
 * A page of keys and the totals over all keys of the range in one statement, so that the range's
 * rollup rows are read and grouped once. The totals come from a one-row CTE left-joined to the
 * page, so an offset past the end still returns them.
 */
export function keyBreakdownSql(accountId: string, plan: RangePlan, page: KeyPage): RawBuilder<KeyBreakdownRow> {
  const dir = page.order === "asc" ? "ASC" : "DESC";
  const orderBy = (alias: string) => sql.raw(`${alias}.${KEY_SORT[page.sort]} ${dir} NULLS LAST, ${alias}.api_key_id COLLATE "C" ASC`);
  const single = singleBucketRows(accountId, plan);
  if (single) {
    // One rollup row per key already (all time, one whole month, one day): no grouping, and each
    // row's last_model is the key's. Reading the rows once for the page and the totals is what
    // keeps an account of 20,000 keys fast (issue 26).
    return sql<KeyBreakdownRow>`WITH k AS MATERIALIZED (${single}),
      t AS (SELECT count(*)::int8 AS keys, ${SUMS} FROM k),
      p AS (SELECT * FROM k ORDER BY ${orderBy("k")} LIMIT ${page.limit} OFFSET ${page.offset})
      SELECT t.keys, ${TOTAL_COLUMNS}, p.api_key_id, ${PAGE_COLUMNS},
        coalesce(ak.name, p.api_key_id) AS api_key_name, ak.source AS api_key_source, p.last_model
      FROM t LEFT JOIN p ON true LEFT JOIN api_keys ak ON ak.id = p.api_key_id
      ORDER BY ${orderBy("p")}`;
  }
  // A key's last model is that of its most recently used rollup row (on a tie, the least model).
  // Each key keeps its rows' (last_used_at, last_model) in an array, unsorted, and only the keys of
  // the page look for it there: cheaper than an ordered array_agg, which sorted every key's rows.
  return sql<KeyBreakdownRow>`WITH k AS (
      SELECT api_key_id, ${SUMS}, array_agg((last_used_at, last_model)) AS used
      FROM (${rangeRows("key", accountId, plan, "api_key_id, last_model")}) r GROUP BY api_key_id),
    t AS (SELECT count(*)::int8 AS keys, ${SUMS} FROM k),
    p AS (SELECT * FROM k ORDER BY ${orderBy("k")} LIMIT ${page.limit} OFFSET ${page.offset})
    SELECT t.keys, ${TOTAL_COLUMNS}, p.api_key_id, ${PAGE_COLUMNS},
      coalesce(ak.name, p.api_key_id) AS api_key_name, ak.source AS api_key_source,
      (SELECT min(u.model) FROM unnest(p.used) AS u(used_at timestamptz, model text) WHERE u.used_at IS NOT DISTINCT FROM p.last_used_at) AS last_model
    FROM t LEFT JOIN p ON true LEFT JOIN api_keys ak ON ak.id = p.api_key_id
    ORDER BY ${orderBy("p")}`;
}

/** A plan that is one rollup bucket (all time, one whole month or one day): its key rows, one per key. */
function singleBucketRows(accountId: string, plan: RangePlan): RawBuilder<unknown> | undefined {
  const cols = sql.raw(`api_key_id, last_model, ${MEASURE_COLUMNS.join(", ")}`);
  if (plan.kind === "total") return sql`SELECT ${cols} FROM usage_key_totals WHERE account_id = ${accountId}`;
  const [day] = plan.days;
  if (plan.months && plan.months.from === plan.months.to && plan.days.length === 0) {
    return sql`SELECT ${cols} FROM usage_key_monthly WHERE account_id = ${accountId} AND usage_month = ${firstDayOf(plan.months.from)}`;
  }
  if (!plan.months && plan.days.length === 1 && day && day.from === day.to) {
    return sql`SELECT ${cols} FROM usage_key_daily WHERE account_id = ${accountId} AND usage_date = ${day.from}`;
  }
  return undefined;
}

export interface KeyBreakdown {
  rows: KeyRow[];
  totals: KeyTotalsRow;
}

const keyRows = (rows: KeyBreakdownRow[]): KeyRow[] => rows.filter((r): r is KeyRow & KeyBreakdownRow => r.api_key_id !== null);

export async function findKeyBreakdown(db: Db, accountId: string, plan: RangePlan, page: Page<BreakdownSort>): Promise<KeyBreakdown> {
  const rows = (await keyBreakdownSql(accountId, plan, page).execute(db)).rows;
  const first = rows[0];
  if (!first) throw new Error("aggregate query returned no row");
  return { rows: keyRows(rows), totals: { keys: first.keys, ...prefixedFigures(first, "all") } };
}

export interface KeyBreakdownStream {
  totals: KeyTotalsRow;
  rows: RowBatches<KeyRow>;
}

/**
 * Every key of the range, in the order of `keyBreakdownSql` (so the same rows as its pages), from
 * one statement read through a cursor (db/cursor.ts); the first batch is read here, for the totals.
 */
export async function streamKeyBreakdown(
  db: Db,
  kind: DbKind,
  accountId: string,
  plan: RangePlan,
  order: Pick<KeyPage, "sort" | "order">,
  o: CursorOptions,
): Promise<KeyBreakdownStream> {
  const cursor = await readInBatches(db, kind, keyBreakdownSql(accountId, plan, { ...order, limit: null, offset: 0 }), o);
  let first: KeyBreakdownRow[] | undefined;
  try {
    first = await cursor.next();
  } catch (err) {
    await cursor.close();
    throw err;
  }
  const head = first?.[0];
  if (!head) {
    await cursor.close();
    throw new Error("aggregate query returned no row");
  }
  let pending: KeyRow[] | undefined = keyRows(first!);
  return {
    totals: { keys: head.keys, ...prefixedFigures(head, "all") },
    rows: {
      async next() {
        const held = pending;
        pending = undefined;
        if (held?.length) return held;
        const batch = await cursor.next();
        return batch && keyRows(batch);
      },
      close: () => cursor.close(),
    },
  };
}

function prefixedFigures(row: Record<string, unknown>, prefix: string): FigureRow {
  const out: Record<string, unknown> = { last_used_at: (row[`${prefix}_last_used_at`] as Date | null | undefined) ?? null };
  for (const m of ANSWERED) out[m.column] = m.kind === "money" ? String(row[`${prefix}_${m.column}`]) : row[`${prefix}_${m.column}`];
  return out as FigureRow;
}

/** Reads the prefixed window columns of an account list row (d_requests …) as a FigureRow. */
export function windowFigures(row: Record<string, unknown>, window: WindowName): FigureRow {
  return prefixedFigures(row, WINDOW_ALIAS[window]);
}
