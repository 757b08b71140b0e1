import type pg from "pg";
import { counterField, MEASURES, recordValueSql } from "../../db/measures";
import type { Fig } from "../../server/usage-stats/figures";

/**
 * The naive design the issue compares against: one statement over raw usage_records, using the
 * indexes such a design would name — usage_records (account_id, usage_date) and
 * (api_key_id, usage_date), both created by 0001_init.sql.
 */
/** The baseline's figures, in the read service's shape (compared one to one). */
export type BaseFig = Fig;

/** Each answered measure (db/measures.ts) summed over usage_records: counts as int8, money as nano-USD text. */
const ANSWERED = MEASURES.filter((m) => m.read);
const measures = (filter: string) =>
  ANSWERED.map((m) =>
    m.kind === "money"
      ? `coalesce(sum(round(${recordValueSql(m)} * 1000000000)) ${filter}, 0)::text`
      : `coalesce(sum(${recordValueSql(m)}) ${filter}, 0)::int8`,
  );

/** Columns of one fig in a row: one per answered measure. */
const FIG_COLUMNS = ANSWERED.length;

function fig(row: unknown[], at: number): BaseFig {
  return Object.fromEntries(ANSWERED.map((m, i) => [counterField(m), m.kind === "money" ? BigInt(String(row[at + i])) : Number(row[at + i])])) as BaseFig;
}

export const ACCOUNT_LIST_SQL = `
  SELECT a.id, ${measures("FILTER (WHERE r.usage_date = $1::date)").join(", ")},
         ${measures("FILTER (WHERE r.usage_date >= $2::date AND r.usage_date < $3::date)").join(", ")},
         ${measures("").join(", ")}
    FROM accounts a LEFT JOIN usage_records r ON r.account_id = a.id
   WHERE a.deleted_at IS NULL
   GROUP BY a.id
   ORDER BY a.name, a.id
   LIMIT 500`;

export interface BaselineAccountRow {
  id: string;
  daily: BaseFig;
  monthly: BaseFig;
  total: BaseFig;
}

export async function baselineAccountList(pool: pg.Pool, today: string, monthStart: string, nextMonthStart: string): Promise<BaselineAccountRow[]> {
  const r = await pool.query({ text: ACCOUNT_LIST_SQL, values: [today, monthStart, nextMonthStart], rowMode: "array" });
  return r.rows.map((row: unknown[]) => ({ id: String(row[0]), daily: fig(row, 1), monthly: fig(row, 1 + FIG_COLUMNS), total: fig(row, 1 + 2 * FIG_COLUMNS) }));
}

/** start/end inclusive local days; both null for all time. */
export function keyBreakdownSql(bounded: boolean): string {
  return `
  SELECT r.api_key_id, ${measures("").join(", ")}
    FROM usage_records r
   WHERE r.account_id = $1 ${bounded ? "AND r.usage_date BETWEEN $2::date AND $3::date" : ""}
   GROUP BY r.api_key_id
   ORDER BY sum(r.total_tokens) DESC, r.api_key_id`;
}

export async function baselineKeyBreakdown(pool: pg.Pool, accountId: string, start: string | null, end: string | null): Promise<Map<string, BaseFig>> {
  const bounded = start !== null && end !== null;
  const r = await pool.query({ text: keyBreakdownSql(bounded), values: bounded ? [accountId, start, end] : [accountId], rowMode: "array" });
  return new Map(r.rows.map((row: unknown[]) => [String(row[0]), fig(row, 1)]));
}

/** For the equality check of the summary: by model and per day over a range. */
export async function baselineByModel(pool: pg.Pool, accountId: string, start: string, end: string): Promise<Map<string, BaseFig>> {
  const r = await pool.query({
    text: `SELECT r.model, ${measures("").join(", ")} FROM usage_records r
            WHERE r.account_id = $1 AND r.usage_date BETWEEN $2::date AND $3::date GROUP BY r.model`,
    values: [accountId, start, end],
    rowMode: "array",
  });
  return new Map(r.rows.map((row: unknown[]) => [String(row[0]), fig(row, 1)]));
}

export async function baselineByDay(pool: pg.Pool, accountId: string, start: string, end: string): Promise<Map<string, BaseFig>> {
  const r = await pool.query({
    text: `SELECT r.usage_date::text, ${measures("").join(", ")} FROM usage_records r
            WHERE r.account_id = $1 AND r.usage_date BETWEEN $2::date AND $3::date GROUP BY r.usage_date`,
    values: [accountId, start, end],
    rowMode: "array",
  });
  return new Map(r.rows.map((row: unknown[]) => [String(row[0]), fig(row, 1)]));
}
