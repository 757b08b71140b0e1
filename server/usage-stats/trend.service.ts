import type { Runtime } from "../runtime";
import { findAccountIndex } from "../usage/hot-index";
import { addDays, addMonths, eachDay, eachMonth, firstDayOf, lastDayOf, localMidnight, monthOf, utcOffsetMinutes } from "../calendar";
import { figFromRow, totals, ZERO_FIG, type Fig } from "./figures";
import { decompose } from "./range";
import type { AccountTrendInput, AccountTrendResult, TrendPoint, TrendSpan } from "./schemas";
import { findAccount, findDailySeries, findMonthlySeries } from "./stats.repository";
import { accountInfo } from "./stats.service";
import { answer, notFound, unavailable, zonedToday } from "./store-choice";
import { findHourlySeries } from "./trend.repository";
import { assertRawRecordsKept } from "../maintenance/raw-horizon";

/**
 * The drawer's trend chart, apart from the range the cards show: today per hour, the last 30 or
 * 90 days per day, the last 12 months per month, always in USAGE_TIMEZONE. Days and months come
 * from the rollups, hours from usage_records (trend.repository.ts). The live Redis counters keep
 * no history, so with PostgreSQL down the answer is 503 UNAVAILABLE, naming why.
 */

const HOUR_MS = 3_600_000;
const DAYS: Record<Exclude<TrendSpan, "today" | "12m">, number> = { "30d": 30, "90d": 90 };

function offsetText(minutes: number): string {
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** 2026-11-18T14:00+08:00: the local hour with its offset, so that a repeated hour stays distinct. */
function hourLabel(startMs: number, tz: string): string {
  const off = utcOffsetMinutes(tz, startMs);
  return `${new Date(startMs + off * 60_000).toISOString().slice(0, 16)}${offsetText(off)}`;
}


const point = (bucket: string, startMs: number, fig: Fig | undefined): TrendPoint => ({ bucket, start: new Date(startMs).toISOString(), ...totals(fig ?? ZERO_FIG) });

/** Every hour of a local day: 24, or 23 / 25 on the days the clocks change. */
export function hoursOf(date: string, tz: string): { dayStart: number; dayEnd: number; count: number } {
  const dayStart = localMidnight(date, tz);
  const dayEnd = localMidnight(addDays(date, 1), tz);
  return { dayStart, dayEnd, count: Math.ceil((dayEnd - dayStart) / HOUR_MS) };
}

export async function getAccountTrend(runtime: Runtime, input: AccountTrendInput, now = new Date()): Promise<AccountTrendResult> {
  const c = zonedToday(runtime, undefined, now);
  const tz = c.timezone;
  const span = input.span;
  const unit = span === "today" ? "hour" : span === "12m" ? "month" : "day";
  const start = span === "today" ? c.today : span === "12m" ? firstDayOf(addMonths(c.month, -11)) : addDays(c.today, -(DAYS[span] - 1));

  const { value, source } = await answer(
    runtime,
    async (db) => {
      const row = await findAccount(db, input.id);
      if (!row) throw notFound(input.id);
      const account = accountInfo(row);
      if (unit === "hour") {
        const h = hoursOf(c.today, tz);
        await assertRawRecordsKept(runtime, h.dayStart, "An hourly trend", now.getTime());
        const rows = await findHourlySeries(db, input.id, c.today, new Date(h.dayStart), new Date(h.dayEnd));
        const byHour = new Map(rows.map((r) => [r.hour, figFromRow(r)]));
        const points = Array.from({ length: h.count }, (_, i) => {
          const at = h.dayStart + i * HOUR_MS;
          return point(hourLabel(at, tz), at, byHour.get(i));
        });
        return { account, points };
      }
      if (unit === "day") {
        const rows = await findDailySeries(db, input.id, start, c.today);
        const byDay = new Map(rows.map((r) => [r.bucket, figFromRow(r)]));
        return { account, points: [...eachDay(start, c.today)].map((d) => point(d, localMidnight(d, tz), byDay.get(d))) };
      }
      const rows = await findMonthlySeries(db, input.id, decompose(start, lastDayOf(c.month)));
      const byMonth = new Map(rows.map((r) => [monthOf(r.bucket), figFromRow(r)]));
      return { account, points: [...eachMonth(monthOf(start), c.month)].map((m) => point(m, localMidnight(firstDayOf(m), tz), byMonth.get(m))) };
    },
    async (redis, why) => {
      const meta = await findAccountIndex(redis, runtime.config.redisKeyPrefix, input.id);
      if (!meta || meta.status === "deleted") throw notFound(input.id);
      throw unavailable(why, "a usage trend (they keep no history)");
    },
  );
  return {
    data: { account: value.account, span, unit, start, end: c.today, points: value.points },
    source,
    timezone: tz,
    timestamp: now.toISOString(),
  };
}
