"use client";

import type { InfiniteData, UseInfiniteQueryResult } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { formatDateTime, formatDateTimeLong, useNumbers } from "@/app/_i18n/format";
import type { BreakdownOutput } from "./queries";
import { ErrorState, Money, Skeleton, SourceBadge } from "./ui";
import type { BreakdownSortName, Order } from "./url-state";

export type BreakdownQuery = UseInfiniteQueryResult<InfiniteData<BreakdownOutput, number | null>, unknown>;

/**
 * The per-key table: a table from md up, one line per key (the token kinds open from its total);
 * below md each key is a card with labelled figures (the same elements, laid out by CSS grid), so
 * cost and shares stay visible on a phone.
 */
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
  const t = useTranslations("breakdown");
  const tc = useTranslations("common");
  const n = useNumbers();
  const pages = query.data?.pages ?? [];
  const items = pages.flatMap((p) => p.data.items);
  const first = pages[0]?.data;
  const totals = first?.totals;

  if (failed && !query.data) {
    return <ErrorState error={query.error} onRetry={() => void query.refetch()} testId="breakdown-error" />;
  }

  const th = "px-2 py-2 text-xs font-semibold text-slate-500 whitespace-nowrap";
  const cell = "md:table-cell md:px-2 md:py-2";
  const label = (text: string) => <span className="block text-xs font-normal text-slate-500 md:hidden">{text}</span>;
  const sortable = (key: BreakdownSortName, text: string, align: "left" | "right" = "right", hint?: string) => {
    const active = sort.sort === key;
    return (
      <th scope="col" className={`${th} ${align === "right" ? "text-right" : "text-left"}`} aria-sort={active ? (sort.order === "asc" ? "ascending" : "descending") : "none"} data-testid={`bcol-${key}`}>
        <button type="button" onClick={() => onSort(key)} title={hint} className={`inline-flex items-center gap-0.5 rounded px-0.5 hover:text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500 ${active ? "text-brand-700" : ""}`}>
          {text}
          <span aria-hidden className={active ? "" : "opacity-40"}>
            {active ? (sort.order === "asc" ? "▲" : "▼") : "↕"}
          </span>
        </button>
      </th>
    );
  };

  return (
    <div className="flex flex-col gap-2">
      <div role="region" aria-label={t("title")} className="rounded-lg border border-slate-200 md:overflow-x-auto">
        <table data-testid="breakdown-table" aria-busy={query.isFetching} className={`block w-full border-collapse text-sm md:table md:min-w-[940px] ${query.isPlaceholderData ? "opacity-60" : ""}`}>
          <thead className="hidden border-b border-slate-200 bg-slate-50 md:table-header-group">
            <tr>
              <th scope="col" className={`${th} text-left`}>
                {t("apiKey")}
              </th>
              {sortable("requests", t("requests"))}
              {sortable("allTokens", t("tokens"))}
              {sortable("cost", t("realCost"), "right", t("realCostHint"))}
              {sortable("ratedCost", t("ratedCost"), "right", t("ratedCostHint"))}
              <th scope="col" className={`${th} text-left`}>
                {t("tokenShare")}
              </th>
              <th scope="col" className={`${th} text-left`}>
                {t("lastModel")}
              </th>
              {sortable("lastUsedAt", t("lastUsed"), "left")}
            </tr>
          </thead>
          <tbody className="block divide-y divide-slate-100 md:table-row-group md:divide-y-0" data-testid="breakdown-body">
            {(query.isPending || (query.isError && !failed && !query.data)) &&
              Array.from({ length: 5 }, (_, i) => (
                <tr key={i} aria-hidden className="block p-3 md:table-row md:border-b md:border-slate-100 md:p-0" data-testid="breakdown-skeleton">
                  {Array.from({ length: 8 }, (_, j) => (
                    <td key={j} className={`${j > 1 ? "hidden" : "block py-1"} md:table-cell md:px-3 md:py-3`}>
                      <Skeleton className="h-4 w-full max-w-28" />
                    </td>
                  ))}
                </tr>
              ))}
            {items.map((k) => (
              <tr
                key={k.apiKeyId}
                data-testid={`breakdown-row-${k.apiKeyId}`}
                data-key-id={k.apiKeyId}
                className="grid grid-cols-2 gap-x-3 gap-y-2 p-3 align-top md:table-row md:border-b md:border-slate-100 md:p-0"
              >
                <td className={`col-span-2 min-w-0 md:max-w-48 ${cell}`}>
                  {/* The key's relay source beside its name (no badge: the REST API), not a column of its own: the drawer has no width to spare. */}
                  <div className="flex min-w-0 items-center gap-1.5">
                    <span className="min-w-0 truncate font-medium" data-testid="key-name" title={`${k.apiKeyName} · ${k.apiKeyId}`}>
                      {k.apiKeyName}
                    </span>
                    {k.source !== null && (
                      <span className="shrink-0" data-testid="key-source" data-value={k.source} title={t("source")}>
                        <SourceBadge source={k.source} />
                      </span>
                    )}
                  </div>
                  {/* One line per key from md up: the id is in the name's tooltip there. */}
                  <div className="truncate font-mono text-xs text-slate-500 md:hidden">{k.apiKeyId}</div>
                </td>
                <td className={`tabular-nums md:text-right ${cell}`}>
                  {label(t("requests"))}
                  <span data-testid="key-requests" data-value={k.requests} title={n.int(k.requests)}>
                    {n.int(k.requests)}
                  </span>
                </td>
                <td className={`tabular-nums md:text-right ${cell}`}>
                  {label(t("tokens"))}
                  {/* The four kinds on demand: a row stays one line until its total is opened. */}
                  <details className="group" data-testid="key-token-kinds">
                    <summary
                      className="inline-flex cursor-pointer list-none items-center gap-1 rounded font-medium focus-visible:outline-2 focus-visible:outline-brand-500 [&::-webkit-details-marker]:hidden"
                      aria-label={t("tokenKindsOf", { tokens: n.int(k.allTokens) })}
                    >
                      <span data-testid="key-tokens" data-value={k.allTokens} title={n.int(k.allTokens)}>
                        {n.compact(k.allTokens)}
                      </span>
                      <span aria-hidden className="text-[10px] text-slate-500 transition-transform group-open:rotate-90">
                        ▸
                      </span>
                    </summary>
                    <dl className="mt-0.5 grid grid-cols-[auto_auto] justify-start gap-x-2 text-xs text-slate-500 md:justify-end">
                      <TokenPart label={t("input")} value={k.inputTokens} testId="key-input" />
                      <TokenPart label={t("output")} value={k.outputTokens} testId="key-output" />
                      <TokenPart label={t("cacheCreate")} value={k.cacheCreateTokens} testId="key-cache-create" />
                      <TokenPart label={t("cacheRead")} value={k.cacheReadTokens} testId="key-cache-read" />
                    </dl>
                  </details>
                </td>
                <td className={`font-medium md:text-right ${cell}`} title={t("realCostHint")}>
                  {label(t("realCost"))}
                  <Money usd={k.cost} testId="key-cost" />
                </td>
                <td className={`font-medium md:text-right ${cell}`} title={t("ratedCostHint")}>
                  {label(t("ratedCost"))}
                  <Money usd={k.ratedCost} testId="key-rated-cost" />
                </td>
                <td className={`col-span-2 md:min-w-32 ${cell}`}>
                  <ShareBar tokens={k.share.tokens} cost={k.share.cost} />
                </td>
                <td className={`min-w-0 font-mono text-xs text-slate-700 wrap-anywhere md:whitespace-nowrap md:wrap-normal ${cell}`}>
                  {label(t("lastModel"))}
                  <span data-testid="key-last-model">{k.lastModel ?? "—"}</span>
                </td>
                <td className={`whitespace-nowrap text-slate-600 tabular-nums ${cell}`} title={formatDateTimeLong(k.lastUsedAt, timezone)}>
                  {label(t("lastUsed"))}
                  <span data-testid="key-last-used" data-value={k.lastUsedAt ?? ""}>
                    {formatDateTime(k.lastUsedAt, timezone) ?? "—"}
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
          {totals && items.length > 0 && (
            <tfoot className="block border-t border-slate-200 bg-slate-50 font-medium md:table-footer-group" data-testid="breakdown-totals">
              <tr className="grid grid-cols-2 gap-x-3 gap-y-1 p-3 md:table-row md:p-0">
                <th scope="row" className={`col-span-2 text-left text-sm ${cell}`}>
                  {tc("totals")}
                </th>
                <td className={`tabular-nums md:text-right ${cell}`}>
                  {label(t("requests"))}
                  <span data-testid="totals-requests" data-value={totals.requests}>
                    {n.int(totals.requests)}
                  </span>
                </td>
                <td className={`tabular-nums md:text-right ${cell}`}>
                  {label(t("tokens"))}
                  <span data-testid="totals-tokens" data-value={totals.allTokens} title={n.int(totals.allTokens)}>
                    {n.compact(totals.allTokens)}
                  </span>
                </td>
                <td className={`md:text-right ${cell}`}>
                  {label(t("realCost"))}
                  <Money usd={totals.cost} testId="totals-cost" />
                </td>
                <td className={`md:text-right ${cell}`}>
                  {label(t("ratedCost"))}
                  <Money usd={totals.ratedCost} testId="totals-rated-cost" />
                </td>
                <td colSpan={3} className="hidden md:table-cell" />
              </tr>
            </tfoot>
          )}
        </table>
      </div>
      {failed && query.data && <ErrorState error={query.error} onRetry={() => void query.refetch()} testId="breakdown-error" />}
      <div className="flex flex-wrap items-center justify-between gap-2 text-sm text-slate-600">
        <p data-testid="breakdown-count" aria-live="polite">
          {first && t("shown", { shown: n.int(items.length), total: n.int(first.total) })}
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
            {query.isFetchingNextPage ? tc("loading") : tc("loadMore")}
          </button>
        ) : (
          items.length > 0 && <span className="text-xs text-slate-500">{t("allLoaded")}</span>
        )}
      </div>
    </div>
  );
}

