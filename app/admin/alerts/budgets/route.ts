import { createBudget, listAlertBudgets } from "@/server/alerts/alerts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/alerts/budgets"], async ({ runtime }) => ({ data: await listAlertBudgets(runtime) }));

export const POST = route(ROUTES["POST /admin/alerts/budgets"], async ({ runtime, body }) => ({ data: await createBudget(runtime, body), status: 201 }));
