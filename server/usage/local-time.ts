import { DAY_TTL_SECONDS, MONTH_TTL_SECONDS } from "./hot-keys";

/**
 * Local day and month of an instant in USAGE_TIMEZONE. The same rule as PostgreSQL's
 * `(occurred_at AT TIME ZONE tz)::date`, so Redis and the rollups put an event on the same day.
 */
export interface LocalCalendar {
  /** 'YYYY-MM-DD' and 'YYYY-MM' of the instant. */
  at(ms: number): { date: string; month: string };
}

const calendars = new Map<string, LocalCalendar>();

export function localCalendar(timeZone: string): LocalCalendar {
  let cal = calendars.get(timeZone);
  if (cal) return cal;
  const fmt = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  const format = (ms: number) => {
    const parts = fmt.formatToParts(ms);
    const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
    const month = `${get("year")}-${get("month")}`;
    return { date: `${month}-${get("day")}`, month };
  };
  // Formatting costs microseconds. Cached per UTC quarter hour (an import of history spreads over
  // months of minutes, a live batch over a few): a quarter hour whose first and last millisecond
  // fall on the same local day lies wholly on it (a zone changes its offset at most once in it);
  // one that holds a local midnight (a zone whose offset is not a multiple of 15 minutes) or an
  // offset change is cached per UTC minute instead, every zone offset in use since 1970 being a
  // whole number of minutes.
  const QUARTER = 900_000;
  const cache = new Map<number, { date: string; month: string } | null>();
  const minutes = new Map<number, { date: string; month: string }>();
  cal = {
    at(ms) {
      const q = Math.floor(ms / QUARTER);
      let hit = cache.get(q);
      if (hit === undefined) {
        const first = format(q * QUARTER);
        hit = first.date === format(q * QUARTER + QUARTER - 1).date ? first : null;
        if (cache.size > 50_000) cache.clear();
        cache.set(q, hit);
      }
      if (hit) return hit;
      const minute = Math.floor(ms / 60_000);
      let m = minutes.get(minute);
      if (!m) {
        m = format(ms);
        if (minutes.size > 20_000) minutes.clear();
        minutes.set(minute, m);
      }
      return m;
    },
  };
  calendars.set(timeZone, cal);
  return cal;
}

/**
 * When a day or month key should expire (unix seconds): ~35 days after the local day ends,
 * ~13 months after the month ends. Derived from the window, not from the event, so every writer
 * sets the same expiry. A result in the past means the window is too old to keep in Redis.
 */
export function dayExpireAt(date: string): number {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  return Date.UTC(y, m - 1, d + 2) / 1000 + DAY_TTL_SECONDS;
}

export function monthExpireAt(month: string): number {
  const [y, m] = month.split("-").map(Number) as [number, number];
  return Date.UTC(y, m, 2) / 1000 + MONTH_TTL_SECONDS;
}

/** The UTC month of an instant as 'YYYY-MM-01' (usage_records is partitioned by UTC month). */
export function utcMonthStart(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 7)}-01`;
}
