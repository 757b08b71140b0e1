import { setRuleEnabled } from "@/server/alerts/alerts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const POST = route(ROUTES["POST /admin/alerts/rules/{id}/enable"], async ({ runtime, params }) => ({
  data: await setRuleEnabled(runtime, { id: params.id, enabled: true }),
}));
