import { deleteChannel, getChannel, updateChannel } from "@/server/alerts/channels.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/alerts/channels/{id}"], async ({ runtime, params }) => ({ data: await getChannel(runtime, params.id) }));

export const PUT = route(ROUTES["PUT /admin/alerts/channels/{id}"], async ({ runtime, params, body }) => ({
  data: await updateChannel(runtime, { ...body, id: params.id }),
}));

export const DELETE = route(ROUTES["DELETE /admin/alerts/channels/{id}"], async ({ runtime, params }) => ({ data: await deleteChannel(runtime, params.id) }));
