import type { Metadata } from "next";
import { getTranslations } from "next-intl/server";
import { requireAdminSession } from "@/server/auth/server-session";
import { getRuntime } from "@/server/runtime";
import { getQueryClient, HydrateClient, trpc } from "@/server/trpc/server";
import { AccountsView } from "./accounts-view";
import { breakdownPaging } from "./queries";
import { breakdownInput, listInput, loadAccountsParams, resolveAccountsState, summaryInput } from "./url-state";

export const dynamic = "force-dynamic";

/** The list's tab title; an open drawer names its account instead (accounts-view.tsx). */
export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getTranslations())("app.title") };
}

/**
 * The accounts list is rendered on the server with its numbers (the prefetch is awaited, so no
 * empty table flashes). When the URL names an account (a shared link, a reload), its drawer's
 * queries are awaited too, so the server's HTML is the drawer as the browser first renders it:
 * loaded, or — when a query failed, which the browser is not handed — not fetched yet, never a
 * partial state that a hydration would disagree with. Later changes of the URL are shallow (nuqs).
 */
export default async function AccountsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  // The layout checks the session too, but a client-side navigation renders only this page: an
  // expired session must still end at /login, not in empty queries.
  await requireAdminSession();
  const state = resolveAccountsState(await loadAccountsParams(searchParams));
  const queryClient = getQueryClient();

  const drawer = state.account
    ? [trpc.accounts.summary.queryOptions(summaryInput(state.account, state)), trpc.accounts.breakdown.infiniteQueryOptions(breakdownInput(state.account, state), breakdownPaging)] as const
    : undefined;
  await Promise.all([
    queryClient.prefetchQuery(trpc.accounts.usageStats.queryOptions(listInput(state))),
    ...(drawer ? [queryClient.prefetchQuery(drawer[0]), queryClient.prefetchInfiniteQuery(drawer[1])] : []),
  ]);
  for (const q of drawer ?? []) {
    if (queryClient.getQueryState(q.queryKey)?.status === "error") queryClient.removeQueries({ queryKey: q.queryKey, exact: true });
  }

  return (
    <HydrateClient>
      <AccountsView refreshSeconds={(await getRuntime()).config.consoleRefreshSeconds} />
    </HydrateClient>
  );
}
