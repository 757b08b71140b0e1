import { createRule, listAlertRules } from "@/server/alerts/alerts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/alerts/rules"], async ({ runtime }) => ({ data: await listAlertRules(runtime) }));

export const POST = route(ROUTES["POST /admin/alerts/rules"], async ({ runtime, body }) => ({ data: await createRule(runtime, body), status: 201 }));
