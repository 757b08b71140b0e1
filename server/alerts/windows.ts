import type { Db } from "../../db/types";
import { addDays, firstDayOf, localDate, localDateHour, localMidnight, monthOf } from "../calendar";
import { addValues, recordValues, rollupValues, type AlertSubject, type Values } from "./figures.repository";
import type { WindowKind } from "./notification";

/**
 * Windows of the alerts, in USAGE_TIMEZONE: today and this month so far (the rollups), and rolling
 * windows of N hours or days (from − N to now): whole local days from the daily rollup, the first
 * (partial) day from usage_records. The same window on a previous day (a spike's baseline) ends in
 * the past, so its last day is partial too.
 */

export interface WindowSpec {
  kind: WindowKind;
  size: number | null;
}

export interface Span {
  from: Date;
  to: Date;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function currentSpan(w: WindowSpec, now: Date, tz: string): Span {
  switch (w.kind) {
    case "today":
      return { from: new Date(localMidnight(localDate(now, tz), tz)), to: now };
    case "month":
      return { from: new Date(localMidnight(firstDayOf(monthOf(localDate(now, tz))), tz)), to: now };
    case "hours":
      return { from: new Date(now.getTime() - w.size! * HOUR), to: now };
    case "days":
      return { from: new Date(now.getTime() - w.size! * DAY), to: now };
  }
}

/** The measure of the subject in the window ending now (the rollups hold today up to now). */
export async function currentValues(db: Db, subject: AlertSubject, measure: string, w: WindowSpec, now: Date, tz: string): Promise<Values> {
  if (w.kind === "today") {
    const d = localDate(now, tz);
    return rollupValues(db, subject, measure, { days: [d, d] });
  }
  if (w.kind === "month") return rollupValues(db, subject, measure, { month: firstDayOf(monthOf(localDate(now, tz))) });
  const span = currentSpan(w, now, tz);
  return spanValues(db, subject, measure, span, tz, true);
}

/**
 * The same window `daysBack` days earlier: a rolling window shifted by that many 24 h; today's
 * window is that day's local midnight plus as long as today has run so far.
 */
export function pastSpan(w: WindowSpec, now: Date, tz: string, daysBack: number): Span {
  if (w.kind === "today") {
    const today = localDate(now, tz);
    const elapsed = now.getTime() - localMidnight(today, tz);
    // from is exclusive: a millisecond before midnight keeps an event at 00:00:00.000.
    const start = localMidnight(addDays(today, -daysBack), tz);
    return { from: new Date(start - 1), to: new Date(start + elapsed) };
  }
  const cur = currentSpan(w, now, tz);
  return { from: new Date(cur.from.getTime() - daysBack * DAY), to: new Date(cur.to.getTime() - daysBack * DAY) };
}

export function pastValues(db: Db, subject: AlertSubject, measure: string, w: WindowSpec, now: Date, tz: string, daysBack: number): Promise<Values> {
  return spanValues(db, subject, measure, pastSpan(w, now, tz, daysBack), tz, false);
}

/**
 * (from, to]: the first local day from `from` on (records), the days between (rollup), the last
 * day (rollup when the span ends now — nothing is recorded later — else records up to `to`).
 */
export async function spanValues(db: Db, subject: AlertSubject, measure: string, span: Span, tz: string, endsNow: boolean): Promise<Values> {
  const first = localDateHour(span.from, tz);
  const last = localDateHour(span.to, tz);
  // A clock set back (DST) repeats an hour: the hour bounds keep one hour of slack each way.
  const low = Math.max(0, first.hour - 1);
  const high = Math.min(23, last.hour + 1);
  if (first.date === last.date) {
    return recordValues(db, subject, measure, { date: first.date, after: span.from, upTo: span.to, lowHour: low, highHour: endsNow ? 23 : high });
  }
  const parts = [recordValues(db, subject, measure, { date: first.date, after: span.from, lowHour: low, highHour: 23 })];
  const between = addDays(first.date, 1);
  const beforeLast = addDays(last.date, -1);
  if (between <= beforeLast) parts.push(rollupValues(db, subject, measure, { days: [between, beforeLast] }));
  parts.push(
    endsNow
      ? rollupValues(db, subject, measure, { days: [last.date, last.date] })
      : recordValues(db, subject, measure, { date: last.date, upTo: span.to, lowHour: 0, highHour: high }),
  );
  const out: Values = new Map();
  for (const v of await Promise.all(parts)) addValues(out, v);
  return out;
}
