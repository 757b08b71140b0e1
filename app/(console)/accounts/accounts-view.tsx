"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect, useMemo, useOptimistic, useRef, useState, useTransition } from "react";
import { LangSwitch } from "@/app/_components/lang-switch";
import { useTRPC } from "@/app/_components/trpc-provider";
import { formatInt } from "@/app/_i18n/format";
import { useI18n } from "@/app/_i18n/i18n-provider";
import { AccountDrawer } from "./account-drawer";
import { AccountsTable } from "./accounts-table";
import { Pagination } from "./pagination";
import type { UsageListOutput } from "./queries";
import { ErrorState, FallbackBanner, KNOWN_PLATFORMS, KNOWN_STATUSES, platformLabel, Skeleton, UsageFigures } from "./ui";
import {
  DEFAULTS,
  FIGURE_NAMES,
  PAGE_SIZES,
  SORTS,
  WINDOW_NAMES,
  defaultOrder,
  listCsvHref,
  listInput,
  parseAccountsUrl,
  serializeAccountsUrl,
  type AccountsUrlState,
} from "./url-state";

const FALLBACK_TIMEZONE = "Asia/Shanghai";

export function AccountsView() {
  const { t } = useI18n();
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const state = useMemo(() => parseAccountsUrl(searchParams), [searchParams]);
  const [isPending, startTransition] = useTransition();
  // Closing the drawer should not wait for the server round trip of the navigation.
  const [openAccount, setOpenAccount] = useOptimistic(state.account);
  const [pendingOpen, setPendingOpen] = useState<string>();
  const [searchKey, setSearchKey] = useState(0);

  // The state the next navigation starts from: the URL, plus changes still in flight.
  const latest = useRef(state);
  useEffect(() => {
    latest.current = state;
  }, [state]);

  const navigate = useCallback(
    (patch: Partial<AccountsUrlState>) => {
      const next = { ...latest.current, ...patch };
      latest.current = next;
      const qs = serializeAccountsUrl(next);
      startTransition(() => {
        // Only closing is optimistic: an open drawer's data is prefetched by the server render of
        // the navigation, and opening it early would fetch the same queries from the browser too.
        if ("account" in patch && !patch.account) setOpenAccount(undefined);
        router.replace(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
      });
    },
    [pathname, router, setOpenAccount],
  );

  const list = useQuery(trpc.accounts.usageStats.queryOptions(listInput(state), { placeholderData: keepPreviousData }));
  const data: UsageListOutput | undefined = list.data;
  const timezone = data?.timezone ?? FALLBACK_TIMEZONE;

  // After the drawer closes (and the page is no longer inert), focus goes back to its opener.
  const returnFocusTo = useRef<string | null>(null);
  useEffect(() => {
    if (openAccount || !returnFocusTo.current) return;
    const id = returnFocusTo.current;
    returnFocusTo.current = null;
    const opener = document.querySelector<HTMLElement>(`[data-details-for="${CSS.escape(id)}"]`);
    (opener ?? document.getElementById("accounts-heading"))?.focus();
  }, [openAccount]);

  const openDrawer = useCallback(
    (id: string) => {
      setPendingOpen(id);
      navigate({ account: id, range: DEFAULTS.range, from: undefined, to: undefined });
    },
    [navigate],
  );
  const closeDrawer = useCallback(() => {
    returnFocusTo.current = latest.current.account ?? null;
    navigate({ account: undefined, range: DEFAULTS.range, from: undefined, to: undefined });
  }, [navigate]);

  const filtered = !!(state.search || state.platform || state.status);
  const platforms = useMemo(() => {
    const set = new Set<string>(KNOWN_PLATFORMS);
    for (const r of data?.data ?? []) set.add(r.platform);
    if (state.platform) set.add(state.platform);
    return [...set];
  }, [data, state.platform]);

  const drawerOpen = !!openAccount;

  return (
    <>
      <div inert={drawerOpen} className="mx-auto flex max-w-[1440px] flex-col gap-4 p-4 sm:p-6">
        <header className="flex flex-wrap items-start justify-between gap-3">
          <div>
            <h1 id="accounts-heading" tabIndex={-1} className="text-2xl font-semibold outline-none">
              {t("app.title")}
            </h1>
            <p className="text-sm text-slate-500">{t("app.subtitle")}</p>
          </div>
          <LangSwitch />
        </header>

        {data?.source === "redis" && <FallbackBanner />}

        <SummaryCards data={data} loading={list.isPending} />

        <section aria-label={t("filters.search")} className="flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-3 shadow-sm">
          <SearchBox key={searchKey} initial={state.search} onSearch={(search) => navigate({ search, page: 1 })} />
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
            label={t("filters.sort")}
            testId="sort-select"
            value={state.sort}
            onChange={(sort) => {
              const s = SORTS.find((x) => x === sort) ?? DEFAULTS.sort;
              navigate({ sort: s, order: defaultOrder(s), page: 1 });
            }}
            options={SORTS.map((s) => ({ value: s, label: sortLabel(t, s) }))}
          />
          <Select
            label={t("filters.order")}
            testId="order-select"
            value={state.order}
            onChange={(order) => navigate({ order: order === "asc" ? "asc" : "desc", page: 1 })}
            options={[
              { value: "asc", label: t("filters.asc") },
              { value: "desc", label: t("filters.desc") },
            ]}
          />
          <Select
            label={t("filters.pageSize")}
            testId="page-size"
            value={String(state.pageSize)}
            onChange={(size) => navigate({ pageSize: Number(size), page: 1 })}
            options={PAGE_SIZES.map((n) => ({ value: String(n), label: String(n) }))}
          />
          <div className="ml-auto flex items-center gap-2">
            {isPending && (
              <span role="status" className="text-xs text-slate-500">
                {t("list.updating")}
              </span>
            )}
            {filtered && (
              <button
                type="button"
                onClick={() => {
                  setSearchKey((k) => k + 1);
                  navigate({ search: "", platform: "", status: "", page: 1 });
                }}
                className="rounded-md px-3 py-1.5 text-sm text-slate-600 hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-brand-500"
              >
                {t("filters.reset")}
              </button>
            )}
            <a
              href={listCsvHref(state)}
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
              busy={isPending || list.isPlaceholderData}
              pendingOpen={isPending ? pendingOpen : undefined}
              onSort={(sort) => navigate({ sort, order: sort === state.sort ? (state.order === "asc" ? "desc" : "asc") : defaultOrder(sort), page: 1 })}
              onOpen={openDrawer}
            />
            {list.isError && <ErrorState error={list.error} title={t("list.error")} onRetry={() => void list.refetch()} testId="accounts-error" />}
            {data && (
              <Pagination
                total={data.pagination.total}
                page={state.page}
                pageSize={state.pageSize}
                onPage={(page) => navigate({ page })}
              />
            )}
          </>
        )}
      </div>

      {openAccount && (
        <AccountDrawer
          key={openAccount}
          id={openAccount}
          range={{ range: state.range, from: state.from, to: state.to }}
          fallbackTimezone={timezone}
          listSource={data?.source}
          pending={isPending}
          onRange={(r) => navigate(r)}
          onClose={closeDrawer}
        />
      )}
    </>
  );
}