function TokenPart({ label, value, testId }: { label: string; value: number; testId: string }) {
  const n = useNumbers();
  return (
    <>
      <dt className="whitespace-nowrap">{label}</dt>
      <dd className="whitespace-nowrap tabular-nums" data-testid={testId} data-value={value} title={n.int(value)}>
        {n.compact(value)}
      </dd>
    </>
  );
}

/** The key's share of the range: of tokens (the bar) and of cost, each with its own label. */
function ShareBar({ tokens, cost }: { tokens: number; cost: number }) {
  const t = useTranslations("breakdown");
  const n = useNumbers();
  const pct = Math.max(0, Math.min(1, tokens));
  return (
    // One line when the drawer is wide enough; the cost share wraps under rather than push the table wider than the drawer.
    <div className="flex flex-wrap items-center gap-x-2 gap-y-0.5 text-xs tabular-nums">
      <div
        role="meter"
        aria-label={`${t("tokenShare")} ${n.percent(tokens)}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(pct * 1000) / 10}
        className="h-1.5 w-12 shrink-0 overflow-hidden rounded-full bg-slate-200"
      >
        <div className="h-full rounded-full bg-brand-500" style={{ width: `${pct * 100}%` }} />
      </div>
      <span className="whitespace-nowrap text-slate-800">
        <span className="text-slate-500 md:hidden">{t("tokenShare")} </span>
        <span className="font-medium" data-testid="key-share-tokens" data-value={tokens}>
          {n.percent(tokens)}
        </span>
      </span>
      <span className="whitespace-nowrap text-slate-500">
        {t("costShare")}{" "}
        <span data-testid="key-share-cost" data-value={cost}>
          {n.percent(cost)}
        </span>
      </span>
    </div>
  );
}
