import { sql, type RawBuilder } from "kysely";
import { MEASURES, recordValueSql } from "../../db/measures";
import type { Db } from "../../db/types";
import { accountListConds, type AccountListFilter, type FigureRow } from "./stats.repository";

/**
 * The last 60 minutes (近1小时): the one read of the console that the rollups cannot answer, since
 * they keep days. It reads usage_records by one of two indexes, as the planner finds cheaper:
 * usage_records_account_hour_idx (account_id, usage_date, usage_hour: migration 0014), bounded
 * below by the local hour an hour before the window starts — a clock set back (DST) repeats at
 * most one hour — so it visits about two hours of each account's records; or the BRIN index on
 * occurred_at (migration 0019), which visits the page ranges of the window for every account at
 * once. The whole list's hour always reads by occurred_at (lastHourOfListSql). Either way the read
 * does not grow with history but with the window's traffic (a current month written out of time
 * order, by an import of its past days, widens the page ranges up to the month's partition);
 * occurred_at cuts the window exactly.
 */

const ANSWERED = MEASURES.filter((m) => m.read);
// As the rollups keep them: counts int8, money in integer nano-USD (numeric, exact).
const sumOf = (m: (typeof ANSWERED)[number]) =>
  m.kind === "money"
    ? `(coalesce(sum(${recordValueSql(m)}), 0) * 1000000000)::numeric(40, 0) AS ${m.column}`
    : `coalesce(sum(${recordValueSql(m)}), 0)::int8 AS ${m.column}`;
const SUMS = sql.raw([...ANSWERED.map(sumOf), "max(r.occurred_at) AS last_used_at"].join(", "));
/** What SUMS reads of a record (every measure's column: a money measure may fall back to another). */
const READ_COLUMNS = sql.raw(["account_id", "occurred_at", ...new Set(MEASURES.map((m) => m.recordColumn))].map((c) => `r.${c}`).join(", "));

/** The window (from, to] and the local (date, hour) its records cannot precede nor follow. */
export interface LastHourWindow {
  from: Date;
  to: Date;
  /** Local date and hour (USAGE_TIMEZONE, as usage_records keeps them) of from − 1 h. */
  lowDate: string;
  lowHour: number;
  /** Local date of `to`. */
  highDate: string;
}

const bounds = (w: LastHourWindow) =>
  sql`(r.usage_date, r.usage_hour) >= (${w.lowDate}::date, ${w.lowHour}::smallint) AND r.usage_date <= ${w.highDate}::date
    AND r.occurred_at > ${w.from} AND r.occurred_at <= ${w.to}`;

export interface AccountLastHourRow extends FigureRow {
  account_id: string;
}

export function lastHourByAccountSql(accountIds: readonly string[], w: LastHourWindow): RawBuilder<AccountLastHourRow> {
  return sql<AccountLastHourRow>`SELECT r.account_id, ${SUMS} FROM usage_records r
    WHERE r.account_id = ANY(${[...accountIds]}::text[]) AND ${bounds(w)}
    GROUP BY r.account_id`;
}

/** The last hour of each account given (a page of the list, or one account); accounts without usage are absent. */
export async function findLastHourByAccount(db: Db, accountIds: readonly string[], w: LastHourWindow): Promise<AccountLastHourRow[]> {
  if (accountIds.length === 0) return [];
  return (await lastHourByAccountSql(accountIds, w).execute(db)).rows;
}

/**
 * The last hour of every account the list's filters select: the window's records are read once
 * (by the BRIN index on occurred_at: the page ranges of the window), then kept for the accounts
 * the filters select that had usage on the window's local days (the rollup of those days names
 * them). Joined per account instead, the planner came to read the window's page ranges once per
 * account (BitmapAnd of the BRIN and the account's index, both lossy: 5,759 heap pages for 6,708
 * records of 200 accounts at 100M records, 27.6 ms), or to recheck every record of those pages
 * against the list of accounts (12.8 ms).
 */
export function lastHourOfListSql(f: AccountListFilter, w: LastHourWindow): RawBuilder<FigureRow> {
  return sql<FigureRow>`WITH r AS MATERIALIZED (SELECT ${READ_COLUMNS} FROM usage_records r WHERE ${bounds(w)})
    SELECT ${SUMS} FROM r
    WHERE r.account_id IN (
      SELECT a.id FROM accounts a JOIN usage_account_daily d ON d.account_id = a.id AND d.usage_date BETWEEN ${w.lowDate}::date AND ${w.highDate}::date
       WHERE ${accountListConds(f)})`;
}

export async function findLastHourOfList(db: Db, f: AccountListFilter, w: LastHourWindow): Promise<FigureRow> {
  const row = (await lastHourOfListSql(f, w).execute(db)).rows[0];
  if (!row) throw new Error("aggregate query returned no row");
  return row;
}
