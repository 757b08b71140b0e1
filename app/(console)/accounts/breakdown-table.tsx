"use client";

import { formatCompact, formatCost, formatCostExact, formatDateTime, formatDateTimeLong, formatInt, formatPercent } from "@/app/_i18n/format";
import { useI18n } from "@/app/_i18n/i18n-provider";
import type { BreakdownQuery } from "./queries";
import { ErrorState, Skeleton } from "./ui";
import type { BreakdownSortName, Order } from "./url-state";

export function BreakdownTable({
  query,
  failed,
  timezone,
  sort,
  onSort,
}: {
  query: BreakdownQuery;
  /** The query failed and the error is worth showing (see useShownError). */
  failed: boolean;
  timezone: string;
  sort: { sort: BreakdownSortName; order: Order };
  onSort: (sort: BreakdownSortName) => void;
}) {
  const { t, locale } = useI18n();
  const pages = query.data?.pages ?? [];
  const items = pages.flatMap((p) => p.data.items);
  const first = pages[0]?.data;
  const totals = first?.totals;

  if (failed && !query.data) {
    return <ErrorState error={query.error} onRetry={() => void query.refetch()} testId="breakdown-error" />;
  }

  const th = "px-3 py-2 text-xs font-semibold text-slate-500 whitespace-nowrap";
  const sortable = (key: BreakdownSortName, label: string, align: "left" | "right" = "right", hint?: string) => {
    const active = sort.sort === key;
    return (
      <th scope="col" className={`${th} ${align === "right" ? "text-right" : "text-left"}`} aria-sort={active ? (sort.order === "asc" ? "ascending" : "descending") : "none"} data-testid={`bcol-${key}`}>
        <button type="button" onClick={() => onSort(key)} title={hint} className={`inline-flex items-center gap-0.5 rounded px-0.5 hover:text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500 ${active ? "text-brand-700" : ""}`}>
          {label}
          <span aria-hidden className={active ? "" : "opacity-30"}>
            {active ? (sort.order === "asc" ? "▲" : "▼") : "↕"}
          </span>
        </button>
      </th>
    );
  };

  return (
    <div className="flex flex-col gap-2">
      <div role="region" aria-label={t("breakdown.title")} tabIndex={0} className="relative overflow-x-auto rounded-lg border border-slate-200 focus-visible:outline-2 focus-visible:outline-brand-500">
        <table data-testid="breakdown-table" aria-busy={query.isFetching} className={`w-full min-w-[980px] border-collapse text-sm ${query.isPlaceholderData ? "opacity-60" : ""}`}>
          <thead className="border-b border-slate-200 bg-slate-50">
            <tr>
              <th scope="col" className={`${th} text-left`}>
                {t("breakdown.apiKey")}
              </th>
              {sortable("requests", t("breakdown.requests"))}
              {sortable("allTokens", t("breakdown.tokens"))}
              {sortable("cost", t("breakdown.realCost"), "right", t("breakdown.realCostHint"))}
              {sortable("ratedCost", t("breakdown.ratedCost"), "right", t("breakdown.ratedCostHint"))}
              <th scope="col" className={`${th} text-left`}>
                {t("breakdown.share")}
              </th>
              <th scope="col" className={`${th} text-left`}>
                {t("breakdown.lastModel")}
              </th>
              {sortable("lastUsedAt", t("breakdown.lastUsed"), "left")}
            </tr>
          </thead>
          <tbody>
            {(query.isPending || (query.isError && !failed && !query.data)) &&
              Array.from({ length: 5 }, (_, i) => (
                <tr key={i} aria-hidden className="border-b border-slate-100">
                  {Array.from({ length: 8 }, (_, j) => (
                    <td key={j} className="px-3 py-3">
                      <Skeleton className="h-4 w-full max-w-24" />
                    </td>
                  ))}
                </tr>
              ))}
            {query.isSuccess && items.length === 0 && (
              <tr>
                <td colSpan={8} className="px-3 py-8 text-center text-slate-500" data-testid="breakdown-empty">
                  {t("breakdown.empty")}
                </td>
              </tr>
            )}
            {items.map((k) => (
              <tr key={k.apiKeyId} data-testid={`breakdown-row-${k.apiKeyId}`} data-key-id={k.apiKeyId} className="border-b border-slate-100 align-top">
                <td className="max-w-56 px-3 py-2">
                  <div className="truncate font-medium" data-testid="key-name" title={k.apiKeyName}>
                    {k.apiKeyName}
                  </div>
                  <div className="truncate font-mono text-xs text-slate-500" title={k.apiKeyId}>
                    {k.apiKeyId}
                  </div>
                </td>
                <td className="px-3 py-2 text-right tabular-nums" data-testid="key-requests" data-value={k.requests} title={formatInt(locale, k.requests)}>
                  {formatInt(locale, k.requests)}
                </td>
                <td className="px-3 py-2 text-right tabular-nums">
                  <div className="font-medium" data-testid="key-tokens" data-value={k.allTokens} title={t("usage.tokens", { value: formatInt(locale, k.allTokens) })}>
                    {formatCompact(locale, k.allTokens)}
                  </div>
                  <dl className="mt-0.5 grid grid-cols-[auto_auto] justify-end gap-x-2 text-xs text-slate-500">
                    <TokenPart label={t("breakdown.input")} value={k.inputTokens} testId="key-input" />
                    <TokenPart label={t("breakdown.output")} value={k.outputTokens} testId="key-output" />
                    <TokenPart label={t("breakdown.cacheCreate")} value={k.cacheCreateTokens} testId="key-cache-create" />
                    <TokenPart label={t("breakdown.cacheRead")} value={k.cacheReadTokens} testId="key-cache-read" />
                  </dl>
                </td>
                <td className="px-3 py-2 text-right font-medium tabular-nums" data-testid="key-cost" data-value={k.cost} title={t("usage.costExact", { value: formatCostExact(locale, k.cost) })}>
                  {formatCost(locale, k.cost)}
                </td>
                <td className="px-3 py-2 text-right font-medium tabular-nums" data-testid="key-rated-cost" data-value={k.ratedCost} title={t("usage.costExact", { value: formatCostExact(locale, k.ratedCost) })}>
                  {formatCost(locale, k.ratedCost)}
                </td>
                <td className="w-40 px-3 py-2">
                  <ShareBar tokens={k.share.tokens} cost={k.share.cost} />
                </td>
                <td className="px-3 py-2 font-mono text-xs text-slate-700" data-testid="key-last-model">
                  {k.lastModel ?? "—"}
                </td>
                <td className="whitespace-nowrap px-3 py-2 text-slate-600 tabular-nums" data-testid="key-last-used" data-value={k.lastUsedAt ?? ""} title={formatDateTimeLong(k.lastUsedAt, timezone)}>
                  {formatDateTime(k.lastUsedAt, timezone) ?? "—"}
                </td>
              </tr>
            ))}
          </tbody>
          {totals && items.length > 0 && (
            <tfoot className="border-t border-slate-200 bg-slate-50 font-medium" data-testid="breakdown-totals">
              <tr>
                <th scope="row" className="px-3 py-2 text-left text-sm">
                  {t("common.totals")}
                </th>
                <td className="px-3 py-2 text-right tabular-nums" data-testid="totals-requests" data-value={totals.requests}>
                  {formatInt(locale, totals.requests)}
                </td>
                <td className="px-3 py-2 text-right tabular-nums" data-testid="totals-tokens" data-value={totals.allTokens} title={formatInt(locale, totals.allTokens)}>
                  {formatCompact(locale, totals.allTokens)}
                </td>
                <td className="px-3 py-2 text-right tabular-nums" data-testid="totals-cost" data-value={totals.cost} title={formatCostExact(locale, totals.cost)}>
                  {formatCost(locale, totals.cost)}
                </td>
                <td className="px-3 py-2 text-right tabular-nums" data-testid="totals-rated-cost" data-value={totals.ratedCost} title={formatCostExact(locale, totals.ratedCost)}>
                  {formatCost(locale, totals.ratedCost)}
                </td>
                <td colSpan={3} />
              </tr>
            </tfoot>
          )}
        </table>
      </div>
      {failed && query.data && <ErrorState error={query.error} onRetry={() => void query.refetch()} testId="breakdown-error" />}
      <div className="flex flex-wrap items-center justify-between gap-2 text-sm text-slate-600">
        <p data-testid="breakdown-count" aria-live="polite">
          {first && t("breakdown.shown", { shown: formatInt(locale, items.length), total: formatInt(locale, first.total) })}
        </p>
        {query.hasNextPage ? (
          <button
            type="button"
            data-testid="load-more"
            disabled={query.isFetchingNextPage}
            aria-busy={query.isFetchingNextPage}
            onClick={() => void query.fetchNextPage()}
            className="rounded-md border border-slate-300 bg-white px-4 py-1.5 font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-50 focus-visible:outline-2 focus-visible:outline-brand-500"
          >
            {query.isFetchingNextPage ? t("common.loading") : t("common.loadMore")}
          </button>
        ) : (
          items.length > 0 && <span className="text-xs text-slate-400">{t("breakdown.allLoaded")}</span>
        )}
      </div>
    </div>
  );
}

