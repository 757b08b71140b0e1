"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useTranslations } from "next-intl";
import { useMemo } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";
import type { OverviewResult } from "@/server/alerts/schemas";
import { BudgetBar } from "../alerts/budget-bar";
import { liveOptions, useRefreshMs } from "./live";

type AccountAlerts = OverviewResult["accounts"][number];

/**
 * Issue 25 on the accounts page: a firing badge and the budgets of each account, from
 * alerts.overview for the accounts shown. Refreshed with the console's live interval.
 */
export function useAccountAlerts(ids: readonly string[] | undefined): Map<string, AccountAlerts> {
  const trpc = useTRPC();
  const refreshMs = useRefreshMs();
  // Sorted: the same accounts in another order share one query.
  const accountIds = useMemo(() => [...(ids ?? [])].sort(), [ids]);
  const overview = useQuery({
    ...trpc.alerts.overview.queryOptions({ accountIds }, { placeholderData: keepPreviousData, ...liveOptions(true, refreshMs) }),
    enabled: accountIds.length > 0,
  });
  return useMemo(() => new Map((overview.data?.accounts ?? []).map((a) => [a.accountId, a])), [overview.data]);
}

/** A red "告警 2" pill; nothing when no alert fires. */
export function FiringBadge({ count }: { count: number }) {
  const t = useTranslations("alerts.badge");
  if (count <= 0) return null;
  return (
    <span
      className="inline-flex shrink-0 items-center whitespace-nowrap rounded-full bg-rose-600 px-2 py-0.5 text-xs font-medium text-white"
      data-testid="alert-badge"
      data-count={count}
      title={t("firingLabel", { count })}
    >
      {t("firing", { count })}
    </span>
  );
}

/** The list's cell: the badge and up to two budgets as small bars (the drawer shows them all). */
export function AccountAlertsInline({ alerts }: { alerts: AccountAlerts | undefined }) {
  if (!alerts || (alerts.firing === 0 && alerts.budgets.length === 0)) return null;
  return (
    <div className="mt-1 flex min-w-0 flex-col gap-1" data-testid="account-alerts">
      <FiringBadge count={alerts.firing} />
      {alerts.budgets.slice(0, 2).map((b) => (
        <BudgetBar key={b.id} budget={b} compact />
      ))}
    </div>
  );
}

/** The drawer's section: firing alerts, every budget of the account as a bar, and a way to add one. */
export function AccountAlertsSection({ id }: { id: string }) {
  const t = useTranslations("alerts.badge");
  const alerts = useAccountAlerts(useMemo(() => [id], [id])).get(id);
  return (
    <section aria-labelledby="drawer-alerts-heading" className="flex flex-col gap-2 rounded-lg border border-slate-200 p-3" data-testid="drawer-alerts">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h3 id="drawer-alerts-heading" className="flex items-center gap-2 text-sm font-semibold">
          {t("section")}
          <FiringBadge count={alerts?.firing ?? 0} />
        </h3>
        <Link
          href={`/alerts?tab=budgets&account=${encodeURIComponent(id)}`}
          className="rounded px-1.5 py-0.5 text-sm font-medium text-brand-700 hover:bg-brand-50 focus-visible:outline-2 focus-visible:outline-brand-500"
          data-testid="drawer-set-budget"
        >
          {t("setBudget")}
        </Link>
      </div>
      {alerts && alerts.budgets.length > 0 ? (
        <div className="grid grid-cols-1 gap-2 sm:grid-cols-2">
          {alerts.budgets.map((b) => (
            <BudgetBar key={b.id} budget={b} />
          ))}
        </div>
      ) : (
        <p className="text-sm text-slate-500">{t("none")}</p>
      )}
    </section>
  );
}
