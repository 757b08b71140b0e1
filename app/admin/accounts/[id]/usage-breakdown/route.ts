import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";
import { csvResponse, exportBreakdown } from "@/server/usage-stats/csv";
import { getAccountBreakdown } from "@/server/usage-stats/stats.service";

export const GET = route(ROUTES["GET /admin/accounts/{id}/usage-breakdown"], async ({ query, params, runtime, principal, deadline }) => {
  const input = { ...query, id: params.id };
  if (query.format === "csv") return csvResponse(await exportBreakdown(runtime, input, { deadline, caller: `${principal.kind}:${principal.id}` }));
  const { data, ...meta } = await getAccountBreakdown(runtime, input);
  return { data, meta };
});
