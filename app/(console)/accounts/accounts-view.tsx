"use client";

import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { useLocale, useTranslations } from "next-intl";
import { useQueryStates } from "nuqs";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";
import { useNumbers } from "@/app/_i18n/format";
import { AccountDrawer } from "./account-drawer";
import { AccountsTable } from "./accounts-table";
import { liveOptions, RefreshContext, UpdatedAt, useRefreshMs } from "./live";
import { Pagination } from "./pagination";
import type { UsageListOutput } from "./queries";
import { NO_SOURCE } from "@/server/usage-stats/source-filter";
import { ErrorState, FallbackBanner, KNOWN_PLATFORMS, KNOWN_STATUSES, platformLabel, Skeleton, sourceLabel, UsageFigures } from "./ui";
import {
  accountsParsers,
  DEFAULTS,
  FIGURE_NAMES,
  PAGE_SIZES,
  SORTS,
  WINDOW_NAMES,
  defaultOrder,
  listCsvHref,
  listInput,
  resolveAccountsState,
  summaryInput,
  toUrlParams,
  type AccountsUrlState,
} from "./url-state";

const FALLBACK_TIMEZONE = "Asia/Shanghai";

export function AccountsView({ refreshSeconds }: { refreshSeconds: number }) {
  return (
    <RefreshContext value={refreshSeconds * 1000}>
      <Accounts />
    </RefreshContext>
  );
}

