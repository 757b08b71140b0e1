import { sendTestMessage } from "@/server/alerts/channels.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const POST = route(ROUTES["POST /admin/alerts/channels/{id}/test"], async ({ runtime, params }) => ({ data: await sendTestMessage(runtime, params.id) }));
