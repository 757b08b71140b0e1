"use client";

import { useTranslations } from "next-intl";
import { useMemo } from "react";
import type { AccountSort } from "@/server/usage-stats/schemas";
import { formatDateTime, formatDateTimeLong, useNumbers } from "@/app/_i18n/format";
import { AccountAlertsInline, useAccountAlerts } from "./alert-badges";
import type { AccountRow } from "./queries";
import { Money, PlatformBadge, Skeleton, SourceBadges, StatusBadge, UsageFigures } from "./ui";
import type { Order } from "./url-state";

type WindowKey = "daily" | "monthly" | "total";

/**
 * The list: a table from md up; below it each row collapses into a card (the same elements, laid
 * out by CSS grid) showing name, status and today / this month / total usage at a glance, so a
 * phone never scrolls sideways. The header sorts by name, priority, each window's cost and last
 * use; every other sort (a window's tokens or requests) is in the sort select above the list.
 * A click anywhere on a row opens its drawer.
 */
export function AccountsTable({
  rows,
  timezone,
  sort,
  order,
  busy,
  onSort,
  onOpen,
}: {
  rows: AccountRow[] | undefined;
  timezone: string;
  sort: AccountSort;
  order: Order;
  busy: boolean;
  onSort: (sort: AccountSort) => void;
  onOpen: (id: string) => void;
}) {
  const t = useTranslations();
  const n = useNumbers();
  const alerts = useAccountAlerts(useMemo(() => rows?.map((r) => r.id), [rows]));
  const ariaSort = (keys: AccountSort[]) => (keys.includes(sort) ? (order === "asc" ? "ascending" : "descending") : "none");

  const th = "px-3 py-2 text-left text-xs font-semibold tracking-wide text-slate-500 whitespace-nowrap";
  const usageColumns: { key: WindowKey; label: string }[] = [
    { key: "daily", label: t("col.today") },
    { key: "monthly", label: t("col.month") },
    { key: "total", label: t("col.total") },
  ];
  // Card layout below md: row 1 name + 详情, row 2 badges (platform, sources, status), row 3 the three windows, row 4 last used.
  const cell = "md:table-cell md:px-3 md:py-2.5";

  return (
    <div className="rounded-lg border border-slate-200 bg-white shadow-sm md:overflow-x-auto">
      <table data-testid="accounts-table" aria-busy={busy} className={`block w-full border-collapse text-sm transition-opacity md:table md:min-w-[1120px] ${busy ? "opacity-70" : ""}`}>
        <caption className="sr-only">{t("app.title")}</caption>
        <thead className="hidden border-b border-slate-200 bg-slate-50 md:table-header-group">
          <tr>
            <th scope="col" className={th} aria-sort={ariaSort(["name"])} data-testid="col-name">
              <SortButton label={t("col.name")} active={sort === "name"} order={order} onClick={() => onSort("name")} />
            </th>
            <th scope="col" className={th} data-testid="col-platform">
              {t("col.platform")}
            </th>
            <th scope="col" className={th} data-testid="col-source">
              {t("col.source")}
            </th>
            <th scope="col" className={th} data-testid="col-status">
              {t("col.status")}
            </th>
            <th scope="col" className={`${th} text-right`} aria-sort={ariaSort(["priority"])} data-testid="col-priority">
              <SortButton label={t("col.priority")} active={sort === "priority"} order={order} onClick={() => onSort("priority")} />
            </th>
            {usageColumns.map((c) => {
              // One button per window (by cost); tokens and requests are in the sort select above.
              const sorted = sort.startsWith(`${c.key}.`);
              return (
                <th
                  key={c.key}
                  scope="col"
                  data-testid={`col-${c.key}`}
                  data-sorted={sorted}
                  aria-sort={ariaSort([`${c.key}.cost`, `${c.key}.allTokens`, `${c.key}.requests`])}
                  className={`${th} text-right ${sorted ? "bg-brand-50" : ""}`}
                >
                  <SortButton label={c.label} active={sorted} order={order} onClick={() => onSort(sorted ? sort : `${c.key}.cost`)} />
                  {sorted && sort !== `${c.key}.cost` && <span className="block text-[11px] font-normal tracking-normal text-brand-700">{t(`sort.figure.${sort.split(".")[1] as "allTokens" | "requests"}`)}</span>}
                </th>
              );
            })}
            <th scope="col" className={`${th} text-right`} data-testid="col-last-hour">
              <span title={t("live.lastHourHint")}>{t("live.lastHour")}</span>
            </th>
            <th scope="col" className={th} aria-sort={ariaSort(["lastUsedAt"])} data-testid="col-last-used">
              <SortButton label={t("col.lastUsed")} active={sort === "lastUsedAt"} order={order} onClick={() => onSort("lastUsedAt")} />
            </th>
            <th scope="col" className={th}>
              <span className="sr-only">{t("col.details")}</span>
            </th>
          </tr>
        </thead>
        <tbody className="block divide-y divide-slate-100 md:table-row-group md:divide-y-0">
          {!rows &&
            Array.from({ length: 6 }, (_, i) => (
              <tr key={i} className="block p-4 md:table-row md:border-b md:border-slate-100 md:p-0" aria-hidden>
                {Array.from({ length: 11 }, (_, j) => (
                  <td key={j} className={`${j > 0 ? "hidden" : "block"} md:table-cell md:px-3 md:py-3`}>
                    <Skeleton className="h-4 w-full max-w-24" />
                  </td>
                ))}
              </tr>
            ))}
          {rows?.length === 0 && (
            <tr className="block md:table-row">
              <td colSpan={11} className="block px-3 py-12 text-center md:table-cell" data-testid="accounts-empty">
                <p className="font-medium text-slate-700">{t("list.empty")}</p>
                <p className="text-sm text-slate-500">{t("list.emptyHint")}</p>
              </td>
            </tr>
          )}
          {rows?.map((a) => {
            const last = formatDateTime(a.lastUsedAt, timezone);
            return (
              <tr
                key={a.id}
                data-testid={`account-row-${a.id}`}
                data-account-id={a.id}
                // The whole row opens the drawer for a pointer; the keyboard's way is the 详情 button.
                onClick={(e) => {
                  if ((e.target as HTMLElement).closest("a, button, input, select, summary, label") || window.getSelection()?.toString()) return;
                  onOpen(a.id);
                }}
                className="grid cursor-pointer grid-cols-3 gap-x-3 gap-y-2 p-4 align-top hover:bg-slate-50 md:table-row md:border-b md:border-slate-100 md:p-0 md:hover:bg-slate-100/70"
              >
                <td className={`col-span-2 col-start-1 row-start-1 min-w-0 md:max-w-64 ${cell}`}>
                  <div className="truncate font-medium text-slate-900" data-testid="account-name" title={a.name}>
                    {a.name}
                  </div>
                  <div className="truncate font-mono text-xs text-slate-500" data-testid="account-id" title={a.id}>
                    {a.id}
                  </div>
                  <AccountAlertsInline alerts={alerts.get(a.id)} />
                </td>
                <td className={`col-span-3 row-start-2 flex flex-wrap items-center gap-2 md:gap-0 ${cell}`}>
                  <PlatformBadge platform={a.platform} />
                  {a.sources.length > 0 && (
                    <span className="md:hidden">
                      <SourceBadges sources={a.sources} testId="sources-compact" />
                    </span>
                  )}
                  <span className="md:hidden">
                    <StatusBadge status={a.status} />
                  </span>
                  <span className="text-xs text-slate-500 md:hidden">
                    {t("col.priority")} {n.int(a.priority)}
                  </span>
                </td>
                <td className={`hidden ${cell}`}>
                  <SourceBadges sources={a.sources} />
                </td>
                <td className={`hidden ${cell}`}>
                  <StatusBadge status={a.status} />
                </td>
                <td className={`hidden text-right tabular-nums ${cell}`} data-testid="priority" data-value={a.priority}>
                  {n.int(a.priority)}
                </td>
                {usageColumns.map((c) => (
                  <td
                    key={c.key}
                    className={`row-start-3 min-w-0 rounded-md p-2 md:rounded-none ${sort.startsWith(`${c.key}.`) ? "bg-brand-50/60" : "bg-slate-50 md:bg-transparent"} ${cell}`}
                    data-testid={`usage-${c.key}`}
                  >
                    <p className="mb-1 text-xs font-medium text-slate-500 md:hidden">{c.label}</p>
                    <UsageFigures usage={a.usage[c.key]} prefix={c.key} align="responsive" />
                  </td>
                ))}
                <td className={`col-span-3 row-start-4 text-xs md:text-right md:text-sm ${cell}`} data-testid="last-hour">
                  <LastHour usage={a.lastHour} />
                </td>
                <td
                  className={`col-span-3 row-start-5 whitespace-nowrap text-xs text-slate-600 tabular-nums md:text-sm ${cell}`}
                  data-testid="last-used"
                  data-value={a.lastUsedAt ?? ""}
                  title={formatDateTimeLong(a.lastUsedAt, timezone)}
                >
                  <span className="text-slate-500 md:hidden">{t("col.lastUsed")} </span>
                  {last ?? <span className="text-slate-500">{t("usage.never")}</span>}
                </td>
                <td className={`col-start-3 row-start-1 text-right ${cell}`}>
                  <button
                    type="button"
                    data-testid="details-button"
                    data-details-for={a.id}
                    aria-haspopup="dialog"
                    aria-label={t("list.detailsOf", { name: a.name })}
                    onClick={() => onOpen(a.id)}
                    className="whitespace-nowrap rounded-md border border-brand-500/40 px-3 py-1.5 text-sm font-medium text-brand-700 hover:bg-brand-50 focus-visible:outline-2 focus-visible:outline-brand-500 md:px-2.5 md:py-1"
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
  const t = useTranslations("col");
  return (
    <button
      type="button"
      onClick={onClick}
      title={t("sortBy", { column: label })}
      className={`inline-flex items-center gap-0.5 rounded px-0.5 hover:text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500 ${active ? "text-brand-700" : ""} ${small ? "text-slate-500" : ""}`}
    >
      {label}
      <span aria-hidden className={active ? "" : "opacity-40"}>
        {active ? (order === "asc" ? "▲" : "▼") : "↕"}
      </span>
    </button>
  );
}

/** 近1小时: who is spending now — the cost and requests of the last 60 minutes; a dash from the Redis fallback. */
function LastHour({ usage }: { usage: AccountRow["lastHour"] }) {
  const t = useTranslations();
  const n = useNumbers();
  if (!usage) return <span className="text-slate-500">{t("usage.none")}</span>;
  const idle = usage.requests === 0 && usage.cost === 0;
  return (
    <span className={`inline-flex items-baseline gap-1 whitespace-nowrap tabular-nums md:flex-col md:items-end md:gap-0 ${idle ? "text-slate-500" : ""}`}>
      <span className="text-slate-500 md:hidden">{t("live.lastHour")}</span>
      <Money usd={usage.cost} testId="last-hour-cost" className={idle ? "" : "font-medium text-slate-900"} />
      <span className="text-xs text-slate-500" data-testid="last-hour-requests" data-value={usage.requests}>
        {t("usage.requests", { value: n.compact(usage.requests) })}
      </span>
    </span>
  );
}
