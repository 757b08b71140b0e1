"use client";

import { useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useTRPC } from "./trpc-provider";

/** How many alerts fire now, beside the nav's 告警 link (nothing while none does). Checked every 30 s while the tab is visible. */
export function AlertsNavCount() {
  const t = useTranslations("nav");
  const trpc = useTRPC();
  const overview = useQuery(trpc.alerts.overview.queryOptions({ accountIds: [] }, { refetchInterval: 30_000, refetchIntervalInBackground: false, retry: false }));
  const firing = overview.data?.firing ?? 0;
  if (firing <= 0) return null;
  return (
    <span
      className="ml-1 inline-flex min-w-5 items-center justify-center rounded-full bg-rose-600 px-1.5 text-xs font-medium text-white tabular-nums"
      data-testid="nav-alerts-count"
      data-count={firing}
      title={t("alertsFiring", { count: firing })}
    >
      <span aria-hidden>{firing}</span>
      <span className="sr-only">{t("alertsFiring", { count: firing })}</span>
    </span>
  );
}
