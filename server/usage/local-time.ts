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
  // Formatting costs microseconds and a batch clusters around "now": cache per UTC minute, since
  // every zone offset in use since 1970 is a whole number of minutes.
  const cache = new Map<number, { date: string; month: string }>();
  cal = {
    at(ms) {
      const minute = Math.floor(ms / 60_000);
      let hit = cache.get(minute);
      if (!hit) {
        const parts = fmt.formatToParts(ms);
        const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
        const month = `${get("year")}-${get("month")}`;
        hit = { date: `${month}-${get("day")}`, month };
        if (cache.size > 20_000) cache.clear();
        cache.set(minute, hit);
      }
      return hit;
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
