import type { Metadata } from "next";
import { getTranslations } from "next-intl/server";
import { requireAdminSession } from "@/server/auth/server-session";
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
 * queries are started here too but not awaited: they stream to the browser, and a slow breakdown
 * does not hold the page. Later changes of the URL are shallow (nuqs): the browser fetches.
 */
export default async function AccountsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  // The layout checks the session too, but a client-side navigation renders only this page: an
  // expired session must still end at /login, not in empty queries.
  await requireAdminSession();
  const state = resolveAccountsState(await loadAccountsParams(searchParams));
  const queryClient = getQueryClient();

  if (state.account) {
    const id = state.account;
    void queryClient.prefetchQuery(trpc.accounts.summary.queryOptions(summaryInput(id, state)));
    void queryClient.prefetchInfiniteQuery(trpc.accounts.breakdown.infiniteQueryOptions(breakdownInput(id, state), breakdownPaging));
  }
  await queryClient.prefetchQuery(trpc.accounts.usageStats.queryOptions(listInput(state)));

  return (
    <HydrateClient>
      <AccountsView />
    </HydrateClient>
  );
}