function Accounts() {
  const t = useTranslations();
  const tSort = useTranslations("sort");
  const locale = useLocale();
  const trpc = useTRPC();
  // Shallow URL updates: the drawer opens and filters apply at once, the browser fetches the data.
  const [raw, setRaw] = useQueryStates(accountsParsers, { history: "replace", scroll: false });
  const state = useMemo(() => resolveAccountsState(raw), [raw]);
  const [searchKey, setSearchKey] = useState(0);
  // On a phone the selects fold away behind one button, so the list starts on the first screen.
  const [filtersOpen, setFiltersOpen] = useState(false);

  const navigate = useCallback(
    (patch: Partial<AccountsUrlState>) => void setRaw((old) => toUrlParams({ ...resolveAccountsState(old), ...patch })),
    [setRaw],
  );

  const refreshMs = useRefreshMs();
  const queryClient = useQueryClient();
  // The list always shows today (and the last hour): it stays live.
  const list = useQuery(trpc.accounts.usageStats.queryOptions(listInput(state), { placeholderData: keepPreviousData, ...liveOptions(true, refreshMs) }));
  const data: UsageListOutput | undefined = list.data;
  const timezone = data?.timezone ?? FALLBACK_TIMEZONE;

  const openDrawer = useCallback((id: string) => navigate({ account: id, range: DEFAULTS.range, from: undefined, to: undefined }), [navigate]);
  const closeDrawer = useCallback(() => navigate({ account: undefined, range: DEFAULTS.range, from: undefined, to: undefined }), [navigate]);

  useAccountTitle(state.account, state);
  useSlashToSearch(!state.account);

  const filtered = !!(state.search || state.platform || state.status || state.source);
  const platforms = useMemo(() => {
    const set = new Set<string>(KNOWN_PLATFORMS);
    for (const r of data?.data ?? []) set.add(r.platform);
    if (state.platform) set.add(state.platform);
    return [...set];
  }, [data, state.platform]);
  // The list answers every source present (availableSources); a source in the URL stays offered.
  const sources = useMemo(() => {
    const set = new Set<string>(data?.availableSources ?? []);
    if (state.source && state.source !== NO_SOURCE) set.add(state.source);
    return [...set];
  }, [data, state.source]);

  return (
    <>
      <div className="flex flex-col gap-4">
        <header>
          <h1 id="accounts-heading" tabIndex={-1} className="text-2xl font-semibold outline-none">
            {t("app.title")}
          </h1>
          <p className="text-sm text-slate-500">{t("app.subtitle")}</p>
          <div className="mt-1">
            <UpdatedAt
              updatedAt={list.dataUpdatedAt}
              timezone={timezone}
              fetching={list.isFetching}
              live
              // The refresh button refreshes the open drawer too.
              onRefresh={() => void queryClient.invalidateQueries({ queryKey: trpc.accounts.pathKey() })}
            />
          </div>
        </header>

        {data?.source === "redis" && <FallbackBanner />}

        <SummaryCards data={data} loading={list.isPending} />

        <section aria-label={t("filters.label")} className="grid grid-cols-2 items-end gap-3 rounded-lg border border-slate-200 bg-white p-3 shadow-sm sm:flex sm:flex-wrap">
          <SearchBox key={searchKey} initial={state.search} onSearch={(search) => navigate({ search, page: 1 })} />
          <button
            type="button"
            aria-expanded={filtersOpen}
            aria-controls="list-filters"
            onClick={() => setFiltersOpen((o) => !o)}
            data-testid="filters-toggle"
            className="col-span-2 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50 focus-visible:outline-2 focus-visible:outline-brand-500 sm:hidden"
          >
            {t("filters.toggle")}
            {filtered ? ` · ${t("filters.active")}` : ""} <span aria-hidden>{filtersOpen ? "▲" : "▼"}</span>
          </button>
          <div id="list-filters" className={`${filtersOpen ? "contents" : "hidden"} sm:contents`}>
            <Select
              label={t("filters.platform")}
              testId="filter-platform"
              value={state.platform}
              onChange={(platform) => navigate({ platform, page: 1 })}
              options={[{ value: "", label: t("filters.all") }, ...platforms.map((p) => ({ value: p, label: platformLabel(p) }))]}
            />
            <Select
              label={t("filters.status")}
              testId="filter-status"
              value={state.status}
              onChange={(status) => navigate({ status, page: 1 })}
              options={[{ value: "", label: t("filters.all") }, ...KNOWN_STATUSES.map((s) => ({ value: s, label: t(`status.${s}`) }))]}
            />
            <Select
              label={t("filters.source")}
              testId="filter-source"
              value={state.source}
              onChange={(source) => navigate({ source, page: 1 })}
              options={[
                { value: "", label: t("filters.all") },
                ...sources.map((s) => ({ value: s, label: sourceLabel(s) })),
                { value: NO_SOURCE, label: t("filters.sourceNone") },
              ]}
            />
            <Select
              label={t("filters.sort")}
              testId="sort-select"
              value={state.sort}
              onChange={(sort) => {
                const s = SORTS.find((x) => x === sort) ?? DEFAULTS.sort;
                navigate({ sort: s, order: defaultOrder(s), page: 1 });
              }}
              options={SORTS.map((s) => ({ value: s, label: sortLabel(tSort, s) }))}
            />
            {/* The direction beside the sort (no second select): one button that says which way it sorts. */}
            <button
              type="button"
              data-testid="order-toggle"
              data-value={state.order}
              aria-label={`${t("filters.order")}: ${state.order === "asc" ? t("filters.asc") : t("filters.desc")}`}
              title={t("filters.order")}
              onClick={() => navigate({ order: state.order === "asc" ? "desc" : "asc", page: 1 })}
              className="h-9 self-end whitespace-nowrap rounded-md border border-slate-300 bg-white px-2.5 text-sm text-slate-700 hover:bg-slate-50 focus-visible:outline-2 focus-visible:outline-brand-500"
            >
              <span aria-hidden>{state.order === "asc" ? "↑" : "↓"}</span> {state.order === "asc" ? t("filters.asc") : t("filters.desc")}
            </button>
            <Select
              label={t("filters.pageSize")}
              testId="page-size"
              value={String(state.pageSize)}
              onChange={(size) => navigate({ pageSize: Number(size), page: 1 })}
              options={PAGE_SIZES.map((n) => ({ value: String(n), label: String(n) }))}
            />
          </div>
          <div className="col-span-2 flex items-center justify-end gap-2 sm:ml-auto">
            {list.isPlaceholderData && (
              <span role="status" className="text-xs text-slate-500">
                {t("list.updating")}
              </span>
            )}
            {filtered && (
              <button
                type="button"
                onClick={() => {
                  setSearchKey((k) => k + 1);
                  navigate({ search: "", platform: "", status: "", source: "", page: 1 });
                }}
                className="rounded-md px-3 py-1.5 text-sm text-slate-600 hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-brand-500"
              >
                {t("filters.reset")}
              </button>
            )}
            <a
              href={listCsvHref(state, locale)}
              download
              data-testid="export-accounts-csv"
              className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50 focus-visible:outline-2 focus-visible:outline-brand-500"
            >
              {t("filters.exportCsv")}
            </a>
          </div>
        </section>

        {list.isError && !data ? (
          <ErrorState error={list.error} title={t("list.error")} onRetry={() => void list.refetch()} testId="accounts-error" />
        ) : (
          <>
            <AccountsTable
              rows={data?.data}
              timezone={timezone}
              sort={state.sort}
              order={state.order}
              busy={list.isPlaceholderData}
              onSort={(sort) => navigate({ sort, order: sort === state.sort ? (state.order === "asc" ? "desc" : "asc") : defaultOrder(sort), page: 1 })}
              onOpen={openDrawer}
            />
            {list.isError && <ErrorState error={list.error} title={t("list.error")} onRetry={() => void list.refetch()} testId="accounts-error" />}
            {data && <Pagination total={data.pagination.total} page={state.page} pageSize={state.pageSize} onPage={(page) => navigate({ page })} />}
          </>
        )}
      </div>

      {state.account && (
        <AccountDrawer
          key={state.account}
          id={state.account}
          range={{ range: state.range, from: state.from, to: state.to }}
          fallbackTimezone={timezone}
          listSource={data?.source}
          onRange={(r) => navigate(r)}
          onClose={closeDrawer}
        />
      )}
    </>
  );
}

