import { listApiKeys } from "@/server/accounts/accounts.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

/** Never includes the key hash: only `hasHashedKey`. */
export const GET = route(ROUTES["GET /admin/api-keys"], async ({ runtime, query }) => {
  const { items, pagination } = await listApiKeys(runtime, query);
  return { data: items, meta: { pagination } };
});
