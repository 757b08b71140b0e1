import { alertOverview } from "@/server/alerts/alerts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/alerts/overview"], async ({ runtime, query }) => ({ data: await alertOverview(runtime, query) }));
