"use client";

import { keepPreviousData, useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Drawer } from "@/app/_components/drawer";
import { useTRPC, useTRPCClient } from "@/app/_components/trpc-provider";
import { addDays, formatDateTime, formatDateTimeLong, formatInt, localDateIn } from "@/app/_i18n/format";
import { useI18n } from "@/app/_i18n/i18n-provider";
import type { RangeName } from "@/server/usage-stats/schemas";
import { BreakdownTable } from "./breakdown-table";
import { ModelTable } from "./model-table";
import { breakdownInfiniteOptions, type SummaryOutput } from "./queries";
import { TrendChart } from "./trend-chart";
import { ErrorState, FallbackBanner, PlatformBadge, Skeleton, StatusBadge, UsageFigures, useShownError } from "./ui";
import { breakdownCsvHref, breakdownInput, summaryInput, type AccountsUrlState, type BreakdownSortName, type Order } from "./url-state";

type RangeState = Pick<AccountsUrlState, "range" | "from" | "to">;

const TITLE_ID = "account-drawer-title";

export function AccountDrawer({
  id,
  range,
  fallbackTimezone,
  listSource,
  pending,
  onRange,
  onClose,
}: {
  id: string;
  range: RangeState;
  fallbackTimezone: string;
  listSource: "postgres" | "redis" | undefined;
  pending: boolean;
  onRange: (range: RangeState) => void;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const [sort, setSort] = useState<{ sort: BreakdownSortName; order: Order }>({ sort: "allTokens", order: "desc" });

  const summary = useQuery(trpc.accounts.summary.queryOptions(summaryInput(id, range), { placeholderData: keepPreviousData }));
  const bInput = breakdownInput(id, range, sort);
  const breakdown = useInfiniteQuery({
    ...breakdownInfiniteOptions(bInput, (input, signal) => client.accounts.breakdown.query(input, { signal })),
    placeholderData: keepPreviousData,
  });

  const summaryFailed = useShownError(summary);
  const breakdownFailed = useShownError(breakdown);
  const s: SummaryOutput | undefined = summary.data;
  const account = s?.data.account;
  const timezone = s?.timezone ?? fallbackTimezone;
  const source = s?.source ?? listSource;

  return (
    <Drawer labelledBy={TITLE_ID} onClose={onClose} testId="account-drawer">
      <header className="sticky top-0 z-10 flex items-start justify-between gap-3 border-b border-slate-200 bg-white/95 px-4 py-3 backdrop-blur sm:px-6">
        <div className="min-w-0">
          <p className="text-xs font-medium uppercase tracking-wide text-slate-500">{t("drawer.title")}</p>
          <h2 id={TITLE_ID} className="truncate text-lg font-semibold" data-testid="drawer-title">
            {account?.name ?? id}
          </h2>
        </div>
        <button
          type="button"
          data-autofocus
          data-testid="drawer-close"
          aria-label={t("common.close")}
          onClick={onClose}
          className="rounded-md p-2 text-slate-500 hover:bg-slate-100 hover:text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500"
        >
          <svg aria-hidden viewBox="0 0 20 20" className="size-5" fill="currentColor">
            <path d="M6.28 5.22a.75.75 0 0 0-1.06 1.06L8.94 10l-3.72 3.72a.75.75 0 1 0 1.06 1.06L10 11.06l3.72 3.72a.75.75 0 1 0 1.06-1.06L11.06 10l3.72-3.72a.75.75 0 0 0-1.06-1.06L10 8.94 6.28 5.22Z" />
          </svg>
        </button>
      </header>

      <div className="flex flex-col gap-6 px-4 py-4 sm:px-6">
        {source === "redis" && <FallbackBanner unavailable={s?.unavailable} />}

        {summaryFailed && !s ? (
          <ErrorState error={summary.error} onRetry={() => void summary.refetch()} testId="summary-error" />
        ) : (
          <>
            <Facts summary={s} timezone={timezone} />
            <WindowCards summary={s} />
          </>
        )}

        <RangeSwitch range={range} timezone={timezone} pending={pending} onRange={onRange} />

        {summaryFailed && s ? (
          <ErrorState error={summary.error} onRetry={() => void summary.refetch()} testId="summary-error" />
        ) : (
          <RangeUsage summary={s} stale={summary.isPlaceholderData} />
        )}

        <section aria-labelledby="breakdown-heading" className="flex flex-col gap-2">
          <div className="flex flex-wrap items-center justify-between gap-2">
            <h3 id="breakdown-heading" className="text-base font-semibold">
              {t("breakdown.title")}
            </h3>
            <a
              href={breakdownCsvHref(id, range, sort)}
              download
              data-testid="export-breakdown-csv"
              className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50 focus-visible:outline-2 focus-visible:outline-brand-500"
            >
              {t("breakdown.exportCsv")}
            </a>
          </div>
          <BreakdownTable
            query={breakdown}
            failed={breakdownFailed}
            timezone={timezone}
            sort={sort}
            onSort={(next) =>
              setSort((cur) => (cur.sort === next ? { sort: next, order: cur.order === "desc" ? "asc" : "desc" } : { sort: next, order: "desc" }))
            }
          />
        </section>

        <section aria-labelledby="models-heading" className="flex flex-col gap-2">
          <h3 id="models-heading" className="text-base font-semibold">
            {t("models.title")}
          </h3>
          {s ? <ModelTable models={s.data.byModel} total={s.data.usage} /> : summaryFailed ? null : <Skeleton className="h-24 w-full" />}
        </section>

        <section aria-labelledby="trend-heading" className="flex flex-col gap-2 pb-6">
          <h3 id="trend-heading" className="text-base font-semibold">
            {t("trend.title")}
          </h3>
          {s ? <TrendChart series={s.data.series} /> : summaryFailed ? null : <Skeleton className="h-52 w-full" />}
        </section>
      </div>
    </Drawer>
  );
}

function Facts({ summary, timezone }: { summary: SummaryOutput | undefined; timezone: string }) {
  const { t, locale } = useI18n();
  const a = summary?.data.account;
  const item = (label: string, value: React.ReactNode, testId: string) => (
    <div className="min-w-0">
      <dt className="text-xs text-slate-500">{label}</dt>
      <dd className="mt-0.5 truncate text-sm text-slate-900" data-testid={testId}>
        {a ? value : <Skeleton className="h-4 w-20" />}
      </dd>
    </div>
  );
  return (
    <section aria-label={t("drawer.facts")}>
      <dl className="grid grid-cols-2 gap-x-4 gap-y-3 rounded-lg border border-slate-200 p-3 sm:grid-cols-3 lg:grid-cols-6">
        {item(t("drawer.id"), <span className="font-mono text-xs">{a?.id}</span>, "fact-id")}
        {item(t("col.platform"), a && <PlatformBadge platform={a.platform} />, "fact-platform")}
        {item(t("drawer.type"), a?.type, "fact-type")}
        {item(t("col.status"), a && <StatusBadge status={a.status} />, "fact-status")}
        {item(t("col.priority"), a && formatInt(locale, a.priority), "fact-priority")}
        {item(
          t("col.lastUsed"),
          <span title={formatDateTimeLong(a?.lastUsedAt, timezone)}>{formatDateTime(a?.lastUsedAt, timezone) ?? t("usage.never")}</span>,
          "fact-last-used",
        )}
      </dl>
    </section>
  );
}

function WindowCards({ summary }: { summary: SummaryOutput | undefined }) {
  const { t } = useI18n();
  const cards = [
    { key: "daily", label: t("summary.today") },
    { key: "monthly", label: t("summary.month") },
    { key: "total", label: t("summary.total") },
  ] as const;
  return (
    <div className="grid grid-cols-1 gap-3 sm:grid-cols-3">
      {cards.map((c) => (
        <div key={c.key} className="rounded-lg border border-slate-200 bg-slate-50 p-3" data-testid={`window-${c.key}`}>
          <p className="text-sm text-slate-500">{c.label}</p>
          <div className="mt-1 text-lg">
            {summary ? <UsageFigures usage={summary.data.windows[c.key]} prefix={`window-${c.key}`} align="left" /> : <Skeleton className="h-12 w-28" />}
          </div>
        </div>
      ))}
    </div>
  );
}

function RangeSwitch({
  range,
  timezone,
  pending,
  onRange,
}: {
  range: RangeState;
  timezone: string;
  pending: boolean;
  onRange: (range: RangeState) => void;
}) {
  const { t } = useI18n();
  const today = localDateIn(timezone);
  const [from, setFrom] = useState(range.from ?? addDays(today, -6));
  const [to, setTo] = useState(range.to ?? today);
  const [customOpen, setCustomOpen] = useState(range.range === "custom");
  const invalid = !from || !to || from > to;

  const options: { name: RangeName; label: string }[] = [
    { name: "daily", label: t("drawer.rangeDaily") },
    { name: "monthly", label: t("drawer.rangeMonthly") },
    { name: "total", label: t("drawer.rangeTotal") },
    { name: "custom", label: t("drawer.rangeCustom") },
  ];

  function choose(name: RangeName) {
    if (name === "custom") {
      setCustomOpen(true);
      if (!invalid) onRange({ range: "custom", from, to });
      return;
    }
    setCustomOpen(false);
    onRange({ range: name, from: undefined, to: undefined });
  }

  return (
    <section aria-label={t("drawer.range")} className="flex flex-col gap-2">
      <div className="flex flex-wrap items-center gap-3">
        <div role="group" aria-label={t("drawer.range")} className="inline-flex overflow-hidden rounded-md border border-slate-300 bg-white text-sm shadow-sm" data-testid="range-switch">
          {options.map((o, i) => {
            const active = o.name === "custom" ? customOpen || range.range === "custom" : range.range === o.name && !customOpen;
            return (
              <button
                key={o.name}
                type="button"
                aria-pressed={active}
                data-testid={`range-${o.name}`}
                onClick={() => choose(o.name)}
                className={`px-3 py-1.5 focus-visible:outline-2 focus-visible:outline-offset-[-2px] focus-visible:outline-brand-500 ${i > 0 ? "border-l border-slate-300" : ""} ${active ? "bg-brand-600 text-white" : "text-slate-700 hover:bg-slate-100"}`}
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
        <form
          className="flex flex-wrap items-end gap-3"
          data-testid="custom-range"
          onSubmit={(e) => {
            e.preventDefault();
            if (!invalid) onRange({ range: "custom", from, to });
          }}
        >
          <label className="flex flex-col gap-1 text-xs font-medium text-slate-600">
            {t("drawer.from")}
            <input
              type="date"
              value={from}
              max={today}
              required
              data-testid="range-from"
              onChange={(e) => setFrom(e.target.value)}
              className="h-9 rounded-md border border-slate-300 px-2 text-sm text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500"
            />
          </label>
          <label className="flex flex-col gap-1 text-xs font-medium text-slate-600">
            {t("drawer.to")}
            <input
              type="date"
              value={to}
              max={today}
              required
              data-testid="range-to"
              onChange={(e) => setTo(e.target.value)}
              className="h-9 rounded-md border border-slate-300 px-2 text-sm text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500"
            />
          </label>
          <button
            type="submit"
            disabled={invalid}
            data-testid="range-apply"
            className="h-9 rounded-md bg-brand-600 px-4 text-sm font-medium text-white hover:bg-brand-700 disabled:opacity-40 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-500"
          >
            {t("drawer.apply")}
          </button>
          {invalid && (
            <p role="alert" className="text-sm text-rose-700">
              {t("drawer.invalidRange")}
            </p>
          )}
        </form>
      )}
    </section>
  );
}

function RangeUsage({ summary, stale }: { summary: SummaryOutput | undefined; stale: boolean }) {
  const { t } = useI18n();
  const r = summary?.data.range;
  return (
    <div className={`flex flex-wrap items-center justify-between gap-3 rounded-lg border border-brand-500/30 bg-brand-50 p-3 ${stale ? "opacity-60" : ""}`} data-testid="range-usage" aria-busy={stale}>
      <div>
        <p className="text-sm font-medium text-slate-700">{t("drawer.rangeUsage")}</p>
        <p className="text-xs text-slate-500" data-testid="range-label" data-range={r?.name ?? ""}>
          {r ? (r.start && r.end ? t("drawer.rangeLabel", { start: r.start, end: r.end, timezone: r.timezone }) : t("drawer.rangeAllTime", { timezone: r.timezone })) : <Skeleton className="h-3 w-40" />}
        </p>
      </div>
      <div className="text-lg">{summary ? <UsageFigures usage={summary.data.usage} prefix="range" /> : <Skeleton className="h-12 w-28" />}</div>
    </div>
  );
}
