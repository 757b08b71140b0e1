/**
 * Calendar arithmetic on local dates ('YYYY-MM-DD') and months ('YYYY-MM'), and the UTC offsets of
 * IANA zones. Dates are plain strings, so no arithmetic ever depends on the process time zone.
 */

const DAY_MS = 86_400_000;

/**
 * The calendar this product answers for: usage events are accepted from 2000-01-01 on (see
 * MIN_OCCURRED_AT), and no local date or month outside these bounds is parsed. Every walk over
 * days or months below is bounded by construction as well, so that no input can make one run on.
 */
export const MIN_LOCAL_DATE = "2000-01-01";
export const MAX_LOCAL_DATE = "2100-12-31";
export const MIN_LOCAL_MONTH = MIN_LOCAL_DATE.slice(0, 7);
export const MAX_LOCAL_MONTH = MAX_LOCAL_DATE.slice(0, 7);
/** More days than lie between the bounds (and their neighbours): a walk longer than this is a bug. */
const MAX_WALK_STEPS = 40_000;

const partsFormatters = new Map<string, Intl.DateTimeFormat>();

function partsFormatter(tz: string): Intl.DateTimeFormat {
  let f = partsFormatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    partsFormatters.set(tz, f);
  }
  return f;
}

function wallClock(tz: string, instantMs: number) {
  const p: Record<string, number> = {};
  for (const part of partsFormatter(tz).formatToParts(new Date(instantMs))) {
    if (part.type !== "literal") p[part.type] = Number(part.value);
  }
  return { year: p.year!, month: p.month!, day: p.day!, hour: p.hour!, minute: p.minute!, second: p.second! };
}

/** The canonical spelling of a zone ("asia/shanghai" → "Asia/Shanghai"). */
export function canonicalTimeZone(tz: string): string {
  return new Intl.DateTimeFormat("en-US", { timeZone: tz }).resolvedOptions().timeZone;
}

/** Offset of the zone from UTC at an instant, in minutes (Asia/Shanghai: 480). */
export function utcOffsetMinutes(tz: string, instantMs: number): number {
  const w = wallClock(tz, Math.floor(instantMs / 1000) * 1000);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return Math.round((asUtc - Math.floor(instantMs / 1000) * 1000) / 60_000);
}

/** The local date of an instant in a zone. */
export function localDate(instant: Date | number, tz: string): string {
  const w = wallClock(tz, typeof instant === "number" ? instant : instant.getTime());
  return `${pad(w.year, 4)}-${pad(w.month, 2)}-${pad(w.day, 2)}`;
}

/** The local date and hour (0–23) of an instant in a zone. */
export function localDateHour(instant: Date | number, tz: string): { date: string; hour: number } {
  const w = wallClock(tz, typeof instant === "number" ? instant : instant.getTime());
  return { date: `${pad(w.year, 4)}-${pad(w.month, 2)}-${pad(w.day, 2)}`, hour: w.hour % 24 };
}

/** The instant at which a local date begins in a zone. */
export function localMidnight(date: string, tz: string): number {
  const guess = utcMs(date);
  let t = guess - utcOffsetMinutes(tz, guess) * 60_000;
  // One correction covers an offset change between the guess and the answer.
  const off = utcOffsetMinutes(tz, t);
  t = guess - off * 60_000;
  return t;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function utcMs(date: string): number {
  const d = new Date(0);
  d.setUTCFullYear(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)));
  return d.getTime();
}

function fromUtcMs(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

/** True for a real calendar date written as YYYY-MM-DD. */
export function isCalendarDate(s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(s) && fromUtcMs(utcMs(s)) === s;
}

export function addDays(date: string, days: number): string {
  return fromUtcMs(utcMs(date) + days * DAY_MS);
}

/** Inclusive count of days from start to end (1 when equal). */
export function daySpan(start: string, end: string): number {
  return Math.round((utcMs(end) - utcMs(start)) / DAY_MS) + 1;
}

export function monthOf(date: string): string {
  return date.slice(0, 7);
}

export function firstDayOf(month: string): string {
  return `${month}-01`;
}

export function lastDayOf(month: string): string {
  return addDays(firstDayOf(addMonths(month, 1)), -1);
}

export function addMonths(month: string, n: number): string {
  const total = monthIndex(month) + n;
  return `${pad(Math.floor(total / 12), 4)}-${pad((total % 12) + 1, 2)}`;
}

/** The same calendar date n years later (29 Feb → 28 Feb of a common year). */
export function addYears(date: string, n: number): string {
  const y = Number(date.slice(0, 4)) + n;
  const md = date.slice(5);
  const candidate = `${pad(y, 4)}-${md}`;
  return isCalendarDate(candidate) ? candidate : `${pad(y, 4)}-02-28`;
}

function monthIndex(month: string): number {
  return Number(month.slice(0, 4)) * 12 + Number(month.slice(5, 7)) - 1;
}

function assertWalk(steps: number, what: string): void {
  if (!Number.isSafeInteger(steps) || steps > MAX_WALK_STEPS) {
    throw new RangeError(`refusing to walk ${steps} ${what}: more than ${MAX_WALK_STEPS}`);
  }
}

/** Every day from start to end inclusive (none when end is before start); counted, not compared as text. */
export function* eachDay(start: string, end: string): Generator<string> {
  const first = utcMs(start);
  const count = Math.round((utcMs(end) - first) / DAY_MS) + 1;
  assertWalk(count, "days");
  for (let i = 0; i < count; i++) yield fromUtcMs(first + i * DAY_MS);
}

/** Every month from start to end inclusive (none when end is before start). */
export function* eachMonth(start: string, end: string): Generator<string> {
  const count = monthIndex(end) - monthIndex(start) + 1;
  assertWalk(count, "months");
  for (let i = 0; i < count; i++) yield addMonths(start, i);
}

/**
 * The first local date at whose start the two zones are at different UTC offsets, or undefined
 * when they agree at the start of every given date: then both zones cut days (and months) at the
 * same instants, and rollups built in one answer exactly for the other.
 */
export function firstOffsetMismatch(baseTz: string, tz: string, dates: Iterable<string>): string | undefined {
  if (canonicalTimeZone(baseTz) === canonicalTimeZone(tz)) return undefined;
  for (const d of dates) {
    const instant = localMidnight(d, baseTz);
    if (utcOffsetMinutes(baseTz, instant) !== utcOffsetMinutes(tz, instant)) return d;
  }
  return undefined;
}
