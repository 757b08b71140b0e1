import type pg from "pg";
import type { Fig } from "../../server/usage-stats/figures";

/**
 * The naive design the issue compares against: one statement over raw usage_records, using the
 * indexes such a design would name — usage_records (account_id, usage_date) and
 * (api_key_id, usage_date), both created by 0001_init.sql.
 */
/** The baseline's figures, in the read service's shape (compared one to one). */
export type BaseFig = Fig;

const measures = (filter: string) =>
  ["requests", "input_tokens", "output_tokens", "cache_create_tokens", "cache_read_tokens"]
    .map((c) => `coalesce(sum(r.${c}) ${filter}, 0)::int8`)
    .concat(`coalesce(sum(round(r.total_cost * 1000000000)) ${filter}, 0)::text`)
    .concat(`coalesce(sum(round(coalesce(r.rated_cost, r.total_cost) * 1000000000)) ${filter}, 0)::text`);

/** Columns of one fig in a row: five counters and two costs. */
const FIG_COLUMNS = 7;

function fig(row: unknown[], at: number): BaseFig {
  return {
    requests: Number(row[at]),
    inputTokens: Number(row[at + 1]),
    outputTokens: Number(row[at + 2]),
    cacheCreateTokens: Number(row[at + 3]),
    cacheReadTokens: Number(row[at + 4]),
    costNanos: BigInt(String(row[at + 5])),
    ratedCostNanos: BigInt(String(row[at + 6])),
  };
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
