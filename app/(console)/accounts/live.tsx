"use client";

import { useFormatter, useTranslations } from "next-intl";
import { createContext, useContext, useEffect, useState } from "react";
import { formatTime } from "@/app/_i18n/format";

/**
 * Figures that include today move while the page is open: their queries refetch every
 * CONSOLE_REFRESH_SECONDS while the tab is visible (TanStack Query pauses an interval in a hidden
 * tab) and once on return to the tab when they are older than that. A range wholly in the past
 * never changes and is not polled.
 */
export const RefreshContext = createContext(30_000);

export function useRefreshMs(): number {
  return useContext(RefreshContext);
}

export function liveOptions(live: boolean, refreshMs: number) {
  return live
    ? { refetchInterval: refreshMs, refetchIntervalInBackground: false, refetchOnWindowFocus: true, staleTime: refreshMs }
    : { refetchInterval: false as const };
}

/** Ticks every `ms` once mounted (undefined on the server and in the first render: no hydration mismatch). */
function useNow(ms: number): number | undefined {
  const [now, setNow] = useState<number>();
  useEffect(() => {
    const tick = () => setNow(Date.now());
    const first = setTimeout(tick, 0);
    const timer = setInterval(tick, ms);
    return () => {
      clearTimeout(first);
      clearInterval(timer);
    };
  }, [ms]);
  return now;
}

/**
 * 更新于 14:32:05 · 3 分钟前, and a refresh button. The time is in the usage time zone (the same on
 * the server and in the browser); the relative part appears once the page runs in the browser.
 */
export function UpdatedAt({
  updatedAt,
  timezone,
  fetching,
  live,
  onRefresh,
  testId = "updated-at",
}: {
  updatedAt: number;
  timezone: string;
  fetching: boolean;
  live: boolean;
  onRefresh: () => void;
  testId?: string;
}) {
  const t = useTranslations("live");
  const format = useFormatter();
  const now = useNow(15_000);
  const shown = updatedAt > 0;
  return (
    <div className="flex min-w-0 flex-wrap items-center gap-x-2 gap-y-1 text-xs text-slate-500" data-testid={testId} data-value={updatedAt}>
      {shown && (
        <span className="tabular-nums" aria-live="polite">
          {t("updatedAt", { time: formatTime(updatedAt, timezone) })}
          {now !== undefined && <span> · {format.relativeTime(Math.min(updatedAt, now), now)}</span>}
        </span>
      )}
      {live && (
        <span className="inline-flex items-center gap-1" title={t("autoHint")}>
          <span aria-hidden className={`size-1.5 rounded-full ${fetching ? "animate-pulse bg-brand-500" : "bg-emerald-500"}`} />
          {t("auto")}
        </span>
      )}
      <button
        type="button"
        onClick={onRefresh}
        disabled={fetching}
        data-testid={`${testId}-refresh`}
        className="rounded px-1.5 py-0.5 font-medium text-brand-700 hover:bg-brand-50 disabled:opacity-50 focus-visible:outline-2 focus-visible:outline-brand-500"
      >
        {fetching ? t("refreshing") : t("refresh")}
      </button>
    </div>
  );
}
