import { sql, type RawBuilder } from "kysely";
import { MEASURES, recordValueSql } from "../../db/measures";
import type { Db } from "../../db/types";
import type { FigureRow } from "./stats.repository";

/**
 * The trend chart's one statement of its own: an account's usage per hour of one local day, read
 * from usage_records (the rollups stop at days). Bounded: one account, one day, through the index
 * (account_id, usage_date) and the one or two partitions holding that day's instants.
 */

const ANSWERED = MEASURES.filter((m) => m.read);

/**
 * The sums under the rollups' column names (so figFromRow reads them): counts as int8, money from
 * numeric USD to integer nano-USD, exact (usage_records keeps 8 decimals).
 */
const RECORD_SUMS = sql.raw(
  [
    ...ANSWERED.map((m) =>
      m.kind === "money"
        ? `round(coalesce(sum(${recordValueSql(m)}), 0) * 1000000000) AS ${m.column}`
        : `coalesce(sum(${recordValueSql(m)}), 0)::int8 AS ${m.column}`,
    ),
    "max(r.occurred_at) AS last_used_at",
  ].join(", "),
);

export interface HourRow extends FigureRow {
  /** Hours since the day's first instant: 0 … 22, 23 or 24 (a DST day has 23 or 25 hours). */
  hour: number;
}

/**
 * Per elapsed hour since the local midnight `dayStart`, not by usage_hour: on the day the clocks go
 * back, the repeated local hour is two buckets, as it was two hours of usage.
 */
export function hourlySeriesSql(accountId: string, date: string, dayStart: Date, dayEnd: Date): RawBuilder<HourRow> {
  return sql<HourRow>`SELECT floor(extract(epoch FROM r.occurred_at - ${dayStart}::timestamptz) / 3600)::int AS hour, ${RECORD_SUMS}
    FROM usage_records r
    WHERE r.account_id = ${accountId} AND r.usage_date = ${date} AND r.occurred_at >= ${dayStart} AND r.occurred_at < ${dayEnd}
    GROUP BY 1 ORDER BY 1`;
}

export async function findHourlySeries(db: Db, accountId: string, date: string, dayStart: Date, dayEnd: Date): Promise<HourRow[]> {
  return (await hourlySeriesSql(accountId, date, dayStart, dayEnd).execute(db)).rows;
}
