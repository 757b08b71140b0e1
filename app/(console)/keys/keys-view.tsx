"use client";

import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import { useLocale, useTranslations } from "next-intl";
import { useQueryStates } from "nuqs";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";
import { addDays, formatDateTime, formatDateTimeLong, localDateIn, useNumbers } from "@/app/_i18n/format";
import { KEY_FIGURE_SORTS, defaultKeyOrder, type KeyUsageSort } from "@/server/usage-stats/key-sorts";
import type { RangeName } from "@/server/usage-stats/schemas";
import type { AppRouter } from "@/server/trpc/routers/_app";
import { EmptyState, ErrorState, Money, Skeleton, SourceBadge, useShownError } from "../accounts/ui";
import { keysCsvHref, keysInput, keysPaging, keysParsers, resolveKeysState, toKeysUrlParams, type KeysUrlState, type Order } from "./url-state";

type KeysOutput = inferRouterOutputs<AppRouter>["apiKeys"]["usageStats"];
type KeyItem = KeysOutput["data"]["items"][number];

const FALLBACK_TIMEZONE = "Asia/Shanghai";

/** API keys across every account: search, window, sort (URL state), and a keyset-paged table. */
export function KeysView() {
  const t = useTranslations("keys");
  const locale = useLocale() as "zh-CN" | "en";
  const trpc = useTRPC();
  const [raw, setRaw] = useQueryStates(keysParsers, { history: "replace", scroll: false });
  const state = useMemo(() => resolveKeysState(raw), [raw]);
  const navigate = useCallback((patch: Partial<KeysUrlState>) => void setRaw((old) => toKeysUrlParams({ ...resolveKeysState(old), ...patch })), [setRaw]);

  const query = useInfiniteQuery(trpc.apiKeys.usageStats.infiniteQueryOptions(keysInput(state), { ...keysPaging, placeholderData: keepPreviousData }));
  const failed = useShownError(query);
  const pages = query.data?.pages ?? [];
  const first = pages[0];
  const items = pages.flatMap((p) => p.data.items);
  const timezone = first?.timezone ?? FALLBACK_TIMEZONE;

  const onSort = (sort: KeyUsageSort) => navigate({ sort, order: sort === state.sort ? (state.order === "asc" ? "desc" : "asc") : defaultKeyOrder(sort) });

  return (
    <div className="flex min-w-0 flex-col gap-4">
      <header>
        <h1 className="text-2xl font-semibold">{t("title")}</h1>
        <p className="text-sm text-slate-500">{t("subtitle")}</p>
      </header>

      <section aria-label={t("filters")} className="flex flex-col gap-3 rounded-lg border border-slate-200 bg-white p-3 shadow-sm">
        <div className="grid grid-cols-2 items-end gap-3 sm:flex sm:flex-wrap">
          <SearchBox initial={state.search} onSearch={(search) => navigate({ search })} />
          <SortSelect state={state} onChange={(sort, order) => navigate({ sort, order })} />
          <a
            href={keysCsvHref(state, locale)}
            download
            data-testid="export-keys-csv"
            className="col-span-2 inline-flex h-9 items-center justify-center rounded-md border border-slate-300 bg-white px-3 text-sm font-medium text-slate-700 hover:bg-slate-50 focus-visible:outline-2 focus-visible:outline-brand-500 sm:ml-auto"
          >
            {t("exportCsv")}
          </a>
        </div>
        <RangeSwitch state={state} timezone={timezone} pending={query.isPlaceholderData} range={first?.range} onRange={(r) => navigate(r)} />
      </section>

      {failed && !query.data ? (
        <ErrorState error={query.error} title={t("error")} onRetry={() => void query.refetch()} testId="keys-error" />
      ) : (
        <KeysTable items={items} totals={first?.data} pending={query.isPending} stale={query.isPlaceholderData} timezone={timezone} state={state} onSort={onSort} />
      )}
      {failed && query.data && <ErrorState error={query.error} title={t("error")} onRetry={() => void query.refetch()} testId="keys-error" />}

      <div className="flex flex-wrap items-center justify-between gap-2 text-sm text-slate-600">
        <p data-testid="keys-count" aria-live="polite">
          {first && first.data.total > 0 && t("shown", { shown: items.length, total: first.data.total })}
        </p>
        {query.hasNextPage ? (
          <button
            type="button"
            data-testid="keys-load-more"
            disabled={query.isFetchingNextPage}
            aria-busy={query.isFetchingNextPage}
            onClick={() => void query.fetchNextPage()}
            className="rounded-md border border-slate-300 bg-white px-4 py-1.5 font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-50 focus-visible:outline-2 focus-visible:outline-brand-500"
          >
            <LoadMoreLabel busy={query.isFetchingNextPage} />
          </button>
        ) : (
          items.length > 0 && <span className="text-xs text-slate-500">{t("allLoaded")}</span>
        )}
      </div>
    </div>
  );
}

