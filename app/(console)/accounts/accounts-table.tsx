"use client";

import type { AccountSort } from "@/server/usage-stats/schemas";
import { formatDateTime, formatDateTimeLong, formatInt } from "@/app/_i18n/format";
import { useI18n } from "@/app/_i18n/i18n-provider";
import type { AccountRow } from "./queries";
import { PlatformBadge, Skeleton, StatusBadge, UsageFigures } from "./ui";
import type { Order } from "./url-state";

type WindowKey = "daily" | "monthly" | "total";

export function AccountsTable({
  rows,
  timezone,
  sort,
  order,
  busy,
  pendingOpen,
  onSort,
  onOpen,
}: {
  rows: AccountRow[] | undefined;
  timezone: string;
  sort: AccountSort;
  order: Order;
  busy: boolean;
  pendingOpen: string | undefined;
  onSort: (sort: AccountSort) => void;
  onOpen: (id: string) => void;
}) {
  const { t, locale } = useI18n();
  const ariaSort = (keys: AccountSort[]) => (keys.includes(sort) ? (order === "asc" ? "ascending" : "descending") : "none");

  const th = "px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-500 whitespace-nowrap";
  const usageColumns: { key: WindowKey; label: string }[] = [
    { key: "daily", label: t("col.today") },
    { key: "monthly", label: t("col.month") },
    { key: "total", label: t("col.total") },
  ];

  return (
    <div role="region" aria-label={t("app.title")} tabIndex={0} className="relative overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm focus-visible:outline-2 focus-visible:outline-brand-500">
      <table data-testid="accounts-table" aria-busy={busy} className={`w-full min-w-[1120px] border-collapse text-sm transition-opacity ${busy ? "opacity-70" : ""}`}>
        <caption className="sr-only">{t("app.title")}</caption>
        <thead className="border-b border-slate-200 bg-slate-50">
          <tr>
            <th scope="col" className={th} aria-sort={ariaSort(["name"])} data-testid="col-name">
              <SortButton label={t("col.name")} active={sort === "name"} order={order} onClick={() => onSort("name")} />
            </th>
            <th scope="col" className={th} data-testid="col-platform">
              {t("col.platform")}
            </th>
            <th scope="col" className={th} data-testid="col-status">
              {t("col.status")}
            </th>
            <th scope="col" className={`${th} text-right`} aria-sort={ariaSort(["priority"])} data-testid="col-priority">
              <SortButton label={t("col.priority")} active={sort === "priority"} order={order} onClick={() => onSort("priority")} />
            </th>
            {usageColumns.map((c) => (
              <th
                key={c.key}
                scope="col"
                data-testid={`col-${c.key}`}
                aria-sort={ariaSort([`${c.key}.cost`, `${c.key}.allTokens`, `${c.key}.requests`])}
                className={`${th} text-right ${c.key === "total" ? "bg-brand-50" : ""}`}
              >
                <div className="flex flex-col items-end gap-0.5">
                  <SortButton label={c.label} active={sort === `${c.key}.cost`} order={order} onClick={() => onSort(`${c.key}.cost`)} />
                  <span className="flex gap-1 text-[11px] font-normal normal-case tracking-normal">
                    <SortButton label={t("sort.figure.allTokens")} small active={sort === `${c.key}.allTokens`} order={order} onClick={() => onSort(`${c.key}.allTokens`)} />
                    <SortButton label={t("sort.figure.requests")} small active={sort === `${c.key}.requests`} order={order} onClick={() => onSort(`${c.key}.requests`)} />
                  </span>
                </div>
              </th>
            ))}
            <th scope="col" className={th} aria-sort={ariaSort(["lastUsedAt"])} data-testid="col-last-used">
              <SortButton label={t("col.lastUsed")} active={sort === "lastUsedAt"} order={order} onClick={() => onSort("lastUsedAt")} />
            </th>
            <th scope="col" className={th}>
              <span className="sr-only">{t("col.details")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {!rows &&
            Array.from({ length: 8 }, (_, i) => (
              <tr key={i} className="border-b border-slate-100" aria-hidden>
                {Array.from({ length: 9 }, (_, j) => (
                  <td key={j} className="px-3 py-3">
                    <Skeleton className="h-4 w-full max-w-24" />
                  </td>
                ))}
              </tr>
            ))}
          {rows?.length === 0 && (
            <tr>
              <td colSpan={9} className="px-3 py-12 text-center" data-testid="accounts-empty">
                <p className="font-medium text-slate-700">{t("list.empty")}</p>
                <p className="text-sm text-slate-500">{t("list.emptyHint")}</p>
              </td>
            </tr>
          )}
          {rows?.map((a) => {
            const last = formatDateTime(a.lastUsedAt, timezone);
            return (
              <tr key={a.id} data-testid={`account-row-${a.id}`} data-account-id={a.id} className="border-b border-slate-100 align-top hover:bg-slate-50/70">
                <td className="max-w-64 px-3 py-2.5">
                  <div className="truncate font-medium text-slate-900" data-testid="account-name" title={a.name}>
                    {a.name}
                  </div>
                  <div className="truncate font-mono text-xs text-slate-500" data-testid="account-id" title={a.id}>
                    {a.id}
                  </div>
                </td>
                <td className="px-3 py-2.5">
                  <PlatformBadge platform={a.platform} />
                </td>
                <td className="px-3 py-2.5">
                  <StatusBadge status={a.status} />
                </td>
                <td className="px-3 py-2.5 text-right tabular-nums" data-testid="priority" data-value={a.priority}>
                  {formatInt(locale, a.priority)}
                </td>
                {usageColumns.map((c) => (
                  <td key={c.key} className={`px-3 py-2.5 ${c.key === "total" ? "bg-brand-50/60" : ""}`} data-testid={`usage-${c.key}`}>
                    <UsageFigures usage={a.usage[c.key]} prefix={c.key} />
                  </td>
                ))}
                <td className="whitespace-nowrap px-3 py-2.5 text-slate-600 tabular-nums" data-testid="last-used" data-value={a.lastUsedAt ?? ""} title={formatDateTimeLong(a.lastUsedAt, timezone)}>
                  {last ?? <span className="text-slate-400">{t("usage.never")}</span>}
                </td>
                <td className="px-3 py-2.5 text-right">
                  <button
                    type="button"
                    data-testid="details-button"
                    data-details-for={a.id}
                    aria-haspopup="dialog"
                    aria-label={t("list.detailsOf", { name: a.name })}
                    aria-busy={pendingOpen === a.id}
                    onClick={() => onOpen(a.id)}
                    className="whitespace-nowrap rounded-md border border-brand-500/40 px-2.5 py-1 text-sm font-medium text-brand-700 hover:bg-brand-50 focus-visible:outline-2 focus-visible:outline-brand-500 aria-busy:animate-pulse"
                  >
                    {t("col.details")}
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function SortButton({ label, active, order, onClick, small }: { label: string; active: boolean; order: Order; onClick: () => void; small?: boolean }) {
  const { t } = useI18n();
  return (
    <button
      type="button"
      onClick={onClick}
      title={t("col.sortBy", { column: label })}
      className={`inline-flex items-center gap-0.5 rounded px-0.5 hover:text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500 ${active ? "text-brand-700" : ""} ${small ? "text-slate-500" : "uppercase"}`}
    >
      {label}
      <span aria-hidden className={active ? "" : "opacity-30"}>
        {active ? (order === "asc" ? "▲" : "▼") : "↕"}
      </span>
    </button>
  );
}