/**
 * The tab names the open account ("Acme · 账号用量 · 用量后台"), and the page again once the drawer
 * closes. The summary query is the drawer's own (same key), so this asks the server nothing more.
 */
function useAccountTitle(id: string | undefined, range: Pick<AccountsUrlState, "range" | "from" | "to">) {
  const trpc = useTRPC();
  const summary = useQuery({ ...trpc.accounts.summary.queryOptions(summaryInput(id ?? "", range)), enabled: !!id });
  const name = id ? (summary.data?.data.account.name ?? id) : undefined;
  useEffect(() => {
    if (!name) return;
    const before = document.title;
    document.title = `${name} · ${before}`;
    return () => {
      document.title = before;
    };
  }, [name]);
}

/** "/" anywhere but in a field focuses the search box, as in most consoles. */
function useSlashToSearch(enabled: boolean) {
  useEffect(() => {
    if (!enabled) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
      const el = e.target as HTMLElement | null;
      if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))) return;
      const search = document.getElementById(SEARCH_ID);
      if (!search) return;
      e.preventDefault();
      search.focus();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [enabled]);
}

const SEARCH_ID = "account-search";

function sortLabel(t: ReturnType<typeof useTranslations<"sort">>, sort: string): string {
  if (sort === "name" || sort === "priority" || sort === "lastUsedAt") return t(sort);
  const [w, f] = sort.split(".") as [(typeof WINDOW_NAMES)[number], (typeof FIGURE_NAMES)[number]];
  return `${t(`window.${w}`)} · ${t(`figure.${f}`)}`;
}

