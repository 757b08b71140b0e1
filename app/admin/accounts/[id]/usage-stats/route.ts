import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";
import { getAccountSummary } from "@/server/usage-stats/stats.service";

export const GET = route(ROUTES["GET /admin/accounts/{id}/usage-stats"], async ({ query, params, runtime }) => {
  const { data, ...meta } = await getAccountSummary(runtime, { ...query, id: params.id });
  return { data, meta };
});
