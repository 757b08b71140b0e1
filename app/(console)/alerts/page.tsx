import type { Metadata } from "next";
import { getTranslations } from "next-intl/server";
import { requireAdminSession } from "@/server/auth/server-session";
import { getRuntime } from "@/server/runtime";
import { getQueryClient, HydrateClient, trpc } from "@/server/trpc/server";
import { AlertsView } from "./alerts-view";
import { historyInput, loadAlertsParams } from "./url-state";

export const dynamic = "force-dynamic";

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getTranslations())("alerts.title") };
}

/**
 * Rules, budgets and the overview are prefetched for every tab (the forms and the other tabs name
 * rules and budgets); silences and the history's first page only for their tab. Channels load in
 * the browser (channels-tab.tsx).
 */
export default async function AlertsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  await requireAdminSession();
  const raw = await loadAlertsParams(searchParams);
  const runtime = await getRuntime();
  const queryClient = getQueryClient();
  await Promise.all([
    queryClient.prefetchQuery(trpc.alerts.overview.queryOptions({ accountIds: [] })),
    queryClient.prefetchQuery(trpc.alerts.rules.list.queryOptions()),
    queryClient.prefetchQuery(trpc.alerts.budgets.list.queryOptions()),
    ...(raw.tab === "silences" ? [queryClient.prefetchQuery(trpc.alerts.silences.list.queryOptions())] : []),
    ...(raw.tab === "history" ? [queryClient.prefetchQuery(trpc.alerts.history.queryOptions(historyInput(raw)))] : []),
  ]);
  return (
    <HydrateClient>
      <AlertsView timeZone={runtime.config.usageTimezone} refreshSeconds={runtime.config.consoleRefreshSeconds} />
    </HydrateClient>
  );
}
