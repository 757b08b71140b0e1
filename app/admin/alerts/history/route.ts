import { alertHistory } from "@/server/alerts/alerts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/alerts/history"], async ({ runtime, query }) => ({ data: await alertHistory(runtime, query) }));
