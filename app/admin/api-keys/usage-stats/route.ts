import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";
import { csvResponse, exportKeyUsageCsv } from "@/server/usage-stats/csv";
import { listKeyUsage } from "@/server/usage-stats/keys.service";

export const GET = route(ROUTES["GET /admin/api-keys/usage-stats"], async ({ query, runtime, principal, deadline }) => {
  if (query.format === "csv") return csvResponse(await exportKeyUsageCsv(runtime, query, { deadline, caller: `${principal.kind}:${principal.id}` }));
  const { data, ...meta } = await listKeyUsage(runtime, query);
  return { data, meta };
});