function LoadMoreLabel({ busy }: { busy: boolean }) {
  const tc = useTranslations("common");
  return <>{busy ? tc("loading") : tc("loadMore")}</>;
}

function sortLabel(tSort: ReturnType<typeof useTranslations<"sort">>, t: ReturnType<typeof useTranslations<"keys">>, s: KeyUsageSort): string {
  if (s === "name") return t("sortName");
  if (s === "lastUsedAt") return t("sortLastUsed");
  return tSort(`figure.${s}`);
}

function SortSelect({ state, onChange }: { state: KeysUrlState; onChange: (sort: KeyUsageSort, order: Order) => void }) {
  const t = useTranslations("keys");
  const tSort = useTranslations("sort");
  const sorts: KeyUsageSort[] = [...KEY_FIGURE_SORTS, "name", "lastUsedAt"];
  const select = "h-9 w-full min-w-0 rounded-md border border-slate-300 bg-white px-2 text-sm text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500 sm:w-auto";
  return (
    <>
      <label className="flex min-w-0 flex-col gap-1 text-xs font-medium text-slate-600">
        {t("sort")}
        <select
          value={state.sort}
          data-testid="keys-sort"
          onChange={(e) => {
            const s = sorts.find((x) => x === e.target.value) ?? state.sort;
            onChange(s, defaultKeyOrder(s));
          }}
          className={select}
        >
          {sorts.map((s) => (
            <option key={s} value={s}>
              {sortLabel(tSort, t, s)}
            </option>
          ))}
        </select>
      </label>
      <label className="flex min-w-0 flex-col gap-1 text-xs font-medium text-slate-600">
        {t("order")}
        <select value={state.order} data-testid="keys-order" onChange={(e) => onChange(state.sort, e.target.value === "asc" ? "asc" : "desc")} className={select}>
          <option value="desc">{t("desc")}</option>
          <option value="asc">{t("asc")}</option>
        </select>
      </label>
    </>
  );
}

/** Typing searches after a short pause; Enter searches at once. */
function SearchBox({ initial, onSearch }: { initial: string; onSearch: (value: string) => void }) {
  const t = useTranslations("keys");
  const [value, setValue] = useState(initial);
  const sent = useRef(initial);
  const onSearchRef = useRef(onSearch);
  useEffect(() => {
    onSearchRef.current = onSearch;
  }, [onSearch]);
  useEffect(() => {
    const v = value.trim();
    if (v === sent.current) return;
    const timer = setTimeout(() => {
      sent.current = v;
      onSearchRef.current(v);
    }, 350);
    return () => clearTimeout(timer);
  }, [value]);
  return (
    <label className="col-span-2 flex min-w-0 flex-col gap-1 text-xs font-medium text-slate-600 sm:min-w-56">
      {t("search")}
      <input
        type="search"
        value={value}
        data-testid="keys-search"
        placeholder={t("searchPlaceholder")}
        maxLength={200}
        onChange={(e) => setValue(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            const v = value.trim();
            sent.current = v;
            onSearchRef.current(v);
          }
        }}
        className="h-9 w-full rounded-md border border-slate-300 bg-white px-3 text-sm text-slate-900 placeholder:text-slate-500 focus-visible:outline-2 focus-visible:outline-brand-500 sm:w-72"
      />
    </label>
  );
}

