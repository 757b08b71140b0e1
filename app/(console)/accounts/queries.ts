import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/trpc/routers/_app";

type Outputs = inferRouterOutputs<AppRouter>;

export type UsageListOutput = Outputs["accounts"]["usageStats"];
export type AccountRow = UsageListOutput["data"][number];
export type SummaryOutput = Outputs["accounts"]["summary"];
export type BreakdownOutput = Outputs["accounts"]["breakdown"];
export type TrendOutput = Outputs["accounts"]["trend"];
export type BreakdownRow = BreakdownOutput["data"]["items"][number];
export type Totals = AccountRow["usage"]["total"];

/**
 * "加载更多" pages through the breakdown with tRPC's `cursor` (the previous page's nextOffset).
 * The same options go to `trpc.accounts.breakdown.infiniteQueryOptions` on the server (prefetch)
 * and in the browser, so both use tRPC's own infinite query key.
 */
export const breakdownPaging = {
  initialCursor: 0,
  getNextPageParam: (last: BreakdownOutput) => (last.data.hasMore && last.data.nextOffset !== null ? last.data.nextOffset : undefined),
};