function sortLabel(t: ReturnType<typeof useI18n>["t"], sort: string): string {
  if (sort === "name" || sort === "priority" || sort === "lastUsedAt") return t(`sort.${sort}`);
  const [w, f] = sort.split(".") as [(typeof WINDOW_NAMES)[number], (typeof FIGURE_NAMES)[number]];
  return `${t(`sort.window.${w}`)} · ${t(`sort.figure.${f}`)}`;
}

function SummaryCards({ data, loading }: { data: UsageListOutput | undefined; loading: boolean }) {
  const { t, locale } = useI18n();
  const s = data?.summary;
  const card = "rounded-lg border border-slate-200 bg-white p-4 shadow-sm";
  const windows = [
    { key: "daily", label: t("summary.today") },
    { key: "monthly", label: t("summary.month") },
    { key: "total", label: t("summary.total") },
  ] as const;
  return (
    <section aria-label={t("summary.accounts")} className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-5" data-testid="summary-cards">
      <div className={card}>
        <p className="text-sm text-slate-500">{t("summary.accounts")}</p>
        {s ? (
          <p className="mt-1 text-2xl font-semibold tabular-nums" data-testid="summary-accounts" data-value={s.totalAccounts}>
            {formatInt(locale, s.totalAccounts)}
          </p>
        ) : (
          <Skeleton className="mt-2 h-7 w-16" />
        )}
      </div>
      <div className={card}>
        <p className="text-sm text-slate-500">{t("summary.activeToday")}</p>
        {s ? (
          <p className="mt-1 text-2xl font-semibold tabular-nums">
            <span data-testid="summary-active-today" data-value={s.activeToday}>
              {formatInt(locale, s.activeToday)}
            </span>
            <span className="ml-2 text-sm font-normal text-slate-500">{t("summary.ofAccounts", { total: formatInt(locale, s.totalAccounts) })}</span>
          </p>
        ) : (
          <Skeleton className="mt-2 h-7 w-16" />
        )}
      </div>
      {windows.map((w) => (
        <div key={w.key} className={`${card} ${w.key === "total" ? "ring-1 ring-brand-500/30" : ""}`}>
          <p className="text-sm text-slate-500">{w.label}</p>
          {s ? (
            <div className="mt-1 text-lg">
              <UsageFigures usage={s[w.key]} prefix={`summary-${w.key}`} align="left" />
            </div>
          ) : (
            <Skeleton className="mt-2 h-12 w-28" />
          )}
        </div>
      ))}
      {loading && <span className="sr-only">{t("list.loading")}</span>}
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
    <label className="flex flex-col gap-1 text-xs font-medium text-slate-600">
      {label}
      <select
        value={value}
        data-testid={testId}
        onChange={(e) => onChange(e.target.value)}
        className="h-9 rounded-md border border-slate-300 bg-white px-2 text-sm text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500"
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
  const { t } = useI18n();
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
    <label className="flex min-w-56 flex-1 flex-col gap-1 text-xs font-medium text-slate-600 sm:flex-none">
      {t("filters.search")}
      <input
        type="search"
        value={value}
        data-testid="search-input"
        placeholder={t("filters.searchPlaceholder")}
        maxLength={200}
        onChange={(e) => setValue(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            const v = value.trim();
            sent.current = v;
            onSearchRef.current(v);
          }
        }}
        className="h-9 w-full rounded-md border border-slate-300 bg-white px-3 text-sm text-slate-900 placeholder:text-slate-400 focus-visible:outline-2 focus-visible:outline-brand-500 sm:w-72"
      />
    </label>
  );
}
