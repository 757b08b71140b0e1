import { createSilence, listAlertSilences } from "@/server/alerts/alerts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/alerts/silences"], async ({ runtime }) => ({ data: await listAlertSilences(runtime) }));

/** Who silenced it is the caller: the admin's name, or the API token's. */
export const POST = route(ROUTES["POST /admin/alerts/silences"], async ({ runtime, body, principal }) => ({
  data: await createSilence(runtime, body, principal.name),
  status: 201,
}));
