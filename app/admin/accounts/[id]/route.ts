import { deleteAccount, upsertAccount } from "@/server/accounts/accounts.service";
import { accountFields, deleteByIdInput, upsertAccountInput } from "@/server/accounts/schemas";
import { badRequestFromZod } from "@/server/errors";
import { route } from "@/server/http/route";

export const PUT = route({ scope: "usage:write", body: accountFields, maxBodyBytes: 16 * 1024 }, async ({ runtime, params, body }) => {
  const input = upsertAccountInput.safeParse({ ...body, id: params.id });
  if (!input.success) throw badRequestFromZod(input.error, "path");
  return { data: await upsertAccount(runtime, input.data) };
});

export const DELETE = route({ scope: "usage:write" }, async ({ runtime, params }) => {
  const input = deleteByIdInput.safeParse({ id: params.id });
  if (!input.success) throw badRequestFromZod(input.error, "path");
  return { data: await deleteAccount(runtime, input.data) };
});
