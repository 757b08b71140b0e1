import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";
import { csvResponse, exportAccountUsage } from "@/server/usage-stats/csv";
import { listAccountUsage } from "@/server/usage-stats/stats.service";

export const GET = route(ROUTES["GET /admin/accounts/usage-stats"], async ({ query, runtime, principal, deadline }) => {
  if (query.format === "csv") return csvResponse(await exportAccountUsage(runtime, query, { deadline, caller: `${principal.kind}:${principal.id}` }));
  const { data, ...meta } = await listAccountUsage(runtime, query);
  return { data, meta };
});
