"use client";

import { useTranslations } from "next-intl";
import { THEMES, type Theme } from "@/app/_i18n/preferences";
import { useDisplayPrefs } from "./display-prefs";

const SELECT =
  "h-8 rounded-md border border-slate-300 bg-white px-1.5 text-sm text-slate-700 hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-brand-500";

/**
 * The top bar's display switches beside the language: the theme (the system's, light or dark) and,
 * when DISPLAY_CNY_PER_USD is set, the currency money is shown in.
 */
export function DisplaySwitches() {
  const t = useTranslations("prefs");
  const { theme, setTheme, currency, setCurrency } = useDisplayPrefs();
  const rate = currency.cnyPerUsd;
  return (
    <>
      <label className="inline-flex shrink-0 items-center">
        <span className="sr-only">{t("theme")}</span>
        <select value={theme} onChange={(e) => setTheme(e.target.value as Theme)} data-testid="theme-switch" title={t("theme")} className={SELECT}>
          {THEMES.map((th) => (
            <option key={th} value={th}>
              {t(`themes.${th}`)}
            </option>
          ))}
        </select>
      </label>
      {rate !== undefined && (
        <label className="inline-flex shrink-0 items-center">
          <span className="sr-only">{t("currency")}</span>
          <select
            value={currency.code}
            onChange={(e) => setCurrency(e.target.value === "CNY" ? "CNY" : "USD")}
            data-testid="currency-switch"
            title={t("rateHint", { rate: String(rate) })}
            className={SELECT}
          >
            <option value="USD">{t("usd")}</option>
            <option value="CNY">{t("cny")}</option>
          </select>
        </label>
      )}
    </>
  );
}
