"use client";

import { useRouter } from "next/navigation";
import { useLocale, useTranslations } from "next-intl";
import { useTransition } from "react";
import { LOCALE_COOKIE, LOCALES, type Locale } from "@/app/_i18n/messages";

function rememberLocale(locale: Locale) {
  document.cookie = `${LOCALE_COOKIE}=${encodeURIComponent(locale)}; path=/; max-age=31536000; samesite=lax`;
}

/** The language switch of the top bar: remembers the choice in the `lang` cookie (a year) and re-renders. */
export function LangSwitch() {
  const locale = useLocale();
  const t = useTranslations("lang");
  const router = useRouter();
  const [pending, startTransition] = useTransition();

  function choose(next: Locale) {
    if (next === locale) return;
    rememberLocale(next);
    startTransition(() => router.refresh());
  }

  return (
    <div role="group" aria-label={t("label")} className="inline-flex shrink-0 overflow-hidden rounded-md border border-slate-300 bg-white text-sm" data-testid="lang-switch">
      {LOCALES.map((l) => (
        <button
          key={l}
          type="button"
          lang={l}
          aria-pressed={l === locale}
          disabled={pending}
          onClick={() => choose(l)}
          className={`px-2.5 py-1 focus-visible:outline-2 focus-visible:outline-offset-[-2px] focus-visible:outline-brand-500 ${l === locale ? "bg-brand-700 text-white" : "text-slate-700 hover:bg-slate-100"}`}
        >
          {t(l)}
        </button>
      ))}
    </div>
  );
}
