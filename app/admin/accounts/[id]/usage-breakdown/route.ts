import { badRequestFromZod } from "@/server/errors";
import { route } from "@/server/http/route";
import { csvResponse, exportBreakdown } from "@/server/usage-stats/csv";
import { accountBreakdownQuery, accountIdParams } from "@/server/usage-stats/schemas";
import { getAccountBreakdown } from "@/server/usage-stats/stats.service";

export const GET = route({ scope: "usage:read", query: accountBreakdownQuery }, async ({ query, params, runtime, principal, deadline }) => {
  const path = accountIdParams.safeParse({ id: params.id });
  if (!path.success) throw badRequestFromZod(path.error, "path");
  const input = { ...query, id: path.data.id };
  if (query.format === "csv") return csvResponse(await exportBreakdown(runtime, input, { deadline, caller: `${principal.kind}:${principal.id}` }));
  const { data, ...meta } = await getAccountBreakdown(runtime, input);
  return { data, meta };
});
