import { route } from "@/server/http/route";
import { accountSummaryQuery } from "@/server/usage-stats/schemas";
import { getAccountSummary } from "@/server/usage-stats/stats.service";

export const GET = route({ scope: "usage:read", query: accountSummaryQuery }, async ({ query, params, runtime }) => {
  const { data, ...meta } = await getAccountSummary(runtime, { ...query, id: params.id! });
  return { data, meta };
});
