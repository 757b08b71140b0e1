import { sql, type RawBuilder } from "kysely";
import type { DbKind } from "../../db/client";
import { readInBatches, type CursorOptions, type RowBatches } from "../../db/cursor";
import { MEASURES } from "../../db/measures";
import type { Db } from "../../db/types";
import { firstDayOf } from "../calendar";
import { MAX_KEY_ACCOUNTS, type KeyUsageSort } from "./key-sorts";
import type { RangePlan } from "./range";
import type { FigureRow } from "./stats.repository";

/**
 * The API keys of every account in a range (the console's key page): each key's figures are the
 * sums of its rollup rows (usage_key_*) over all the accounts that used it. One statement
 * aggregates the range per key once, then answers the filtered set's count and totals and one
 * keyset page; the per-key extras (last model, the accounts it used) are computed for the page's
 * rows only, from an array each key carries out of the aggregation, never by a lookup per key.
 */

const ANSWERED = MEASURES.filter((m) => m.read);
const MEASURE_COLUMNS = [...ANSWERED.map((m) => m.column), "last_used_at"];
const MEASURES_SQL = sql.raw(MEASURE_COLUMNS.join(", "));
const sumOf = (m: (typeof ANSWERED)[number], expr: string) => (m.kind === "money" ? `coalesce(sum(${expr}), 0)` : `coalesce(sum(${expr}), 0)::int8`);
const SUMS = sql.raw([...ANSWERED.map((m) => `${sumOf(m, m.column)} AS ${m.column}`), "max(last_used_at) AS last_used_at"].join(", "));
const TOTAL_COLUMNS = sql.raw(MEASURE_COLUMNS.map((c) => `t.${c} AS all_${c}`).join(", "));
const PAGE_COLUMNS = sql.raw(MEASURE_COLUMNS.map((c) => `p.${c}`).join(", "));
const FIGURE_COLUMN = Object.fromEntries(ANSWERED.map((m) => [m.name, m.column])) as Record<string, string>;

/** A key's last use as an exact integer (µs since the epoch), never-used keys below every real one. */
const NEVER_USED = "-9223372036854775808";

/**
 * The sort value of a key (an aggregated row `k` joined to api_keys `ak`), as numeric or text so
 * that a cursor's printed value compares exactly: sums of integers and nano-USD, never floats.
 */
function sortExpr(sort: KeyUsageSort): string {
  if (sort === "name") return `lower(coalesce(ak.name, k.api_key_id)) COLLATE "C"`;
  if (sort === "lastUsedAt") return `coalesce(trunc(extract(epoch FROM k.last_used_at) * 1000000), ${NEVER_USED})::numeric`;
  return `k.${FIGURE_COLUMN[sort]}::numeric`;
}

/** The rollup rows of every account that make up a range (cf. stats.repository.ts's rangeRows for one). */
function keyRangeRows(plan: RangePlan): RawBuilder<unknown> {
  const cols = sql`account_id, api_key_id, last_model, ${MEASURES_SQL}`;
  if (plan.kind === "total") return sql`SELECT ${cols} FROM usage_key_totals`;
  const parts: RawBuilder<unknown>[] = [];
  if (plan.months) {
    parts.push(sql`SELECT ${cols} FROM usage_key_monthly WHERE usage_month BETWEEN ${firstDayOf(plan.months.from)} AND ${firstDayOf(plan.months.to)}`);
  }
  if (plan.days.length > 0) {
    const days = sql.join(
      plan.days.map((d) => sql`usage_date BETWEEN ${d.from} AND ${d.to}`),
      sql` OR `,
    );
    parts.push(sql`SELECT ${cols} FROM usage_key_daily WHERE ${days}`);
  }
  if (parts.length === 0) return sql`SELECT ${cols} FROM usage_key_totals WHERE false`;
  return sql.join(parts, sql` UNION ALL `);
}

export interface KeyUsageFilter {
  search?: string;
}

export interface KeyUsagePage {
  sort: KeyUsageSort;
  order: "asc" | "desc";
  /** null: every key (the CSV export). */
  limit: number | null;
  /** The previous page's last row: its sort value as printed by PostgreSQL, and its key id. */
  after?: { value: string; id: string };
}

export interface KeyUsageAccountRow {
  id: string;
  name: string;
  deleted: boolean;
}

export interface KeyUsageRow extends FigureRow {
  api_key_id: string;
  api_key_name: string;
  api_key_status: string | null;
  api_key_source: string | null;
  api_key_deleted: boolean;
  last_model: string | null;
  accounts: KeyUsageAccountRow[];
  account_count: number;
  /** The row's sort value as text, for the next cursor. */
  sort_value: string;
}

export interface KeyUsageTotalsRow extends FigureRow {
  keys: number;
}

type KeyUsageStatementRow = (KeyUsageRow | { [K in keyof KeyUsageRow]: null }) & { keys: number; [column: string]: unknown };

// The account list of a key is the used array (one element per rollup row) grouped by account.
const USED = sql.raw("unnest(p.used) AS u(account_id text, tokens int8, used_at timestamptz, model text)");

/**
 * One page of keys (keyset: after the cursor's row, in the order sort_value, api_key_id) with the
 * count and the totals of every key that matches, in one statement: the range is read and grouped
 * once. A page past the end is one row of totals and nulls.
 */
