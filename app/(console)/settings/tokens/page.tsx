import type { Metadata } from "next";
import { getTranslations } from "next-intl/server";
import { requireAdminSession } from "@/server/auth/server-session";
import { getRuntime } from "@/server/runtime";
import { getQueryClient, HydrateClient, trpc } from "@/server/trpc/server";
import { TokensView } from "./tokens-view";

export const dynamic = "force-dynamic";
export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getTranslations())("tokens.title") };
}

/** The list is prefetched here and kept by the view's query; creating and revoking invalidate it. */
export default async function TokensPage() {
  await requireAdminSession();
  const timeZone = (await getRuntime()).config.usageTimezone;
  await getQueryClient().prefetchQuery(trpc.auth.tokens.list.queryOptions());
  return (
    <HydrateClient>
      <TokensView timeZone={timeZone} />
    </HydrateClient>
  );
}
