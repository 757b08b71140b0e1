import { AppError } from "../errors";
import type { RangeName } from "./schemas";
import {
  addDays,
  addMonths,
  canonicalTimeZone,
  daySpan,
  eachDay,
  eachMonth,
  firstDayOf,
  firstOffsetMismatch,
  lastDayOf,
  localMidnight,
  monthOf,
  utcOffsetMinutes,
} from "../calendar";

/** Ranges up to this many days get a daily series; longer ones a monthly one. */
export const MAX_DAILY_SERIES_DAYS = 92;

/**
 * How PostgreSQL reads a range: all-time totals, or whole months from the monthly rollups plus the
 * leftover days at either end from the daily ones, so that even a 3-year range reads few rows.
 */
export type RangePlan =
  | { kind: "total" }
  | { kind: "segments"; months: { from: string; to: string } | null; days: { from: string; to: string }[] };

export interface ResolvedRange {
  name: RangeName;
  /** First and last local day (inclusive); null for all time. */
  start: string | null;
  end: string | null;
  timezone: string;
  plan: RangePlan;
  seriesUnit: "day" | "month";
}

export interface RangeInput {
  range: RangeName;
  date?: string;
  month?: string;
  start?: string;
  end?: string;
}

export function resolveRange(input: RangeInput, today: string, timezone: string): ResolvedRange {
  switch (input.range) {
    case "daily": {
      const d = input.date ?? today;
      return { name: "daily", start: d, end: d, timezone, plan: decompose(d, d), seriesUnit: "day" };
    }
    case "monthly": {
      const m = input.month ?? monthOf(today);
      const start = firstDayOf(m);
      const end = lastDayOf(m);
      return { name: "monthly", start, end, timezone, plan: decompose(start, end), seriesUnit: "day" };
    }
    case "custom": {
      // The schema guarantees both ends for range=custom.
      const start = input.start!;
      const end = input.end!;
      const unit = daySpan(start, end) <= MAX_DAILY_SERIES_DAYS ? "day" : "month";
      return { name: "custom", start, end, timezone, plan: decompose(start, end), seriesUnit: unit };
    }
    case "total":
      return { name: "total", start: null, end: null, timezone, plan: { kind: "total" }, seriesUnit: "month" };
  }
}

export function decompose(start: string, end: string): RangePlan {
  const sm = monthOf(start);
  const em = monthOf(end);
  const wholeFirst = start === firstDayOf(sm);
  const wholeLast = end === lastDayOf(em);
  if (sm === em && !(wholeFirst && wholeLast)) return { kind: "segments", months: null, days: [{ from: start, to: end }] };
  const days: { from: string; to: string }[] = [];
  if (!wholeFirst) days.push({ from: start, to: lastDayOf(sm) });
  if (!wholeLast) days.push({ from: firstDayOf(em), to: end });
  const first = wholeFirst ? sm : addMonths(sm, 1);
  const last = wholeLast ? em : addMonths(em, -1);
  return { kind: "segments", months: first <= last ? { from: first, to: last } : null, days };
}

/** The local days whose starts bound the given days: start..end and the day after end. */
export function boundaries(start: string, end: string): Iterable<string> {
  return eachDay(start, addDays(end, 1));
}

/** The starts of every month from..to and of the month after. */
export function* monthBoundaries(from: string, to: string): Generator<string> {
  for (const m of eachMonth(from, addMonths(to, 1))) yield firstDayOf(m);
}

/** The zone an answer is given in: the requested tz (canonical spelling) or USAGE_TIMEZONE. */
export function answerZone(configTz: string, tz: string | undefined): string {
  return canonicalTimeZone(tz ?? configTz);
}

function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/**
 * Rollups are cut at the local midnights of USAGE_TIMEZONE. Another zone can be answered exactly
 * only when it cuts at the same instants for every day the answer depends on; else 400.
 */
export function assertExactZone(configTz: string, tz: string, dates: Iterable<string>): void {
  const bad = firstOffsetMismatch(configTz, tz, dates);
  if (bad === undefined) return;
  const at = localMidnight(bad, configTz);
  const message =
    `tz=${tz} cannot be answered exactly: usage is rolled up by local day of ${configTz} ` +
    `(${formatOffset(utcOffsetMinutes(configTz, at))} on ${bad}) and ${tz} is at ${formatOffset(utcOffsetMinutes(tz, at))} then. ` +
    `Omit tz, or use a zone with the same UTC offset.`;
  throw new AppError("BAD_REQUEST", message, { issues: [{ path: "tz", message }] });
}