const isDate = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`));

function RangeSwitch({
  state,
  timezone,
  pending,
  range,
  onRange,
}: {
  state: KeysUrlState;
  timezone: string;
  pending: boolean;
  range: KeysOutput["range"] | undefined;
  onRange: (r: Pick<KeysUrlState, "range" | "from" | "to">) => void;
}) {
  const t = useTranslations("keys");
  const td = useTranslations("drawer");
  const today = localDateIn(timezone);
  const [from, setFrom] = useState(state.from ?? addDays(today, -6));
  const [to, setTo] = useState(state.to ?? today);
  const [customOpen, setCustomOpen] = useState(state.range === "custom");
  const invalid = !isDate(from) || !isDate(to) || from > to;
  const options: { name: RangeName; label: string }[] = [
    { name: "daily", label: td("rangeDaily") },
    { name: "monthly", label: td("rangeMonthly") },
    { name: "total", label: td("rangeTotal") },
    { name: "custom", label: td("rangeCustom") },
  ];
  const choose = (name: RangeName) => {
    if (name === "custom") {
      setCustomOpen(true);
      if (!invalid) onRange({ range: "custom", from, to });
      return;
    }
    setCustomOpen(false);
    onRange({ range: name, from: undefined, to: undefined });
  };
  const dateInput = (value: string, set: (v: string) => void, testId: string, text: string) => (
    <label className="flex flex-col gap-1 text-xs font-medium text-slate-600">
      {text}
      <input
        type="text"
        inputMode="numeric"
        autoComplete="off"
        value={value}
        placeholder={td("dateFormat")}
        pattern="\d{4}-\d{2}-\d{2}"
        maxLength={10}
        required
        data-testid={testId}
        onChange={(e) => set(e.target.value.trim())}
        className="h-9 w-32 rounded-md border border-slate-300 px-2 text-sm tabular-nums text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500"
      />
    </label>
  );
  return (
    <div className="flex flex-col gap-2">
      <div className="flex flex-wrap items-center gap-3">
        <div role="group" aria-label={t("range")} className="grid w-full grid-cols-4 overflow-hidden rounded-md border border-slate-300 bg-white text-sm shadow-sm sm:inline-grid sm:w-auto" data-testid="keys-range">
          {options.map((o, i) => {
            const active = o.name === "custom" ? customOpen || state.range === "custom" : state.range === o.name && !customOpen;
            return (
              <button
                key={o.name}
                type="button"
                aria-pressed={active}
                data-testid={`keys-range-${o.name}`}
                onClick={() => choose(o.name)}
                className={`whitespace-nowrap px-2 py-2 focus-visible:outline-2 focus-visible:outline-offset-[-2px] focus-visible:outline-brand-500 sm:px-3 sm:py-1.5 ${i > 0 ? "border-l border-slate-300" : ""} ${active ? "bg-brand-700 text-white" : "text-slate-700 hover:bg-slate-100"}`}
              >
                {o.label}
              </button>
            );
          })}
        </div>
        {range && (
          <span className="text-xs text-slate-500" data-testid="keys-range-label">
            {range.start && range.end ? t("rangeLabel", { start: range.start, end: range.end, timezone: range.timezone }) : t("rangeAll", { timezone: range.timezone })}
          </span>
        )}
        {pending && (
          <span role="status" className="text-xs text-slate-500">
            {t("updating")}
          </span>
        )}
      </div>
      {customOpen && (
        <form
          className="flex flex-wrap items-end gap-3"
          data-testid="keys-custom-range"
          onSubmit={(e) => {
            e.preventDefault();
            if (!invalid) onRange({ range: "custom", from, to });
          }}
        >
          {dateInput(from, setFrom, "keys-range-from", td("from"))}
          {dateInput(to, setTo, "keys-range-to", td("to"))}
          <button
            type="submit"
            disabled={invalid}
            data-testid="keys-range-apply"
            className="h-9 rounded-md bg-brand-700 px-4 text-sm font-medium text-white hover:bg-brand-600 disabled:opacity-40 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-500"
          >
            {td("apply")}
          </button>
          {invalid && (
            <p role="alert" className="w-full text-sm text-rose-700">
              {td("invalidRange")}
            </p>
          )}
        </form>
      )}
    </div>
  );
}

/**
 * One line per key: a table from lg up (inside a scrollable region when the window is narrower
 * than its columns); below, each key is a card of labelled figures, so nothing scrolls sideways.
 */
function KeysTable({
  items,
  totals,
  pending,
  stale,
  timezone,
  state,
  onSort,
}: {
  items: KeyItem[];
  totals: KeysOutput["data"] | undefined;
  pending: boolean;
  stale: boolean;
  timezone: string;
  state: KeysUrlState;
  onSort: (sort: KeyUsageSort) => void;
}) {
  const t = useTranslations("keys");
  const n = useNumbers();

  if (!pending && totals && items.length === 0) {
    return state.search ? <EmptyState title={t("emptySearch", { search: state.search })} hint={t("emptyHint")} testId="keys-empty" /> : <EmptyState title={t("empty")} hint={t("emptyHint")} testId="keys-empty" />;
  }

  const th = "px-3 py-2 text-xs font-semibold text-slate-500 whitespace-nowrap";
  const cell = "lg:table-cell lg:px-3 lg:py-2";
  const label = (text: string) => <span className="block text-xs font-normal text-slate-500 lg:hidden">{text}</span>;
  const sortable = (key: KeyUsageSort, text: string, align: "left" | "right" = "right", hint?: string) => {
    const active = state.sort === key;
    return (
      <th scope="col" className={`${th} ${align === "right" ? "text-right" : "text-left"}`} aria-sort={active ? (state.order === "asc" ? "ascending" : "descending") : "none"} data-testid={`kcol-${key}`}>
        <button
          type="button"
          onClick={() => onSort(key)}
          title={hint}
          className={`inline-flex items-center gap-0.5 rounded px-0.5 hover:text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500 ${active ? "text-brand-700" : ""}`}
        >
          {text}
          <span aria-hidden className={active ? "" : "opacity-40"}>
            {active ? (state.order === "asc" ? "▲" : "▼") : "↕"}
          </span>
        </button>
      </th>
    );
  };

  return (
    <div role="region" aria-label={t("title")} tabIndex={-1} className="rounded-lg border border-slate-200 bg-white lg:overflow-x-auto">
      <table data-testid="keys-table" aria-busy={stale} className={`block w-full border-collapse text-sm lg:table ${stale ? "opacity-60" : ""}`}>
        <thead className="hidden border-b border-slate-200 bg-slate-50 lg:table-header-group">
          <tr>
            {sortable("name", t("apiKey"), "left")}
            {sortable("requests", t("requests"))}
            {sortable("allTokens", t("tokens"))}
            {sortable("cost", t("realCost"), "right", t("realCostHint"))}
            {sortable("ratedCost", t("ratedCost"), "right", t("ratedCostHint"))}
            {sortable("lastUsedAt", t("lastUsed"), "left")}
            <th scope="col" className={`${th} text-left`}>
              {t("accounts")}
            </th>
          </tr>
        </thead>
        <tbody className="block divide-y divide-slate-100 lg:table-row-group lg:divide-y-0" data-testid="keys-body">
          {pending &&
            Array.from({ length: 5 }, (_, i) => (
              <tr key={i} aria-hidden className="block p-3 lg:table-row lg:border-b lg:border-slate-100 lg:p-0" data-testid="keys-skeleton">
                {Array.from({ length: 7 }, (_, j) => (
                  <td key={j} className={`${j > 1 ? "hidden" : "block py-1"} lg:table-cell lg:px-3 lg:py-3`}>
                    <Skeleton className="h-4 w-full max-w-28" />
                  </td>
                ))}
              </tr>
            ))}
          {items.map((k) => (
            <tr key={k.apiKeyId} data-testid={`key-row-${k.apiKeyId}`} data-key-id={k.apiKeyId} className="grid grid-cols-2 gap-x-3 gap-y-2 p-3 align-top lg:table-row lg:border-b lg:border-slate-100 lg:p-0">
              <td className={`col-span-2 min-w-0 lg:max-w-64 ${cell}`}>
                <div className="flex min-w-0 items-center gap-1.5">
                  <span className="min-w-0 truncate font-medium" data-testid="key-name" title={k.apiKeyName}>
                    {k.apiKeyName}
                  </span>
                  {k.source !== null && (
                    <span className="shrink-0">
                      <SourceBadge source={k.source} />
                    </span>
                  )}
                  {k.deleted && <span className="shrink-0 rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">{t("keyDeleted")}</span>}
                </div>
                <div className="truncate font-mono text-xs text-slate-500" title={k.apiKeyId}>
                  {k.apiKeyId}
                </div>
              </td>
              <td className={`tabular-nums lg:text-right ${cell}`}>
                {label(t("requests"))}
                <span data-testid="key-requests" data-value={k.requests} title={n.int(k.requests)}>
                  {n.int(k.requests)}
                </span>
              </td>
              <td className={`tabular-nums lg:text-right ${cell}`}>
                {label(t("tokens"))}
                <span className="font-medium" data-testid="key-tokens" data-value={k.allTokens} title={n.int(k.allTokens)}>
                  {n.compact(k.allTokens)}
                </span>
              </td>
              <td className={`font-medium lg:text-right ${cell}`} title={t("realCostHint")}>
                {label(t("realCost"))}
                <Money usd={k.cost} testId="key-cost" />
              </td>
              <td className={`font-medium lg:text-right ${cell}`} title={t("ratedCostHint")}>
                {label(t("ratedCost"))}
                <Money usd={k.ratedCost} testId="key-rated-cost" />
              </td>
              <td className={`whitespace-nowrap text-slate-600 tabular-nums ${cell}`} title={formatDateTimeLong(k.lastUsedAt, timezone)}>
                {label(t("lastUsed"))}
                <span data-testid="key-last-used" data-value={k.lastUsedAt ?? ""}>
                  {formatDateTime(k.lastUsedAt, timezone) ?? "—"}
                </span>
              </td>
              <td className={`col-span-2 min-w-0 lg:max-w-72 ${cell}`}>
                {label(t("accounts"))}
                <KeyAccounts item={k} />
              </td>
            </tr>
          ))}
        </tbody>
        {totals && items.length > 0 && (
          <tfoot className="block border-t border-slate-200 bg-slate-50 font-medium lg:table-footer-group" data-testid="keys-totals">
            <tr className="grid grid-cols-2 gap-x-3 gap-y-1 p-3 lg:table-row lg:p-0">
              <th scope="row" className={`col-span-2 text-left text-sm ${cell}`}>
                {t("totals", { total: n.int(totals.total) })}
              </th>
              <td className={`tabular-nums lg:text-right ${cell}`}>
                {label(t("requests"))}
                <span data-testid="keys-totals-requests" data-value={totals.totals.requests}>
                  {n.int(totals.totals.requests)}
                </span>
              </td>
              <td className={`tabular-nums lg:text-right ${cell}`}>
                {label(t("tokens"))}
                <span data-testid="keys-totals-tokens" data-value={totals.totals.allTokens} title={n.int(totals.totals.allTokens)}>
                  {n.compact(totals.totals.allTokens)}
                </span>
              </td>
              <td className={`lg:text-right ${cell}`}>
                {label(t("realCost"))}
                <Money usd={totals.totals.cost} testId="keys-totals-cost" />
              </td>
              <td className={`lg:text-right ${cell}`}>
                {label(t("ratedCost"))}
                <Money usd={totals.totals.ratedCost} testId="keys-totals-rated-cost" />
              </td>
              <td colSpan={2} className="hidden lg:table-cell" />
            </tr>
          </tfoot>
        )}
      </table>
    </div>
  );
}

/** The accounts a key used in the range, most tokens first: each opens that account's drawer on the accounts page. */
function KeyAccounts({ item }: { item: KeyItem }) {
  const t = useTranslations("keys");
  const more = item.accountCount - item.accounts.length;
  return (
    <ul className="flex min-w-0 flex-wrap gap-1.5" data-testid="key-accounts" data-count={item.accountCount}>
      {item.accounts.map((a) => (
        <li key={a.id} className="min-w-0 max-w-full">
          {a.deleted ? (
            <span className="block truncate rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-500" title={`${a.name} (${a.id})`}>
              {a.name} · {t("accountDeleted")}
            </span>
          ) : (
            <Link
              href={`/accounts?account=${encodeURIComponent(a.id)}`}
              data-testid="key-account-link"
              data-account-id={a.id}
              aria-label={t("openAccount", { name: a.name })}
              title={a.id}
              className="block truncate rounded bg-brand-50 px-1.5 py-0.5 text-xs font-medium text-brand-700 hover:underline focus-visible:outline-2 focus-visible:outline-brand-500"
            >
              {a.name}
            </Link>
          )}
        </li>
      ))}
      {more > 0 && <li className="px-1 py-0.5 text-xs text-slate-500">{t("moreAccounts", { count: more })}</li>}
    </ul>
  );
}
