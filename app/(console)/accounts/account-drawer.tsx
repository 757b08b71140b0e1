"use client";

import { keepPreviousData, useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import { useLocale, useTranslations } from "next-intl";
import dynamic from "next/dynamic";
import { useState } from "react";
import { Drawer, DrawerClose, DrawerTitle } from "@/app/_components/drawer";
import { useTRPC } from "@/app/_components/trpc-provider";
import { addDays, formatDateTime, formatDateTimeLong, localDateIn, useNumbers } from "@/app/_i18n/format";
import { MAX_RANGE_YEARS } from "@/server/usage-stats/range-limit";
import type { AccountInfo, RangeName, TrendSpan } from "@/server/usage-stats/schemas";
import { BreakdownTable } from "./breakdown-table";
import { ModelTable } from "./model-table";
import { AccountAlertsSection } from "./alert-badges";
import { breakdownPaging, type SummaryOutput, type UsageListOutput } from "./queries";
import { liveOptions, UpdatedAt, useRefreshMs } from "./live";
import { DEFAULT_TREND_SPAN, TrendChart } from "./trend-chart";
import { AccountType, EmptyState, ErrorState, errorCode, FallbackBanner, PlatformBadge, Skeleton, SourceBadges, StatusBadge, UsageFigures, useShownError } from "./ui";
import { breakdownCsvHref, breakdownInput, summaryInput, type AccountsUrlState, type BreakdownSortName, type Order } from "./url-state";

type RangeState = Pick<AccountsUrlState, "range" | "from" | "to">;

// The calendar (react-day-picker and date-fns, about 23 kB gzipped) loads only when a custom range is open.
const RangePicker = dynamic(() => import("./range-picker").then((m) => m.RangePicker), { loading: () => <Skeleton className="h-96 w-full max-w-sm" /> });

/**
 * The drawer of one account. It opens as soon as the URL names the account: every part shows a
 * skeleton until its query answers. An account that does not exist gets one "not found" state.
 */
export function AccountDrawer({
  id,
  range,
  fallbackTimezone,
  listSource,
  onRange,
  onClose,
}: {
  id: string;
  range: RangeState;
  fallbackTimezone: string;
  listSource: "postgres" | "redis" | undefined;
  onRange: (range: RangeState) => void;
  onClose: () => void;
}) {
  const t = useTranslations();
  const locale = useLocale();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [sort, setSort] = useState<{ sort: BreakdownSortName; order: Order }>({ sort: "allTokens", order: "desc" });
  const [span, setSpan] = useState<TrendSpan>(DEFAULT_TREND_SPAN);

  const refreshMs = useRefreshMs();
  // The cards show today and the last hour whatever the range: the summary stays live; the key
  // table only while its range reaches today.
  const rangeIsLive = range.range !== "custom" || (range.to !== undefined && range.to >= localDateIn(fallbackTimezone));
  const summary = useQuery(trpc.accounts.summary.queryOptions(summaryInput(id, range), { placeholderData: keepPreviousData, ...liveOptions(true, refreshMs) }));
  const breakdown = useInfiniteQuery(
    trpc.accounts.breakdown.infiniteQueryOptions(breakdownInput(id, range, sort), { ...breakdownPaging, placeholderData: keepPreviousData, ...liveOptions(rangeIsLive, refreshMs) }),
  );
  // Every span of the trend ends today: it stays live with the cards.
  const trend = useQuery(trpc.accounts.trend.queryOptions({ id, span }, { placeholderData: keepPreviousData, ...liveOptions(true, refreshMs) }));

  const summaryFailed = useShownError(summary);
  const breakdownFailed = useShownError(breakdown);
  const trendFailed = useShownError(trend);
  const notFound = [
    [summaryFailed, summary.error],
    [breakdownFailed, breakdown.error],
    [trendFailed, trend.error],
  ].some(([failed, error]) => failed && errorCode(error) === "NOT_FOUND");
  const s: SummaryOutput | undefined = summary.data;
  // The account's facts whatever the summary's fate: from the trend's answer or the list's row in
  // the cache, so that a failed summary never leaves the id as the title and a skeleton for ever.
  const known = trend.data?.data.account ?? cachedAccount(queryClient.getQueriesData<UsageListOutput>({ queryKey: trpc.accounts.usageStats.pathKey() }), id);
  const account = s?.data.account ?? (summaryFailed ? known : undefined);
  const summaryCode = summaryFailed ? errorCode(summary.error) : undefined;
  const rangeRejected = summaryCode === "BAD_REQUEST";
  const timezone = s?.timezone ?? trend.data?.timezone ?? fallbackTimezone;
  const source = s?.source ?? listSource;
  const today = localDateIn(timezone);
  const u = s?.data.usage;
  const rangeEmpty = !!u && !summary.isPlaceholderData && u.requests === 0 && u.allTokens === 0 && u.cost === 0;

  return (
    <Drawer
      onClose={onClose}
      busy={summary.isPending}
      testId="account-drawer"
      returnFocus={() => document.querySelector<HTMLElement>(`[data-details-for="${CSS.escape(id)}"]`) ?? document.getElementById("accounts-heading")}
    >
      <header className="sticky top-0 z-10 flex items-start justify-between gap-3 border-b border-slate-200 bg-white/95 px-4 py-3 backdrop-blur sm:px-6">
        <div className="min-w-0">
          <p className="text-xs font-medium tracking-wide text-slate-500">{t("drawer.title")}</p>
          <DrawerTitle className="truncate text-lg font-semibold" data-testid="drawer-title">
            {account?.name ?? known?.name ?? id}
          </DrawerTitle>
        </div>
        <DrawerClose
          data-testid="drawer-close"
          aria-label={t("common.close")}
          className="rounded-md p-2 text-slate-500 hover:bg-slate-100 hover:text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500"
        >
          <svg aria-hidden viewBox="0 0 20 20" className="size-5" fill="currentColor">
            <path d="M6.28 5.22a.75.75 0 0 0-1.06 1.06L8.94 10l-3.72 3.72a.75.75 0 1 0 1.06 1.06L10 11.06l3.72 3.72a.75.75 0 1 0 1.06-1.06L11.06 10l3.72-3.72a.75.75 0 0 0-1.06-1.06L10 8.94 6.28 5.22Z" />
          </svg>
        </DrawerClose>
      </header>

      {notFound ? (
        <div className="px-4 py-10 sm:px-6" data-testid="account-not-found">
          <div role="alert" className="mx-auto max-w-md rounded-lg border border-slate-200 bg-slate-50 p-6 text-center">
            <p className="text-lg font-semibold text-slate-900">{t("drawer.notFoundTitle")}</p>
            <p className="mt-2 text-sm text-slate-600 wrap-anywhere">{t("drawer.notFoundBody", { id })}</p>
            <button
              type="button"
              onClick={onClose}
              className="mt-4 rounded-md bg-brand-700 px-4 py-2 text-sm font-medium text-white hover:bg-brand-600 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-500"
            >
              {t("drawer.backToList")}
            </button>
          </div>
        </div>
      ) : (
        <div className="flex flex-col gap-6 px-4 py-4 sm:px-6">
          {s && (
            // After the close button in the tab order: opening the drawer focuses that first.
            <div className="-mt-2 -mb-4">
              <UpdatedAt
                testId="drawer-updated-at"
                updatedAt={summary.dataUpdatedAt}
                timezone={timezone}
                fetching={summary.isFetching || breakdown.isFetching || trend.isFetching}
                live
                onRefresh={() => void Promise.all([summary.refetch(), breakdown.refetch(), trend.refetch()])}
              />
            </div>
          )}
          {source === "redis" && <FallbackBanner unavailable={s?.unavailable} />}

          <Facts account={account} failed={summaryFailed} timezone={timezone} />
          <AccountAlertsSection id={id} />
          {summaryFailed && !s ? null : <WindowCards summary={s} selected={range.range} />}

          <TrendChart query={trend} failed={trendFailed} span={span} onSpan={setSpan} />

          <RangeSwitch range={range} today={today} pending={summary.isPlaceholderData || breakdown.isPlaceholderData} onRange={onRange} />

          {summaryFailed ? (
            <ErrorState
              error={summary.error}
              testId="summary-error"
              {...(rangeRejected
                ? { detail: t("drawer.rangeRejected", { years: MAX_RANGE_YEARS }), action: { label: t("drawer.resetRange"), onClick: () => (range.range === "total" ? void summary.refetch() : onRange({ range: "total", from: undefined, to: undefined })) } }
                : { onRetry: () => void summary.refetch() })}
            />
          ) : (
            range.range === "custom" && <RangeUsage summary={s} stale={summary.isPlaceholderData} />
          )}

          {rangeRejected ? null : rangeEmpty ? (
            <EmptyState title={t("drawer.emptyRange")} hint={t("drawer.emptyRangeHint")} testId="range-empty" />
          ) : (
            <>
              <section aria-labelledby="breakdown-heading" className="flex flex-col gap-2">
                <div className="flex flex-wrap items-center justify-between gap-2">
                  <h3 id="breakdown-heading" className="text-base font-semibold">
                    {t("breakdown.title")}
                  </h3>
                  {breakdown.data && (
                    <a
                      href={breakdownCsvHref(id, range, sort, locale)}
                      download
                      data-testid="export-breakdown-csv"
                      className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50 focus-visible:outline-2 focus-visible:outline-brand-500"
                    >
                      {t("breakdown.exportCsv")}
                    </a>
                  )}
                </div>
                <BreakdownTable
                  query={breakdown}
                  failed={breakdownFailed}
                  timezone={timezone}
                  sort={sort}
                  onSort={(next) => setSort((cur) => (cur.sort === next ? { sort: next, order: cur.order === "desc" ? "asc" : "desc" } : { sort: next, order: "desc" }))}
                />
              </section>

              <section aria-labelledby="models-heading" className="flex flex-col gap-2">
                <h3 id="models-heading" className="text-base font-semibold">
                  {t("models.title")}
                </h3>
                {s ? <ModelTable models={s.data.byModel} total={s.data.usage} /> : summaryFailed ? null : <Skeleton className="h-24 w-full" />}
              </section>
            </>
          )}
        </div>
      )}
    </Drawer>
  );
}

/** The list's row of the account, if a list page in the cache holds it (a row is an AccountInfo and its usage). */
function cachedAccount(pages: [unknown, UsageListOutput | undefined][], id: string): AccountInfo | undefined {
  for (const [, page] of pages) {
    const row = page?.data.find((r) => r.id === id);
    if (row) {
      const { usage: _usage, ...info } = row;
      return info;
    }
  }
  return undefined;
}

/** The account's facts; when the summary failed and nothing else knows them, a dash, never a skeleton for ever. */
function Facts({ account: a, failed, timezone }: { account: AccountInfo | undefined; failed: boolean; timezone: string }) {
  const t = useTranslations();
  const n = useNumbers();
  const item = (label: string, value: React.ReactNode, testId: string) => (
    <div className="min-w-0">
      <dt className="text-xs text-slate-500">{label}</dt>
      <dd className="mt-0.5 truncate text-sm text-slate-900" data-testid={testId}>
        {a ? value : failed ? "—" : <Skeleton className="h-4 w-20" />}
      </dd>
    </div>
  );
  return (
    <section aria-label={t("drawer.facts")} data-testid={a || failed ? "drawer-facts" : "drawer-skeleton"}>
      <dl className="grid grid-cols-2 gap-x-4 gap-y-3 rounded-lg border border-slate-200 p-3 sm:grid-cols-4 lg:grid-cols-7">
        {item(t("drawer.id"), <span className="font-mono text-xs">{a?.id}</span>, "fact-id")}
        {item(t("col.platform"), a && <PlatformBadge platform={a.platform} />, "fact-platform")}
        {item(t("col.source"), a && <SourceBadges sources={a.sources} />, "fact-sources")}
        {item(t("drawer.type"), a && <AccountType type={a.type} />, "fact-type")}
        {item(t("col.status"), a && <StatusBadge status={a.status} />, "fact-status")}
        {item(t("col.priority"), a && n.int(a.priority), "fact-priority")}
        {item(
          t("col.lastUsed"),
          <span title={formatDateTimeLong(a?.lastUsedAt, timezone)}>{formatDateTime(a?.lastUsedAt, timezone) ?? t("usage.never")}</span>,
          "fact-last-used",
        )}
      </dl>
    </section>
  );
}

/** Today / this month / total usage; the card of the selected range is marked, not repeated below. */
function WindowCards({ summary, selected }: { summary: SummaryOutput | undefined; selected: RangeName }) {
  const t = useTranslations("summary");
  const tLive = useTranslations("live");
  const tUsage = useTranslations("usage");
  const cards = [
    { key: "daily", label: t("today") },
    { key: "monthly", label: t("month") },
    { key: "total", label: t("total") },
  ] as const;
  const lastHour = summary?.data.lastHour;
  return (
    <div className="grid grid-cols-2 gap-2 sm:grid-cols-4 sm:gap-3">
      <div className="min-w-0 rounded-lg border border-slate-200 bg-slate-50 p-2 sm:p-3" data-testid="window-last-hour">
        <p className="text-sm text-slate-500" title={tLive("lastHourHint")}>
          {tLive("lastHour")}
        </p>
        <div className="mt-1 sm:text-lg">
          {!summary ? (
            <Skeleton className="h-12 w-full max-w-28" />
          ) : lastHour ? (
            <UsageFigures usage={lastHour} prefix="window-last-hour" align="left" />
          ) : (
            <span className="text-slate-500">{tUsage("none")}</span>
          )}
        </div>
      </div>
      {cards.map((c) => {
        const on = c.key === selected;
        return (
          <div
            key={c.key}
            className={`min-w-0 rounded-lg border p-2 sm:p-3 ${on ? "border-brand-500 bg-brand-50 ring-1 ring-brand-500" : "border-slate-200 bg-slate-50"}`}
            data-testid={`window-${c.key}`}
            data-selected={on}
            aria-current={on ? "true" : undefined}
          >
            <p className={`text-sm ${on ? "font-medium text-brand-700" : "text-slate-500"}`}>{c.label}</p>
            <div className="mt-1 sm:text-lg">
              {summary ? <UsageFigures usage={summary.data.windows[c.key]} prefix={`window-${c.key}`} align="left" /> : <Skeleton className="h-12 w-full max-w-28" />}
            </div>
          </div>
        );
      })}
    </div>
  );
}

function RangeSwitch({ range, today, pending, onRange }: { range: RangeState; today: string; pending: boolean; onRange: (range: RangeState) => void }) {
  const t = useTranslations();
  const [customOpen, setCustomOpen] = useState(range.range === "custom");

  const options: { name: RangeName; label: string }[] = [
    { name: "daily", label: t("drawer.rangeDaily") },
    { name: "monthly", label: t("drawer.rangeMonthly") },
    { name: "total", label: t("drawer.rangeTotal") },
    { name: "custom", label: t("drawer.rangeCustom") },
  ];

  function choose(name: RangeName) {
    if (name === "custom") {
      setCustomOpen(true);
      // The picker opens on the last 7 days, shown at once (the presets and the calendar change them).
      if (range.range !== "custom") onRange({ range: "custom", from: addDays(today, -6), to: today });
      return;
    }
    setCustomOpen(false);
    onRange({ range: name, from: undefined, to: undefined });
  }

  return (
    <section aria-label={t("drawer.range")} className="flex min-w-0 flex-col gap-2">
      <div className="flex flex-wrap items-center gap-3">
        <div role="group" aria-label={t("drawer.range")} className="grid w-full grid-cols-4 overflow-hidden rounded-md border border-slate-300 bg-white text-sm shadow-sm sm:inline-grid sm:w-auto" data-testid="range-switch">
          {options.map((o, i) => {
            const active = o.name === "custom" ? customOpen || range.range === "custom" : range.range === o.name && !customOpen;
            return (
              <button
                key={o.name}
                type="button"
                aria-pressed={active}
                data-testid={`range-${o.name}`}
                onClick={() => choose(o.name)}
                className={`whitespace-nowrap px-3 py-2 focus-visible:outline-2 focus-visible:outline-offset-[-2px] focus-visible:outline-brand-500 sm:py-1.5 ${i > 0 ? "border-l border-slate-300" : ""} ${active ? "bg-brand-700 text-white" : "text-slate-700 hover:bg-slate-100"}`}
              >
                {o.label}
              </button>
            );
          })}
        </div>
        {pending && (
          <span role="status" className="text-xs text-slate-500">
            {t("common.loading")}
          </span>
        )}
      </div>
      {customOpen && (
        <RangePicker
          today={today}
          initial={range.range === "custom" && range.from && range.to ? { from: range.from, to: range.to } : undefined}
          applied={range.range === "custom" ? range : undefined}
          onApply={(r) => onRange({ range: "custom", from: r.from, to: r.to })}
        />
      )}
    </section>
  );
}

/** The custom range's own totals (the presets are the window cards above). */
function RangeUsage({ summary, stale }: { summary: SummaryOutput | undefined; stale: boolean }) {
  const t = useTranslations("drawer");
  const r = summary?.data.range;
  return (
    <div className={`flex flex-wrap items-center justify-between gap-3 rounded-lg border border-brand-500/30 bg-brand-50 p-3 ${stale ? "opacity-60" : ""}`} data-testid="range-usage" aria-busy={stale}>
      <div>
        <p className="text-sm font-medium text-slate-700">{t("rangeUsage")}</p>
        <p className="text-xs text-slate-500 tabular-nums" data-testid="range-label" data-range={r?.name ?? ""}>
          {r?.start && r.end ? t("rangeLabel", { start: r.start, end: r.end, timezone: r.timezone }) : <Skeleton className="h-3 w-40" />}
        </p>
      </div>
      <div className="text-lg">{summary ? <UsageFigures usage={summary.data.usage} prefix="range" /> : <Skeleton className="h-12 w-28" />}</div>
    </div>
  );
}
