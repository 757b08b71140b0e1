import { badRequestFromZod } from "@/server/errors";
import { route } from "@/server/http/route";
import { accountIdParams, accountSummaryQuery } from "@/server/usage-stats/schemas";
import { getAccountSummary } from "@/server/usage-stats/stats.service";

export const GET = route({ scope: "usage:read", query: accountSummaryQuery }, async ({ query, params, runtime }) => {
  const path = accountIdParams.safeParse({ id: params.id });
  if (!path.success) throw badRequestFromZod(path.error, "path");
  const { data, ...meta } = await getAccountSummary(runtime, { ...query, id: path.data.id });
  return { data, meta };
});