function TokenPart({ label, value, testId }: { label: string; value: number; testId: string }) {
  const { locale } = useI18n();
  return (
    <>
      <dt>{label}</dt>
      <dd className="tabular-nums" data-testid={testId} data-value={value} title={formatInt(locale, value)}>
        {formatCompact(locale, value)}
      </dd>
    </>
  );
}

function ShareBar({ tokens, cost }: { tokens: number; cost: number }) {
  const { t, locale } = useI18n();
  const pct = Math.max(0, Math.min(1, tokens));
  const label = t("breakdown.shareOfTokens", { value: formatPercent(locale, tokens) });
  return (
    <div title={`${label} · ${t("breakdown.shareOfCost", { value: formatPercent(locale, cost) })}`}>
      <div className="flex items-baseline justify-between gap-2 text-xs">
        <span className="font-medium tabular-nums text-slate-800" data-testid="key-share-tokens" data-value={tokens}>
          {formatPercent(locale, tokens)}
        </span>
        <span className="tabular-nums text-slate-500" data-testid="key-share-cost" data-value={cost}>
          {t("breakdown.shareOfCost", { value: formatPercent(locale, cost) })}
        </span>
      </div>
      <div
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(pct * 1000) / 10}
        className="mt-1 h-1.5 w-full overflow-hidden rounded-full bg-slate-200"
      >
        <div className="h-full rounded-full bg-brand-500" style={{ width: `${pct * 100}%` }} />
      </div>
    </div>
  );
}
