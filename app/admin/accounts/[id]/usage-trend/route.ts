import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";
import { getAccountTrend } from "@/server/usage-stats/trend.service";

export const GET = route(ROUTES["GET /admin/accounts/{id}/usage-trend"], async ({ query, params, runtime }) => {
  const { data, ...meta } = await getAccountTrend(runtime, { ...query, id: params.id });
  return { data, meta };
});
