import { listAccounts } from "@/server/accounts/accounts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/accounts"], async ({ runtime, query }) => {
  const { items, pagination } = await listAccounts(runtime, query);
  return { data: items, meta: { pagination } };
});
