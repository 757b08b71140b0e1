import { createChannel, listChannels } from "@/server/alerts/channels.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/alerts/channels"], async ({ runtime }) => ({ data: await listChannels(runtime) }));

export const POST = route(ROUTES["POST /admin/alerts/channels"], async ({ runtime, body }) => ({ data: await createChannel(runtime, body), status: 201 }));