export function keyUsageSql(plan: RangePlan, f: KeyUsageFilter, page: KeyUsagePage): RawBuilder<KeyUsageStatementRow> {
  const desc = page.order === "desc";
  const dir = sql.raw(desc ? "DESC" : "ASC");
  // api_keys is joined to every key only when the search or the sort needs its name; else to the page's keys alone.
  const needsName = f.search !== undefined || page.sort === "name";
  const sortValue = sql.raw(sortExpr(page.sort));
  const conds: RawBuilder<unknown>[] = [];
  if (f.search !== undefined) {
    conds.push(sql`(strpos(lower(coalesce(ak.name, k.api_key_id)), lower(${f.search})) > 0 OR strpos(lower(k.api_key_id), lower(${f.search})) > 0)`);
  }
  const where = conds.length ? sql`WHERE ${sql.join(conds, sql` AND `)}` : sql``;
  let keyset = sql``;
  if (page.after) {
    const v = page.sort === "name" ? sql`${page.after.value} COLLATE "C"` : sql`${page.after.value}::numeric`;
    const id = sql`${page.after.id} COLLATE "C"`;
    // Ties break on the id ascending in both directions (as the account list and the breakdown do).
    keyset = desc
      ? sql`WHERE (f.sort_value < ${v} OR (f.sort_value = ${v} AND f.api_key_id COLLATE "C" > ${id}))`
      : sql`WHERE (f.sort_value > ${v} OR (f.sort_value = ${v} AND f.api_key_id COLLATE "C" > ${id}))`;
  }
  const limit = page.limit === null ? sql`` : sql`LIMIT ${page.limit}`;
  return sql<KeyUsageStatementRow>`WITH k AS (
      SELECT api_key_id, ${SUMS}, array_agg((account_id, total_tokens, last_used_at, last_model)) AS used
      FROM (${keyRangeRows(plan)}) r GROUP BY api_key_id),
    f AS (
      SELECT k.*, ${sortValue} AS sort_value FROM k ${needsName ? sql`LEFT JOIN api_keys ak ON ak.id = k.api_key_id` : sql``} ${where}),
    t AS (SELECT count(*)::int8 AS keys, ${SUMS} FROM f),
    p AS (SELECT * FROM f ${keyset} ORDER BY f.sort_value ${dir}, f.api_key_id COLLATE "C" ASC ${limit})
    SELECT t.keys, ${TOTAL_COLUMNS}, p.api_key_id, ${PAGE_COLUMNS}, p.sort_value::text AS sort_value,
      coalesce(ak.name, p.api_key_id) AS api_key_name, ak.status AS api_key_status, ak.source AS api_key_source,
      coalesce(ak.deleted_at IS NOT NULL, false) AS api_key_deleted,
      (SELECT min(u.model) FROM ${USED} WHERE u.used_at IS NOT DISTINCT FROM p.last_used_at) AS last_model,
      (SELECT count(DISTINCT u.account_id)::int4 FROM ${USED}) AS account_count,
      (SELECT coalesce(json_agg(json_build_object('id', x.account_id, 'name', coalesce(a.name, x.account_id), 'deleted', a.id IS NULL OR a.deleted_at IS NOT NULL)
                 ORDER BY x.tokens DESC, x.account_id COLLATE "C"), '[]'::json)
         FROM (SELECT u.account_id, sum(u.tokens) AS tokens FROM ${USED} GROUP BY u.account_id
               ORDER BY sum(u.tokens) DESC, u.account_id COLLATE "C" LIMIT ${MAX_KEY_ACCOUNTS}) x
         LEFT JOIN accounts a ON a.id = x.account_id) AS accounts
    FROM t LEFT JOIN p ON true LEFT JOIN api_keys ak ON ak.id = p.api_key_id
    ORDER BY p.sort_value ${dir}, p.api_key_id COLLATE "C" ASC`;
}

function prefixedFigures(row: Record<string, unknown>, prefix: string): FigureRow {
  const out: Record<string, unknown> = { last_used_at: (row[`${prefix}_last_used_at`] as Date | null | undefined) ?? null };
  for (const m of ANSWERED) out[m.column] = m.kind === "money" ? String(row[`${prefix}_${m.column}`]) : row[`${prefix}_${m.column}`];
  return out as FigureRow;
}

const keyRows = (rows: KeyUsageStatementRow[]): KeyUsageRow[] => rows.filter((r): r is KeyUsageRow & KeyUsageStatementRow => r.api_key_id !== null);

export interface KeyUsage {
  rows: KeyUsageRow[];
  totals: KeyUsageTotalsRow;
}

export async function findKeyUsage(db: Db, plan: RangePlan, f: KeyUsageFilter, page: KeyUsagePage): Promise<KeyUsage> {
  const rows = (await keyUsageSql(plan, f, page).execute(db)).rows;
  const first = rows[0];
  if (!first) throw new Error("aggregate query returned no row");
  return { rows: keyRows(rows), totals: { keys: Number(first.keys), ...prefixedFigures(first, "all") } };
}

export interface KeyUsageStream {
  totals: KeyUsageTotalsRow;
  rows: RowBatches<KeyUsageRow>;
}

/** Every key of the range in the order of keyUsageSql's pages, from one statement read through a cursor (db/cursor.ts). */
export async function streamKeyUsage(
  db: Db,
  kind: DbKind,
  plan: RangePlan,
  f: KeyUsageFilter,
  order: Pick<KeyUsagePage, "sort" | "order">,
  o: CursorOptions,
): Promise<KeyUsageStream> {
  const cursor = await readInBatches(db, kind, keyUsageSql(plan, f, { ...order, limit: null }), o);
  let first: KeyUsageStatementRow[] | undefined;
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
  let pending: KeyUsageRow[] | undefined = keyRows(first!);
  return {
    totals: { keys: Number(head.keys), ...prefixedFigures(head, "all") },
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
