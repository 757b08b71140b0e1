import { requireAdminSession } from "@/server/auth/server-session";
import { getQueryClient, HydrateClient, trpc } from "@/server/trpc/server";
import { KeysView } from "./keys-view";
import { keysInput, keysPaging, loadKeysParams, resolveKeysState } from "./url-state";

export const dynamic = "force-dynamic";

/** API keys across every account: the first page is rendered on the server with its numbers; "load more" and changes of the URL fetch in the browser. */
export default async function KeysPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  await requireAdminSession();
  const state = resolveKeysState(await loadKeysParams(searchParams));
  const queryClient = getQueryClient();
  await queryClient.prefetchInfiniteQuery(trpc.apiKeys.usageStats.infiniteQueryOptions(keysInput(state), keysPaging));
  return (
    <HydrateClient>
      <KeysView />
    </HydrateClient>
  );
}
