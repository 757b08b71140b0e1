import { listAccounts } from "@/server/accounts/accounts.service";
import { listAccountsInput } from "@/server/accounts/schemas";
import { route } from "@/server/http/route";

export const GET = route({ scope: "usage:read", query: listAccountsInput }, async ({ runtime, query }) => {
  const { items, pagination } = await listAccounts(runtime, query);
  return { data: items, meta: { pagination } };
});
