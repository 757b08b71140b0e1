import { removeBudget, replaceBudget } from "@/server/alerts/alerts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const PUT = route(ROUTES["PUT /admin/alerts/budgets/{id}"], async ({ runtime, params, body }) => ({
  data: await replaceBudget(runtime, { ...body, id: params.id }),
}));

export const DELETE = route(ROUTES["DELETE /admin/alerts/budgets/{id}"], async ({ runtime, params }) => ({ data: await removeBudget(runtime, params) }));
