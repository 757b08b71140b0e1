/**
 * The viewer's display preferences besides the language, each a cookie (a year) so that the server
 * renders what the browser will: the colour theme and the currency money is shown in. Stored and
 * API figures are USD whatever the choice.
 */
export const THEMES = ["system", "light", "dark"] as const;
export type Theme = (typeof THEMES)[number];
export const THEME_COOKIE = "theme";

export const CURRENCIES = ["USD", "CNY"] as const;
export type DisplayCurrencyCode = (typeof CURRENCIES)[number];
export const CURRENCY_COOKIE = "currency";

export interface DisplayCurrency {
  code: DisplayCurrencyCode;
  /** DISPLAY_CNY_PER_USD; undefined: not configured, money is shown in USD only. */
  cnyPerUsd: number | undefined;
}

export function toTheme(value: string | undefined | null): Theme {
  return THEMES.find((t) => t === value) ?? "system";
}

export function toDisplayCurrency(value: string | undefined | null, cnyPerUsd: number | undefined): DisplayCurrency {
  return { code: value === "CNY" && cnyPerUsd !== undefined ? "CNY" : "USD", cnyPerUsd };
}

export function rememberPreference(name: string, value: string): void {
  document.cookie = `${name}=${encodeURIComponent(value)}; path=/; max-age=31536000; samesite=lax`;
}
