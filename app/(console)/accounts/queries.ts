import { infiniteQueryOptions, type InfiniteData, type UseInfiniteQueryResult } from "@tanstack/react-query";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/trpc/routers/_app";

type Inputs = inferRouterInputs<AppRouter>;
type Outputs = inferRouterOutputs<AppRouter>;

export type UsageListOutput = Outputs["accounts"]["usageStats"];
export type AccountRow = UsageListOutput["data"][number];
export type SummaryOutput = Outputs["accounts"]["summary"];
export type BreakdownInput = Inputs["accounts"]["breakdown"];
export type BreakdownOutput = Outputs["accounts"]["breakdown"];
export type BreakdownRow = BreakdownOutput["data"]["items"][number];
export type Totals = AccountRow["usage"]["total"];

/**
 * "加载更多" pages through the breakdown by offset. tRPC's own infiniteQueryOptions would add
 * `cursor` and `direction` to the input, which the strict shared schema refuses, so the pages are
 * fetched here with offset = the previous page's nextOffset. The key is tRPC's infinite key for
 * the procedure (path + input + type "infinite"), so tRPC's pathFilter still reaches it. Server
 * (a caller) and browser (the tRPC client) pass their own fetchPage and get the same options.
 */
export function breakdownInfiniteOptions(
  input: BreakdownInput,
  fetchPage: (input: BreakdownInput, signal?: AbortSignal) => Promise<BreakdownOutput>,
) {
  return infiniteQueryOptions<BreakdownOutput, Error, InfiniteData<BreakdownOutput, number>, readonly unknown[], number>({
    queryKey: [["accounts", "breakdown"], { input, type: "infinite" }] as const,
    queryFn: ({ pageParam, signal }) => fetchPage({ ...input, offset: pageParam }, signal),
    initialPageParam: 0,
    getNextPageParam: (last: BreakdownOutput) => (last.data.hasMore && last.data.nextOffset !== null ? last.data.nextOffset : undefined),
  });
}

export type BreakdownQuery = UseInfiniteQueryResult<InfiniteData<BreakdownOutput, number>, Error>;
