import { deleteAccount, upsertAccount } from "@/server/accounts/accounts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const PUT = route(ROUTES["PUT /admin/accounts/{id}"], async ({ runtime, params, body }) => ({
  data: await upsertAccount(runtime, { ...body, id: params.id }),
}));

export const DELETE = route(ROUTES["DELETE /admin/accounts/{id}"], async ({ runtime, params }) => ({ data: await deleteAccount(runtime, params) }));
