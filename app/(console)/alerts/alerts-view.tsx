"use client";

import { useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useQueryStates } from "nuqs";
import { useRef } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";
import { useNumbers } from "@/app/_i18n/format";
import { liveOptions, RefreshContext, useRefreshMs } from "../accounts/live";
import { Skeleton } from "../accounts/ui";
import { BudgetsTab } from "./budgets-tab";
import { ChannelsTab } from "./channels-tab";
import { HistoryTab } from "./history-tab";
import { RulesTab } from "./rules-tab";
import { SilencesTab } from "./silences-tab";
import { ALERT_TABS, alertsParsers, type AlertTab } from "./url-state";

export function AlertsView({ timeZone, refreshSeconds }: { timeZone: string; refreshSeconds: number }) {
  return (
    <RefreshContext value={refreshSeconds * 1000}>
      <Alerts timeZone={timeZone} />
    </RefreshContext>
  );
}

function Alerts({ timeZone }: { timeZone: string }) {
  const t = useTranslations("alerts");
  const trpc = useTRPC();
  const refreshMs = useRefreshMs();
  const [raw, setRaw] = useQueryStates(alertsParsers, { history: "replace", scroll: false });
  // Rules and budgets show live states and use: they refresh with the console's interval.
  useQuery(trpc.alerts.rules.list.queryOptions(undefined, liveOptions(true, refreshMs)));
  useQuery(trpc.alerts.budgets.list.queryOptions(undefined, liveOptions(true, refreshMs)));
  const overview = useQuery(trpc.alerts.overview.queryOptions({ accountIds: [] }, liveOptions(true, refreshMs)));
  const tabs = useRef<(HTMLButtonElement | null)[]>([]);

  const select = (tab: AlertTab) => void setRaw({ tab, ...(tab === "history" ? {} : { rule: null, kind: null }) }, { history: "push" });
  const onKey = (e: React.KeyboardEvent, i: number) => {
    const next = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : e.key === "Home" ? 0 : e.key === "End" ? ALERT_TABS.length - 1 : undefined;
    if (next === undefined) return;
    e.preventDefault();
    const j = (next + ALERT_TABS.length) % ALERT_TABS.length;
    select(ALERT_TABS[j]!);
    tabs.current[j]?.focus();
  };

  return (
    <div className="flex min-w-0 flex-col gap-4">
      <header className="flex flex-wrap items-end justify-between gap-3">
        <div className="min-w-0">
          <h1 className="text-2xl font-semibold">{t("title")}</h1>
          <p className="text-sm text-slate-500">{t("subtitle")}</p>
        </div>
        <OverviewCounts data={overview.data} />
      </header>

      <div role="tablist" aria-label={t("tabs")} className="flex gap-1 overflow-x-auto border-b border-slate-200" data-testid="alerts-tabs">
        {ALERT_TABS.map((tab, i) => {
          const on = raw.tab === tab;
          return (
            <button
              key={tab}
              ref={(el) => {
                tabs.current[i] = el;
              }}
              type="button"
              role="tab"
              id={`alerts-tab-${tab}`}
              aria-selected={on}
              aria-controls="alerts-panel"
              tabIndex={on ? 0 : -1}
              data-testid={`alerts-tab-${tab}`}
              onClick={() => select(tab)}
              onKeyDown={(e) => onKey(e, i)}
              className={`-mb-px whitespace-nowrap border-b-2 px-3 py-2 text-sm focus-visible:outline-2 focus-visible:outline-offset-[-2px] focus-visible:outline-brand-500 ${on ? "border-brand-700 font-medium text-brand-700" : "border-transparent text-slate-600 hover:text-slate-900"}`}
            >
              {t(`tab.${tab}`)}
            </button>
          );
        })}
      </div>

      <div role="tabpanel" id="alerts-panel" aria-labelledby={`alerts-tab-${raw.tab}`} className="min-w-0">
        {raw.tab === "rules" && <RulesTab timeZone={timeZone} />}
        {raw.tab === "budgets" && <BudgetsTab presetAccount={raw.account} onPresetUsed={() => void setRaw({ account: null })} />}
        {raw.tab === "channels" && <ChannelsTab timeZone={timeZone} />}
        {raw.tab === "silences" && <SilencesTab timeZone={timeZone} />}
        {raw.tab === "history" && <HistoryTab filters={raw} onFilters={(f) => void setRaw(f)} timeZone={timeZone} />}
      </div>
    </div>
  );
}

function OverviewCounts({ data }: { data: { firing: number; pending: number; failedDeliveries: number } | undefined }) {
  const t = useTranslations("alerts.overview");
  const n = useNumbers();
  const item = (label: string, value: number | undefined, tone: string, testId: string) => (
    <div className="min-w-0 rounded-lg border border-slate-200 bg-white px-3 py-2 shadow-sm">
      <dt className="text-xs text-slate-500">{label}</dt>
      <dd className={`text-xl font-semibold tabular-nums ${value ? tone : "text-slate-900"}`} data-testid={testId} data-value={value ?? ""}>
        {value === undefined ? <Skeleton className="h-6 w-8" /> : n.int(value)}
      </dd>
    </div>
  );
  return (
    <dl className="grid grid-cols-3 gap-2" data-testid="alerts-overview">
      {item(t("firing"), data?.firing, "text-rose-700", "alerts-firing")}
      {item(t("pending"), data?.pending, "text-amber-800", "alerts-pending")}
      {item(t("failed"), data?.failedDeliveries, "text-rose-700", "alerts-failed")}
    </dl>
  );
}
