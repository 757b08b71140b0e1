import type { Locale } from "./messages";

/**
 * Number and date formatting per locale with Intl. Server and browser must render identical
 * text (hydration), so dates are assembled from formatToParts in a fixed YYYY-MM-DD HH:mm shape
 * in the usage time zone the API reports, never the viewer's own zone.
 */

const cache = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();

function numberFormat(locale: Locale, opts: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `n|${locale}|${JSON.stringify(opts)}`;
  let f = cache.get(key) as Intl.NumberFormat | undefined;
  if (!f) {
    f = new Intl.NumberFormat(locale, opts);
    cache.set(key, f);
  }
  return f;
}

function dateFormat(opts: Intl.DateTimeFormatOptions, locale = "en-US"): Intl.DateTimeFormat {
  const key = `d|${locale}|${JSON.stringify(opts)}`;
  let f = cache.get(key) as Intl.DateTimeFormat | undefined;
  if (!f) {
    f = new Intl.DateTimeFormat(locale, opts);
    cache.set(key, f);
  }
  return f;
}

/** `$1,234.56`; amounts under a dollar keep up to four decimals so that `$0.0042` is not `$0.00`. */
export function formatCost(locale: Locale, usd: number): string {
  const small = usd !== 0 && Math.abs(usd) < 1;
  return numberFormat(locale, {
    style: "currency",
    currency: "USD",
    currencyDisplay: "narrowSymbol",
    minimumFractionDigits: 2,
    maximumFractionDigits: small ? 4 : 2,
  }).format(usd);
}

/** The exact amount the API reports (six decimals). */
export function formatCostExact(locale: Locale, usd: number): string {
  return numberFormat(locale, {
    style: "currency",
    currency: "USD",
    currencyDisplay: "narrowSymbol",
    minimumFractionDigits: 2,
    maximumFractionDigits: 6,
  }).format(usd);
}

/** 12.3M (en) or 1230万 (zh-CN). */
export function formatCompact(locale: Locale, n: number): string {
  if (Math.abs(n) < 10_000) return formatInt(locale, n);
  return numberFormat(locale, { notation: "compact", maximumFractionDigits: 1 }).format(n);
}

export function formatInt(locale: Locale, n: number): string {
  return numberFormat(locale, { maximumFractionDigits: 0 }).format(n);
}

export function formatPercent(locale: Locale, fraction: number): string {
  return numberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(fraction);
}

function parts(date: Date, timeZone: string): Record<string, string> {
  const f = dateFormat({
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const out: Record<string, string> = {};
  for (const p of f.formatToParts(date)) if (p.type !== "literal") out[p.type] = p.value;
  return out;
}

export function toDate(value: string | Date | null | undefined): Date | undefined {
  if (value === null || value === undefined) return undefined;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** 2025-01-31 14:05 in the given zone. */
export function formatDateTime(value: string | Date | null | undefined, timeZone: string): string | undefined {
  const d = toDate(value);
  if (!d) return undefined;
  const p = parts(d, timeZone);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** 2025-01-31 14:05:09 Asia/Shanghai (the zone given) — for titles. */
export function formatDateTimeLong(value: string | Date | null | undefined, timeZone: string): string | undefined {
  const d = toDate(value);
  if (!d) return undefined;
  const p = parts(d, timeZone);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${timeZone}`;
}

/** The local date (YYYY-MM-DD) of an instant in a zone. */
export function localDateIn(timeZone: string, at: Date = new Date()): string {
  const p = parts(at, timeZone);
  return `${p.year}-${p.month}-${p.day}`;
}

/** YYYY-MM-DD plus n days. */
export function addDays(date: string, n: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** A short axis label for a local date: 1月15日 / Jan 15. */
export function formatDayLabel(locale: Locale, date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return date;
  return dateFormat({ timeZone: "UTC", month: "short", day: "numeric" }, locale).format(d);
}