function SummaryCards({ data, loading }: { data: UsageListOutput | undefined; loading: boolean }) {
  const t = useTranslations("summary");
  const tl = useTranslations("list");
  const tLive = useTranslations("live");
  const tUsage = useTranslations("usage");
  const n = useNumbers();
  const s = data?.summary;
  const card = "min-w-0 rounded-lg border border-slate-200 bg-white p-3 shadow-sm sm:p-4";
  const windows = [
    { key: "daily", label: t("today") },
    { key: "monthly", label: t("month") },
    { key: "total", label: t("total") },
  ] as const;
  return (
    <section aria-label={t("accounts")} className="grid grid-cols-6 gap-2 sm:gap-3" data-testid="summary-cards">
      <div className={`${card} col-span-2 xl:col-span-1`}>
        <p className="text-sm text-slate-500">{t("accounts")}</p>
        {s ? (
          <p className="mt-1 text-2xl font-semibold tabular-nums" data-testid="summary-accounts" data-value={s.totalAccounts}>
            {n.int(s.totalAccounts)}
          </p>
        ) : (
          <Skeleton className="mt-2 h-7 w-16" />
        )}
      </div>
      <div className={`${card} col-span-2 xl:col-span-1`}>
        <p className="text-sm text-slate-500">{t("activeToday")}</p>
        {s ? (
          <p className="mt-1 text-2xl font-semibold tabular-nums">
            <span data-testid="summary-active-today" data-value={s.activeToday}>
              {n.int(s.activeToday)}
            </span>
            <span className="ml-2 text-sm font-normal text-slate-500" data-testid="summary-active-share">
              {t("activeShare", { percent: n.percent(s.totalAccounts > 0 ? s.activeToday / s.totalAccounts : 0) })}
            </span>
          </p>
        ) : (
          <Skeleton className="mt-2 h-7 w-16" />
        )}
      </div>
      <div className={`${card} col-span-2 xl:col-span-1`} data-testid="summary-last-hour">
        <p className="text-sm text-slate-500" title={tLive("lastHourHint")}>
          {tLive("lastHour")}
        </p>
        {s ? (
          s.lastHour ? (
            <div className="mt-1 sm:text-lg">
              <UsageFigures usage={s.lastHour} prefix="summary-last-hour" align="left" />
            </div>
          ) : (
            <p className="mt-1 text-slate-500">{tUsage("none")}</p>
          )
        ) : (
          <Skeleton className="mt-2 h-12 w-28" />
        )}
      </div>
      {windows.map((w) => (
        <div key={w.key} className={`${card} col-span-2 xl:col-span-1 ${w.key === "total" ? "ring-1 ring-brand-500/30" : ""}`}>
          <p className="text-sm text-slate-500">{w.label}</p>
          {s ? (
            <div className="mt-1 sm:text-lg">
              <UsageFigures usage={s[w.key]} prefix={`summary-${w.key}`} align="left" />
            </div>
          ) : (
            <Skeleton className="mt-2 h-12 w-28" />
          )}
        </div>
      ))}
      {loading && <span className="sr-only">{tl("loading")}</span>}
    </section>
  );
}

function Select({
  label,
  value,
  options,
  onChange,
  testId,
}: {
  label: string;
  value: string;
  options: { value: string; label: string }[];
  onChange: (value: string) => void;
  testId: string;
}) {
  return (
    <label className="flex min-w-0 flex-col gap-1 text-xs font-medium text-slate-600">
      {label}
      <select
        value={value}
        data-testid={testId}
        onChange={(e) => onChange(e.target.value)}
        className="h-9 w-full min-w-0 rounded-md border border-slate-300 bg-white px-2 text-sm text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500 sm:w-auto"
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Typing searches after a short pause; Enter searches at once. */
function SearchBox({ initial, onSearch }: { initial: string; onSearch: (value: string) => void }) {
  const t = useTranslations("filters");
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
      <span>
        {t("search")}
        <kbd className="ml-1.5 hidden rounded border border-slate-300 px-1 font-mono text-[10px] font-normal text-slate-500 sm:inline" title={t("slashHint")}>
          /
        </kbd>
      </span>
      <input
        id={SEARCH_ID}
        type="search"
        value={value}
        aria-keyshortcuts="/"
        data-testid="search-input"
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
