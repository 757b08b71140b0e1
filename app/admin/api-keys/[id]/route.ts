import { deleteApiKey, upsertApiKey } from "@/server/accounts/accounts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

/** The key is sent as `hashedKey` (a hash) or not at all; it is never stored or returned plain. */
export const PUT = route(ROUTES["PUT /admin/api-keys/{id}"], async ({ runtime, params, body }) => ({
  data: await upsertApiKey(runtime, { ...body, id: params.id }),
}));

export const DELETE = route(ROUTES["DELETE /admin/api-keys/{id}"], async ({ runtime, params }) => ({ data: await deleteApiKey(runtime, params) }));
