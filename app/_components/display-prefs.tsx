"use client";

import { createContext, useCallback, useContext, useMemo, useState } from "react";
import { DisplayCurrencyContext } from "@/app/_i18n/format";
import { CURRENCY_COOKIE, rememberPreference, THEME_COOKIE, type DisplayCurrency, type DisplayCurrencyCode, type Theme } from "@/app/_i18n/preferences";

interface Prefs {
  theme: Theme;
  setTheme: (theme: Theme) => void;
  currency: DisplayCurrency;
  setCurrency: (code: DisplayCurrencyCode) => void;
}

const PrefsContext = createContext<Prefs | null>(null);

/**
 * The theme and display currency as the server read them from their cookies (app/layout.tsx), and
 * their switches: a choice takes effect at once in this tab (the <html data-theme> attribute, the
 * money formats) and is remembered in its cookie for the next server render.
 */
export function DisplayPrefsProvider({ theme: initialTheme, currency: initialCurrency, children }: { theme: Theme; currency: DisplayCurrency; children: React.ReactNode }) {
  const [theme, setThemeState] = useState(initialTheme);
  const [currency, setCurrencyState] = useState(initialCurrency);
  const setTheme = useCallback((next: Theme) => {
    rememberPreference(THEME_COOKIE, next);
    if (next === "system") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = next;
    setThemeState(next);
  }, []);
  const setCurrency = useCallback((code: DisplayCurrencyCode) => {
    rememberPreference(CURRENCY_COOKIE, code);
    setCurrencyState((c) => ({ ...c, code: code === "CNY" && c.cnyPerUsd !== undefined ? "CNY" : "USD" }));
  }, []);
  const value = useMemo(() => ({ theme, setTheme, currency, setCurrency }), [theme, setTheme, currency, setCurrency]);
  return (
    <PrefsContext.Provider value={value}>
      <DisplayCurrencyContext.Provider value={currency}>{children}</DisplayCurrencyContext.Provider>
    </PrefsContext.Provider>
  );
}

export function useDisplayPrefs(): Prefs {
  const p = useContext(PrefsContext);
  if (!p) throw new Error("useDisplayPrefs outside DisplayPrefsProvider");
  return p;
}
