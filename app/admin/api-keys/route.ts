import { listApiKeys } from "@/server/accounts/accounts.service";
import { listApiKeysInput } from "@/server/accounts/schemas";
import { route } from "@/server/http/route";

/** Never includes the key hash: only `hasHashedKey`. */
export const GET = route({ scope: "usage:read", query: listApiKeysInput }, async ({ runtime, query }) => {
  const { items, pagination } = await listApiKeys(runtime, query);
  return { data: items, meta: { pagination } };
});
