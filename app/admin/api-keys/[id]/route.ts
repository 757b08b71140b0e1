import { deleteApiKey, upsertApiKey } from "@/server/accounts/accounts.service";
import { apiKeyFields, deleteByIdInput, upsertApiKeyInput } from "@/server/accounts/schemas";
import { badRequestFromZod } from "@/server/errors";
import { route } from "@/server/http/route";

/** The key is sent as `hashedKey` (a hash) or not at all; it is never stored or returned plain. */
export const PUT = route({ scope: "usage:write", body: apiKeyFields, maxBodyBytes: 16 * 1024 }, async ({ runtime, params, body }) => {
  const input = upsertApiKeyInput.safeParse({ ...body, id: params.id });
  if (!input.success) throw badRequestFromZod(input.error, "path");
  return { data: await upsertApiKey(runtime, input.data) };
});

export const DELETE = route({ scope: "usage:write" }, async ({ runtime, params }) => {
  const input = deleteByIdInput.safeParse({ id: params.id });
  if (!input.success) throw badRequestFromZod(input.error, "path");
  return { data: await deleteApiKey(runtime, input.data) };
});
