import { useFormatter, type createFormatter } from "next-intl";
import { createContext, useContext, useMemo } from "react";
import type { DisplayCurrency } from "./preferences";

/**
 * Number formatting (next-intl) and date formatting (Intl). Server and browser must render identical
 * text (hydration), so dates are assembled from formatToParts in a fixed YYYY-MM-DD HH:mm shape
 * in the usage time zone the API reports, never the viewer's own zone.
 */

const cache = new Map<string, Intl.DateTimeFormat>();

function dateFormat(opts: Intl.DateTimeFormatOptions, locale = "en-US"): Intl.DateTimeFormat {
  const key = `d|${locale}|${JSON.stringify(opts)}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, opts);
    cache.set(key, f);
  }
  return f;
}

type NumberFormatter = Pick<ReturnType<typeof createFormatter>, "number">;

const USD = { style: "currency", currency: "USD", currencyDisplay: "narrowSymbol" } as const;
const CNY = { style: "currency", currency: "CNY", currencyDisplay: "narrowSymbol" } as const;

const IN_USD: DisplayCurrency = { code: "USD", cnyPerUsd: undefined };

/**
 * The console's number rules, on next-intl's formatter (so server and browser agree):
 * - money: two decimals, aligned in a column; only an amount below a cent gets more (two
 *   significant digits, `$0.0042`), so it never reads `$0.00`. The exact USD value goes in a tooltip.
 *   In ¥ (the display currency, DISPLAY_CNY_PER_USD) each amount is USD × the rate, by the same
 *   rule; the exact value stays the USD the API answered.
 * - compact: three significant digits in both languages (1.99亿 / 199M, 3400万 / 34.0M); below
 *   10,000 the exact integer.
 */
export function numberFormats(f: NumberFormatter, display: DisplayCurrency = IN_USD) {
  const inCny = display.code === "CNY" && display.cnyPerUsd !== undefined;
  const unit = inCny ? CNY : USD;
  const shown = (usd: number): number => (inCny ? usd * display.cnyPerUsd! : usd);
  const cost = (usd: number): string => {
    const v = shown(usd);
    return v !== 0 && Math.abs(v) < 0.01
      ? f.number(v, { ...unit, maximumSignificantDigits: 2 })
      : f.number(v, { ...unit, minimumFractionDigits: 2, maximumFractionDigits: 2 });
  };
  const int = (n: number): string => f.number(n, { maximumFractionDigits: 0 });
  return {
    /** The display currency's code (USD or CNY). */
    currency: display.code,
    cost,
    int,
    /** The exact amount the API reports (USD, up to eight decimals), whatever the display currency. */
    costExact: (usd: number): string => f.number(usd, { ...USD, minimumFractionDigits: 2, maximumFractionDigits: 8 }),
    /** Axis labels: the money rule below 10,000, compact with three significant digits above. */
    compactCost: (usd: number): string =>
      Math.abs(shown(usd)) < 10_000 ? cost(usd) : f.number(shown(usd), { ...unit, notation: "compact", minimumSignificantDigits: 3, maximumSignificantDigits: 3 }),
    compact: (n: number): string =>
      Math.abs(n) < 10_000 ? int(n) : f.number(n, { notation: "compact", minimumSignificantDigits: 3, maximumSignificantDigits: 3 }),
    /** A money axis tick, at the precision of the axis step: $0, $10, $20 / $0.25, $0.50 / $10K. */
    // In ¥ the ticks are the USD steps converted (the axis is drawn in USD, the stored unit).
    tickCost: (usd: number, step: number): string => {
      const v = shown(usd);
      const s = shown(step);
      const digits = s >= 1 ? 0 : inCny ? 2 : Math.max(2, stepDecimals(step));
      return Math.abs(v) >= 10_000 || s >= 10_000
        ? f.number(v, { ...unit, notation: "compact", minimumFractionDigits: 0, maximumFractionDigits: 2 })
        : f.number(v, { ...unit, minimumFractionDigits: digits, maximumFractionDigits: digits });
    },
    /** A count axis tick: 0, 5,000 / 50万, 100万 / 500K, 1M. */
    tickCompact: (n: number): string => (Math.abs(n) < 10_000 ? int(n) : f.number(n, { notation: "compact", maximumFractionDigits: 2 })),
    percent: (fraction: number): string => f.number(fraction, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }),
  };
}
export type NumberFormats = ReturnType<typeof numberFormats>;

/** Decimals a nice axis step (1, 2, 2.5 or 5 × 10^n) needs: 0.25 → 2, 0.5 → 1, 5 → 0. */
export function stepDecimals(step: number): number {
  if (!(step > 0)) return 0;
  const exp = Math.floor(Math.log10(step) + 1e-9);
  const mantissa = step / 10 ** exp;
  return Math.max(0, -exp + (Math.abs(mantissa - 2.5) < 1e-6 ? 1 : 0));
}

/** The display currency chosen in the top bar (app/_components/display-prefs.tsx provides it). */
export const DisplayCurrencyContext = createContext<DisplayCurrency>(IN_USD);

/** numberFormats for client components, in the page's language and display currency. */
export function useNumbers(): NumberFormats {
  const f = useFormatter();
  const display = useContext(DisplayCurrencyContext);
  return useMemo(() => numberFormats(f, display), [f, display]);
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

/** 14:05:09 in the given zone. */
export function formatTime(value: string | Date | number, timeZone: string): string {
  const p = parts(new Date(value), timeZone);
  return `${p.hour}:${p.minute}:${p.second}`;
}
