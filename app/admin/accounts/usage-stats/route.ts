import { route } from "@/server/http/route";
import { csvResponse, exportAccountUsage } from "@/server/usage-stats/csv";
import { accountUsageListInput } from "@/server/usage-stats/schemas";
import { listAccountUsage } from "@/server/usage-stats/stats.service";

export const GET = route({ scope: "usage:read", query: accountUsageListInput }, async ({ query, runtime, principal, deadline }) => {
  if (query.format === "csv") return csvResponse(await exportAccountUsage(runtime, query, { deadline, caller: `${principal.kind}:${principal.id}` }));
  const { data, ...meta } = await listAccountUsage(runtime, query);
  return { data, meta };
});
