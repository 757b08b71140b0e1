import { getRule, removeRule, replaceRule } from "@/server/alerts/alerts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/alerts/rules/{id}"], async ({ runtime, params }) => ({ data: await getRule(runtime, params) }));

export const PUT = route(ROUTES["PUT /admin/alerts/rules/{id}"], async ({ runtime, params, body }) => ({
  data: await replaceRule(runtime, { ...body, id: params.id }),
}));

export const DELETE = route(ROUTES["DELETE /admin/alerts/rules/{id}"], async ({ runtime, params }) => ({ data: await removeRule(runtime, params) }));
